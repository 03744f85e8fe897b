"""Measurement helpers shared by the benchmark scripts (run as ``python benchmarks/X.py``)."""

from __future__ import annotations

import os
import resource
import subprocess


def peak_mb() -> float:
    """This process's peak resident memory. VmHWM starts afresh at exec; ru_maxrss can carry
    the forked parent's high-water mark over the exec, which would blur the comparison."""
    try:
        with open("/proc/self/status") as fh:
            for ln in fh:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "")
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, {model or 'unknown CPU'}"
