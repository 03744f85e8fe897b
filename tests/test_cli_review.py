"""CLI contracts for classify, crosswalk export/import, triage and policy, run as a user runs them."""

from __future__ import annotations

import csv
import json

import pytest

from rightresponse import ingest
from rightresponse.taxonomy import load_taxonomy

from conftest import CFS, need, run_cli


def rr(*args, check=True):
    proc = run_cli(*args)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """One trained classifier for the module; the CLI saves it on first use."""
    return tmp_path_factory.mktemp("model") / "classifier.pkl"


def test_classify_adds_category_confidence_method(tmp_path, model):
    src = tmp_path / "types.csv"
    src.write_text('call_type,count\n11V - Burg Motor Veh,5\nWELFARE CHECK,3\n"--DV - ARGUMENTS, DISTURBANCE (NO ARREST)",2\n')
    out = tmp_path / "out.csv"
    rr("classify", src, "--agency", "dallas", "-o", out, "--model", model)
    rows = list(csv.DictReader(open(out)))
    assert [r["call_type"] for r in rows] == ["11V - Burg Motor Veh", "WELFARE CHECK",
                                                "--DV - ARGUMENTS, DISTURBANCE (NO ARREST)"]
    assert rows[0]["category"] == "Property Crime" and rows[0]["method"] == "crosswalk"  # Dallas crosswalk
    assert rows[2]["category"] == "Domestic Violence"
    assert {r["method"] for r in rows[1:]} <= {"rule", "model", "needs_review"}  # no Dallas crosswalk entry
    names = set(load_taxonomy().names)
    assert all((r["category"] in names or r["method"] == "needs_review") and 0 < float(r["confidence"]) <= 1
               for r in rows)
    assert model.exists()  # saved for the next run


def test_classify_without_call_type_column_is_a_one_line_error(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("type\nx\n")
    proc = rr("classify", src, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip() == f"error: {src}: no 'call_type' column (columns: type)"


def test_crosswalk_review_loop(tmp_path, model):
    ws = tmp_path / "ws"
    ingest([need(CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv")], workspace=ws)
    if model.exists():
        (ws / "classifier.pkl").write_bytes(model.read_bytes())  # skip retraining
    out = tmp_path / "review.csv"
    proc = rr("crosswalk", "export", "--workspace", ws, "-o", out)
    rows = list(csv.DictReader(open(out)))
    total = sum(int(r["calls"]) for r in rows)
    assert total == 3213  # every stored call is under exactly one reviewed call type
    assert f"{len(rows):,} call types ({total:,} calls) written to {out}" in proc.stdout
    # values left for review first, heaviest first; then by calls x uncertainty
    review = [r for r in rows if r["method"] == "needs_review"]
    assert rows[:len(review)] == review and all(r["category"] == "" for r in review)
    assert [int(r["calls"]) for r in review] == sorted((int(r["calls"]) for r in review), reverse=True)
    unc = [float(r["uncertain_calls"]) for r in rows[len(review):]]
    assert unc == sorted(unc, reverse=True)
    # change one category, import, and the next export reports it as an override
    target = rows[0]
    new_cat = "Other (Not Crime)" if target["category"] != "Other (Not Crime)" else "Statuses"
    rows[0] = {**target, "category": new_cat}
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    proc = rr("crosswalk", "import", out, "--workspace", ws)
    assert proc.stdout.startswith(f"1 overrides applied from {out} ({len(rows) - 1:,} rows unchanged)")
    again = tmp_path / "again.csv"
    rr("crosswalk", "export", "--workspace", ws, "-o", again)
    after = {(r["agency"], r["field"], r["value"]): r for r in csv.DictReader(open(again))}
    key = (target["agency"], target["field"], target["value"])
    assert after[key]["category"] == new_cat and after[key]["method"] == "override"


def test_crosswalk_import_rejects_an_unknown_category_naming_row_and_column(tmp_path):
    ws = tmp_path / "ws"
    ingest([need(CFS / "dallas" / "dallas_active_calls_are8-xahz_2018-01-09.csv")], workspace=ws)
    bad = tmp_path / "bad.csv"
    bad.write_text("agency,field,value,category\ndallas,call_type,Burg Motor Veh,Burglary\n")
    proc = rr("crosswalk", "import", bad, "--workspace", ws, check=False)
    assert proc.returncode != 0
    assert "row 1" in proc.stderr and "'category'" in proc.stderr and "Burglary" in proc.stderr
    assert not (ws / "overrides.csv").exists()


def test_triage_json_contract_and_star_hours(model):
    no = [a for f in ("weapon", "violence", "crime_in_progress", "injury", "suicide_risk_with_means") for a in ("--flag", f"no_{f}")]
    day = json.loads(rr("triage", "--policy", "denver-star", "--call-type", "welfare check", *no,
                        "--at", "2025-10-05T14:00:00", "--json", "--model", model).stdout)
    assert set(day) == {"responder", "co_responder", "fallback", "rule", "reason", "questions", "policy_hash",
                         "status", "if_screened", "screen", "call_type_flags", "call_type_dangers", "floor"}
    assert day["responder"] == "crisis_team" and day["fallback"] == "police" and day["status"] == "final"
    unasked = json.loads(rr("triage", "--policy", "denver-star", "--call-type", "welfare check", "--flag", "no_weapon",
                            "--at", "2025-10-05T14:00:00", "--json", "--model", model).stdout)
    assert (unasked["responder"], unasked["status"]) == ("co_responder", "screen_first")
    assert unasked["if_screened"]["responder"] == "crisis_team" and unasked["screen"][0] == "violence"
    night = json.loads(rr("triage", "-p", "denver-star", "-c", "welfare check", "--flag", "no_weapon",
                          "--at", "2025-10-05T03:00:00", "--json", "--model", model).stdout)
    assert night["responder"] == "police"
    armed = json.loads(rr("triage", "-p", "denver-star", "-c", "welfare check", "--flag", "weapon",
                          "--at", "2025-10-05T14:00:00", "--json", "--model", model).stdout)
    assert armed["responder"] in ("police", "co_responder")
    assert day["policy_hash"] == night["policy_hash"] and len(day["policy_hash"]) == 64


def test_triage_unknown_policy_and_flag_are_clear_errors(model):
    proc = rr("triage", "-p", "no-such-policy", "-c", "theft", check=False)
    assert proc.returncode != 0 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    proc = rr("triage", "-p", "denver-star", "-c", "theft", "--flag", "laser", "--model", model, check=False)
    assert proc.returncode != 0 and "laser" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_policy_list_show_lint(tmp_path):
    names = [r["id"] for r in json.loads(rr("policy", "list", "--json").stdout)]
    assert set(names) >= {"status-quo", "denver-star", "eugene-cahoots", "albuquerque-acs", "houston-ccd",
                          "nicjr-tiers", "co-responder-pilot"}
    for name in ("status-quo", "denver-star"):  # every preset is linted in test_policy_lint.py
        assert rr("policy", "lint", name).returncode == 0
    assert "crisis_team" in rr("policy", "show", "denver-star").stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nrules:\n  - id: r1\n    responder: unicorn_team\n")
    proc = rr("policy", "lint", bad, check=False)
    assert proc.returncode != 0
