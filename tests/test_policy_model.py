"""Responder catalogue, policy YAML loading, validation messages and the version hash."""

from __future__ import annotations

import re

import pytest
import yaml

from rightresponse.policy import (FLAGS, RESPONDERS, PolicyError, catalogue, flag_info, list_presets,
                                  load_policy)
from rightresponse.policy.definition import PRESETS_DIR
from rightresponse.policy.hours import parse_hours

PRESETS = ["albuquerque-acs", "co-responder-pilot", "denver-star", "eugene-cahoots", "houston-ccd",
           "nicjr-tiers", "status-quo"]


def test_catalogue_has_the_seven_responders_with_hours_capacity_and_backup():
    cat = catalogue()
    assert tuple(cat) == RESPONDERS == ("police", "co_responder", "crisis_team", "community_responder",
                                        "non_emergency", "fire_ems", "no_dispatch")
    for r in cat.values():
        assert r.hours.spec and isinstance(r.police_backup, bool)
        assert r.capacity is None or (isinstance(r.capacity, int) and r.capacity > 0)
    assert {r.id for r in cat.values() if r.police} == {"police", "co_responder"}
    assert cat["police"].hours.always and cat["police"].fallback is None
    assert str(cat["crisis_team"].hours) == "07:00-23:00" and cat["crisis_team"].fallback == "police"
    assert set(flag_info()) == set(FLAGS) == {"weapon", "violence", "crime_in_progress", "injury",
                                             "suicide_risk_with_means", "intoxication", "juvenile"}
    assert flag_info()["weapon"].question.endswith("?")


def test_hours_windows_cross_midnight_and_days():
    day = parse_hours("07:00-23:00")
    assert day.on(0, 7 * 60) and day.on(6, 23 * 60 - 1)
    assert not day.on(0, 7 * 60 - 1) and not day.on(0, 23 * 60)
    night = parse_hours("22:00-06:00")
    assert night.on(0, 23 * 60) and night.on(1, 5 * 60 + 59) and night.on(0, 60)  # Sunday's night reaches Monday
    assert not night.on(3, 6 * 60) and not night.on(3, 12 * 60)
    week = parse_hours("mon-fri 10:00-18:00")
    assert week.on(4, 12 * 60) and not week.on(5, 12 * 60)
    assert not week.on(None, 12 * 60)  # day unknown: only hours that cover every day count
    assert week.day_specific and not day.day_specific
    assert parse_hours(("sat-sun 00:00-24:00", "mon 09:00-10:00")).on(6, 0)
    assert parse_hours("24/7").always
    for bad in ("7-23", "25:00-26:00", "09:00-09:00", "funday 10:00-11:00"):
        with pytest.raises(ValueError):
            parse_hours(bad)


def test_presets_load_cite_sources_and_carry_examples():
    assert list_presets() == PRESETS
    for name in PRESETS:
        p = load_policy(name)
        assert p.id == name and p.title
        assert p.sources and all(s["title"] for s in p.sources)
        assert len(p.examples) >= 3
        assert p.rules[-1].default and p.rules[-1].id == "default"
        assert re.fullmatch(r"[0-9a-f]{64}", p.hash)
        assert load_policy(name) is p  # presets are immutable package data: one object, caches shared
        assert name in p.to_text() and "rules (first match wins)" in p.to_text()
    star = load_policy("denver-star")
    assert str(star.responders["crisis_team"].hours) == "06:00-22:00"
    assert star.responders["police"] is catalogue()["police"]


def test_hash_ignores_formatting_but_not_substance(tmp_path):
    src = PRESETS_DIR / "denver-star.yaml"
    doc = yaml.safe_load(src.read_text(encoding="utf-8"))
    same = tmp_path / "same.yaml"
    same.write_text(yaml.safe_dump(doc, sort_keys=True, width=60), encoding="utf-8")  # no comments, new layout
    base = load_policy("denver-star").hash
    assert load_policy(same).hash == base
    doc["title"] = "renamed"
    doc["examples"] = doc["examples"][:1]
    same.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert load_policy(same).hash == base  # titles and examples cannot change a recommendation
    doc["responders"]["crisis_team"]["hours"] = "06:00-23:00"
    hours = tmp_path / "hours.yaml"
    hours.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert load_policy(hours).hash != base
    doc["responders"]["crisis_team"]["hours"] = "06:00-22:00"
    assert doc["rules"][2]["responder"] == "co_responder"
    doc["rules"][2]["responder"] = "police"
    rule = tmp_path / "rule.yaml"
    rule.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert load_policy(rule).hash != base


BAD = """
id: bad
title: a policy with one mistake per rule
responders:
  crisis_team: {hours: "7am-11pm"}
rules:
  - id: typo_responder
    when: {category: Behavioral Health}
    responder: crisis_tem
    reason: x
  - id: typo_category
    when: {category: Behavioural Health}
    responder: police
    reason: x
  - id: bad_regex
    when: {call_type: ['WELFARE(']}
    responder: police
    reason: x
  - id: bad_key
    when: {calltype: [WELFARE]}
    responder: police
    reason: x
  - id: no_reason
    when: {flags: {weapon: true}}
    responder: police
  - id: bad_flag
    when: {flags: {gun: true}}
    responder: police
    reason: x
  - id: bad_origin
    when: {origin: [phone]}
    responder: police
    reason: x
"""


def test_validation_names_the_file_and_the_rule_for_every_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(PolicyError) as ei:
        load_policy(path)
    msgs = [str(f) for f in ei.value.findings]
    text = "\n".join(msgs)
    assert all(str(path.resolve()) in m for m in msgs)

    def has(rule, *words):
        return any(f"rule {rule}:" in m and all(w in m for w in words) for m in msgs)

    assert has("typo_responder", "rules[0].responder: unknown value 'crisis_tem' (did you mean 'crisis_team'?)")
    assert has("typo_category", "rules[1].when.category: unknown category 'Behavioural Health'",
               "did you mean 'Behavioral Health'")
    assert has("bad_regex", "rules[2].when.call_type: ", "not a valid regular expression")
    assert has("bad_key", "rules[3].when.calltype: unknown key 'calltype' (did you mean 'call_type'?)")
    assert has("no_reason", "rules[4].reason: missing")
    assert has("bad_flag", "rules[5].when.flags.gun: unknown key 'gun'; keys: weapon, violence")
    assert has("bad_origin", "rules[6].when.origin[0]: unknown value 'phone'; one of: 911,")
    assert has("default", "default: missing: a default rule is required")
    assert "responders.crisis_team.hours: cannot read hours '7am-11pm'" in text
    assert len(msgs) == 9  # every mistake once, nothing spurious


def test_unknown_preset_and_missing_file_are_clear(tmp_path):
    with pytest.raises(PolicyError, match="did you mean denver-star"):
        load_policy("denver_star")
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy(tmp_path / "nope.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("rules: [", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
