"""Pilot evaluation (rightresponse.evaluate) on the real DECC sample, with a pilot start in
mid-October (2025-10-12, the Sunday that begins the week42 export), checked against an
independent computation from the raw weekly CSV files (Python csv + zoneinfo, no library
code): calls per group and period, officer hours, response-time medians and 90th
percentiles, outcome counts, weekly counts and the difference-in-differences estimate.

The one thing taken from the library is the policy's decision per call (which calls are
eligible): the issue asks to reuse it, and tests/test_policy_history.py checks it against
one triage per call. Areas and repeat calls need districts and addresses, which DECC does
not publish: they run on a synthetic New Orleans export. The decision log runs on SQLite
and on a real PostgreSQL.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
import stat
import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import rightresponse as rr
from rightresponse.cli import main
from rightresponse.evaluate import EvaluateError, did_estimate, evaluate, newey_west_lag
from rightresponse.policy import apply_policy, load_policy, prepare_history

from conftest import CFS, need
from test_decisions_store import db_url  # noqa: F401 - the fixture: SQLite and a real PostgreSQL

pytestmark = pytest.mark.slow  # module fixtures build real workspaces; run by .ci/run and `pytest -q`

DECC = CFS / "decc_psap_2025"
START = date(2025, 10, 12)
POLICY = "denver-star"
EASTERN = ZoneInfo("America/New_York")
NULLS = {"", "NULL", "null", "-9999"}


# ---------------------------------------------------------------------------- the raw files, read plainly


def _local(text: str):
    text = (text or "").strip()
    if text in NULLS:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise AssertionError(f"unreadable time {text!r}")


def _utc(local):
    # The adapter's documented reading: America/New_York, a repeated fall-back hour as standard time.
    return None if local is None else local.replace(tzinfo=EASTERN, fold=1).astimezone(timezone.utc)


def _outcome(disposition: str) -> str:
    d = (disposition or "").strip().upper()
    if d.startswith(("RE-", "SUP-", "ACOR-")):
        return "report"
    if d.startswith(("NR-", "ACONR-", "CC-", "PS-")):
        return "no_action"
    return "other"


@pytest.fixture(scope="module")
def raw():
    """One record per police incident of the 14 raw weekly files, with what the figures need:
    local received time, deployed time (dispatched to first close) and response time (received
    to arrival, calls from the public) under the workload rules (missing times, a time issue,
    negative or over 24 hours: left out)."""
    rows = []
    for path in sorted(need(DECC).glob("week*.csv")):
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for r in csv.DictReader(fh):
                if r["Agency"].strip().upper() != "POLICE" or r["Master_Incident_Number"].strip() in NULLS:
                    continue
                if re.match(r"^(TEST|TST)-", r["Disposition"].strip().upper()) or re.search(r"\bTEST CALL\b", r["Problem"].upper()):
                    continue
                loc = {k: _local(r[c]) for k, c in (("r", "Incident_Start_Time"), ("d", "Incident_Dispatch_Time"),
                                                     ("a", "Incident_Arrival_Time"), ("c", "Incident_First_Close_Time"))}
                R, D, A, C = (_utc(loc[k]) for k in "rdac")
                issue = bool((D and D < R) or (A and D and A < D) or (C and A and C < A)
                             or (C and (C < R or (D and C < D))) or (C and C - R > timedelta(hours=24)))

                def dur(a, b):
                    if a is None or b is None or issue:
                        return None
                    s = (b - a).total_seconds()
                    return s if 0 <= s <= 24 * 3600 else None

                officer = r["Call_Reception"].strip().upper() in ("OFFICER", "FLAG DOWN")
                rows.append({"call_id": r["Master_Incident_Number"].strip(), "day": loc["r"].date(),
                             "deployed_s": dur(D, C), "response_s": None if officer else dur(R, A),
                             "public": not officer, "outcome": _outcome(r["Disposition"])})
    df = pd.DataFrame(rows)
    assert df["call_id"].is_unique  # no incident number repeats across the files (data README)
    df["period"] = np.where(df["day"] < START, "before", "after")
    df["week"] = [(d - START).days // 7 for d in df["day"]]
    return df


@pytest.fixture(scope="module")
def decc(tmp_path_factory, raw):
    ws = tmp_path_factory.mktemp("decc") / "ws"
    rr.ingest([str(p) for p in sorted(need(DECC).glob("week*.csv"))], workspace=ws)
    exact = evaluate(ws, POLICY, START, min_cell=0)
    published = evaluate(ws, POLICY, START, out=tmp_path_factory.mktemp("eval") / "out")
    # The policy's decision per call, reused (not recomputed): which calls are eligible.
    police = {r for r, v in load_policy(POLICY).responders.items() if v.police}
    dec = apply_policy(POLICY, prepare_history(ws)).select("call_id", "responder_conservative").to_pandas()
    eligible = set(dec.loc[~dec["responder_conservative"].isin(police), "call_id"])
    raw = raw.assign(group=np.where(raw["call_id"].isin(eligible), "eligible", "comparison"))
    return ws, exact, published, raw


# ---------------------------------------------------------------------------- DECC, against the raw files


def test_groups_partition_the_calls_in_scope_exactly(decc):
    _, exact, published, raw = decc
    for res in (exact, published):
        j = res.to_json_dict()
        for p in ("before", "after"):
            n = int((raw["period"] == p).sum())
            assert j["scope"][p]["calls"] == n
            assert j["eligible"][p]["calls"] + j["comparison"][p]["calls"] == n
    assert exact.to_json_dict()["scope"]["calls_outside_window"] == 0
    assert len(raw) == 14_570  # every raw police incident is in scope: 5,781 before, 8,789 after
    assert (raw["period"] == "before").sum() == 5_781


def test_counts_hours_and_medians_match_the_raw_files(decc):
    _, exact, _, raw = decc
    j = exact.to_json_dict()
    for (g, p), sub in raw.groupby(["group", "period"]):
        b = j[g][p]
        timed = sub["deployed_s"].dropna()
        assert b["calls"] == len(sub), (g, p)
        assert b["calls_timed"] == len(timed), (g, p)
        assert b["officer_hours"] == pytest.approx(timed.sum() / 3600, rel=1e-9, abs=1e-6), (g, p)
        assert b["calls_per_week"] == pytest.approx(len(sub) / 7.0)  # 49 days on each side
        assert b["officer_hours_per_week"] == pytest.approx(timed.sum() / 3600 / 7.0, rel=1e-9)
        resp = sub["response_s"].dropna().to_numpy() / 60.0
        rt = b["response_time"]
        assert rt["calls_measured"] == len(resp), (g, p)
        assert rt["median_minutes"] == pytest.approx(float(np.quantile(resp, 0.5)), abs=1e-6), (g, p)
        assert rt["p90_minutes"] == pytest.approx(float(np.quantile(resp, 0.9)), abs=1e-6), (g, p)
        for o in ("report", "no_action"):
            assert b["outcome_shares"][o] == pytest.approx((sub["outcome"] == o).mean(), abs=1e-12), (g, p, o)
        assert b["outcome_shares"]["arrest"] == 0.0  # DECC records no arrest disposition


def test_weeks_and_the_difference_in_differences_match_the_raw_files(decc):
    _, exact, _, raw = decc
    weeks = exact["evaluation_weeks"]
    assert set(weeks["week"]) == set(range(-7, 7)) and weeks["full"].all()
    counts = raw.groupby(["week", "group"]).size()
    got = weeks.set_index(["week", "group"])["calls"]
    assert got.sort_index().to_dict() == counts.sort_index().to_dict()
    # the estimate, by hand: mean post difference minus mean pre difference of weekly counts
    d = counts.unstack()["eligible"] - counts.unstack()["comparison"]
    expect = d[d.index >= 0].mean() - d[d.index < 0].mean()
    did = exact.to_json_dict()["did"]["calls_per_week"]
    assert did["estimate"] == pytest.approx(expect, rel=1e-12)
    assert did["low"] < did["estimate"] < did["high"]
    assert did["estimate"] - did["low"] == pytest.approx(did["high"] - did["estimate"])
    rel = did["relative"]
    ld = np.log(counts.unstack()["eligible"]) - np.log(counts.unstack()["comparison"])
    assert rel["estimate"] == pytest.approx(math.expm1(ld[ld.index >= 0].mean() - ld[ld.index < 0].mean()))
    hours = raw.assign(h=raw["deployed_s"] / 3600).groupby(["week", "group"])["h"].sum().unstack()
    dh = hours["eligible"] - hours["comparison"]
    assert exact.to_json_dict()["did"]["officer_hours_per_week"]["estimate"] == pytest.approx(
        dh[dh.index >= 0].mean() - dh[dh.index < 0].mean(), rel=1e-9)


def test_published_json_is_the_exact_figures_where_nothing_is_small(decc):
    _, exact, published, _ = decc
    e, p = exact.to_json_dict(), published.to_json_dict()
    assert p["min_cell"] == 10
    for g in ("eligible", "comparison"):
        assert p[g] == e[g]
    assert p["did"] == e["did"]
    assert "placebo" in p["sample_note"]  # DECC (raw or bundled): no pilot ran in these exports
    assert p["repeat_calls"]["note"].startswith("The workspace has no addresses")


def test_report_and_tables(decc):
    _, _, published, _ = decc
    out = published.out
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "What this design cannot show" in html and "parallel-trends" in html
    assert html.count("<svg") >= 2 and "pilot starts" in html  # the event-study charts
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["eligible"] == published.to_json_dict()["eligible"]
    per = pd.read_csv(out / "tables" / "evaluation_periods.csv")
    assert set(per["group"]) == {"all", "eligible", "comparison"}


def test_the_bundled_sample_is_labelled_a_placebo(decc_ws):
    res = evaluate(decc_ws, POLICY, "2025-10-15")  # a Wednesday: partial weeks at both ends
    j = res.to_json_dict()
    assert j["sample_note"] and "placebo" in j["sample_note"]
    w = res["evaluation_weeks"]
    assert not w["full"].all() and w.loc[~w["full"], "days"].between(1, 6).all()
    # partial weeks are published (they add up to the periods) but left out of the estimate
    full = w[w["full"]].drop_duplicates("week")
    assert j["did"]["calls_per_week"]["weeks_before"] + j["did"]["calls_per_week"]["weeks_after"] == len(full)
    for g in ("eligible", "comparison"):
        for p in ("before", "after"):
            assert w[(w["group"] == g) & (w["period"] == p)]["calls"].sum() == j[g][p]["calls"]
    assert j["pilot"]["days_before"] == 52 and j["pilot"]["days_after"] == 46


def test_small_counts_are_withheld_with_everything_resting_on_them(decc, tmp_path):
    ws, _, _, _ = decc
    res = evaluate(ws, POLICY, START, min_cell=30)  # the eligible weeks hold 13 to 41 calls
    pub = res.publish()
    wk = pub["evaluation_weeks"]
    cnt = wk.values["calls"]
    shown = cnt[~wk.hidden["calls"]].astype(float)
    assert ((shown == 0) | (shown >= 30)).all()
    assert wk.hidden["calls"].any()
    # a hidden week cannot be its period total minus the other weeks: never alone in its period
    per = pub["evaluation_periods"]
    for (g, p), idx in wk.values.groupby(["group", "period"]).groups.items():
        hidden = int(wk.hidden["calls"].loc[idx].sum())
        i = [k for k in range(len(per)) if per.values["group"].iat[k] == g and per.values["period"].iat[k] == p][0]
        assert hidden != 1 or per.hidden["calls"].iat[i], (g, p)
    j = res.to_json_dict()
    assert j["did"]["calls_per_week"]["estimate"] is None  # rests on the hidden weeks
    ev = pub["evaluation_event_study"]
    assert ev.hidden["estimate"].all()
    html = res.write(tmp_path / "out").report_path.read_text(encoding="utf-8")
    assert "Withheld: the weekly figures rest on weeks with fewer than 30 calls" in html
    for v in wk.values.loc[wk.hidden["calls"], "week"]:  # the hidden weekly counts are not on the page either
        assert f"week {v}: " not in html


# ---------------------------------------------------------------------------- the estimator


def test_newey_west_reduces_to_white_at_lag_zero_and_matches_a_hand_computation():
    d = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    post = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    pre, aft = d[:4], d[4:]
    e = did_estimate(d, post, lag=0)
    assert e["estimate"] == pytest.approx(aft.mean() - pre.mean())
    white = ((pre - pre.mean()) ** 2).sum() / 16 + ((aft - aft.mean()) ** 2).sum() / 16
    assert e["se"] == pytest.approx(math.sqrt(white))
    # lag 1 by the textbook sum: S = sum_t x_t e_t (x_t e_t)' + 1/2 sum_t [x_t e_t (x_{t-1} e_{t-1})' + transpose]
    x = np.column_stack([np.ones(8), post])
    res = d - np.where(post == 1, aft.mean(), pre.mean())
    s = sum(np.outer(x[t] * res[t], x[t] * res[t]) for t in range(8))
    s = s + 0.5 * sum(np.outer(x[t] * res[t], x[t - 1] * res[t - 1]) + np.outer(x[t - 1] * res[t - 1], x[t] * res[t])
                      for t in range(1, 8))
    b = np.linalg.inv(x.T @ x)
    assert did_estimate(d, post, lag=1)["se"] == pytest.approx(math.sqrt((b @ s @ b)[1, 1]))
    from scipy import stats

    e = did_estimate(d, post, lag=1)
    assert e["high"] - e["estimate"] == pytest.approx(stats.t.ppf(0.975, 6) * e["se"])
    assert newey_west_lag(14) == 2 and newey_west_lag(100) == 4
    assert math.isnan(did_estimate(np.array([1.0, 2.0, 3.0]), np.array([0, 0, 1]))["se"])  # one week after: no interval


# ---------------------------------------------------------------------------- areas and repeat calls


@pytest.fixture(scope="module")
def nola(tmp_path_factory):
    from rightresponse.synthetic_cad import generate

    root = tmp_path_factory.mktemp("nola")
    res = generate(8_000, root / "nola.parquet", seed=3, calls_per_day=130)
    rr.ingest([res.path], workspace=root / "ws")
    return root / "ws"


def test_treated_areas_partition_the_eligible_calls(nola):
    res = evaluate(nola, "eugene-cahoots", "2024-02-01", areas=["1", "5"], min_cell=0)
    per = res["evaluation_periods"].set_index(["group", "period"])
    for p in ("before", "after"):
        for col in ("calls", "calls_timed", "n_response", "report"):
            assert per.loc[("eligible_treated", p), col] + per.loc[("eligible_other", p), col] == per.loc[("eligible", p), col]
            assert per.loc[("eligible", p), col] + per.loc[("comparison", p), col] == per.loc[("all", p), col]
    j = res.to_json_dict()
    assert j["areas"]["treated"] == ["1", "5"] and set(j["areas"]["did"]) == {"calls_per_week", "officer_hours_per_week"}
    with pytest.raises(EvaluateError, match="no district '99'"):
        evaluate(nola, "eugene-cahoots", "2024-02-01", areas=["99"])
    with pytest.raises(EvaluateError, match="every district is treated"):
        evaluate(nola, "eugene-cahoots", "2024-02-01", areas=[str(x) for x in range(1, 9)])
    with pytest.raises(EvaluateError, match="unit-weighted time needs the number of units"):
        evaluate(nola, "eugene-cahoots", "2024-02-01", measure="unit_weighted")  # the synthetic export has none


def test_repeat_calls_match_a_plain_pandas_count_and_addresses_stay_private(nola, tmp_path):
    from rightresponse.ingest.workspace import Workspace

    out = tmp_path / "out"
    res = evaluate(nola, "eugene-cahoots", "2024-02-01", out=out, min_cell=0)
    ws = Workspace(nola)
    calls = pd.concat([pd.read_parquet(f) for f in ws.files("calls")])
    sens = pd.concat([pd.read_parquet(f) for f in ws.files("sensitive")])
    calls = calls[calls["service"] == "police"]
    m = calls.merge(sens[["call_id", "location"]], on="call_id")  # one agency (a partition key, not a column)
    m = m[m["location"].notna() & (m["location"].str.strip() != "")].sort_values(["location", "received", "call_id"])
    prev = m.groupby("location")["received"].shift()
    m["repeat"] = (m["received"] - prev) <= pd.Timedelta(days=30)
    first = pd.Timestamp(calls["received_local"].min()).normalize() + pd.Timedelta(days=30)
    m = m[m["received_local"] >= first]
    m["period"] = np.where(m["received_local"] < pd.Timestamp("2024-02-01"), "before", "after")
    rep = res["evaluation_repeat"].set_index(["group", "period"])
    for p, sub in m.groupby("period"):
        assert rep.loc[("all", p), "calls_located"] == len(sub)
        assert rep.loc[("all", p), "repeat_calls"] == int(sub["repeat"].sum())
        assert res.to_json_dict()["repeat_calls"]["all"][p] == pytest.approx(sub["repeat"].mean())
    # the published table holds rates only; the addresses are in the private analyst folder only
    assert "calls_located" not in pd.read_csv(out / "tables" / "evaluation_repeat.csv").columns
    adir = out / "analyst"
    assert stat.S_IMODE(adir.stat().st_mode) == 0o700
    assert stat.S_IMODE((adir / "repeat_locations.csv").stat().st_mode) == 0o600
    top = pd.read_csv(adir / "repeat_locations.csv")["location"].head(20)
    published = "".join(p.read_text(encoding="utf-8") for p in [out / "report.html", out / "summary.json",
                                                                *(out / "tables").glob("*.csv")])
    assert not [loc for loc in top if loc in published]


# ---------------------------------------------------------------------------- the decision log


def _decisions(n: int, seed: int = 5) -> list[dict]:
    """Decisions over the DECC pilot's weeks and before it, two policies, with the console's
    reason codes; the answers the test expects are counted from these rows directly."""
    rng = random.Random(seed)
    t0 = datetime(2025, 9, 20, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        intended = rng.choice(["crisis_team", "crisis_team", "police", "community_responder"])
        eligible = intended != "police"
        recommended = intended if rng.random() < 0.75 else "police"
        dispatched = recommended if rng.random() < 0.8 else ("police" if recommended != "police" else "crisis_team")
        accepted = dispatched == recommended
        out.append({
            "id": str(uuid.UUID(int=rng.getrandbits(128))), "recorded_at": t0 + timedelta(hours=17 * i),
            "call_at": "14:00", "policy": rng.choice([POLICY, POLICY, "status-quo"]), "policy_hash": "ab" * 32,
            "rule": "r1", "category": "Behavioral Health", "call_type_known": False, "flags": {},
            "recommended": recommended, "intended": intended, "dispatched": dispatched, "accepted": accepted,
            "override_reason": None if accepted else rng.choice(["responder_unavailable", "safety_concern",
                                                                 "caller_request"]),
            "eligible": eligible, "handled": eligible and dispatched == intended, "call_taker": "ct-1"})
    return out


def test_adherence_overrides_and_fallbacks_from_the_decision_log(decc, db_url):
    from rightresponse.decisions.log import DecisionStore

    ws = decc[0]
    rows = _decisions(200)
    # A trainee's practice answers in the same log and weeks: never dispatches, never counted.
    practice = [{**r, "id": str(uuid.UUID(int=i + 1)), "practice": True} for i, r in enumerate(_decisions(60, seed=9))]
    store = DecisionStore(db_url)
    for r in rows + practice:
        r = dict(r)
        if store.dialect == "sqlite":
            r["recorded_at"] = r["recorded_at"].replace(tzinfo=None)
        store.record(r)
    store.close()
    res = evaluate(ws, POLICY, START, decisions=db_url, min_cell=0)
    d = res.to_json_dict()["decisions"]
    lo, hi = datetime(2025, 10, 12, tzinfo=timezone.utc), datetime(2025, 11, 30, tzinfo=timezone.utc)
    mine = [r for r in rows if r["policy"] == POLICY and lo <= r["recorded_at"] < hi]
    assert 0 < len(mine) < len(rows)
    assert d["decisions"] == len(mine)
    assert d["adherence"] == pytest.approx(sum(r["accepted"] for r in mine) / len(mine))
    by = {x["reason"]: x["overrides"] for x in d["overrides_by_reason"]}
    for reason in ("responder_unavailable", "safety_concern", "caller_request"):
        assert by.get(reason, 0) == sum(1 for r in mine if r["override_reason"] == reason)
    fell = [r for r in mine if r["eligible"] and r["recommended"] != r["intended"]]
    unav = [r for r in mine if r["eligible"] and not r["accepted"] and r["override_reason"] == "responder_unavailable"]
    fb = d["fallbacks"]
    assert fb["recommendation_fell_back"] == len(fell) > 0
    assert fb["overridden_unavailable"] == len(unav) > 0
    assert fb["total"] == len({r["id"] for r in fell + unav})
    html = res.write(decc[0].parent / f"out-{uuid.uuid4().hex[:6]}").report_path.read_text(encoding="utf-8")
    assert "Fallbacks because the team was busy or off duty" in html


# ---------------------------------------------------------------------------- the command


def test_cli_json_and_one_line_errors(decc, tmp_path):
    ws = str(decc[0])
    r = CliRunner().invoke(main, ["evaluate", "-w", ws, "-p", POLICY, "--pilot-start", "2025-10-12",
                                  "--out", str(tmp_path / "o"), "--json"])
    assert r.exit_code == 0, r.output
    j = json.loads(r.output)
    assert set(j) >= {"eligible", "comparison", "did", "scope", "pilot", "limits"}
    for g in ("eligible", "comparison"):
        assert set(j[g]) == {"before", "after"}
        assert set(j[g]["before"]) >= {"calls", "calls_per_week", "officer_hours", "officer_hours_per_week",
                                       "response_time", "outcome_shares"}
    assert set(j["did"]["calls_per_week"]) >= {"estimate", "low", "high"}
    for args, msg in ((["--pilot-start", "2025-13-01"], "is not a date"),
                      (["--pilot-start", "2024-01-01"], "must fall after the first day"),
                      (["--pilot-start", "2025-10-12", "--pilot-end", "2025-10-01"], "is before --pilot-start"),
                      (["--pilot-start", "2025-10-12", "--area", "North"], "record no district"),
                      (["--pilot-start", "2025-10-12", "-p", "co-responder-pilot"], "no eligible calls")):
        r = CliRunner().invoke(main, ["evaluate", "-w", ws, "-p", POLICY, "--out", str(tmp_path / "x"), *args])
        assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1


def test_pilot_end_leaves_the_later_calls_out(decc):
    ws, _, _, raw = decc
    j = evaluate(ws, POLICY, START, pilot_end="2025-11-08", min_cell=0).to_json_dict()
    after = raw[(raw["day"] >= START) & (raw["day"] <= date(2025, 11, 8))]
    assert j["scope"]["after"]["calls"] == len(after)
    assert j["scope"]["calls_outside_window"] == int((raw["day"] > date(2025, 11, 8)).sum())
    assert j["pilot"]["days_after"] == 28
