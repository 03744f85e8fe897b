"""Scenario files: the shipped examples load, and every mistake is reported with file and key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from rightresponse.simulate import ScenarioError, list_scenarios, load_scenario
from rightresponse.simulate.scenario import SCENARIOS_DIR


def _doc(name="decc-crisis-team"):
    return yaml.safe_load((SCENARIOS_DIR / f"{name}.yaml").read_text())


def _errors(tmp_path: Path, doc) -> list[str]:
    p = tmp_path / "scenario.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert all(i.startswith(f"{p}: ") for i in exc.value.issues)
    return [i[len(str(p)) + 2:] for i in exc.value.issues]


def test_shipped_examples_load():
    assert set(list_scenarios()) >= {"decc-status-quo", "decc-co-responder-pilot", "decc-crisis-team"}
    s = load_scenario("decc-co-responder-pilot")
    assert s.policy == "co-responder-pilot" and s.mode == "replay" and s.sample == "decc"
    assert list(s.pools) == ["police", "co_responder", "advocates"]
    co = s.pools["co_responder"]
    assert co.units.by_hour[:24] == (0,) * 7 + (1,) * 16 + (0,)  # 07:00-23:00
    assert co.when_busy == "fallback" and co.fallback == "police" and co.fallback_after == 5
    assert co.service_default.kind == "data" and co.service_default.scale == 1.2
    assert s.pools["police"].units.auto and s.pools["police"].units.staffing.max_utilization == 0.6
    assert s.pools["police"].preemptible == frozenset({8})
    crisis = load_scenario("decc-crisis-team").pools["crisis_team"]
    assert crisis.backup.probability == 0.006 and crisis.backup.service.mean == 30
    assert crisis.service_for("Behavioral Health").kind == "lognormal"
    assert crisis.service_for("Drugs").kind == "data"
    # Every stated figure is listed with its reason, for the report.
    text = "\n".join(load_scenario("decc-crisis-team").assumptions())
    assert "CAHOOTS asked for police backup" in text and "lognormal, mean 60 min" in text


def test_errors_name_file_and_key(tmp_path):
    doc = _doc()
    doc["horizn"] = doc.pop("horizon")
    pools = doc["pools"]
    cats = pools["crisis_team"]["service"]["categories"]
    cats["Behavioural Health"] = cats.pop("Behavioral Health")
    del pools["crisis_team"]["travel"]["assumption"]
    pools["crisis_team"]["dispatch"]["when_busy"]["fallback"] = "cops"
    pools["co_responder"]["units"] = {"07:30-23:00": 1}
    pools["police"]["serves"] = ["polise"]
    pools["police"]["dispatch"]["preemptible"] = ["eight"]
    errs = _errors(tmp_path, doc)
    expect = [
        "horizn: unknown key 'horizn' (did you mean 'horizon'?)",
        "horizon: missing",
        "pools.crisis_team.travel: a stated lognormal time is an assumption",
        "pools.crisis_team.service.categories.Behavioural Health: not a category of the taxonomy (did you mean 'Behavioral Health'?)",
        "pools.crisis_team.dispatch.when_busy.fallback: no pool 'cops'",
        "pools.co_responder.units.07:30-23:00: shifts must start and end on the hour",
        "pools.police.serves[0]: unknown value 'polise' (did you mean 'police'?)",
        "pools.police.dispatch.preemptible[0]: expected a whole number",
        "pools: one pool must serve 'police'",
    ]
    for e in expect:
        assert any(x.startswith(e) for x in errs), (e, errs)
    assert len(errs) == len(expect)  # every mistake once, nothing spurious


@pytest.mark.parametrize("mutate,key,msg", [
    (lambda d: d.update(policy="no-such-policy"), "policy", "no such policy file or preset"),
    (lambda d: d["pools"]["police"].update(units=[1] * 167), "pools.police.units", "168 hours"),
    (lambda d: d["pools"]["crisis_team"].update(units=0), "pools.crisis_team.units", "no units in any hour"),
    (lambda d: d["pools"]["crisis_team"]["police_backup"].update(probability=1.5),
     "pools.crisis_team.police_backup.probability", "must be <= 1"),
    (lambda d: d["pools"]["crisis_team"]["police_backup"].pop("service"), "pools.crisis_team.police_backup.service",
     "missing"),
    (lambda d: d["horizon"].pop("weeks"), "horizon.weeks", "bootstrap needs"),
    (lambda d: d["pools"]["co_responder"].update(serves=["crisis_team"]), "pools.co_responder.serves",
     "crisis_team is already served by pool crisis_team"),
    (lambda d: d["pools"]["crisis_team"]["dispatch"]["when_busy"].update(fallback="co_responder"),
     "pools.crisis_team.dispatch.when_busy.fallback", "no chains"),
    (lambda d: d["pools"]["police"]["units"]["staffing"].update(service_level=0.9),
     "pools.police.units.staffing", "service_level and within_minutes go together"),
    (lambda d: d["pools"]["crisis_team"]["service"]["categories"]["Behavioral Health"]["lognormal"].pop("sd_minutes"),
     "pools.crisis_team.service.categories.Behavioral Health.lognormal.sd_minutes", "missing"),
    (lambda d: d.update(view="hopeful"), "view", "unknown value 'hopeful'; one of: optimistic, conservative"),
    (lambda d: d["data"].update(sample="atlantis"), "data.sample", "unknown sample"),
])
def test_single_mistakes(tmp_path, mutate, key, msg):
    doc = copy.deepcopy(_doc())
    if "within_minutes" in msg:
        doc["pools"]["police"]["units"]["staffing"].pop("within_minutes")
    mutate(doc)
    errs = _errors(tmp_path, doc)
    assert any(e.startswith(f"{key}: ") and msg in e for e in errs), errs


def test_policy_file_relative_to_the_scenario(tmp_path):
    from rightresponse.policy.definition import PRESETS_DIR

    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "mine.yaml").write_text((PRESETS_DIR / "denver-star.yaml").read_text())
    doc = _doc()
    doc["policy"] = "pol/mine.yaml"
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert load_scenario(p).policy == str((tmp_path / "pol" / "mine.yaml").resolve())


def test_not_yaml_and_missing_file(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("pools: [unclosed")
    with pytest.raises(ScenarioError, match=r"x.yaml: not valid YAML"):
        load_scenario(p)
    with pytest.raises(ScenarioError, match="scenario file not found .*did you mean decc-status-quo"):
        load_scenario("decc-status-qo")
