"""Shared test fixtures: the real CAD samples in ../shared/data and fresh workspaces."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RIGHTRESPONSE_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
CFS = DATA / "cfs"


REQUIRE_REAL = os.environ.get("RIGHTRESPONSE_REQUIRE_REAL") == "1"


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true",
                     help="rewrite tests/golden/ from the compiler's current SQL (test_compiler_golden.py)")


def pytest_configure(config):
    """The shipped call-type model is built once into this cache (pytest's own, so tests never
    write to the user's home) and loaded by every test and every CLI subprocess after that."""
    if "RIGHTRESPONSE_CACHE_DIR" not in os.environ:
        cache = getattr(config, "cache", None)
        os.environ["RIGHTRESPONSE_CACHE_DIR"] = str(cache.mkdir("rightresponse") if cache else REPO / ".pytest_cache")


def pytest_collection_modifyitems(config, items):
    """Spark, Chromium and PostgreSQL tests start a JVM, a browser or a server: slow as well,
    so ``pytest -m "not slow"`` leaves them out without each saying so twice."""
    for item in items:
        if any(item.get_closest_marker(m) for m in ("spark", "browser", "postgres")):
            item.add_marker(pytest.mark.slow)


def run_cli(*args, cwd=None, env=None, input=None, timeout=None) -> subprocess.CompletedProcess:
    """``rightresponse ARGS`` in this process (click's CliRunner), as a CompletedProcess: the
    contract tests (arguments, output, exit codes, one-line errors) run in milliseconds
    instead of an interpreter start each. An exception the CLI did not turn into an exit
    code is raised here, with its traceback (a user would have seen one). ``timeout`` is
    accepted for the subprocess helpers' sake and ignored: nothing here waits on a process.
    Tests that stop a run (signals, kills) and the smoke tests use :func:`run_cli_process`."""
    from click.testing import CliRunner

    from rightresponse.cli import main

    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        res = CliRunner().invoke(main, [str(a) for a in args], env={"COLUMNS": "100", **(env or {})},
                                 input=input, catch_exceptions=True)
    finally:
        os.chdir(here)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return subprocess.CompletedProcess(["rightresponse", *map(str, args)], res.exit_code, res.stdout, res.stderr)


def run_cli_process(*args, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    """``rightresponse ARGS`` in a process of its own, as a user runs it."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "100", **(env or {})}
    return subprocess.run([sys.executable, "-m", "rightresponse.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=env)


def skip_or_fail(reason: str):
    """Skip when a real component is absent, except in CI (.ci/run sets
    RIGHTRESPONSE_REQUIRE_REAL=1), where a silently skipped browser or database test
    would make a green run meaningless."""
    if REQUIRE_REAL:
        pytest.fail(f"{reason} (RIGHTRESPONSE_REQUIRE_REAL=1: required here)", pytrace=False)
    pytest.skip(reason)


def need(path: Path) -> Path:
    # The shared samples sit beside the repository, not in it: a clone without them still
    # runs every other test (the bundled DECC sample covers the main job).
    if not path.exists():
        pytest.skip(f"real sample {path} not available (set RIGHTRESPONSE_SHARED)")
    return path


@pytest.fixture
def cfs() -> Path:
    return need(CFS)


@pytest.fixture
def workspace(tmp_path) -> Path:
    return tmp_path / "ws"


def raw_duckdb(sql: str, *params):
    """Independent computation straight from the raw files, for cross-checks in tests."""
    con = duckdb.connect()
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


# Independent readings of New Orleans timestamps ("%m/%d/%Y %I:%M:%S %p", America/Chicago,
# the later instant of a repeated DST hour, as the adapter documents), for cross-checks.
CHICAGO = ZoneInfo("America/Chicago")


def nola_local(text: str):
    text = (text or "").strip()
    return datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p") if text else None


def nola_instant(local):
    return None if local is None else local.replace(tzinfo=CHICAGO, fold=1).astimezone(timezone.utc)


@pytest.fixture(scope="module")
def decc_ws(tmp_path_factory):
    """A workspace of the bundled real sample (DECC, 14 weekly exports), once per test module."""
    import rightresponse as rr
    from rightresponse.samples import sample_paths

    ws = tmp_path_factory.mktemp("decc") / "ws"
    rr.ingest([str(p) for p in sample_paths()], workspace=ws)
    return ws


@pytest.fixture(scope="module")
def small_ws(tmp_path_factory):
    """A workspace of 3,000 synthetic New Orleans calls, for engine tests that need any data."""
    import rightresponse as rr
    from rightresponse.synthetic_cad import generate

    root = tmp_path_factory.mktemp("small")
    res = generate(3_000, root / "nola.parquet", seed=4)
    rr.ingest([res.path], workspace=root / "ws")
    return root / "ws"
