"""Safe routing by construction: no policy sends an unarmed responder, or nobody, into danger.

- Every preset, over every dangerous call type of the hand-labelled sample set (341 real call
  types from 11 places), with nothing answered and with "no" answers that contradict the call
  type, by day, by night and with the time unknown: always police, the police co-responder,
  or fire/EMS with police.
- Any policy at all (hypothesis builds careless ones: civilian rules with no conditions on
  danger, civilian defaults): a "yes" to weapon, violence, crime in progress or suicide risk
  with means never leaves a call without police.
- Unknown is never no: a responder without police is recommended only once the rule's screen
  is answered, and the answer says what it becomes and which questions remain.
- A careless city policy: `policy lint` names the rule the floor overrides, and `triage` under
  it with --flag weapon answers police (the CLI, in process).
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rightresponse.cli import main
from rightresponse.policy import FLAGS, RESPONDERS, list_presets, load_policy, make_call, triage
from rightresponse.policy.call import Call, screened_flags
from rightresponse.policy.definition import _taxonomy_vocab, parse_policy
from rightresponse.policy.lint import LABEL_FLAGS, labelled_call_types, lint_policy
from rightresponse.policy.triage import shipped_categories
from rightresponse.policy.vocabulary import DANGER_FLAGS, SCREEN_ORDER
from rightresponse.schema import ORIGINS

from test_triage_properties import calls  # random calls: real CAD spellings, free text, any flags

CATEGORIES = list(_taxonomy_vocab(None)[0])
TIMES = ("14:00", "03:00", None)


def with_police(policy, rec) -> bool:
    """The floor's forms, written out independently of the engine: officers lead, or fire/EMS
    go with officers."""
    kind = {r: v.kind for r, v in policy.responders.items()}
    return kind[rec.responder] == "police" or (kind[rec.responder] == "medical" and rec.co_responder is not None
                                               and kind[rec.co_responder] == "police")


@pytest.fixture(scope="module")
def dangerous():
    df = labelled_call_types(dangerous_only=True)
    assert len(df) == 341 and df["city"].nunique() == 11
    return df


@pytest.mark.slow
@pytest.mark.parametrize("name", list_presets())
def test_every_preset_over_every_dangerous_call_type_sends_police(name, dangerous):
    pol = load_policy(name)
    # Each city's call types classified with its own crosswalk, as its call-takers' would be.
    cats = {(city, v): c or "" for city, g in dangerous.groupby("city")
            for v, (c, _) in shipped_categories(pol, agency=city).classify(g["call_type"]).items()}
    bad, n = [], 0
    for row in dangerous.itertuples(index=False):
        states = [f for f in LABEL_FLAGS if getattr(row, f)]
        for at in TIMES:
            # nothing answered; every question answered no (contradicting the call type);
            # every question no but injury yes
            for flags in ({}, screened_flags(), {**screened_flags(), "injury": True}):
                # the city's crosswalk category, and the classifier's (no agency configured)
                for cat in (cats[(row.city, row.call_type)], None):
                    rec = triage(pol, make_call(row.call_type, category=cat, at=at, flags=flags))
                    n += 1
                    if not with_police(pol, rec):
                        bad.append((row.city, row.call_type, states, at, flags, cat, rec.responder, rec.co_responder,
                                    rec.rule))
    assert n == 341 * len(TIMES) * 3 * 2
    assert not bad, bad[:5]


@pytest.mark.parametrize("name", list_presets())
def test_a_no_never_clears_what_the_call_type_says(name):
    pol = load_policy(name)
    for text, flag in (("ARMED PERSON", "weapon"), ("DWI - DRUNK/INTOX DRIVER", "crime_in_progress"),
                       ("TRNSPORT PRISONER MENTAL CASE", "crime_in_progress"), ("MENTAL VIOLENT NOT ARMED", "violence"),
                       ("SUICIDE IN PROG NO INJ", "suicide_risk_with_means")):
        rec = triage(pol, make_call(text, at="14:00", flags=screened_flags()))
        assert with_police(pol, rec), (text, rec)
        assert flag in rec.call_type_flags
        assert "a 'no' answer does not override it" in rec.reason


# ---------------------------------------------------------------------------- any policy

NON_POLICE = ("crisis_team", "community_responder", "non_emergency", "fire_ems", "no_dispatch")


@st.composite
def careless_policies(draw):
    """Valid policies whose rules send anyone for anything, danger flags or not."""
    rules = []
    for i in range(draw(st.integers(1, 5))):
        when = {}
        if draw(st.booleans()):
            when["category"] = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True))
        if draw(st.booleans()):
            when["call_type"] = draw(st.lists(st.sampled_from(["WELFARE", "MENTAL", "DRUNK", "ALARM", "THEFT", "."]),
                                              min_size=1, max_size=2, unique=True))
        if draw(st.booleans()):
            when["any_flag"] = draw(st.lists(st.sampled_from(FLAGS), min_size=1, max_size=3, unique=True))
        if not when:
            when["origin"] = draw(st.sampled_from(ORIGINS))
        resp = draw(st.sampled_from(RESPONDERS))
        rule = {"id": f"r{i}", "when": when, "responder": resp, "reason": "careless",
                "questions": draw(st.lists(st.sampled_from(FLAGS), max_size=3, unique=True))}
        if resp != "police":
            rule["fallback"] = "police"
        rules.append(rule)
    default = {"responder": draw(st.sampled_from(("police",) + NON_POLICE)), "reason": "default"}
    doc = {"id": "careless", "title": "careless", "rules": rules, "default": default,
           "unscreened": draw(st.sampled_from(["police", "co_responder"]))}
    findings = []
    pol = parse_policy(doc, "<careless>", findings)
    assert pol is not None and not [f for f in findings if f.level == "error"], findings
    return pol


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(careless_policies(), calls, st.sampled_from(DANGER_FLAGS))
def test_the_floor_holds_under_any_policy(pol, call, danger):
    rec = triage(pol, call.with_flag(danger, True))
    assert with_police(pol, rec), (pol.canonical(), call, danger, rec)
    assert rec.status == "final" and not rec.screen


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(careless_policies(), calls)
def test_unknown_is_never_no_under_any_policy(pol, call):
    """Without police, every screening question of the rule was answered no; otherwise the
    answer is screen_first, with police, and names what it becomes and what is left to ask."""
    rec = triage(pol, call)
    rule = pol.rule(rec.rule)
    answered = dict(call.flags)
    if not with_police(pol, rec):
        assert rec.status == "final"
        assert all(answered.get(f) is False for f in rule.screen_flags), (rule.screen_flags, answered)
    if rec.status == "screen_first":
        assert with_police(pol, rec)
        assert rec.if_screened and rec.screen
        assert list(rec.screen) == [f for f in SCREEN_ORDER if f in rec.screen]  # gravest first
        assert all(f not in answered for f in rec.screen)
        # Answering the screen "no" gives exactly the answer promised.
        done = triage(pol, Call(call.call_type, call.category, call.priority, call.origin, call.dow, call.minute,
                                tuple({**answered, **{f: False for f in rec.screen}}.items()), call.unavailable))
        assert (done.responder, done.co_responder, done.fallback) == (
            rec.if_screened["responder"], rec.if_screened["co_responder"], rec.if_screened["fallback"])


# ---------------------------------------------------------------------------- a careless city

CARELESS = """
id: careless-city
title: A careless city policy - welfare checks to the crisis team
sources: [{title: City council resolution 2025-17}]
rules:
  - id: welfare
    when: {call_type: [WELFARE]}
    responder: crisis_team
    fallback: police
    reason: Welfare checks go to the crisis team.
    questions: [weapon]
default:
  responder: police
  reason: Everything else stays with police.
"""


def test_lint_names_the_rule_the_floor_overrides_and_triage_answers_police(tmp_path):
    path = tmp_path / "careless.yaml"
    path.write_text(CARELESS, encoding="utf-8")
    report = lint_policy(path)
    floor = [f for f in report.findings if f.check == "floor"]
    assert [(f.level, f.rule) for f in floor] == [("warning", "welfare")]
    assert "the safety floor overrides this rule: it sends crisis_team even when weapon or violence or " \
           "crime_in_progress or suicide_risk_with_means is yes" in floor[0].message
    # Its questions do not cover the floor's dangers: lint fails it, naming each.
    missing = sorted(f.message.split("ask about ")[1].split(";")[0] for f in report.errors if f.check == "questions")
    assert missing == ["crime_in_progress", "suicide_risk_with_means", "violence"] and not report.ok

    runner = CliRunner()
    out = runner.invoke(main, ["policy", "lint", str(path)])
    assert out.exit_code == 1 and "rule welfare: the safety floor overrides this rule" in out.output
    for flags in (["--flag", "weapon"], ["--flag", "weapon", "--flag", "violence"]):
        out = runner.invoke(main, ["triage", "-p", str(path), "-c", "WELFARE CHECK", *flags, "--at",
                                   "2025-10-05T14:00", "--json"])
        assert out.exit_code == 0, out.output
        d = json.loads(out.output)
        assert (d["responder"], d["co_responder"], d["status"]) == ("police", None, "final")
        assert d["floor"]["rule"] == "welfare" and d["floor"]["would_send"] == "crisis_team"
        assert "Safety floor" in d["reason"]
    # With nothing answered the city's crisis team waits for the screen.
    out = runner.invoke(main, ["triage", "-p", str(path), "-c", "WELFARE CHECK", "--at", "2025-10-05T14:00", "--json"])
    d = json.loads(out.output)
    assert (d["responder"], d["status"], d["if_screened"]["responder"]) == ("police", "screen_first", "crisis_team")
    assert d["screen"] == ["weapon", "violence", "crime_in_progress", "suicide_risk_with_means"]
    # `policy show` states the floor.
    out = runner.invoke(main, ["policy", "show", str(path)])
    assert "Safety floor (every policy, no rule can opt out)" in out.output
    assert "screen first: weapon, violence, crime_in_progress, suicide_risk_with_means answered no; until then police" \
        in out.output


def test_a_yes_to_the_rules_own_screen_question_fails_the_screen():
    """Found by test_unknown_is_never_no_under_any_policy in CI: a rule that matches an injured
    caller and also asks about injury sent the crisis team when injury was answered yes. A yes
    is not a no: the screen fails, and the unscreened responder goes, saying why."""
    doc = {"id": "careless", "title": "careless", "unscreened": "police",
           "rules": [{"id": "hurt", "when": {"any_flag": ["injury"]}, "responder": "crisis_team", "fallback": "police",
                      "reason": "careless", "questions": ["injury"]}],
           "default": {"responder": "police", "reason": "default"}}
    findings = []
    pol = parse_policy(doc, "<careless>", findings)
    no_dangers = ["no_weapon", "no_violence", "no_crime_in_progress", "no_suicide_risk_with_means"]
    rec = triage(pol, make_call(category="Violent Crime", flags=["injury", *no_dangers]))
    assert (rec.responder, rec.status, rec.rule) == ("police", "final", "hurt")
    assert "the screen failed (injury answered yes): crisis_team is not sent" in rec.reason
    assert with_police(pol, rec)
