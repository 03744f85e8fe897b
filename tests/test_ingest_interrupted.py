"""A crash or Ctrl-C at any moment leaves the workspace as it was; the next run completes exactly.

Ingest runs as a user runs it (``rightresponse ingest`` in its own process) on a synthetic
New Orleans export of 600,000 calls, and is killed (SIGKILL) or interrupted (SIGINT) while it
works. After every stop, what a reader sees is either nothing or everything, never part of a
run; a second ``ingest`` of the same file then leaves exactly 600,000 calls, 600,000 distinct
calls and 600,000 sensitive rows. The moments are chosen by events (the first Parquet file
appears) and, in the long test, at random fractions of a measured run, from a fixed seed.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rightresponse as rr

CALLS = 600_000


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    from rightresponse.synthetic_cad import generate

    res = generate(CALLS, tmp_path_factory.mktemp("kill") / "calls.csv", seed=14)
    assert res.calls == CALLS and res.duplicates == 300
    return Path(res.path)


def start(export: Path, ws: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rightresponse.cli", "ingest", str(export), "--workspace", str(ws),
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(export: Path, ws: Path) -> dict:
    proc = start(export, ws)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return json.loads(out)


def visible(ws: Path) -> tuple[int, int, int]:
    """(calls, distinct calls, sensitive rows) as a reader of the workspace sees them."""
    def n(table, expr):
        try:
            t = rr.open_dataset(ws, table)
        except FileNotFoundError:
            return 0
        return int(expr(t).execute())

    return (n("calls", lambda t: t.count()), n("calls", lambda t: t.call_id.nunique()),
            n("sensitive", lambda t: t.count()))


def on_disk(ws: Path) -> int:
    """Parquet files anywhere in the workspace, staging included."""
    return sum(1 for _ in ws.rglob("*.parquet")) if ws.exists() else 0


def wait_for(proc: subprocess.Popen, ready, timeout: float = 300) -> None:
    t = time.monotonic()
    while not ready():
        assert proc.poll() is None, f"ingest ended before the moment came: {proc.stderr.read()}"
        assert time.monotonic() - t < timeout
        time.sleep(0.005)


def stop(proc: subprocess.Popen, sig: int) -> str:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return err


def assert_complete(export: Path, ws: Path) -> dict:
    """Re-run the ingest: it completes, and the workspace holds every call exactly once."""
    s = finish(export, ws)
    assert visible(ws) == (CALLS, CALLS, CALLS)
    m = json.loads((ws / "manifest.json").read_text())
    listed = {p for files in m["data"].values() for p in files}
    assert {p.relative_to(ws).as_posix() for p in ws.rglob("*.parquet")} == listed  # nothing left over
    assert not (ws / ".staging").exists()
    return s


def assert_interrupted_in_one_line(proc: subprocess.Popen, err: str) -> None:
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted: nothing from this run was stored"), err


@pytest.mark.slow
def test_kill_as_the_first_file_appears(export, tmp_path):
    """Issue 14, reproduction 4a: the re-run (and assess) died on a Parquet file too small to read."""
    ws = tmp_path / "ws"
    proc = start(export, ws)
    wait_for(proc, lambda: on_disk(ws) > 0)
    stop(proc, signal.SIGKILL)
    assert visible(ws) == (0, 0, 0)
    s = assert_complete(export, ws)
    assert (s["rows_read"], s["rows_loaded"], s["rows_duplicate"]) == (CALLS + 300, CALLS, 300)


@pytest.mark.slow
def test_ctrl_c_during_the_writes(export, tmp_path):
    """Issue 14, reproduction 4b: Ctrl-C during the writes left a run's files visible; the re-run
    counted 560,818 duplicates and the sensitive table kept part of the calls."""
    ws = tmp_path / "ws"
    proc = start(export, ws)
    wait_for(proc, lambda: on_disk(ws) > 0)
    err = stop(proc, signal.SIGINT)
    assert_interrupted_in_one_line(proc, err)
    assert visible(ws) == (0, 0, 0)
    s = assert_complete(export, ws)
    assert (s["rows_loaded"], s["rows_duplicate"]) == (CALLS, 300)


@pytest.mark.slow
def test_kill_after_the_calls_are_written(export, tmp_path):
    """Issue 14, reproduction 4c: killed once the calls were written, the re-run stored no calls
    and assess crashed on a half-written sensitive file."""
    ws = tmp_path / "ws"
    proc = start(export, ws)
    wait_for(proc, lambda: any(p.stat().st_size > 0 for p in ws.rglob("sensitive/**/*.parquet")))
    stop(proc, signal.SIGKILL)
    assess = subprocess.run([sys.executable, "-m", "rightresponse.cli", "assess", "--workspace", str(ws),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert assess.returncode == 2 and assess.stderr.startswith("error: ") and "no calls" in assess.stderr
    assert "Traceback" not in assess.stderr
    s = assert_complete(export, ws)
    assert s["rows_loaded"] == CALLS


@pytest.mark.slow
def test_twenty_kills_at_random_moments(export, tmp_path):
    """20 stops (SIGKILL and SIGINT in turn) at random moments of a run, a re-run after each.

    The moments are fractions of a measured uninterrupted run (seeded, so the same
    fractions every time); on a machine fast enough to finish first, the same stop is tried
    again earlier, so all 20 land while ingest works. Every fifth run goes into a workspace
    that already holds the calls (a re-ingest must not disturb them either)."""
    t0 = time.monotonic()
    assert_complete(export, tmp_path / "baseline")
    run_seconds = time.monotonic() - t0
    rnd = random.Random(14)
    kills = []
    ws = tmp_path / "ws"
    for k in range(20):
        sig = signal.SIGKILL if k % 2 == 0 else signal.SIGINT
        populated = k % 5 == 4
        if not populated and ws.exists():
            shutil.rmtree(ws)
        before = (CALLS, CALLS, CALLS) if populated else (0, 0, 0)
        assert visible(ws) == before
        delay = rnd.uniform(0.05, 0.95) * run_seconds
        while True:
            proc = start(export, ws)
            time.sleep(delay)
            if proc.poll() is None:
                break
            proc.communicate()
            assert proc.returncode == 0
            if not populated and ws.exists():
                shutil.rmtree(ws)
            delay /= 2  # finished first: the same stop, earlier
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        finished = proc.returncode == 0 or (proc.returncode == -sig and out.startswith('{"workspace"'))
        if sig == signal.SIGINT and not finished:  # finished: it was committing or exiting, and completed
            assert_interrupted_in_one_line(proc, err)
        seen = visible(ws)
        assert seen in (before, (CALLS, CALLS, CALLS)), (k, sig, seen)  # nothing or all of the run
        kills.append((sig.name, round(delay, 2), proc.returncode, seen[0]))
        s = assert_complete(export, ws)
        assert s["rows_loaded"] + s["rows_duplicate"] == CALLS + 300
    assert len(kills) == 20
    print(f"\n20 stops in {time.monotonic() - t0:.0f} s (uninterrupted run {run_seconds:.1f} s): "
          + "; ".join(f"{name} at {d} s -> exit {rc}, {n:,} calls visible" for name, d, rc, n in kills))


def _stage_workers() -> list[int]:
    """Ingest worker processes of this interpreter still alive (an orphan writes nobody knows where)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if cmd[:3] == [sys.executable.encode(), b"-m", b"rightresponse.ingest.stage"]:
            found.append(int(proc.name))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_stopping_a_parallel_ingest_stops_its_workers_and_commits_nothing(tmp_path, sig):
    """--jobs 2: the same contract; the workers die with the run (no orphan keeps writing)."""
    from rightresponse.synthetic_cad import generate

    if not sys.platform.startswith("linux"):
        pytest.skip("the workers die with their parent through a Linux prctl")
    parts = generate(200_000, tmp_path / "parts", seed=15, files=2, fmt="csv")
    ws = tmp_path / "ws"
    proc = subprocess.Popen([sys.executable, "-m", "rightresponse.cli", "ingest", str(tmp_path / "parts"),
                             "--workspace", str(ws), "--jobs", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for(proc, lambda: on_disk(ws) > 0)
    assert _stage_workers()
    err = stop(proc, sig)
    if sig == signal.SIGINT:
        assert_interrupted_in_one_line(proc, err)
    deadline = time.monotonic() + 30
    while _stage_workers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _stage_workers() == []
    assert visible(ws) == (0, 0, 0)
    proc = subprocess.run([sys.executable, "-m", "rightresponse.cli", "ingest", str(tmp_path / "parts"),
                           "--workspace", str(ws), "--jobs", "2", "--json"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    assert (s["rows_loaded"], s["rows_duplicate"]) == (parts.calls, parts.duplicates)
    assert visible(ws) == (parts.calls, parts.calls, parts.calls)


@pytest.mark.slow
def test_a_run_that_spills_to_disk_completes(export, tmp_path):
    """With little memory DuckDB spills into the run's staging folder, which must exist by then."""
    proc = subprocess.run([sys.executable, "-m", "rightresponse.cli", "ingest", str(export), "--workspace",
                           str(tmp_path / "ws"), "--memory-limit", "96MB", "--json"], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows_loaded"] == CALLS
    assert visible(tmp_path / "ws") == (CALLS, CALLS, CALLS)


def test_a_workspace_from_before_the_manifest_listed_its_files_is_adopted(tmp_path):
    """Workspaces written before this change have a manifest without file lists: their files
    stay readable, and the next ingest lists them."""
    from conftest import CFS, need

    weeks = [need(CFS / "decc_psap_2025" / f"week{w}.csv") for w in (35, 36)]
    ws = tmp_path / "ws"
    first = rr.ingest([weeks[0]], workspace=ws)
    m = json.loads((ws / "manifest.json").read_text())
    del m["data"]
    m["format"] = 1
    (ws / "manifest.json").write_text(json.dumps(m))
    assert visible(ws)[0] == first.calls_loaded
    second = rr.ingest(weeks, workspace=ws)  # week35 again (all duplicates) and week36
    assert second.files[0].rows_loaded == 0
    assert visible(ws)[0] == first.calls_loaded + second.files[1].calls_loaded
    m = json.loads((ws / "manifest.json").read_text())
    assert m["format"] == 2 and len(m["data"]["calls"]) == 2


def test_a_second_ingest_into_a_busy_workspace_is_refused_in_one_line(tmp_path):
    from conftest import CFS, need
    from rightresponse.ingest.workspace import Workspace

    ws = tmp_path / "ws"
    with Workspace(ws).lock():  # as an ingest running in another process holds it
        proc = subprocess.run([sys.executable, "-m", "rightresponse.cli", "ingest",
                               str(need(CFS / "decc_psap_2025" / "week35.csv")), "--workspace", str(ws)],
                              capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "another ingest is writing to this workspace" in proc.stderr
    assert visible(ws) == (0, 0, 0)
