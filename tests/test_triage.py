"""Triage of live calls: the published STAR examples, the JSON contract, input parsing, purity."""

from __future__ import annotations

import json

import pytest

import rightresponse.policy.classify as classify_mod
from rightresponse.policy import flag_info, load_policy, make_call, triage, triage_args
from rightresponse.policy.model import PolicyError

Q = {k: v.question for k, v in flag_info().items()}


@pytest.fixture(scope="module")
def star():
    return load_policy("denver-star")


def test_star_welfare_check_without_weapon_goes_to_the_crisis_team_in_its_hours(star):
    rec = triage(star, make_call("welfare check", flags=["no_weapon"], at="2025-08-27T14:00"))
    assert (rec.responder, rec.co_responder, rec.fallback, rec.rule) == ("crisis_team", None, "police", "star_call_types")
    assert rec.category == "Assisting the Public"
    assert "welfare check" in rec.reason
    # Weapon was answered; the other unanswered questions would each change who is sent.
    assert Q["weapon"] not in rec.questions
    assert list(rec.questions) == [Q["violence"], Q["crime_in_progress"], Q["injury"], Q["suicide_risk_with_means"]]


def test_star_same_call_at_3am_goes_to_the_fallback(star):
    day = triage(star, make_call("welfare check", flags=["no_weapon"], at="14:00"))
    night = triage(star, make_call("welfare check", flags=["no_weapon"], at="03:00"))
    assert night.rule == day.rule == "star_call_types"
    assert night.responder == star.rule("star_call_types").fallback == "police"
    assert "crisis_team is off duty at 03:00 (hours 06:00-22:00): sending police" in night.reason
    # At night a weapon would not change the answer (police either way), so it is not asked.
    assert Q["violence"] not in night.questions and Q["injury"] in night.questions


def test_star_welfare_check_with_a_weapon_goes_to_police(star):
    rec = triage(star, make_call("welfare check", flags=["weapon"], at="14:00"))
    assert rec.responder in ("police", "co_responder")
    assert (rec.responder, rec.rule) == ("co_responder", "star_screened_out")


def test_json_contract(star):
    rec = triage_args("denver-star", "WELF CHK", flags=["no_weapon", "no_violence"], priority="P3",
                      at="2025-08-24T10:15:00")
    d = json.loads(json.dumps(rec.to_dict()))
    assert set(d) == {"responder", "co_responder", "fallback", "rule", "reason", "questions", "policy_hash"}
    assert d["responder"] == "crisis_team" and d["policy_hash"] == star.hash and isinstance(d["questions"], list)
    assert "send: crisis_team" in rec.format()


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
    rec = triage(star, make_call("welfare check", at="14:00", unavailable=["crisis_team"]))
    assert rec.responder == "police" and "crisis_team is busy" in rec.reason
    pilot = load_policy("co-responder-pilot")
    rec = triage(pilot, make_call("domestic disturbance", at="02:00"))
    assert (rec.responder, rec.co_responder) == ("police", None)
    assert "co-responder community_responder is off duty" in rec.reason


def test_unknown_time_assumes_on_duty_and_says_so(star):
    rec = triage(star, make_call("welfare check"))
    assert rec.responder == "crisis_team" and "time not given" in rec.reason


def test_triage_is_pure_and_classification_is_memoized_on_the_policy(monkeypatch):
    pol = load_policy("eugene-cahoots")
    call = make_call("Citizen Dispute", at="12:00")
    first = triage(pol, call)
    assert pol.compiled._categories["Citizen Dispute"][0] == first.category

    def boom(*a, **k):
        raise AssertionError("classified twice")

    monkeypatch.setattr(classify_mod, "classify_call_types", boom)
    assert triage(pol, call) == first  # same answer, no second classification
    given = triage(pol, make_call("Something new", category="Behavioral Health", at="12:00"))
    assert given.responder == "crisis_team" and given.category == "Behavioral Health"
    none = triage(pol, make_call("Something else", category="", at="12:00"))
    assert none.category is None and none.responder == "police"


def test_all_flags_answered_leaves_only_free_text_questions():
    ccd = load_policy("houston-ccd")
    no = [f"no_{f}" for f in flag_info()]
    rec = triage(ccd, make_call("mental health crisis", flags=no, at="14:00"))
    assert rec.responder == "non_emergency"
    assert list(rec.questions) == ["Is the person willing to talk with a counsellor on the phone?"]
