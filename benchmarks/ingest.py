"""Ingest speed and memory against DuckDB's raw scan and a plain pandas notebook, in one run.

    python benchmarks/ingest.py [--calls 200000] [--format csv|csv.gz|parquet] [--repeat N] [--keep] [--dir DIR]

A synthetic New Orleans export of N calls is generated first (not timed). Then each
contender runs in its own fresh Python process, so its peak resident memory (ru_maxrss of
that process, VmHWM) is its own and no cache is shared:

  ingest   rightresponse.ingest(file, workspace=<fresh dir>): read, normalize, de-duplicate,
           quarantine, write the partitioned Parquet workspace.
  duckdb   CREATE TABLE t AS SELECT * FROM read_csv(file): the engine's raw scan with
           type auto-detection and materialization, no normalization at all.
  pandas   what an analyst would write: pd.read_csv, to_datetime with the format,
           tz_localize to America/Chicago, map priority/origin/disposition, drop duplicate
           incident numbers, to_parquet.

Seconds are wall-clock of the step inside its process (interpreter start-up and imports
excluded). The last line of output is one JSON object with the headline numbers.
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

TZ = "America/Chicago"
FMT = "%m/%d/%Y %I:%M:%S %p"


# ---------------------------------------------------------------- steps (run in a child process)


def step_ingest(path: str, work: str) -> dict:
    import rightresponse as rr

    t = time.perf_counter()
    s = rr.ingest([path], workspace=Path(work) / "ws")
    return {"seconds": time.perf_counter() - t, "rows_loaded": s.rows_loaded, "rows_read": s.rows_read,
            "rows_duplicate": s.rows_duplicate, "rows_quarantined": s.rows_quarantined}


def step_duckdb(path: str, work: str) -> dict:
    import duckdb

    con = duckdb.connect()
    t = time.perf_counter()
    reader = "read_parquet" if path.endswith(".parquet") else "read_csv"
    con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}('{path}')")
    secs = time.perf_counter() - t
    return {"seconds": secs, "rows": con.execute("SELECT count(*) FROM t").fetchone()[0]}


def step_pandas(path: str, work: str) -> dict:
    import numpy as np
    import pandas as pd

    t = time.perf_counter()
    if path.endswith(".parquet"):
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    for src, dst in (("TimeCreate", "received"), ("TimeDispatch", "dispatched"),
                     ("TimeArrive", "arrived"), ("TimeClosed", "cleared")):
        local = pd.to_datetime(df[src], format=FMT, errors="coerce")
        df[dst] = local.dt.tz_localize(TZ, ambiguous="NaT", nonexistent="shift_forward")
        df = df.drop(columns=src)
    df["priority_rank"] = pd.to_numeric(df["Priority"].str.extract(r"^\s*(\d)")[0], errors="coerce") + 1
    df["origin"] = np.where(df["SelfInitiated"].str.upper() == "Y", "officer_initiated", "unknown")
    outcomes = {"RTF": "report", "NAT": "no_action", "GOA": "unfounded", "UNF": "unfounded", "VOI": "cancelled",
                "DUP": "cancelled", "CAN": "cancelled", "FAR": "unfounded"}
    df["outcome"] = df["Disposition"].str.upper().map(outcomes).fillna("other")
    df = df.drop_duplicates("NOPD_Item")
    df.to_parquet(Path(work) / "pandas.parquet", index=False)
    return {"seconds": time.perf_counter() - t, "rows": len(df)}


STEPS = {"ingest": step_ingest, "duckdb": step_duckdb, "pandas": step_pandas}


def run_child(step: str, path: Path, work: Path) -> dict:
    """Run one step in a fresh interpreter; its JSON result plus its own peak RSS."""
    proc = subprocess.run(
        [sys.executable, __file__, "--step", step, "--file", str(path), "--dir", str(work)],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="rightresponse ingest benchmark")
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--format", choices=("csv", "csv.gz", "parquet"), default="csv")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the generated file and workspaces")
    ap.add_argument("--dir", help="work directory (default: a temporary one)")
    ap.add_argument("--skip", action="append", default=[], choices=list(STEPS), help="skip a contender")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the contenders N times, in turn, and report each one's median run (a shared "
                         "machine's speed drifts; the JSON line lists every round)")
    ap.add_argument("--step", choices=list(STEPS), help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.step:  # child process
        __import__({"ingest": "rightresponse", "duckdb": "duckdb", "pandas": "pandas"}[args.step])  # not timed
        c0 = os.times()
        out = STEPS[args.step](args.file, args.dir)
        c1 = os.times()
        # CPU seconds (user + system, all threads) of the whole step: steadier than wall time
        # on a shared machine, and a fair measure of work on any core count.
        out["cpu_seconds"] = (c1.user - c0.user) + (c1.system - c0.system)
        out["peak_mb"] = peak_mb()
        print(json.dumps(out))
        return 0

    from rightresponse.synthetic_cad import generate

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="rr-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"synthetic_new_orleans_{args.calls}.{args.format}"
    try:
        t = time.perf_counter()
        res = generate(args.calls, path, seed=args.seed)
        print(f"machine: {machine()}")
        print(f"generated {res.rows:,} rows ({res.calls:,} calls, {res.duplicates} duplicate rows, "
              f"{res.time_issue_rows} time-issue calls) -> {path} "
              f"({path.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - t:.1f} s [not timed]")
        rounds: list[dict] = []
        for _ in range(max(1, args.repeat)):
            rounds.append({})
            for step in STEPS:
                if step in args.skip:
                    continue
                step_dir = work / step
                shutil.rmtree(step_dir, ignore_errors=True)
                step_dir.mkdir()
                rounds[-1][step] = run_child(step, path, step_dir)
                if not args.keep:
                    shutil.rmtree(step_dir, ignore_errors=True)
            ing = rounds[-1].get("ingest")
            if ing and (ing["rows_read"] != res.rows or ing["rows_loaded"] != res.calls
                        or ing["rows_duplicate"] != res.duplicates):
                raise SystemExit(f"ingest counts do not match the generator: {ing} vs {res.to_dict()}")
        # each contender's median run (the lower middle one for an even count)
        results = {step: sorted((r[step] for r in rounds), key=lambda x: x["seconds"])[(len(rounds) - 1) // 2]
                   for step in rounds[0]}
        ing = results.get("ingest")

        print()
        print(f"{'step':<8} {'seconds':>9} {'cpu s':>8} {'rows/s':>12} {'peak MB':>9} {'vs ingest':>10}")
        for step, r in results.items():
            ratio = r["seconds"] / ing["seconds"] if ing else float("nan")
            print(f"{step:<8} {r['seconds']:>9.2f} {r['cpu_seconds']:>8.2f} {res.rows / r['seconds']:>12,.0f} "
                  f"{r['peak_mb']:>9.0f} {ratio:>9.2f}x")
        print()
        line = {"benchmark": "ingest", "calls": args.calls, "format": args.format}
        if ing:
            line |= {"seconds": round(ing["seconds"], 3), "cpu_seconds": round(ing["cpu_seconds"], 3),
                     "rows_per_second": round(res.rows / ing["seconds"]), "peak_mb": round(ing["peak_mb"], 1)}
        if "duckdb" in results:
            line |= {"duckdb_raw_seconds": round(results["duckdb"]["seconds"], 3),
                     "duckdb_raw_cpu_seconds": round(results["duckdb"]["cpu_seconds"], 3),
                     "duckdb_raw_peak_mb": round(results["duckdb"]["peak_mb"], 1)}
            if ing:
                line["ratio_vs_duckdb_raw"] = round(ing["seconds"] / results["duckdb"]["seconds"], 3)
                line["cpu_ratio_vs_duckdb_raw"] = round(ing["cpu_seconds"] / results["duckdb"]["cpu_seconds"], 3)
        if "pandas" in results:
            line |= {"pandas_seconds": round(results["pandas"]["seconds"], 3),
                     "pandas_cpu_seconds": round(results["pandas"]["cpu_seconds"], 3),
                     "pandas_peak_mb": round(results["pandas"]["peak_mb"], 1)}
            if ing:
                line["ratio_vs_pandas"] = round(ing["seconds"] / results["pandas"]["seconds"], 3)
        if len(rounds) > 1:
            line["repeat"] = len(rounds)
            line["rounds"] = [{step: round(r[step]["seconds"], 3) for step in r} for r in rounds]
        print(json.dumps(line))
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(work, ignore_errors=True)
        elif not args.keep:
            path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
