"""CLI contracts for staffing, simulate and scenario compare (in-process: conftest.run_cli)."""

from __future__ import annotations

import json
import math

import duckdb
import pytest
from conftest import run_cli


def rr(*args, check=True):
    proc = run_cli(*args)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _p_wait_at_most(lam, mu, c, t):
    """Independent Erlang C: P(W <= t) for M/M/c."""
    a = lam / mu
    top = a ** c / math.factorial(c) * c / (c - a)
    pc = top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)
    return 1 - pc * math.exp(-(c * mu - lam) * t)


def test_staffing_json_is_the_smallest_c_meeting_the_target():
    out = json.loads(rr("staffing", "--arrivals-per-hour", 4, "--minutes-per-call", 45, "--target-minutes", 10,
                        "--service-level", 0.9, "--json").stdout)
    assert set(out) == {"units", "service_level", "utilization", "mean_wait_minutes"}
    lam, mu, t = 4 / 60, 1 / 45, 10
    c = next(c for c in range(4, 50) if _p_wait_at_most(lam, mu, c, t) >= 0.9)
    assert out["units"] == c == 6
    assert out["service_level"] == __import__("pytest").approx(_p_wait_at_most(lam, mu, c, t), abs=1e-12)
    assert out["utilization"] == __import__("pytest").approx(lam / (c * mu))


def test_staffing_rejects_impossible_input_in_one_line():
    proc = rr("staffing", "--arrivals-per-hour", -1, "--minutes-per-call", 45, "--target-minutes", 10,
              "--service-level", 0.9, check=False)
    assert proc.returncode != 0 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_simulate_and_compare_on_the_bundled_sample(decc_ws, tmp_path):
    ws = decc_ws
    res = json.loads(rr("simulate", "decc-co-responder-pilot", "-r", 2, "-w", ws, "--json").stdout)
    # the pilot simulates the police calls from the public (officer-initiated activity left out)
    expected = duckdb.connect().execute(
        "SELECT count(*) FROM read_parquet(?, hive_partitioning=true) "
        "WHERE service = 'police' AND origin <> 'officer_initiated'", [str(ws / "calls" / "*" / "*" / "*.parquet")]
    ).fetchone()[0]
    assert res["totals"]["calls_simulated"]["mean"] == expected
    assert res["totals"]["patrol_hours_freed"]["low"] > 0
    cmp_dir = tmp_path / "cmp"
    proc = rr("scenario", "compare", "decc-status-quo", "decc-co-responder-pilot", "-r", 2, "-w", ws, "--out", cmp_dir)
    assert "<table" in (cmp_dir / "comparison.html").read_text()
    assert (cmp_dir / "comparison.csv").exists() and "comparison.html" in proc.stdout
    missing = rr("simulate", tmp_path / "nope.yaml", check=False)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
