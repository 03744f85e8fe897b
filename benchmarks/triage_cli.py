"""`rightresponse triage` on the command line against `rightresponse --help`.

Both are started as a user starts them (a new process each, the installed console script),
alternating, ``--repeat`` times each; the figure is the ratio of the medians. Before the
timed rounds, one triage runs with an empty model cache (a fresh temporary
RIGHTRESPONSE_CACHE_DIR), which is the one-off build a first command pays; it is reported
separately and then reused by the timed rounds, which only load the model.

Where Python writes no bytecode cache (``PYTHONDONTWRITEBYTECODE=1``, as in some containers,
with an editable install), every process compiles the package's modules from source, which
costs triage, importing more of them, more than ``--help``; the JSON line says which case was
measured (``bytecode_cache``).

    python benchmarks/triage_cli.py [--repeat 5]

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

TRIAGE = ["triage", "-p", "denver-star", "-c", "WELF CHK ON ELDERLY", "--flag", "no_weapon",
          "--at", "2025-10-05T14:00:00"]


def run(cmd, env) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return took


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    exe = shutil.which("rightresponse") or str(Path(sys.executable).parent / "rightresponse")
    cache = Path(tempfile.mkdtemp(prefix="rr-model-cache-"))
    env = {**os.environ, "RIGHTRESPONSE_CACHE_DIR": str(cache)}
    try:
        first = run([exe, *TRIAGE], env)
        print(f"first triage (builds the model into an empty cache): {first:.2f} s", file=sys.stderr)
        helps, triages = [], []
        for i in range(args.repeat):
            helps.append(run([exe, "--help"], env))
            triages.append(run([exe, *TRIAGE], env))
            print(f"round {i + 1}: --help {helps[-1]:.3f} s, triage {triages[-1]:.3f} s", file=sys.stderr)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    h, t = statistics.median(helps), statistics.median(triages)
    out = {"benchmark": "triage_cli", "date": str(date.today()), "repeat": args.repeat,
           "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
           "load_average": [round(x, 2) for x in os.getloadavg()],
           "help_median_s": round(h, 3), "triage_median_s": round(t, 3), "ratio": round(t / h, 2),
           "within_3x": t <= 3 * h, "first_triage_with_empty_cache_s": round(first, 2),
           "bytecode_cache": not os.environ.get("PYTHONDONTWRITEBYTECODE"),
           "help_s": [round(x, 3) for x in helps], "triage_s": [round(x, 3) for x in triages]}
    print(f"--help median {h:.3f} s, triage median {t:.3f} s: {t / h:.2f}x (target within 3x: "
          f"{'met' if out['within_3x'] else 'NOT met'})")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
