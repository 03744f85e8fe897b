"""DuckDB against Spark local on the same workspace: wall time, peak memory, growth with size.

    python benchmarks/scale.py --calls 2000000 [--calls 10000000 --calls 100000000] [--engine duckdb]
                               [--dir DIR] [--keep] [--spark-memory 8g]

For each size a synthetic New Orleans export (Parquet, written in chunks by
rightresponse.synth.generate, not timed) is ingested once into a workspace (timed, DuckDB).
Then ``rightresponse.assess(workspace=..., policies=(), engine=E)`` runs once per engine, each
in a fresh Python process. Peak memory is the peak of the summed resident memory of that
process and all its descendants (for Spark: the Python driver plus the JVM), sampled every
0.2 s from /proc, since the JVM's memory is not the Python process's own. The classifier is
trained once per size before the timed runs and reused (as a city would), so the timed
runs are the engine work plus the report.

The two engines' --json outputs must be identical (the script stops otherwise). The last
line is one JSON object: figures per size and engine, and the growth from the smallest to
the largest size relative to the growth in calls (1.0 = linear).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import machine  # noqa: E402  (benchmarks/ is sys.path[0])


def _tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and every descendant, from /proc."""
    kids: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                parts = fh.read().rsplit(")", 1)[1].split()
            kids.setdefault(int(parts[1]), []).append(int(d))
            rss[int(d)] = int(parts[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += kids.get(p, [])
    return total / 2**20


def run_child(args: list[str]) -> dict:
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0.0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed:\n{err[-4000:]}")
    return json.loads(out.strip().splitlines()[-1]) | {"peak_mb": round(peak[0], 1)}


# ---------------------------------------------------------------- steps (in a child process)


def step_ingest(work: Path, src: Path) -> dict:
    import rightresponse as rr

    t = time.perf_counter()
    s = rr.ingest([str(src)], workspace=work / "ws")
    return {"seconds": time.perf_counter() - t, "rows_loaded": s.rows_loaded}


def step_train(work: Path) -> dict:
    from rightresponse.assess import assess

    t = time.perf_counter()
    assess(workspace=work / "ws", model_path=work / "classifier.pkl", policies=(), write=False)
    return {"seconds": time.perf_counter() - t}


def step_assess(work: Path, engine: str, spark_memory: str) -> dict:
    import rightresponse.report  # noqa: F401  imports are not timed
    import rightresponse.taxonomy  # noqa: F401
    from rightresponse.assess import assess

    session = None
    t0 = time.perf_counter()
    if engine == "spark":
        from rightresponse.engine import spark_session

        session = spark_session("local[*]", config={"spark.driver.memory": spark_memory})
    startup = time.perf_counter() - t0
    t = time.perf_counter()
    r = assess(workspace=work / "ws", out=work / f"out-{engine}", model_path=work / "classifier.pkl",
               policies=(), engine=engine, spark=session)
    secs = time.perf_counter() - t
    d = r.to_json_dict()
    d["report"], d["files"] = None, []
    return {"seconds": secs, "startup_seconds": startup, "calls": r.summary["calls"], "json": d}


def run_size(n: int, work: Path, args) -> dict:
    from rightresponse.synth import generate

    work.mkdir(parents=True, exist_ok=True)
    src = work / f"synthetic_new_orleans_{n}.parquet"
    t = time.perf_counter()
    if not src.exists():
        generate(n, src, seed=args.seed, progress=True)
    print(f"\n{n:,} calls: generated {src.name} ({src.stat().st_size / 2**20:,.0f} MiB) in "
          f"{time.perf_counter() - t:.1f} s [not timed]", file=sys.stderr, flush=True)
    line: dict = {"calls": n}
    if not (work / "ws" / "calls").exists():
        ing = run_child(["--step", "ingest", "--dir", str(work), "--file", str(src)])
        line |= {"ingest_seconds": round(ing["seconds"], 3), "ingest_peak_mb": ing["peak_mb"]}
        print(f"  ingest   {ing['seconds']:>8.2f} s  peak {ing['peak_mb']:>7,.0f} MB", file=sys.stderr, flush=True)
    if not (work / "classifier.pkl").exists():
        run_child(["--step", "train", "--dir", str(work)])
    jsons = {}
    for eng in args.engine:
        r = run_child(["--step", "assess", "--dir", str(work), "--engine", eng, "--spark-memory", args.spark_memory])
        jsons[eng] = r.pop("json")
        line |= {f"{eng}_seconds": round(r["seconds"], 3), f"{eng}_peak_mb": r["peak_mb"],
                 f"{eng}_startup_seconds": round(r["startup_seconds"], 3)}
        print(f"  {eng:<8} {r['seconds']:>8.2f} s  peak {r['peak_mb']:>7,.0f} MB (process tree)",
              file=sys.stderr, flush=True)
    if len(jsons) > 1:
        a, *rest = [json.dumps(j, sort_keys=True) for j in jsons.values()]
        if any(a != b for b in rest):
            raise SystemExit("the engines' --json outputs differ")
        line["json_identical"] = True
    if not args.keep:
        for eng in args.engine:
            shutil.rmtree(work / f"out-{eng}", ignore_errors=True)
    return line


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="rightresponse: DuckDB vs Spark local, at scale")
    ap.add_argument("--calls", type=int, action="append", help="calls per run; repeat for a scaling run")
    ap.add_argument("--engine", action="append", choices=["duckdb", "spark"], help="default: both")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--spark-memory", default="8g", help="Spark driver memory (local mode: all of Spark)")
    ap.add_argument("--dir", type=Path, help="working directory (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep generated files and workspaces")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step:
        if args.step == "ingest":
            res = step_ingest(args.dir, args.file)
        elif args.step == "train":
            res = step_train(args.dir)
        else:
            res = step_assess(args.dir, args.engine[0], args.spark_memory)
        print(json.dumps(res))
        return 0
    args.engine = args.engine or ["duckdb", "spark"]
    sizes = sorted(args.calls or [2_000_000])
    base = args.dir or Path(tempfile.mkdtemp(prefix="rr-scale-"))
    rows = []
    try:
        for n in sizes:
            rows.append(run_size(n, base / f"n{n}", args))
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    out = {"benchmark": "scale", "machine": machine(), "engines": args.engine, "sizes": rows}
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        grow = b["calls"] / a["calls"]
        out["growth_relative_to_calls"] = {e: round(b[f"{e}_seconds"] / a[f"{e}_seconds"] / grow, 3)
                                           for e in args.engine}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
