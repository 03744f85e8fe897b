"""The synthetic generator: it must ingest exactly as it reports, and look like the samples it
was calibrated on. Figures are recomputed from the written file and the ingested workspace."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import duckdb
import numpy as np
import pytest

import rightresponse as rr
from rightresponse.synth import Dirt, generate, load_calibration

N = 30_000


@pytest.fixture(scope="module")
def synth_csv(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "nola_synth.csv"
    # Dirt rates raised so the exact counts are large enough to mean something at 30k calls.
    res = generate(N, out, seed=11, dirt=Dirt(duplicate_rate=2e-3, cleared_before_arrival_rate=1e-3,
                                               over_24h_rate=1e-3))
    return res


@pytest.fixture(scope="module")
def ingested(synth_csv, tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws") / "ws"
    summary = rr.ingest([synth_csv.path], workspace=ws)
    return summary, ws


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_dirt_counts_are_exact(synth_csv):
    assert synth_csv.calls == N
    assert synth_csv.duplicates == round(N * 2e-3) == 60
    assert synth_csv.cleared_before_arrival == round(N * 1e-3) == 30
    assert synth_csv.over_24h == 30
    assert synth_csv.rows == N + 60
    # The file holds exactly that many data records (independent count with DuckDB).
    rows = duckdb.connect().execute(f"select count(*) from read_csv('{synth_csv.path}', all_varchar=true)").fetchone()[0]
    assert rows == synth_csv.rows


def test_ingest_reconciles_with_what_was_written(synth_csv, ingested):
    summary, ws = ingested
    (f,) = summary.files
    assert f.adapter == "new_orleans"  # detected from the header, not forced
    assert f.rows_read == synth_csv.rows
    assert f.rows_loaded == N
    assert f.rows_duplicate == synth_csv.duplicates
    assert f.rows_quarantined == 0
    con = duckdb.connect()
    calls = f"read_parquet('{ws}/calls/**/*.parquet', hive_partitioning=true)"
    issues, oi = con.execute(
        f"select count(*) filter (where time_issue is not null), "
        f"count(*) filter (where origin = 'officer_initiated') from {calls}").fetchone()
    assert issues == synth_csv.time_issue_rows
    assert oi == synth_csv.officer_initiated
    over = con.execute(f"select count(*) from {calls} where time_issue like '%over_24h%'").fetchone()[0]
    assert over == synth_csv.over_24h


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = generate(2_000, tmp_path / "a.csv", seed=5)
    b = generate(2_000, tmp_path / "b.csv", seed=5)
    c = generate(2_000, tmp_path / "c.csv", seed=6)
    assert _sha(a.path) == _sha(b.path)
    assert _sha(a.path) != _sha(c.path)


def test_mix_and_cycles_follow_the_calibration(synth_csv):
    cal = load_calibration()
    con = duckdb.connect()
    src = f"read_csv('{synth_csv.path}', all_varchar=true)"
    # Call-type mix: the share of each of the five commonest types is within 1.5 points.
    by_type = dict(con.execute(f"select Type_, count(distinct NOPD_Item) from {src} group by 1").fetchall())
    top = sorted(cal["call_types"], key=lambda t: -t["share"])[:5]
    total_share = sum(t["share"] for t in cal["call_types"])
    for t in top:
        assert by_type.get(t["code"], 0) / N == pytest.approx(t["share"] / total_share, abs=0.015), t["code"]
    # Officer-initiated share matches the calibration's type-weighted expectation.
    expected_si = sum(t["share"] * t["officer_initiated"] for t in cal["call_types"]) / total_share
    si = con.execute(f"select count(distinct NOPD_Item) filter (where SelfInitiated = 'Y') from {src}").fetchone()[0]
    assert si / N == pytest.approx(expected_si, abs=0.01)
    # Hour-of-week cycle: strongly correlated with the calibrated profile (Monday 00:00 first).
    how = con.execute(
        f"""select (isodow(t) - 1) * 24 + hour(t) as h, count(*) from
            (select distinct NOPD_Item, strptime(TimeCreate, '%m/%d/%Y %I:%M:%S %p') as t from {src})
            group by 1 order by 1""").fetchall()
    counts = np.zeros(168)
    for h, n in how:
        counts[h] = n
    r = np.corrcoef(counts, np.asarray(cal["hour_of_week"], float))[0, 1]
    assert r > 0.8, r


def test_cli_writes_and_reports_json(tmp_path):
    out = tmp_path / "s.csv.gz"
    r = subprocess.run([sys.executable, "-m", "rightresponse.cli", "synth", "--calls", "1500", "--out", str(out),
                        "--seed", "2", "--clean", "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["calls"] == 1500 and res["duplicates"] == 0 and res["rows"] == 1500
    assert out.exists() and res["bytes"] == out.stat().st_size


def test_cli_rejects_unknown_extension_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "rightresponse.cli", "synth", "--calls", "10", "--out",
                        str(tmp_path / "x.txt")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and "x.txt" in r.stderr
    assert "Traceback" not in r.stderr
