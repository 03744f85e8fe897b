"""DuckDB against Spark local on the same workspace: wall time, peak memory, growth with size.

    python benchmarks/scale.py --calls 10000000 [--calls 100000000] [--engine duckdb]
                               [--dir DIR] [--keep] [--spark-memory 8g] [--duckdb-memory 6GB]
                               [--file-calls 5000000] [--jobs 2]

For each size a synthetic New Orleans export spanning ``--days`` (10 years by default, for
every size) is generated in chunks as a directory of Parquet part files
(``rightresponse.synthetic_cad.generate(..., files=K)``, about ``--file-calls`` calls per file and at
least 2 files; not timed), then ingested once into a workspace with
``rightresponse.ingest(dir, workspace=..., jobs=--jobs)`` (timed; ``jobs`` is passed only if
this version of ingest has it, and the JSON says which). The ingest's counts must match what
the generator wrote. Then ``rightresponse.assess(workspace=..., policies=(), engine=E)`` runs
once per engine, each in a fresh Python process: DuckDB with ``memory_limit=--duckdb-memory``
(an explicit bound; DuckDB's own default is 80% of the machine), Spark local with
``spark.driver.memory=--spark-memory``. Peak memory is the peak of the summed resident memory
of the process and all its descendants (for Spark: the Python driver plus the JVM; for ingest:
the pool's workers too), sampled every 0.2 s from /proc. The classifier is trained once per
size before the timed runs and reused (as a city would), so the timed runs are the engine work
plus the report.

With ``--dir DIR --keep`` the generated parts (DIR/nN/data, with DIR/nN/synth.json) and the
workspace (DIR/nN/ws, with DIR/nN/ingest.json) are kept and reused by the next run: a size
whose synth.json or ingest.json exists is not generated or ingested again (the JSON line then
carries the earlier ingest figures with ``ingest_reused: true``).

The two engines' --json outputs must be identical (the script stops otherwise). The last
line is one JSON object: figures per size and engine, and the growth from the smallest to
the largest size relative to the growth in calls (1.0 = linear).
"""

from __future__ import annotations

import argparse
import json
import math
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


def _du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


def run_child(args: list[str], cwd: Path) -> dict:
    # cwd: DuckDB spills an in-memory database to ./.tmp, which belongs beside the data
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd)
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


def step_ingest(work: Path, src: Path, jobs: int) -> dict:
    import inspect

    import rightresponse as rr

    kw = {"jobs": jobs} if "jobs" in inspect.signature(rr.ingest).parameters else {}
    t = time.perf_counter()
    s = rr.ingest(str(src), workspace=work / "ws", **kw)
    return {"seconds": time.perf_counter() - t, "jobs": kw.get("jobs", 1), "files": len(s.files),
            "rows_read": s.rows_read, "rows_loaded": s.rows_loaded, "rows_duplicate": s.rows_duplicate,
            "rows_quarantined": s.rows_quarantined}


def step_train(work: Path) -> dict:
    from rightresponse.assess import assess

    t = time.perf_counter()
    assess(workspace=work / "ws", model_path=work / "classifier.pkl", policies=(), write=False)
    return {"seconds": time.perf_counter() - t}


def step_assess(work: Path, engine: str, spark_memory: str, duckdb_memory: str) -> dict:
    import rightresponse.report  # noqa: F401  imports are not timed
    import rightresponse.taxonomy  # noqa: F401
    from rightresponse.assess import assess

    session = None
    t0 = time.perf_counter()
    if engine == "spark":
        from rightresponse.backends import spark_session

        session = spark_session("local[*]", config={"spark.driver.memory": spark_memory})
    startup = time.perf_counter() - t0
    t = time.perf_counter()
    r = assess(workspace=work / "ws", out=work / f"out-{engine}", model_path=work / "classifier.pkl",
               policies=(), engine=engine, spark=session,
               memory_limit=duckdb_memory if engine == "duckdb" else None)
    secs = time.perf_counter() - t
    d = r.to_json_dict()
    d["report"], d["files"] = None, []
    return {"seconds": secs, "startup_seconds": startup, "calls": r.summary["calls"], "json": d}


def ensure_data(n: int, work: Path, args) -> dict:
    """The part files for ``n`` calls in WORK/data (generated unless synth.json says they are there)."""
    from rightresponse.synthetic_cad import generate

    work.mkdir(parents=True, exist_ok=True)
    data, synth_json = work / "data", work / "synth.json"
    files = max(2, math.ceil(n / args.file_calls))
    spec = {"seed": args.seed, "files": files, "calls_per_day": n / args.days}
    syn = json.loads(synth_json.read_text()) if synth_json.exists() else None
    if syn is not None and syn.get("spec") == spec:
        print(f"\n{n:,} calls: reusing {data} ({len(syn['parts'])} files)", file=sys.stderr, flush=True)
    else:
        shutil.rmtree(data, ignore_errors=True)  # a run cut off during generation
        shutil.rmtree(work / "ws", ignore_errors=True)
        (work / "ingest.json").unlink(missing_ok=True)
        (work / "classifier.pkl").unlink(missing_ok=True)
        syn = generate(n, data, seed=args.seed, files=files, calls_per_day=spec["calls_per_day"],
                       progress=True).to_dict() | {"spec": spec}
        synth_json.write_text(json.dumps(syn))
        print(f"\n{n:,} calls: generated {len(syn['parts'])} Parquet files ({syn['bytes'] / 2**20:,.0f} MiB) "
              f"in {syn['seconds']:.1f} s [not timed]", file=sys.stderr, flush=True)
    return syn


def run_size(n: int, work: Path, args) -> dict:
    syn = ensure_data(n, work, args)
    data = work / "data"
    line: dict = {"calls": n, "rows": syn["rows"], "files": len(syn["parts"]), "days": args.days,
                  "first_received": syn["first_received"], "last_received": syn["last_received"],
                  "generate_seconds": syn["seconds"], "data_mb": round(syn["bytes"] / 2**20, 1)}
    ingest_json = work / "ingest.json"
    if ingest_json.exists():
        ing, reused = json.loads(ingest_json.read_text()), True
    else:
        shutil.rmtree(work / "ws", ignore_errors=True)  # a run cut off during ingest
        ing, reused = run_child(["--step", "ingest", "--dir", str(work), "--file", str(data),
                                 "--jobs", str(args.jobs)], work), False
        want = {"rows_read": syn["rows"], "rows_loaded": n, "rows_duplicate": syn["duplicates"], "rows_quarantined": 0}
        got = {k: ing[k] for k in want}
        if got != want:
            raise SystemExit(f"ingest counts {got} differ from what was written {want}")
        ingest_json.write_text(json.dumps(ing))
    line |= {"ingest_seconds": round(ing["seconds"], 3), "ingest_peak_mb": ing["peak_mb"], "ingest_jobs": ing["jobs"],
             "ingest_reused": reused, "workspace_mb": round(_du_mb(work / "ws"), 1)}
    print(f"  ingest   {ing['seconds']:>8.2f} s  peak {ing['peak_mb']:>7,.0f} MB (jobs={ing['jobs']}"
          f"{', earlier run' if reused else ''})", file=sys.stderr, flush=True)
    if not (work / "classifier.pkl").exists():
        run_child(["--step", "train", "--dir", str(work)], work)
    jsons = {}
    for eng in args.engine:
        r = run_child(["--step", "assess", "--dir", str(work), "--engine", eng, "--spark-memory", args.spark_memory,
                       "--duckdb-memory", args.duckdb_memory], work)
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
    ap.add_argument("--duckdb-memory", default="6GB",
                    help="DuckDB memory_limit for assess (exact response-time quantiles keep every public "
                         "call's intervals in memory: about 0.4 GB per 10M calls)")
    ap.add_argument("--days", type=int, default=3653,
                    help="span of the synthetic calls (default 10 years, for every size: a larger size is a "
                         "busier programme, not a longer one, and the agency/year partitions stay the same)")
    ap.add_argument("--file-calls", type=int, default=5_000_000, help="calls per generated Parquet file (at least 2 files)")
    ap.add_argument("--jobs", type=int, default=2, help="ingest worker processes, if ingest has jobs=")
    ap.add_argument("--dir", type=Path, help="working directory (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep generated files, workspaces and reports")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step == "generate":  # only the data (for a later run with the same --dir)
        for n in sorted(args.calls or [2_000_000]):
            ensure_data(n, args.dir / f"n{n}", args)
        return 0
    if args.step:
        if args.step == "ingest":
            res = step_ingest(args.dir, args.file, args.jobs)
        elif args.step == "train":
            res = step_train(args.dir)
        else:
            res = step_assess(args.dir, args.engine[0], args.spark_memory, args.duckdb_memory)
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
    out = {"benchmark": "scale", "machine": machine(), "engines": args.engine, "duckdb_memory_limit": args.duckdb_memory,
           "spark_memory": args.spark_memory, "sizes": rows}
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        grow = b["calls"] / a["calls"]
        out["growth_relative_to_calls"] = {e: round(b[f"{e}_seconds"] / a[f"{e}_seconds"] / grow, 3)
                                           for e in ["ingest", *args.engine]}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
