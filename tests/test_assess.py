"""assess(): the bundled DECC sample end to end, cross-checked against the raw exports.

The key figures (calls and total deployed hours per DECC `Problem`) are recomputed here
from the gzipped CSVs with Python's csv module and zoneinfo, applying the same exclusions
the pipeline documents, and must agree exactly.
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
import re
import tempfile
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from rightresponse.assess import PUBLIC_TABLES, AssessError, AssessResult, assess
from rightresponse.samples import sample_paths

NY = ZoneInfo("America/New_York")
NULLS = {"", "NULL", "null", "-9999"}
TS = {"received": "Incident_Start_Time", "dispatched": "Incident_Dispatch_Time", "arrived": "Incident_Arrival_Time",
      "cleared": "Incident_First_Close_Time"}


@functools.lru_cache(maxsize=1)
def decc_run() -> AssessResult:
    """One assessment of the bundled sample, shared by this module and test_report*.py."""
    out = Path(tempfile.mkdtemp(prefix="rr-test-assess-")) / "out"
    return assess(out=out)


def _instant(text: str | None):
    """Local wall clock -> UTC; an ambiguous fall-back time reads as standard time (fold=1)."""
    if text is None:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=NY, fold=1).astimezone(timezone.utc)


@functools.lru_cache(maxsize=1)
def raw_decc():
    """Rows of the bundled exports as the adapter documents them: trimmed, null tokens, test
    calls and rows without an incident number left out. Returns (rows read, kept rows)."""
    read, kept, seen = 0, [], set()
    for path in sample_paths():
        with gzip.open(path, "rt", newline="", encoding="utf-8") as fh:
            for rec in csv.DictReader(fh):
                read += 1
                r = {k: (None if (v or "").strip() in NULLS else v.strip()) for k, v in rec.items() if k}
                if r["Master_Incident_Number"] is None:
                    continue
                if re.search(r"^(TEST|TST)-", r["Disposition"] or "", re.I) or re.search(r"\bTEST CALL\b", r["Problem"] or "", re.I):
                    continue
                if r["Master_Incident_Number"] in seen:
                    continue
                seen.add(r["Master_Incident_Number"])
                kept.append(r)
    return read, kept


def _issue(t: dict) -> bool:
    r, d, a, c = t["received"], t["dispatched"], t["arrived"], t["cleared"]
    return bool(
        (d and d < r) or (a and d and a < d) or (c and a and c < a)
        or (c and (c < r or (d and c < d))) or (c and c - r > timedelta(hours=24))
    )


@pytest.fixture(scope="module")
def result():
    return decc_run()


@pytest.mark.slow
def test_decc_calls_and_deployed_hours_per_problem_match_raw_exports(result):
    read, kept = raw_decc()
    calls, hours, excluded = defaultdict(int), defaultdict(float), 0
    for r in kept:
        if r["Agency"] != "POLICE":
            continue
        t = {k: _instant(r[c]) for k, c in TS.items()}
        calls[r["Problem"]] += 1
        ok = t["dispatched"] and t["cleared"] and not _issue(t)
        dur = (t["cleared"] - t["dispatched"]).total_seconds() if ok else None
        if ok and 0 <= dur <= 24 * 3600:
            hours[r["Problem"]] += dur / 3600
        else:
            excluded += 1
    s = result.summary
    assert read == 22147
    assert s["calls_all_services"] == len(kept)
    assert s["calls"] == sum(calls.values())
    ct = result["by_call_type"].groupby("call_type")[["calls", "hours_deployed"]].sum()
    assert dict(ct["calls"]) == dict(calls)
    for problem, h in hours.items():
        assert ct.at[problem, "hours_deployed"] == pytest.approx(h, rel=1e-9, abs=1e-9), problem
    assert set(ct.index[ct["hours_deployed"] > 0]) == set(hours)
    assert s["coverage"]["deployed"]["calls_excluded"] == excluded
    assert s["hours"] == pytest.approx(sum(hours.values()), rel=1e-12)


@pytest.mark.slow
def test_police_scope_and_services_are_stated(result):
    _, kept = raw_decc()
    by_agency = defaultdict(int)
    for r in kept:
        by_agency[r["Agency"]] += 1
    s = result.summary
    assert s["service"] == "police"
    assert s["services"] == {"police": by_agency["POLICE"], "ems": by_agency["EMS"], "fire": by_agency["FIRE"]}
    scope = result["scope"].set_index("service")
    assert bool(scope.at["police", "in_scope"]) and not scope.loc[["ems", "fire"], "in_scope"].any()


def test_tables_reconcile(result):
    s = result.summary
    for name in ("by_category", "by_crime_group", "by_demand_type", "by_origin", "by_origin_group", "by_priority",
                 "hour_of_week", "by_call_type"):
        df = result[name]
        assert df["calls"].sum() == s["calls"], name
        assert df["hours"].sum() == pytest.approx(s["hours"]), name
    cat = result["by_category"]
    assert cat["share_calls"].sum() == pytest.approx(1.0)
    assert cat["share_time"].sum() == pytest.approx(1.0)
    # every duration: measured + excluded = calls in scope
    for name, c in s["coverage"].items():
        assert c["calls_in_scope"] == s["calls"], name
        assert c["calls_measured"] + c["calls_excluded"] == c["calls_in_scope"], name
        assert sum(c["excluded_by_reason"].values()) == c["calls_excluded"], name
    # category by origin: "all" is the union of the groups
    co = result["by_category_origin"]
    parts = co[co["origin_group"] != "all"].groupby("category")["calls"].sum()
    whole = co[co["origin_group"] == "all"].set_index("category")["calls"]
    assert dict(parts) == dict(whole)
    # outcomes add up to each category's calls
    oc = result["outcomes"].set_index("category")
    assert (oc.drop(columns="calls").sum(axis=1) == oc["calls"]).all()
    assert dict(oc["calls"]) == dict(cat.set_index("category")["calls"])


def test_decc_origin_split_matches_call_reception(result):
    _, kept = raw_decc()
    police = [r for r in kept if r["Agency"] == "POLICE"]
    officer = sum(1 for r in police if (r["Call_Reception"] or "").upper() in ("OFFICER", "FLAG DOWN"))
    assert result.summary["officer_initiated_share_calls"] == pytest.approx(officer / len(police), rel=1e-12)
    og = result["by_origin_group"].set_index("origin_group")["calls"]
    assert og["officer"] == officer


def test_json_dict_contract(result):
    d = result.to_json_dict()
    json.dumps(d)  # serializable as is
    assert d["calls"] == result.summary["calls"]
    assert d["measure"] == "deployed"
    assert {"category", "calls", "share_calls", "hours", "share_time"} <= set(d["by_category"][0])
    # --json publishes what the report publishes: withheld figures are null, the others exact
    exact = result["by_category"].set_index("category")
    shown = [x for x in d["by_category"] if x["calls"] is not None]
    withheld = {x["category"] for x in d["by_category"] if x["calls"] is None}
    assert withheld == {"Officer Needs Help", "Statuses"}  # one call, and its complement in their crime group
    assert all(x["calls"] == exact.at[x["category"], "calls"] for x in shown)
    assert sum(x["calls"] for x in shown) + exact.loc[sorted(withheld), "calls"].sum() == d["calls"]
    assert all(x["hours"] is None and x["share_calls"] is None for x in d["by_category"] if x["calls"] is None)
    assert d["sample"] == "decc"
    assert Path(d["report"]).exists()


def test_summary_text_fits_one_screen(result):
    text = result.summary_text()
    assert len(text.splitlines()) <= 30
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "SAMPLE DATA" in text
    assert f"{result.summary['calls']:,}" in text


def test_tables_written_as_csv_and_parquet(result):
    out = result.out
    absent = {n for n in PUBLIC_TABLES if n not in result.tables}
    assert absent == {"dispatch_totals", "dispatch_by_rule", "dispatch_by_category", "dispatch_alternative",
                      "dispatch_override_reasons",  # only with a decision log (--decisions)
                      "by_channel", "by_category_channel", "by_311_request_type"}  # only with 311 requests
    for name in PUBLIC_TABLES:
        if name in absent:
            assert not (out / "tables" / f"{name}.csv").exists()
            continue
        pq = pd.read_parquet(out / "tables" / f"{name}.parquet")
        csv_df = pd.read_csv(out / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)
        # every table as published; coverage by duration and reason only (see report.disclosure)
        assert len(pq) == len(csv_df) == len(result.publish()[name]), name
        assert len(pq) == len(result[name]) or name == "coverage", name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["calls"] == result.summary["calls"]


def test_unknown_measure_and_bad_inputs_fail_clearly(tmp_path):
    with pytest.raises(AssessError, match="unknown time measure 'wall'"):
        assess(out=tmp_path / "o", measure="wall")
    with pytest.raises(AssessError, match="no such file"):
        assess(paths=[tmp_path / "missing.csv"], out=tmp_path / "o")
    with pytest.raises(AssessError, match="no calls in this workspace"):
        assess(workspace=tmp_path / "empty", out=tmp_path / "o")


@pytest.mark.slow
def test_workspace_is_reused_and_agrees_with_paths(cfs, tmp_path, capsys):
    import rightresponse as rr

    nola = cfs / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv"
    ws = tmp_path / "ws"
    rr.ingest([nola], workspace=ws)
    a = assess(workspace=ws, out=tmp_path / "a", write=False, progress=True)
    err = capsys.readouterr().err
    assert "assess" in err and "step" in err  # tqdm progress goes to stderr
    b = assess(paths=[nola], out=tmp_path / "b", write=False)
    assert a.summary["calls"] == b.summary["calls"] == 3213
    pd.testing.assert_frame_equal(a["by_category"], b["by_category"])
    assert a.summary["sample"] is None and a.report_path is None
    # nothing was written when write=False
    assert not (tmp_path / "a").exists()
    with pytest.raises(AssessError, match="unit-weighted time needs the number of units"):
        assess(workspace=ws, out=tmp_path / "c", measure="unit_weighted", write=False)
    with pytest.raises(AssessError, match="no calls with service='ems'"):
        assess(workspace=ws, out=tmp_path / "c", service="ems", write=False)


def test_classification_coverage_counts_the_calls_left_for_review(result):
    from rightresponse.assess import classification_coverage

    cl = result.summary["classification"]
    ct = result.tables["by_call_type"]
    rev = ct[ct["method"] == "needs_review"]
    missing = int(ct.loc[ct["method"].isna() | (ct["method"] == "missing"), "calls"].sum())
    assert cl["calls"] == result.summary["calls"] == int(ct["calls"].sum())
    assert cl["needs_review_calls"] == int(rev["calls"].sum()) and cl["needs_review_call_types"] == len(rev)
    assert cl["categorized_calls"] + cl["needs_review_calls"] + missing == cl["calls"]
    assert result.to_json_dict()["classification"] == cl
    # the definition, on a table with abstentions: counted, never dropped
    cm = pd.DataFrame({"method": ["crosswalk", "needs_review", "rule", "missing"], "call_types": [3, 2, 4, 1],
                       "calls": [70, 8, 20, 2]})
    assert classification_coverage(cm) == {"calls": 100, "categorized_calls": 90, "needs_review_calls": 8,
                                           "needs_review_call_types": 2, "share_calls_needs_review": 0.08}
