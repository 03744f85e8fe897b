"""Triage of live calls: the published STAR examples, the JSON contract, input parsing, purity."""

from __future__ import annotations

import json

import pytest

import rightresponse.taxonomy.provider as provider_mod
from rightresponse.policy import flag_info, load_policy, make_call, triage, triage_args
from rightresponse.policy.call import screened_flags
from rightresponse.policy.definition import parse_policy
from rightresponse.policy.findings import PolicyError
from rightresponse.policy.triage import compiled

Q = {k: v.question for k, v in flag_info().items()}
NO = screened_flags()  # every screening question answered "no"


@pytest.fixture(scope="module")
def star():
    return load_policy("denver-star")


def test_star_welfare_check_goes_to_the_crisis_team_once_the_screen_is_passed(star):
    rec = triage(star, make_call("welfare check", flags=NO, at="2025-08-27T14:00"))
    assert (rec.responder, rec.co_responder, rec.fallback, rec.rule) == ("crisis_team", None, "police", "star_call_types")
    assert (rec.status, rec.if_screened, rec.screen, rec.questions) == ("final", None, (), ())
    assert rec.category == "Assisting the Public"
    assert "welfare check" in rec.reason


def test_unknown_is_never_no_the_recommendation_changes_as_answers_come_in(star):
    """Screen first: until every screening question is answered no, the co-responder team (who
    STAR sends when a call fails its screen); the answer says what comes after and what is left,
    gravest first."""
    seen = []
    answers: dict = {}
    for flag in ("weapon", "violence", "crime_in_progress", "suicide_risk_with_means", "injury"):
        rec = triage(star, make_call("welfare check", flags=answers, at="2025-08-27T14:00"))
        assert (rec.responder, rec.status, rec.rule) == ("co_responder", "screen_first", "star_call_types")
        assert rec.if_screened == {"responder": "crisis_team", "co_responder": None, "fallback": "police"}
        assert rec.screen[0] == flag  # the gravest question still open comes first
        assert list(rec.questions[:len(rec.screen)]) == [Q[f] for f in rec.screen]
        assert rec.reason.startswith(f"Screen first: ask about {', '.join(rec.screen)}. If you cannot ask, send co_responder.")
        seen.append(len(rec.screen))
        answers[flag] = False
    assert seen == [5, 4, 3, 2, 1]
    rec = triage(star, make_call("welfare check", flags=answers, at="2025-08-27T14:00"))
    assert (rec.responder, rec.status, rec.screen) == ("crisis_team", "final", ())
    # A yes at any point ends the screen with an officer on the call.
    rec = triage(star, make_call("welfare check", flags={"weapon": False, "violence": True}, at="2025-08-27T14:00"))
    assert (rec.responder, rec.status, rec.rule) == ("co_responder", "final", "star_screened_out")


def test_star_same_call_at_3am_goes_to_the_fallback(star):
    day = triage(star, make_call("welfare check", flags=NO, at="14:00"))
    night = triage(star, make_call("welfare check", flags=NO, at="03:00"))
    assert night.rule == day.rule == "star_call_types"
    assert night.responder == star.rule("star_call_types").fallback == "police"
    assert "crisis_team is off duty at 03:00 (hours 06:00-22:00): sending police" in night.reason
    # At night police go whatever the answers: nothing to screen for, and a weapon would not
    # change the answer, so it is not asked; an injury would (EMS).
    night = triage(star, make_call("welfare check", flags=["no_weapon"], at="03:00"))
    assert (night.responder, night.status) == ("police", "final")
    assert Q["violence"] not in night.questions and Q["injury"] in night.questions


def test_star_welfare_check_with_a_weapon_goes_to_police(star):
    rec = triage(star, make_call("welfare check", flags=["weapon"], at="14:00"))
    assert rec.responder in ("police", "co_responder")
    assert (rec.responder, rec.rule) == ("co_responder", "star_screened_out")


CONTRACT = {"responder", "co_responder", "fallback", "rule", "reason", "questions", "policy_hash", "status",
            "if_screened", "screen", "call_type_flags", "call_type_dangers", "floor"}


def test_json_contract(star):
    rec = triage_args("denver-star", "WELF CHK", flags=["no_weapon", "no_violence"], priority="P3",
                      at="2025-08-24T10:15:00")
    d = json.loads(json.dumps(rec.to_dict()))
    assert set(d) == CONTRACT
    assert (d["responder"], d["status"], d["if_screened"]["responder"]) == ("co_responder", "screen_first", "crisis_team")
    assert d["screen"] == ["crime_in_progress", "suicide_risk_with_means", "injury"]
    assert d["policy_hash"] == star.hash and isinstance(d["questions"], list)
    assert "SCREEN FIRST: ask crime_in_progress, suicide_risk_with_means, injury" in rec.format()
    assert "send now (cannot ask): co_responder" in rec.format()
    rec = triage_args("denver-star", "WELF CHK", flags=[f"no_{f}" for f in NO], at="2025-08-24T10:15:00")
    assert rec.to_dict()["responder"] == "crisis_team" and "send: crisis_team" in rec.format()


def test_input_parsing_and_errors():
    c = make_call("x", flags=["weapon", "no_violence", "injury=no", "!juvenile"], priority="2", at="2025-08-24T03:05")
    assert dict(c.flags) == {"weapon": True, "violence": False, "injury": False, "juvenile": False}
    assert (c.priority, c.dow, c.minute) == (2, 6, 185)  # 2025-08-24 is a Sunday
    assert make_call("x", at="23:59").minute == 23 * 60 + 59 and make_call("x", at="23:59").dow is None
    for kw, msg in [({"flags": ["gun"]}, "unknown flag 'gun'"), ({"priority": "high"}, "priority rank"),
                    ({"at": "25:00"}, "not a time of day"), ({"at": "tomorrow"}, "ISO date-time"),
                    ({"origin": "phone"}, "origin 'phone'"), ({"unavailable": ["swat"]}, "responder 'swat'")]:
        with pytest.raises(ValueError, match=msg):
            make_call("x", **kw)
    with pytest.raises(PolicyError):
        triage_args("no-such-policy", "welfare check")


def test_busy_team_sends_the_fallback_and_co_responder_off_duty_is_dropped():
    star = load_policy("denver-star")
    rec = triage(star, make_call("welfare check", flags=NO, at="14:00", unavailable=["crisis_team"]))
    assert rec.responder == "police" and "crisis_team is busy" in rec.reason
    pilot = load_policy("co-responder-pilot")
    rec = triage(pilot, make_call("domestic disturbance", at="02:00"))
    assert (rec.responder, rec.co_responder) == ("police", None)
    assert "co-responder community_responder is off duty" in rec.reason


def test_unknown_time_assumes_on_duty_and_says_so(star):
    rec = triage(star, make_call("welfare check", flags=NO))
    assert rec.responder == "crisis_team" and "time not given" in rec.reason


def test_triage_is_pure_and_classification_is_remembered_by_the_provider(monkeypatch):
    pol = load_policy("eugene-cahoots")
    call = make_call("Citizen Dispute", at="12:00")
    first = triage(pol, call)
    assert provider_mod.category_provider().known("Citizen Dispute")[0] == first.category
    assert not hasattr(pol, "_cache") and "_categories" not in vars(compiled(pol))

    def boom(*a, **k):
        raise AssertionError("classified twice")

    monkeypatch.setattr("rightresponse.taxonomy.classify.classify_values", boom)
    assert triage(pol, call) == first  # same answer, no second classification
    given = triage(pol, make_call("Something new", category="Behavioral Health", at="12:00", flags=NO))
    assert given.responder == "crisis_team" and given.category == "Behavioral Health"
    none = triage(pol, make_call("Something else", category="", at="12:00"))
    assert none.category is None and none.responder == "police"


def test_all_flags_answered_leaves_only_free_text_questions():
    ccd = load_policy("houston-ccd")
    no = [f"no_{f}" for f in flag_info()]
    rec = triage(ccd, make_call("mental health crisis", flags=no, at="14:00"))
    assert rec.responder == "non_emergency"
    assert list(rec.questions) == ["Is the person willing to talk with a counsellor on the phone?"]


def test_danger_read_from_the_call_type_routes_before_the_rules():
    """The issue's reports, each under the preset that got it wrong."""
    cases = [("denver-star", "DRUNK DRIVER", "police"), ("eugene-cahoots", "INTOXICATED DRIVER ON HWY", "police"),
             ("albuquerque-acs", "DRUNK DRIVER", "police"), ("nicjr-tiers", "SHOPLIFTING IN PROGRESS", "police"),
             ("nicjr-tiers", "LARCENY IN PROG", "police"), ("nicjr-tiers", "BURGLARY IN PROGRESS", "police"),
             ("nicjr-tiers", "HOME INVASION", "police"), ("houston-ccd", "SUICIDE THREAT WITH GUN", "co_responder"),
             ("houston-ccd", "EDP ARMED", "co_responder"), ("eugene-cahoots", "SUICIDAL PERSON ARMED", "police"),
             ("albuquerque-acs", "EDP VIOLENT", "police"), ("nicjr-tiers", "MENTAL PERSON VIOLENT", "police"),
             ("eugene-cahoots", "TRNSPORT PRISONER MENTAL CASE", "police"),
             ("denver-star", "TRNSPORT PRISONER MENTAL CASE", "co_responder")]
    for name, text, want in cases:
        pol = load_policy(name)
        for flags in ({}, NO):
            rec = triage(pol, make_call(text, flags=flags, at="14:00"))
            assert (rec.responder, rec.status) == (want, "final"), (name, text, flags, rec)
            assert rec.call_type_flags and rec.floor is None  # the preset's own danger rules took it


def test_the_floor_overrides_a_rule_and_says_so():
    doc = {"id": "city", "title": "city", "rules": [
        {"id": "everything_to_the_team", "when": {"category": ["Behavioral Health", "Medical Emergencies"]},
         "responder": "crisis_team", "fallback": "police", "reason": "the team", "questions": ["weapon"]},
        {"id": "ems", "when": {"call_type": ["SICK"]}, "responder": "fire_ems", "reason": "EMS", "questions": ["weapon"]}],
        "default": {"responder": "police", "reason": "police"}}
    pol = parse_policy(doc, "<city>", [])
    rec = triage(pol, make_call("mental health crisis", flags=["weapon"], at="12:00"))
    assert (rec.responder, rec.co_responder, rec.fallback, rec.intended) == ("police", None, None, "police")
    assert rec.floor == {"rule": "everything_to_the_team", "would_send": "crisis_team", "flags": ["weapon"]}
    assert rec.reason.startswith("Safety floor: weapon; rule everything_to_the_team would send crisis_team")
    # Fire/EMS the rule wanted still go, with police.
    rec = triage(pol, make_call("SICK PERSON", category="", flags=["violence"], at="12:00"))
    assert (rec.responder, rec.co_responder, rec.floor["would_send"]) == ("police", "fire_ems", "fire_ems")
    # Until the screen is complete, fire/EMS go with the unscreened responder (police).
    rec = triage(pol, make_call("SICK PERSON", category="", at="12:00"))
    assert (rec.responder, rec.co_responder, rec.status) == ("fire_ems", "police", "screen_first")
    assert rec.if_screened == {"responder": "fire_ems", "co_responder": None, "fallback": "police"}


def test_the_unscreened_responder_must_send_officers():
    doc = {"id": "bad", "title": "bad", "unscreened": "crisis_team", "rules": [
        {"id": "r", "when": {"call_type": ["X"]}, "responder": "crisis_team", "fallback": "police", "reason": "x",
         "questions": ["weapon"], "unscreened": "non_emergency"}],
        "default": {"responder": "police", "reason": "p"}}
    findings = []
    parse_policy(doc, "<bad>", findings)
    msgs = [str(f) for f in findings]
    assert any("unscreened: 'crisis_team' is not a responder whose officers attend" in m for m in msgs), msgs
    assert any("rule r: error: rules[0].unscreened: 'non_emergency'" in m for m in msgs), msgs


def test_a_citys_overrides_do_not_leak_into_later_loads_of_the_preset(tmp_path):
    """Issue 17: overrides given to one triage (a city's file) must not change what a later
    load_policy of the same preset answers in the same process."""
    from rightresponse.taxonomy import load_taxonomy

    plain = triage(load_policy("eugene-cahoots"), make_call("Citizen Dispute", at="12:00"))
    other = next(c for c in load_taxonomy().names if c != plain.category)
    overrides = tmp_path / "overrides.csv"
    overrides.write_text(f"agency,field,value,category\n,call_type,Citizen Dispute,{other}\n", encoding="utf-8")
    city = triage_args("eugene-cahoots", "Citizen Dispute", at="12:00", overrides=str(overrides))
    assert city.category == other  # the city's own file applies to its own triage
    later = triage(load_policy("eugene-cahoots"), make_call("Citizen Dispute", at="12:00"))
    assert later.category == plain.category != other
    assert triage_args("eugene-cahoots", "Citizen Dispute", at="12:00").category == plain.category
