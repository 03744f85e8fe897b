"""`rightresponse assess` as a user runs it: the real CLI (in-process, conftest.run_cli), on real exports.

The JSON contract's figures are recomputed here from the raw CSV in plain DuckDB SQL
(calls and total deployed hours per DECC `Problem`, then per category through the
call-type mapping the run wrote), and must agree. The dispatch-practice section is
checked against a decision log written through the service's store API.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import subprocess
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from conftest import CFS, need, raw_duckdb, run_cli

from rightresponse.assess import PUBLIC_TABLES

# A week without a daylight-saving change, so local wall-clock differences are true durations.
WEEK = CFS / "decc_psap_2025" / "week38.csv"
SLO = CFS / "san_luis_obispo" / "SLOPD_report_2022-03-15.csv"


def cli(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    return run_cli("assess", *args, cwd=cwd)


def one_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout.strip()
    assert out.startswith("{") and out.count("\n") == 0, out[:500]  # exactly one JSON object, nothing else
    return json.loads(out)


# Plain SQL over the raw export: the DECC adapter's documented rules (trimmed values; NULL,
# empty and -9999 are missing; test calls and rows without an incident number dropped;
# first row per incident kept), police rows only, total deployed time = first unit
# dispatched -> first close, counted when no time is out of order, the call is not longer
# than 24 hours, and the duration is within 0..24 h.
RAW_SQL = """
WITH raw AS (
  SELECT *, row_number() OVER () AS rn FROM read_csv(?, all_varchar = true, header = true)
), clean AS (
  SELECT rn,
    CASE WHEN trim(Master_Incident_Number) IN ('', 'NULL', 'null', '-9999') THEN NULL
         ELSE trim(Master_Incident_Number) END AS id,
    trim(Agency) AS agency, trim(Problem) AS problem, coalesce(trim(Disposition), '') AS disposition,
    try_cast(nullif(trim(Incident_Start_Time), 'NULL') AS TIMESTAMP) AS r,
    try_cast(nullif(trim(Incident_Dispatch_Time), 'NULL') AS TIMESTAMP) AS d,
    try_cast(nullif(trim(Incident_Arrival_Time), 'NULL') AS TIMESTAMP) AS a,
    try_cast(nullif(trim(Incident_First_Close_Time), 'NULL') AS TIMESTAMP) AS c
  FROM raw
), kept AS (
  SELECT * FROM clean
  WHERE id IS NOT NULL
    AND NOT regexp_matches(disposition, '^(TEST|TST)-', 'i')
    AND NOT regexp_matches(problem, '\\bTEST CALL\\b', 'i')
  QUALIFY row_number() OVER (PARTITION BY id ORDER BY rn) = 1
), police AS (
  SELECT problem,
    CASE WHEN d IS NOT NULL AND c IS NOT NULL
          AND NOT coalesce(d < r, false) AND NOT coalesce(a < d, false) AND NOT coalesce(c < a, false)
          AND NOT coalesce(c < r, false) AND NOT coalesce(c < d, false)
          AND NOT coalesce(c - r > INTERVAL 24 HOUR, false)
          AND epoch(c) - epoch(d) BETWEEN 0 AND 86400
         THEN (epoch(c) - epoch(d)) / 3600.0 END AS hours
  FROM kept WHERE agency = 'POLICE'
)
SELECT problem, count(*) AS calls, coalesce(sum(hours), 0) AS hours FROM police GROUP BY problem ORDER BY problem
"""


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """One real DECC week through the CLI into a kept workspace, exact figures (--min-cell 0)."""
    root = tmp_path_factory.mktemp("cli-week")
    proc = cli(need(WEEK), "--workspace", root / "ws", "--out", root / "out", "--min-cell", "0", "--json")
    return root, one_json(proc)


@pytest.mark.slow
def test_json_contract_matches_raw_csv_in_sql(week):
    root, d = week
    raw = pd.DataFrame(raw_duckdb(RAW_SQL, str(WEEK)), columns=["problem", "calls", "hours"])
    assert d["measure"] == "deployed"
    assert d["calls"] == int(raw["calls"].sum()) == 766  # 767 police rows, 1 test call
    assert d["hours"] == pytest.approx(raw["hours"].sum(), rel=1e-9)
    assert d["sample"] is None and d["service"] == "police"
    # per Problem: the call-type table written beside the report (exact at --min-cell 0)
    ct = pd.read_parquet(root / "out" / "tables" / "by_call_type.parquet")
    per = ct.groupby("call_type")[["calls", "hours_deployed"]].sum()
    assert dict(per["calls"]) == dict(zip(raw["problem"], raw["calls"]))
    for p, h in zip(raw["problem"], raw["hours"]):
        assert per.at[p, "hours_deployed"] == pytest.approx(h, rel=1e-9, abs=1e-9), p
    # per category: the raw per-Problem figures rolled up through the run's call-type mapping
    mapping = ct.groupby("call_type")["category"].first()
    raw["category"] = raw["problem"].map(mapping)
    assert raw["category"].notna().all()
    by_cat = raw.groupby("category")[["calls", "hours"]].sum()
    got = {x["category"]: x for x in d["by_category"]}
    assert {"category", "calls", "share_calls", "hours", "share_time"} <= set(d["by_category"][0])
    assert set(got) == set(by_cat.index)
    total_h = raw["hours"].sum()
    for cat, r in by_cat.iterrows():
        x = got[cat]
        assert x["calls"] == r["calls"], cat
        assert x["hours"] == pytest.approx(r["hours"], rel=1e-9, abs=1e-9), cat
        assert x["share_calls"] == pytest.approx(r["calls"] / d["calls"], rel=1e-12), cat
        assert x["share_time"] == pytest.approx(r["hours"] / total_h, rel=1e-9), cat
    # sorted by officer time, largest first
    hours = [x["hours"] for x in d["by_category"]]
    assert hours == sorted(hours, reverse=True)


@pytest.mark.slow
def test_report_and_tables_are_written(week):
    root, d = week
    out = root / "out"
    assert Path(d["report"]) == out / "report.html"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html.lower()
    assert f"{d['calls']:,}" in html and "Who could respond" in html
    for name in ("by_category", "by_call_type", "response_times", "hour_of_week", "coverage", "who_could_respond"):
        pq = pd.read_parquet(out / "tables" / f"{name}.parquet")
        cs = pd.read_csv(out / "tables" / f"{name}.csv")
        assert len(pq) == len(cs) > 0, name
    written = {Path(f).name for f in d["files"]}
    for name in PUBLIC_TABLES:
        if (out / "tables" / f"{name}.csv").exists():
            assert {f"{name}.csv", f"{name}.parquet"} <= written, name
    cat = pd.read_csv(out / "tables" / "by_category.csv")
    assert int(cat["calls"].sum()) == d["calls"]


@pytest.mark.slow
def test_workspace_is_reused_with_suppression(week, tmp_path):
    """--workspace alone reuses the calls; the default --min-cell 10 suppresses small counts."""
    root, d = week
    proc = cli("--workspace", root / "ws", "--out", tmp_path / "again")
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    assert f"rightresponse assessment: {d['calls']:,} police calls" in text
    assert len(text.splitlines()) <= 30 and max(map(len, text.splitlines())) <= 110
    cat = pd.read_csv(tmp_path / "again" / "tables" / "by_category.csv", dtype=str, keep_default_na=False)
    small = {x["category"] for x in d["by_category"] if 0 < x["calls"] < 10}
    for line in text.splitlines():  # a rare category listed on the terminal reads <10 too
        if any(line.startswith(c[:36] + " ") for c in small):
            assert "<10" in line, line
    assert small and set(cat.loc[cat["category"].isin(small), "calls"]) == {"<10"}


@pytest.mark.slow
def test_no_arguments_runs_the_bundled_sample(tmp_path):
    proc = cli(cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SAMPLE DATA" in proc.stdout
    assert "14,570 police calls (of 22,110 in the data)" in proc.stdout
    assert "report: rr-report/report.html" in proc.stdout
    html = (tmp_path / "rr-report" / "report.html").read_text(encoding="utf-8")
    assert "Sample data: not a city's true figures" in html and "Why this sample" in html
    assert (tmp_path / "rr-report" / "tables" / "by_category.parquet").exists()
    assert "Traceback" not in proc.stderr


def test_help_has_runnable_examples():
    proc = cli("--help")
    assert proc.returncode == 0
    h = proc.stdout
    assert "Examples:" in h and "bundled real sample" in h and "richest" in h
    for opt in ("--workspace", "--out", "--json", "--min-cell", "--measure", "--adapter", "--decisions"):
        assert opt in h
    examples = [ln.split("#")[0].strip() for ln in h.split("Examples:")[1].splitlines() if "rightresponse assess" in ln]
    assert "rightresponse assess" in examples and len(examples) >= 4
    assert any("--workspace" in e for e in examples) and any("--decisions" in e for e in examples)


@pytest.mark.slow
def test_no_addresses_or_narratives_in_the_report(tmp_path):
    """San Luis Obispo publishes addresses and call-taker narratives: neither may reach the
    report, the public tables or the JSON; addresses go to the analyst folder only."""
    src = need(SLO)
    with open(src, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    narratives = {r["call_comments"].strip() for r in rows if len(r["call_comments"].strip()) >= 20}
    addresses = {r["address"].strip() for r in rows if len(r["address"].strip()) >= 8}
    assert len(narratives) > 1000 and len(addresses) > 1000
    proc = cli(src, "--out", tmp_path / "out", "--adapter", "san_luis_obispo", "--json")
    d = one_json(proc)
    assert d["calls"] > 0
    out = tmp_path / "out"
    html = (out / "report.html").read_text(encoding="utf-8")
    public = {"report.html": html, "stdout": proc.stdout}
    public |= {p.name: p.read_text(encoding="utf-8") for p in (out / "tables").glob("*.csv")}
    for name, text in public.items():
        assert [n for n in narratives if n in text] == [], name
        assert [a for a in addresses if a in text] == [], name
    analyst = pd.read_csv(out / "analyst" / "repeat_locations.csv")
    assert len(analyst) > 0


@pytest.mark.parametrize("case", ["missing_file", "unknown_layout", "empty_workspace", "no_workspace",
                                  "missing_decisions", "not_a_decision_log", "bad_adapter"])
def test_errors_are_one_line_exit_2(case, tmp_path):
    out = tmp_path / "out"
    if case == "missing_file":
        proc, want = cli(tmp_path / "nope.csv", "--out", out), "no such file"
    elif case == "unknown_layout":
        f = tmp_path / "mystery.csv"
        f.write_text("colour,flavour\nred,sweet\nblue,sour\n", encoding="utf-8")
        proc, want = cli(f, "--out", out), "mystery.csv"
    elif case == "empty_workspace":
        (tmp_path / "ws").mkdir()
        proc, want = cli("--workspace", tmp_path / "ws", "--out", out), "no calls in this workspace"
    elif case == "no_workspace":
        proc, want = cli("--workspace", tmp_path / "missing-ws", "--out", out), "does not exist"
    elif case == "missing_decisions":
        proc, want = cli(need(WEEK), "--out", out, "--decisions", f"sqlite:///{tmp_path / 'none.db'}"), "does not exist"
    elif case == "not_a_decision_log":
        db = tmp_path / "other.db"
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE t (x INTEGER)")
        con.commit()
        con.close()
        proc, want = cli(need(WEEK), "--out", out, "--decisions", f"sqlite:///{db}"), "holds no decision log"
    else:
        proc, want = cli(need(WEEK), "--out", out, "--adapter", "atlantis"), "atlantis"
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and want in err[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (out / "report.html").exists()


# ---------------------------------------------------------------- dispatch practice


_NO = ["no_weapon", "no_violence", "no_crime_in_progress", "no_suicide_risk_with_means", "no_injury"]
CASES = [  # (call type, flags, what the call-taker dispatched; None = as recommended, override reason)
    ("welfare check", _NO, None, None),
    ("welfare check", _NO, "police", "caller_request"),
    ("welfare check", ["no_weapon", "no_violence"], None, None),  # screen not done: the co-responder team
    ("SUICIDAL PERSON", ["no_weapon"], None, None),
    ("SUICIDAL PERSON", ["weapon"], None, None),
    ("intoxicated person", ["no_weapon"], "police", "unit_unavailable"),
    ("trespass", [], None, None),
    ("BURGLARY IN PROGRESS", [], None, None),
    ("noise complaint", [], "police", "officer_nearby"),
]


def _decisions(url: str, n_rounds: int = 3) -> list[dict]:
    """Real recommendations from the denver-star policy, recorded through the store API."""
    from rightresponse.policy import load_policy, triage_args
    from rightresponse.decisions.log import DecisionStore
    from rightresponse.decisions.dispatch_summary import ALTERNATIVE_RESPONDERS

    pol = load_policy("denver-star")
    store = DecisionStore(url)
    rows = []
    t0 = datetime(2026, 11, 2, 14, 0, tzinfo=timezone.utc)
    try:
        for k in range(n_rounds):
            for i, (ct, flags, disp, reason) in enumerate(CASES):
                rec = triage_args(pol.id, ct, flags=flags, at="2026-11-02T14:00")
                dispatched = disp or rec.responder
                dispatched_co = rec.co_responder if disp is None else None
                accepted = (dispatched, dispatched_co) == (rec.responder, rec.co_responder)
                eligible = rec.intended in ALTERNATIVE_RESPONDERS
                row = {
                    "id": str(uuid.uuid4()), "recorded_at": (t0 + timedelta(minutes=10 * (k * len(CASES) + i))).replace(tzinfo=None),
                    "call_at": "2026-11-02T14:00", "policy": pol.id, "policy_hash": pol.hash, "rule": rec.rule,
                    "category": rec.category, "call_type": ct, "call_type_known": True, "priority": None,
                    "flags": {f.removeprefix("no_"): not f.startswith("no_") for f in flags},
                    "recommended": rec.responder, "recommended_co": rec.co_responder, "fallback": rec.fallback,
                    "intended": rec.intended, "dispatched": dispatched,
                    "dispatched_co": dispatched_co,
                    "accepted": accepted, "override_reason": None if accepted else reason,
                    "eligible": eligible, "handled": eligible and dispatched == rec.intended,
                    "call_taker": f"ct{i % 3}",
                }
                store.record(row)
                rows.append(row)
    finally:
        store.close()
    return rows


@pytest.mark.slow
def test_dispatch_practice_section_from_a_real_decision_log(week, tmp_path):
    root, _ = week
    db = tmp_path / "decisions.db"
    url = f"sqlite:///{db}"
    rows = _decisions(url)
    assert any(not r["accepted"] for r in rows) and any(r["eligible"] for r in rows)
    # expected figures straight from the SQLite file with SQL, not through the service code
    con = sqlite3.connect(db)
    try:
        total, overrides, eligible, handled = con.execute(
            "SELECT count(*), sum(NOT accepted), sum(eligible), sum(handled) FROM decisions").fetchone()
        by_rule = {r: (n, o) for r, n, o in con.execute(
            "SELECT rule, count(*), sum(NOT accepted) FROM decisions GROUP BY rule")}
        by_cat = {c: (n, o) for c, n, o in con.execute(
            "SELECT coalesce(category, '(none)'), count(*), sum(NOT accepted) FROM decisions GROUP BY 1")}
    finally:
        con.close()
    assert total == 3 * len(CASES) and overrides > 0 and eligible > handled > 0

    proc = cli("--workspace", root / "ws", "--out", tmp_path / "out", "--decisions", url, "--min-cell", "0", "--json")
    d = one_json(proc)
    dp = d["dispatch_practice"]
    assert (dp["decisions"], dp["overrides"], dp["eligible"], dp["handled"]) == (total, overrides, eligible, handled)
    assert dp["override_rate"] == pytest.approx(overrides / total)
    assert dp["share_eligible_handled"] == pytest.approx(handled / eligible)
    out = tmp_path / "out"
    rules = pd.read_csv(out / "tables" / "dispatch_by_rule.csv")
    assert {r: (n, o) for r, n, o in zip(rules["rule"], rules["decisions"], rules["overrides"])} == by_rule
    for r, n, o in zip(rules["rule"], rules["decisions"], rules["overrides"]):
        assert rules.loc[rules["rule"] == r, "override_rate"].iloc[0] == pytest.approx(o / n)
    cats = pd.read_csv(out / "tables" / "dispatch_by_category.csv")
    assert {c: (n, o) for c, n, o in zip(cats["category"], cats["decisions"], cats["overrides"])} == by_cat
    html = (out / "report.html").read_text(encoding="utf-8")
    sec = re.search(r'<section class="dispatch-practice">.*?</section>', html, re.S).group(0)
    assert 'id="dispatch"' in sec and "Dispatch practice" in sec
    assert f"overridden in {overrides:,} ({100 * overrides / total:.1f}%)" in sec
    assert f"{handled:,} ({100 * handled / eligible:.1f}%) were handled by it" in sec
    for rule in by_rule:
        assert f"<td>{rule}</td>" in sec
    assert '<a href="#dispatch">Dispatch practice</a>' in html
    # sections are numbered in order, with no gaps
    nums = [int(n) for n in re.findall(r'<span class="num">(\d+)\.</span>', html)]
    assert nums == list(range(1, len(nums) + 1))

    # with the default --min-cell 10 every count here (3 per case) is suppressed in the section and files
    proc = cli("--workspace", root / "ws", "--out", tmp_path / "sup", "--decisions", url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"dispatch practice: {3 * len(CASES)} decisions" in proc.stdout
    rules = pd.read_csv(tmp_path / "sup" / "tables" / "dispatch_by_rule.csv", dtype=str, keep_default_na=False)
    small = rules[rules["decisions"] == "<10"]
    assert len(small) and (small["override_rate"] == "").all()
    # the section's sentence obeys the same rule as its tables: no exact small count, no rate on one
    assert 0 < overrides < 10 and 0 < handled < 10
    sec = re.search(r'<section class="dispatch-practice">.*?</section>',
                    (tmp_path / "sup" / "report.html").read_text(encoding="utf-8"), re.S).group(0)
    sentence = re.search(r"<p>[^<]*decisions recorded by call-takers[^<]*</p>", sec).group(0)
    assert f"{total:,} decisions recorded" in sentence
    assert "overridden in &lt;10." in sentence and f"overridden in {overrides}" not in sentence
    assert f"{handled} (" not in sentence and "%" not in sentence.split("overridden")[1]
    # the decision-log summary renders the same section through the same rules on its own
    from rightresponse.decisions.dispatch_summary import summarize_decisions

    alone = summarize_decisions(url).to_html(min_cell=10, heading_level=2)
    assert re.search(r"<p>[^<]*decisions recorded by call-takers[^<]*</p>", alone).group(0) == sentence


@pytest.mark.postgres
def test_dispatch_practice_from_postgresql(week):
    """The same section from a decision log on a real PostgreSQL (Debian's package, started
    by the test setup); expected figures counted from the rows written."""
    from rightresponse.service.testing import PostgresUnavailable, fresh_database, shared_postgres

    from conftest import skip_or_fail

    try:
        base = shared_postgres()
    except PostgresUnavailable as exc:
        skip_or_fail(f"PostgreSQL not available: {exc}")
    url = fresh_database(base, "rr_assess_" + uuid.uuid4().hex[:8])
    rows = _decisions(url, n_rounds=2)
    root, _ = week
    from rightresponse.assess import assess

    r = assess(workspace=root / "ws", out=root / "pg-out", decisions=url, min_cell=0, policies=())
    dp = r.to_json_dict()["dispatch_practice"]
    eligible = sum(x["eligible"] for x in rows)
    handled = sum(x["handled"] for x in rows)
    overrides = sum(not x["accepted"] for x in rows)
    assert (dp["decisions"], dp["overrides"], dp["eligible"], dp["handled"]) == (len(rows), overrides, eligible, handled)
    per_rule = defaultdict(lambda: [0, 0])
    for x in rows:
        per_rule[x["rule"]][0] += 1
        per_rule[x["rule"]][1] += not x["accepted"]
    got = {x.rule: [x.decisions, x.overrides] for x in r["dispatch_by_rule"].itertuples()}
    assert got == dict(per_rule)
    assert "Who could respond" not in r.report_path.read_text(encoding="utf-8")  # policies=() leaves it out
