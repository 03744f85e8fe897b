"""Scenario simulation speed: one city-year of calls through 4 responder pools, against naive SimPy.

    python benchmarks/simulate.py [--calls 1000000] [--simpy-calls 100000] [--dir DIR] [--keep]

Steps (only the last two are the benchmark; the others are reported for context):

  generate  a synthetic New Orleans-layout export of N calls spread over one year
            (rightresponse.synthetic_cad, calibrated on the real samples), Parquet.
  ingest    rightresponse.ingest into a workspace.
  prepare   the scenario's history: taxonomy + the nicjr-tiers policy applied to every
            call (rightresponse.policy), joined to the calls' times.
  simulate  ONE replication of a 4-pool scenario (every pool sized by Erlang C per hour of week:
            a civilian crisis team with fallback and police backup, community responders, and a
            telephone reporting unit), every call of the year including officer-initiated activity.
            Reported: engine seconds and events per second, and the replication's total wall
            time (building the job stream, engine, statistics).
  simpy     the naive SimPy model of the same jobs: one process per call, a PriorityResource
            per pool with the pool's mean rostered units (no shifts, fallbacks, pre-emption or
            backups, so it does less work than the engine). If N is larger than --simpy-calls,
            it runs on the first --simpy-calls jobs and the time is extrapolated linearly (stated).

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

SCENARIO = {
    "id": "bench-city-year",
    "title": "Synthetic 1M-call city, one year, 4 pools",
    "data": {"workspace": "ws", "include_officer_initiated": True},
    "policy": "nicjr-tiers",
    "horizon": {"mode": "replay"},
    "replications": 1,
    "pools": {
        "police": {
            "serves": ["police"], "hourly_cost": 85,
            "units": {"staffing": {"max_utilization": 0.6, "within_minutes": 10, "service_level": 0.9}},
            "travel": "data", "service": "data",
            "dispatch": {"priority_order": [1, 2, 3], "preemptible": [3], "when_busy": "wait"},
        },
        "crisis_team": {
            "serves": ["crisis_team"], "officers_per_unit": 0, "hourly_cost": 110,
            "units": {"staffing": {"within_minutes": 20, "service_level": 0.8}},
            "travel": {"lognormal": {"mean_minutes": 14, "sd_minutes": 8}, "assumption": "benchmark"},
            "service": {"default": "data", "categories": {"Behavioral Health": {
                "lognormal": {"mean_minutes": 60, "sd_minutes": 35}, "assumption": "benchmark"}}},
            "dispatch": {"when_busy": {"fallback": "police", "after_minutes": 10}},
            "police_backup": {"probability": 0.006, "pool": "police", "priority": 1,
                              "service": {"fixed": {"minutes": 30}, "assumption": "benchmark"}},
        },
        "phone": {
            "serves": ["non_emergency"], "officers_per_unit": 0, "hourly_cost": 40,
            "units": {"staffing": {"within_minutes": 15, "service_level": 0.8}},
            "travel": {"fixed": {"minutes": 0}, "assumption": "benchmark: a report taken by telephone"},
            "service": {"lognormal": {"mean_minutes": 20, "sd_minutes": 10}, "assumption": "benchmark"},
            "dispatch": {"when_busy": "wait"},
        },
        "community": {
            "serves": ["community_responder"], "officers_per_unit": 0, "hourly_cost": 45,
            "units": {"staffing": {"max_utilization": 0.75}},
            "travel": {"fixed": {"minutes": 20}, "assumption": "benchmark"},
            "service": {"lognormal": {"mean_minutes": 45, "sd_minutes": 25}, "assumption": "benchmark"},
            "dispatch": {"when_busy": "wait"},
        },
    },
}


def machine() -> str:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {mem}, Python {platform.python_version()}, {platform.system()}"


def naive_simpy(jobs, pools, limit: int) -> tuple[float, int]:
    """Process-per-call SimPy model of the first ``limit`` jobs; returns (seconds, calls)."""
    import simpy

    n = min(limit, len(jobs.t))
    t, pool, cls = jobs.t[:n].tolist(), jobs.pool[:n].tolist(), jobs.cls[:n].tolist()
    busy = (jobs.travel + jobs.work)[:n].tolist()
    start = time.perf_counter()
    env = simpy.Environment()
    res = [simpy.PriorityResource(env, capacity=max(1, int(round(float(np.mean(p.roster)))))) for p in pools]

    def call(i):
        with res[pool[i]].request(priority=cls[i]) as req:
            yield req
            yield env.timeout(busy[i])

    def source():
        now = 0.0
        for i in range(n):
            if t[i] > now:
                yield env.timeout(t[i] - now)
                now = t[i]
            env.process(call(i))

    env.process(source())
    env.run()
    return time.perf_counter() - start, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--simpy-calls", type=int, default=100_000, help="run naive SimPy on at most this many jobs")
    ap.add_argument("--dir", help="working directory (kept; reused if it already holds the workspace)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary working directory")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import rightresponse as rr
    from rightresponse.simulate.discrete_event import Simulation
    from rightresponse.simulate.run import _demand, _rosters, _runtime_pools, run_history
    from rightresponse.simulate.scenario import parse_scenario
    from rightresponse.simulate.stream import build_stream, class_maps, load_history
    from rightresponse.synthetic_cad import Dirt, generate

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="rr-bench-sim-"))
    work.mkdir(parents=True, exist_ok=True)
    out: dict = {"benchmark": "simulate", "calls": args.calls, "pools": 4, "machine": machine()}
    try:
        ws = work / "ws"
        marker = work / f"generated-{args.calls}-{args.seed}.json"
        if not marker.exists():
            shutil.rmtree(ws, ignore_errors=True)
            t = time.perf_counter()
            g = generate(args.calls, work / "city.parquet", seed=args.seed, calls_per_day=args.calls / 365.0,
                         dirt=Dirt.none())
            out["generate_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            s = rr.ingest([str(work / "city.parquet")], workspace=ws)
            out["ingest_s"] = round(time.perf_counter() - t, 2)
            marker.write_text(json.dumps({"calls": g.calls, "loaded": s.rows_loaded}))
            print(f"generated {g.calls:,} calls in {out['generate_s']} s, ingested in {out['ingest_s']} s", file=sys.stderr)
        path = work / "scenario.yaml"
        path.write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
        scn = parse_scenario(yaml.safe_load(path.read_text()), str(path))

        t = time.perf_counter()
        hist = load_history(scn)
        out["prepare_s"] = round(time.perf_counter() - t, 2)
        print(f"prepared {len(hist.calls):,} calls in {out['prepare_s']} s", file=sys.stderr)

        t = time.perf_counter()
        res = run_history(scn, hist, reps=1, seed=args.seed)
        out["replication_s"] = round(time.perf_counter() - t, 2)
        out["simulate_s"] = res.timing["simulate_s"]
        out["events"] = res.timing["events"]
        out["events_per_s"] = res.timing["events_per_s"]
        out["weeks"] = round(res.weeks, 2)
        out["jobs"] = int(res.total("calls_simulated")[0] + res.total("backups_requested")[0]
                          + sum(res.pool(p, "follow_ups_handled")[0] for p in scn.pools))
        out["calls_simulated"] = int(res.total("calls_simulated")[0])
        for pid in scn.pools:
            out[f"{pid}_calls_handled"] = int(res.pool(pid, "calls_handled")[0])
            out[f"{pid}_utilization"] = round(res.pool(pid, "utilization")[0], 3)
        out["calls_fell_back"] = int(res.total("calls_fell_back")[0])
        out["backups_requested"] = int(res.total("backups_requested")[0])
        print(f"one replication: {out['replication_s']} s wall ({out['simulate_s']} s in the engine, "
              f"{out['events']:,} events, {out['events_per_s']:,} events/s)", file=sys.stderr)

        # The same jobs through naive SimPy.
        classes = class_maps(scn, hist.calls.priority_rank.dropna().unique())
        idx = {p: i for i, p in enumerate(scn.pools)}
        stream = build_stream(scn, hist, np.random.default_rng([args.seed, 0]), idx, classes)
        runtime = _runtime_pools(scn, classes, _rosters(scn, _demand(scn, stream)))
        t = time.perf_counter()
        o = Simulation(runtime, stream.jobs, stream.slot_how).run()
        engine_all = time.perf_counter() - t
        try:
            s_simpy, n_simpy = naive_simpy(stream.jobs, runtime, args.simpy_calls)
            n_jobs = len(stream.jobs.t)
            est = s_simpy * n_jobs / n_simpy
            out.update({"simpy_jobs_run": n_simpy, "simpy_s": round(s_simpy, 2), "simpy_extrapolated": n_simpy < n_jobs,
                        "simpy_s_for_all_jobs": round(est, 1), "engine_s_for_all_jobs": round(engine_all, 2),
                        "speedup_vs_simpy": round(est / engine_all, 1)})
            how = f"extrapolated from {n_simpy:,} jobs" if n_simpy < n_jobs else "measured"
            print(f"naive SimPy: {s_simpy:.1f} s for {n_simpy:,} jobs -> {est:.0f} s for {n_jobs:,} ({how}); "
                  f"engine {engine_all:.1f} s ({o.events:,} events): {est / engine_all:.1f}x", file=sys.stderr)
        except ImportError:
            out["simpy_s"] = None
            print("simpy is not installed (pip install simpy): comparison skipped", file=sys.stderr)
    finally:
        if not args.dir and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
