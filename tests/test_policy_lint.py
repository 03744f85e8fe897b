"""`policy lint` on every preset, and on policies with one planted defect per check."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rightresponse.policy import lint_policy, list_presets, load_policy
from rightresponse.policy.lint import labelled_call_types


@pytest.mark.slow
@pytest.mark.parametrize("name", list_presets())
def test_every_preset_passes_lint_and_its_examples(name):
    report = lint_policy(name)
    assert report.ok, report.format()
    assert not report.warnings, report.format()  # in particular, the floor overrides no preset rule
    pol = load_policy(name)
    assert pol.examples  # lint ran them: a failing example is an error
    # Reviewed call type by call type: real call types of at least six sample cities (a 311
    # example's request type is one of the hand-labelled 311 request types).
    assert len({e.city for e in pol.examples if e.city}) >= 6
    labelled = labelled_call_types()
    requests = pd.read_csv(Path(__file__).parent / "fixtures" / "311_request_types_labelled.csv")
    known = set(zip(labelled["city"], labelled["call_type"])) | set(zip(requests["agency"], requests["request_type"]))
    for e in pol.examples:
        if e.city:
            assert (e.city, e.call["call_type"]) in known, e


def test_the_safety_check_covers_every_danger_flag(tmp_path):
    """A rule that sends civilians *because* of a danger is an error as written, whichever danger."""
    for flag in ("crime_in_progress", "suicide_risk_with_means"):
        path = tmp_path / f"{flag}.yaml"
        path.write_text(HEAD + f"""
rules:
  - id: to_team
    when: {{category: Behavioral Health, any_flag: [{flag}]}}
    responder: crisis_team
    fallback: police
    reason: x
    questions: [weapon, violence, crime_in_progress, suicide_risk_with_means]
default: {{responder: police, reason: z}}
""", encoding="utf-8")
        report = lint_policy(path)
        msgs = [f.message for f in report.errors if f.check == "safety"]
        assert msgs and msgs[0].startswith(f"adding {flag} moves a call from police (rule default) to crisis_team"), msgs
        assert [(f.level, f.rule) for f in report.findings if f.check == "floor"] == [("warning", "to_team")]


def test_status_quo_reports_every_category_as_covered_only_by_default():
    report = lint_policy("status-quo")
    infos = [f for f in report.findings if f.check == "coverage"]
    assert len(infos) == 22 and all(f.level == "info" for f in infos)
    assert "22 note(s) - ok" in report.format()


HEAD = """
id: planted
title: one defect per rule
sources: [{title: test}]
"""

DEFECTS = {
    "shadowed": """
rules:
  - id: all_bh
    when: {category: Behavioral Health}
    responder: police
    reason: x
  - id: later_bh
    when: {category: Behavioral Health, flags: {weapon: false}}
    responder: police
    reason: y
default: {responder: police, reason: z}
""",
    "unreachable": """
rules:
  - id: armed
    when: {flags: {weapon: true}}
    responder: police
    reason: x
  - id: impossible
    when: {flags: {weapon: false}, any_flag: [weapon]}
    responder: police
    reason: y
default: {responder: police, reason: z}
""",
    "questions": """
rules:
  - id: danger
    when: {any_flag: [weapon, violence, crime_in_progress, suicide_risk_with_means]}
    responder: police
    reason: x
  - id: team
    when: {category: Behavioral Health}
    responder: crisis_team
    fallback: police
    reason: y
    questions: [violence, crime_in_progress, suicide_risk_with_means]
default: {responder: police, reason: z}
""",
    "safety": """
rules:
  - id: armed_to_team
    when: {category: Behavioral Health, any_flag: [weapon]}
    responder: crisis_team
    fallback: police
    reason: x
    questions: [violence, crime_in_progress, suicide_risk_with_means]
default: {responder: police, reason: z}
""",
    "dangerous_types": """
rules:
  - id: outreach
    when: {call_type: ['BAILOUT', 'HOSPITAL GUARD']}
    responder: community_responder
    fallback: police
    reason: y
    questions: [weapon, violence, crime_in_progress, suicide_risk_with_means]
default: {responder: police, reason: z}
""",
    "fallback": """
rules:
  - id: police_to_civilians
    when: {category: Violent Crime}
    responder: co_responder
    fallback: crisis_team
    reason: x
default: {responder: police, reason: z}
""",
    "examples": """
rules:
  - id: team
    when: {call_type: [WELFARE]}
    responder: crisis_team
    fallback: police
    reason: y
    questions: [weapon, violence, crime_in_progress, suicide_risk_with_means]
default: {responder: police, reason: z}
examples:
  - {call_type: welfare check, category: Assisting the Public, at: "12:00", screened: true, expect: police}
""",
}


@pytest.mark.parametrize("check", list(DEFECTS))
def test_lint_finds_each_planted_defect(tmp_path, check):
    path = tmp_path / f"{check}.yaml"
    path.write_text(HEAD + DEFECTS[check], encoding="utf-8")
    report = lint_policy(path)
    assert not report.ok
    found = [f for f in report.errors if f.check == check]
    assert found, report.format()
    assert all(str(path.resolve()) == f.file for f in found)
    msg = " | ".join(str(f) for f in found)
    expected = {
        "shadowed": ("rule later_bh", "taken first by all_bh"),
        "unreachable": ("rule impossible", "no call can satisfy"),
        "questions": ("rule team", "does not ask about weapon", "rule danger"),
        "safety": ("rule armed_to_team", "adding weapon moves a call from police (rule default) to crisis_team"),
        "fallback": ("rule police_to_civilians", "falls back to crisis_team"),
        "dangerous_types": ("rule outreach", "sends a responder without police to 2 dangerous call type(s)",
                            "'BAILOUT' (baltimore: crime_in_progress) -> community_responder",
                            "'HOSPITAL GUARD' (milwaukee: prisoner) -> community_responder"),
        "examples": ("rule team", "got responder 'crisis_team' (expected 'police')"),
    }[check]
    assert all(w in msg for w in expected), msg
    # The other checks stay quiet: each fixture plants exactly one kind of defect.
    assert {f.check for f in report.errors} == {check}, report.format()


def test_structural_errors_are_reported_not_raised(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(HEAD + "rules: []\n", encoding="utf-8")
    report = lint_policy(path)
    assert not report.ok and report.policy is None
    assert "a default rule is required" in report.format()
    assert report.to_dict()["ok"] is False
