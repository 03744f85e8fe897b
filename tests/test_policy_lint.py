"""`policy lint` on every preset, and on policies with one planted defect per check."""

from __future__ import annotations

import pytest

from rightresponse.policy import lint_policy, list_presets, load_policy


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_passes_lint_and_its_examples(name):
    report = lint_policy(name)
    assert report.ok, report.format()
    assert not report.warnings, report.format()
    assert load_policy(name).examples  # lint ran them: a failing example is an error


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
    when: {any_flag: [weapon, violence]}
    responder: police
    reason: x
  - id: team
    when: {category: Behavioral Health}
    responder: crisis_team
    fallback: police
    reason: y
    questions: [violence]
default: {responder: police, reason: z}
""",
    "safety": """
rules:
  - id: armed_to_team
    when: {category: Behavioral Health, any_flag: [weapon]}
    responder: crisis_team
    fallback: police
    reason: x
    questions: [violence]
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
    questions: [weapon, violence]
default: {responder: police, reason: z}
examples:
  - {call_type: welfare check, category: Assisting the Public, at: "12:00", expect: police}
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
