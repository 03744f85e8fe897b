"""Assessment speed and memory against a pandas notebook and DuckDB's raw scan, in one run.

    python benchmarks/assess.py --calls 2000000 [--calls 10000000] [--repeat 3] [--dir DIR] [--keep]

For each size, a synthetic New Orleans export of N calls is generated (Parquet, not timed)
and ingested into a workspace. Then each contender runs in its own fresh Python process,
so its peak resident memory (VmHWM) is its own and no cache is shared:

  ingest    rightresponse.ingest(file) -> workspace (reported, not part of the ratios).
  classify  rightresponse.taxonomy.categorize on the workspace: distinct call types are
            classified and joined back; writes the call-type -> category mapping that the
            other two contenders are given for free. The classifier is trained once per run
            directory (model_path) and reused, as a city would.
  assess    rightresponse.assess(workspace=..., policies=()): classify + every workload table +
            the HTML report + CSV/Parquet tables. This is the number the ratios are about: the
            same tables the two baselines compute (plus the report, which they do not write).
  assess_default  the same as `rightresponse assess` runs it by default, which adds the "Who
            could respond" section: every preset responder policy applied to every call
            (rightresponse.policy.compare_policies). Reported, not part of the ratios, since
            neither baseline computes it.
  duckdb    hand-written SQL over the same Parquet (read_parquet + the mapping): the same core
            tables (categories, roll-ups, origin, priority, response-time quantiles, hour of
            week, district, beat, outcomes, call types, coverage), no report.
  pandas    what an analyst would write: pd.read_parquet of the workspace, merge the mapping,
            groupby for each table, quantiles per priority, no report. With --pandas-columns
            it reads only the columns it uses (a tuned notebook; faster, less memory).

The core figures (calls and deployed hours per category) of the three are checked equal.
Seconds are wall-clock of the step inside its process (imports excluded); with --repeat N
each contender runs N times and the fastest run counts. The last line is
one JSON object: figures per size, ratios, and the cost growth from the smallest to the
largest size relative to the growth in calls (1.0 = linear).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, peak_mb  # noqa: E402  (benchmarks/ is sys.path[0])

MAX_S = 24 * 3600.0
RESIDENT = ("911", "non_emergency_phone", "alarm", "text", "walk_in")
COLUMNS = ["agency", "call_type", "call_type_code", "service", "received", "dispatched", "arrived", "cleared",
           "received_local", "priority_rank", "origin", "outcome", "district", "beat", "time_issue"]


# ---------------------------------------------------------------- steps (each in a child process)


def step_ingest(src: str, work: str) -> dict:
    import rightresponse as rr

    t = time.perf_counter()
    s = rr.ingest([src], workspace=Path(work) / "ws")
    return {"seconds": time.perf_counter() - t, "rows_loaded": s.rows_loaded}


def step_classify(src: str, work: str) -> dict:
    import ibis

    import rightresponse as rr
    from rightresponse.taxonomy import categorize

    t = time.perf_counter()
    con = ibis.duckdb.connect()
    calls = rr.open_dataset(Path(work) / "ws", con=con)
    c = categorize(calls, model_path=Path(work) / "classifier.pkl")
    m = c.select("agency", "call_type", "call_type_code", "category", "crime_group", "demand_type").distinct()
    m.to_parquet(Path(work) / "mapping.parquet")
    return {"seconds": time.perf_counter() - t, "call_types": int(m.count().to_pandas())}


def step_assess(src: str, work: str) -> dict:
    import rightresponse.report  # noqa: F401  imports are excluded from every contender's time
    import rightresponse.taxonomy  # noqa: F401
    from rightresponse.assess import assess

    t = time.perf_counter()
    r = assess(workspace=Path(work) / "ws", out=Path(work) / "out", model_path=Path(work) / "classifier.pkl",
               policies=())
    secs = time.perf_counter() - t
    cat = r["by_category"]
    return {"seconds": secs, "calls": r.summary["calls"],
            "core": {c: [int(n), round(float(h), 6)] for c, n, h in zip(cat["category"], cat["calls"], cat["hours_deployed"])}}


def step_assess_default(src: str, work: str) -> dict:
    import rightresponse.policy  # noqa: F401
    import rightresponse.report  # noqa: F401
    import rightresponse.taxonomy  # noqa: F401
    from rightresponse.assess import assess

    t = time.perf_counter()
    r = assess(workspace=Path(work) / "ws", out=Path(work) / "out-default", model_path=Path(work) / "classifier.pkl")
    secs = time.perf_counter() - t
    assert "who_could_respond" in r.tables
    return {"seconds": secs, "policies": int(len(r["who_could_respond"]))}


def _core_from(df) -> dict:
    return {c: [int(n), round(float(h), 6)] for c, n, h in zip(df["category"], df["calls"], df["hours_deployed"])}


def step_duckdb(src: str, work: str) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    glob = str(Path(work) / "ws" / "calls" / "*" / "*" / "*.parquet")
    mp = str(Path(work) / "mapping.parquet")
    t = time.perf_counter()
    con.execute(f"""CREATE VIEW c AS
      WITH base AS (
        SELECT p.*, coalesce(m.category, 'Uncategorized') AS cat, m.crime_group, m.demand_type,
          CASE WHEN origin = 'officer_initiated' THEN 'officer'
               WHEN origin IN {RESIDENT} THEN 'resident' ELSE 'unknown' END AS og,
          epoch(cleared) - epoch(dispatched) AS d_dep, epoch(cleared) - epoch(arrived) AS d_os,
          epoch(dispatched) - epoch(received) AS d_rd, epoch(arrived) - epoch(dispatched) AS d_da,
          epoch(arrived) - epoch(received) AS d_ra
        FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true) p
        LEFT JOIN read_parquet('{mp}') m
          ON m.agency = p.agency AND m.call_type IS NOT DISTINCT FROM p.call_type
         AND m.call_type_code IS NOT DISTINCT FROM p.call_type_code
        WHERE p.service = 'police')
      SELECT *,
        CASE WHEN time_issue IS NULL AND d_dep BETWEEN 0 AND {MAX_S} THEN d_dep END AS dep,
        CASE WHEN time_issue IS NULL AND d_os BETWEEN 0 AND {MAX_S} THEN d_os END AS os,
        CASE WHEN time_issue IS NULL AND d_rd BETWEEN 0 AND {MAX_S} THEN d_rd END AS rd,
        CASE WHEN time_issue IS NULL AND d_da BETWEEN 0 AND {MAX_S} THEN d_da END AS da,
        CASE WHEN time_issue IS NULL AND d_ra BETWEEN 0 AND {MAX_S} THEN d_ra END AS ra
      FROM base""")
    agg = "count(*) AS calls, count(dep) AS n_dep, sum(dep) / 3600 AS hours_deployed, sum(os) / 3600 AS hours_on_scene"
    out = {}
    q = {
        "by_category": f"SELECT cat AS category, crime_group, demand_type, {agg} FROM c GROUP BY ALL",
        "by_crime_group": f"SELECT crime_group, {agg} FROM c GROUP BY ALL",
        "by_demand_type": f"SELECT demand_type, {agg} FROM c GROUP BY ALL",
        "by_origin": f"SELECT og, origin, {agg} FROM c GROUP BY ALL",
        "by_priority": f"SELECT priority_rank, {agg} FROM c GROUP BY ALL",
        "response_times": """SELECT priority_rank, count(*) AS calls,
            quantile_cont(rd / 60, 0.5), quantile_cont(rd / 60, 0.9), quantile_cont(da / 60, 0.5),
            quantile_cont(da / 60, 0.9), quantile_cont(ra / 60, 0.5), quantile_cont(ra / 60, 0.9)
            FROM c WHERE og <> 'officer' GROUP BY ALL""",
        "hour_of_week": f"SELECT isodow(received_local) - 1 AS dow, hour(received_local) AS hour, {agg} FROM c GROUP BY ALL",
        "by_district": f"SELECT district, {agg} FROM c GROUP BY ALL",
        "by_beat": f"SELECT beat, {agg} FROM c GROUP BY ALL",
        "outcomes": "PIVOT (SELECT cat, coalesce(outcome, 'unknown') AS outcome FROM c) ON outcome USING count(*) GROUP BY cat",
        "by_call_type": f"SELECT agency, call_type, cat, {agg} FROM c GROUP BY ALL ORDER BY hours_deployed DESC",
        "coverage": """SELECT og, CASE WHEN dispatched IS NULL THEN 'missing_dispatched'
            WHEN cleared IS NULL THEN 'missing_cleared' WHEN time_issue IS NOT NULL THEN 'time_issue'
            WHEN d_dep < 0 THEN 'negative' WHEN d_dep > 86400 THEN 'outlier' ELSE 'measured' END AS reason,
            count(*) FROM c GROUP BY ALL""",
    }
    for name, sql in q.items():
        out[name] = con.execute(sql).df()
    secs = time.perf_counter() - t
    return {"seconds": secs, "core": _core_from(out["by_category"])}


def step_pandas(src: str, work: str) -> dict:
    import numpy as np
    import pandas as pd

    t = time.perf_counter()
    cols = None if os.environ.get("RR_BENCH_PANDAS_ALL", "1") == "1" else COLUMNS
    df = pd.read_parquet(Path(work) / "ws" / "calls", columns=cols)
    df = df[df["service"] == "police"]
    m = pd.read_parquet(Path(work) / "mapping.parquet")
    df["agency"] = df["agency"].astype(str)
    df = df.merge(m, on=["agency", "call_type", "call_type_code"], how="left")
    df["category"] = df["category"].fillna("Uncategorized")
    df["og"] = np.select([df["origin"] == "officer_initiated", df["origin"].isin(RESIDENT)],
                         ["officer", "resident"], "unknown")
    ok = df["time_issue"].isna()

    def dur(a, b):
        d = (df[b] - df[a]).dt.total_seconds()
        return d.where(ok & d.between(0, MAX_S))

    df["dep"], df["os"] = dur("dispatched", "cleared"), dur("arrived", "cleared")
    df["rd"], df["da"], df["ra"] = dur("received", "dispatched"), dur("dispatched", "arrived"), dur("received", "arrived")

    def agg(keys):
        g = df.groupby(keys, dropna=False)
        r = g.agg(calls=("dep", "size"), n_dep=("dep", "count"), hours_deployed=("dep", "sum"),
                  hours_on_scene=("os", "sum")).reset_index()
        r["hours_deployed"] /= 3600
        r["hours_on_scene"] /= 3600
        r["share_calls"] = r["calls"] / r["calls"].sum()
        r["share_time"] = r["hours_deployed"] / r["hours_deployed"].sum()
        return r

    out = {
        "by_category": agg(["category", "crime_group", "demand_type"]),
        "by_crime_group": agg(["crime_group"]),
        "by_demand_type": agg(["demand_type"]),
        "by_origin": agg(["og", "origin"]),
        "by_priority": agg(["priority_rank"]),
        "by_district": agg(["district"]),
        "by_beat": agg(["beat"]),
        "by_call_type": agg(["agency", "call_type", "category"]).sort_values("hours_deployed", ascending=False),
    }
    pub = df[df["og"] != "officer"]
    out["response_times"] = pub.groupby("priority_rank", dropna=False)[["rd", "da", "ra"]].quantile([0.5, 0.9]).div(60)
    local = df["received_local"]
    out["hour_of_week"] = df.groupby([local.dt.dayofweek, local.dt.hour]).size()
    out["outcomes"] = pd.crosstab(df["category"], df["outcome"].fillna("unknown"))
    reason = np.select([df["dispatched"].isna(), df["cleared"].isna(), ~ok], ["missing_dispatched", "missing_cleared",
                                                                               "time_issue"], "measured")
    out["coverage"] = df.groupby(["og", reason]).size()
    secs = time.perf_counter() - t
    return {"seconds": secs, "core": _core_from(out["by_category"])}


STEPS = {"ingest": step_ingest, "classify": step_classify, "assess": step_assess, "duckdb": step_duckdb,
         "pandas": step_pandas, "assess_default": step_assess_default}


def run_child(step: str, src: Path, work: Path, repeat: int = 1) -> dict:
    """Run a step ``repeat`` times, each in a fresh interpreter; keep the fastest run (the one
    least disturbed by other work on the machine) and the highest peak memory."""
    runs = []
    for _ in range(max(1, repeat)):
        proc = subprocess.run([sys.executable, __file__, "--step", step, "--file", str(src), "--dir", str(work)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"step {step} failed:\n{proc.stderr[-4000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    return best | {"peak_mb": max(r["peak_mb"] for r in runs), "runs": [round(r["seconds"], 3) for r in runs]}


def _same(a: dict, b: dict) -> bool:
    if set(a) != set(b):
        return False
    return all(a[k][0] == b[k][0] and abs(a[k][1] - b[k][1]) <= 1e-6 * max(1.0, abs(a[k][1])) for k in a)


def run_size(n: int, work: Path, args) -> dict:
    from rightresponse.synthetic_cad import generate

    work.mkdir(parents=True, exist_ok=True)
    src = work / f"synthetic_new_orleans_{n}.parquet"
    t = time.perf_counter()
    if not src.exists():
        generate(n, src, seed=args.seed)
    print(f"\n{n:,} calls: generated {src.name} ({src.stat().st_size / 2**20:,.0f} MiB) in "
          f"{time.perf_counter() - t:.1f} s [not timed]", flush=True)
    res = {}
    if not (work / "ws" / "calls").exists():
        res["ingest"] = run_child("ingest", src, work)
    for step in ("classify", "assess", "duckdb", "pandas", "assess_default"):
        if step in args.skip:
            continue
        res[step] = run_child(step, src, work, 1 if step == "assess_default" else args.repeat)
        print(f"  {step:<9} {res[step]['seconds']:>8.2f} s  peak {res[step]['peak_mb']:>7,.0f} MB", flush=True)
    core = res["assess"].get("core")
    for other in ("duckdb", "pandas"):
        if other in res and not _same(core, res[other]["core"]):
            raise SystemExit(f"{other} disagrees with rightresponse on calls/hours per category")
    a = res["assess"]
    line = {"calls": n, "assess_seconds": round(a["seconds"], 3), "assess_peak_mb": round(a["peak_mb"], 1),
            "calls_per_second": round(n / a["seconds"])}
    if "ingest" in res:
        line |= {"ingest_seconds": round(res["ingest"]["seconds"], 3), "ingest_peak_mb": round(res["ingest"]["peak_mb"], 1)}
    if "classify" in res:
        line |= {"classify_seconds": round(res["classify"]["seconds"], 3)}
    for other in ("duckdb", "pandas"):
        if other in res:
            o = res[other]
            line |= {f"{other}_seconds": round(o["seconds"], 3), f"{other}_peak_mb": round(o["peak_mb"], 1),
                     f"speedup_vs_{other}": round(o["seconds"] / a["seconds"], 3)}
    if "assess_default" in res:
        d = res["assess_default"]
        line |= {"assess_default_seconds": round(d["seconds"], 3), "assess_default_peak_mb": round(d["peak_mb"], 1),
                 "who_could_respond_policies": d["policies"]}
    line["targets_met"] = {
        "5x_faster_than_pandas": line.get("speedup_vs_pandas", 0) >= 5,
        "within_3x_of_duckdb_raw_scan": line.get("speedup_vs_duckdb", 0) >= 1 / 3,
        "peak_under_2gb": a["peak_mb"] < 2048,
    }
    if not args.keep:
        shutil.rmtree(work / "out", ignore_errors=True)
        shutil.rmtree(work / "out-default", ignore_errors=True)
    return line


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="rightresponse assessment benchmark")
    ap.add_argument("--calls", type=int, action="append", help="calls per run; repeat for a scaling run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep generated files and workspaces")
    ap.add_argument("--dir", help="work directory (default: a temporary one)")
    ap.add_argument("--skip", action="append", default=[], choices=["classify", "duckdb", "pandas", "assess_default"])
    ap.add_argument("--pandas-columns", action="store_true", help="pandas reads only the columns it needs")
    ap.add_argument("--repeat", type=int, default=1, help="runs per contender; the fastest counts (default 1)")
    ap.add_argument("--step", choices=list(STEPS), help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.step:
        out = STEPS[args.step](args.file, args.dir)
        out["peak_mb"] = peak_mb()
        print(json.dumps(out))
        return 0

    os.environ["RR_BENCH_PANDAS_ALL"] = "0" if args.pandas_columns else "1"
    sizes = sorted(set(args.calls or [200_000]))
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="rr-bench-assess-"))
    print(f"machine: {machine()}")
    try:
        lines = [run_size(n, root / f"n{n}", args) for n in sizes]
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print(f"{'calls':>11} {'assess s':>9} {'peak MB':>8} {'duckdb s':>9} {'pandas s':>9} {'vs pandas':>10} {'vs duckdb':>10}")
    for ln in lines:
        print(f"{ln['calls']:>11,} {ln['assess_seconds']:>9.2f} {ln['assess_peak_mb']:>8.0f} "
              f"{ln.get('duckdb_seconds', float('nan')):>9.2f} {ln.get('pandas_seconds', float('nan')):>9.2f} "
              f"{ln.get('speedup_vs_pandas', float('nan')):>9.2f}x {ln.get('speedup_vs_duckdb', float('nan')):>9.2f}x")
    summary = {"sizes": lines}
    if len(lines) > 1:
        first, last = lines[0], lines[-1]
        growth = last["assess_seconds"] / first["assess_seconds"]
        summary |= {"growth_calls": round(last["calls"] / first["calls"], 3), "growth_seconds": round(growth, 3),
                    "growth_per_call": round(growth / (last["calls"] / first["calls"]), 3),
                    "growth_peak_mb": round(last["assess_peak_mb"] / first["assess_peak_mb"], 3)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
