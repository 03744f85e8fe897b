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
from rightresponse.synthetic_cad import Dirt, generate, load_calibration

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


# ---------------------------------------------------------------- part files (generated in chunks)

PARTS_N = 20_000
# Many duplicates, so that some copies fall in the file after their original (3 at this seed).
PARTS_DIRT = Dirt(duplicate_rate=0.1, cleared_before_arrival_rate=1e-3, over_24h_rate=1e-3)


@pytest.fixture(scope="module")
def parts_and_single(tmp_path_factory):
    root = tmp_path_factory.mktemp("parts")
    # chunk_rows (part of the arguments: it orders the random draws) does not divide the part
    # size, so chunks straddle part boundaries.
    single = generate(PARTS_N, root / "one.parquet", seed=3, dirt=PARTS_DIRT, chunk_rows=7_000)
    parts = generate(PARTS_N, root / "parts", seed=3, dirt=PARTS_DIRT, files=4, chunk_rows=7_000)
    return single, parts


def test_csv_parts_concatenate_to_the_single_file(tmp_path):
    one = generate(PARTS_N, tmp_path / "one.csv", seed=3, dirt=PARTS_DIRT, chunk_rows=7_000)
    res = generate(PARTS_N, tmp_path / "parts", seed=3, dirt=PARTS_DIRT, files=4, fmt="csv", chunk_rows=7_000)
    header, body = open(one.path, "rb").read().split(b"\n", 1)
    bodies = []
    for i, p in enumerate(res.parts):
        assert p["path"] == str(tmp_path / "parts" / f"part-{i:05d}.csv")
        h, b = open(p["path"], "rb").read().split(b"\n", 1)
        assert h == header
        assert b.count(b"\n") == p["rows"]
        bodies.append(b)
    assert b"".join(bodies) == body
    assert sorted(x.name for x in (tmp_path / "parts").iterdir()) == [f"part-{i:05d}.csv" for i in range(4)]
    assert [p["calls"] for p in res.parts] == [5_000] * 4
    assert sum(p["rows"] for p in res.parts) == res.rows == one.rows == PARTS_N + 2_000
    assert res.bytes == sum(p["bytes"] for p in res.parts)
    same = ("calls", "rows", "duplicates", "cleared_before_arrival", "over_24h", "dst_fold", "time_issue_rows",
            "officer_initiated", "first_received", "last_received")
    assert {k: getattr(res, k) for k in same} == {k: getattr(one, k) for k in same}


@pytest.mark.slow
def test_multi_part_output_ingests_like_the_single_file(parts_and_single, tmp_path):
    single, parts = parts_and_single
    con = duckdb.connect()
    files = [p["path"] for p in parts.parts]
    # Independent of the generator's bookkeeping: the rows of each part, and the copies whose
    # original is in an earlier part (the duplicates that cross files).
    rows = con.execute(f"select filename, count(*) from read_parquet({files!r}, filename=true) group by 1").fetchall()
    assert dict(rows) == {p["path"]: p["rows"] for p in parts.parts}
    cross = con.execute(f"""select count(*) from (select NOPD_Item, count(distinct filename) as n
                            from read_parquet({files!r}, filename=true) group by 1) where n > 1""").fetchone()[0]
    assert cross == 3

    s_one = rr.ingest([single.path], workspace=tmp_path / "ws1")
    s_parts = rr.ingest(parts.path, workspace=tmp_path / "ws2")
    assert [f.path for f in s_parts.files] == files
    assert [f.rows_read for f in s_parts.files] == [p["rows"] for p in parts.parts]
    assert s_parts.rows_read == parts.rows == s_one.rows_read
    assert [f.rows_loaded for f in s_parts.files] == [p["calls"] for p in parts.parts]
    assert s_parts.rows_loaded == s_one.rows_loaded == PARTS_N
    # every copy counted once, in the file where it appears, cross-file ones included
    assert s_parts.rows_duplicate == s_one.rows_duplicate == parts.duplicates == 2_000
    assert s_parts.rows_quarantined == 0
    assert all(f.reconciles for f in s_parts.files)
    q = """select count(*), count(*) filter (where time_issue is not null),
                  count(*) filter (where origin = 'officer_initiated'), count(distinct call_id)
           from read_parquet('{}/calls/**/*.parquet', hive_partitioning=true)"""
    got = con.execute(q.format(tmp_path / "ws2")).fetchone()
    assert got == con.execute(q.format(tmp_path / "ws1")).fetchone()
    assert got == (PARTS_N, parts.time_issue_rows, parts.officer_initiated, PARTS_N)
    # the same with the files ingested two at a time
    s_jobs = rr.ingest(parts.path, workspace=tmp_path / "ws3", jobs=2)
    assert [(f.rows_read, f.rows_loaded, f.rows_duplicate) for f in s_jobs.files] == \
        [(f.rows_read, f.rows_loaded, f.rows_duplicate) for f in s_parts.files]
    assert con.execute(q.format(tmp_path / "ws3")).fetchone() == got


def test_parts_are_deterministic_and_split_by_file_calls(tmp_path):
    a = generate(5_000, tmp_path / "a", seed=5, file_calls=2_000, chunk_rows=1_500)
    b = generate(5_000, tmp_path / "b", seed=5, file_calls=2_000, chunk_rows=1_500)
    c = generate(5_000, tmp_path / "c", seed=6, file_calls=2_000, chunk_rows=1_500)
    assert [p["calls"] for p in a.parts] == [2_000, 2_000, 1_000]
    assert [_sha(p["path"]) for p in a.parts] == [_sha(p["path"]) for p in b.parts]
    assert all(_sha(p["path"]) != _sha(q["path"]) for p, q in zip(a.parts, c.parts))


def test_parts_refuse_a_non_empty_directory_and_bad_counts(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "old.csv").write_text("x\n")
    with pytest.raises(ValueError, match="new or empty directory"):
        generate(100, tmp_path / "d", files=2)
    with pytest.raises(ValueError, match="not both"):
        generate(100, tmp_path / "e", files=2, file_calls=50)
    with pytest.raises(ValueError, match="between 1 and"):
        generate(100, tmp_path / "e", files=101)
    with pytest.raises(ValueError, match="format must be one of"):
        generate(100, tmp_path / "e", files=2, fmt="xlsx")
    assert not (tmp_path / "e").exists()


@pytest.mark.slow
def test_cli_writes_part_files(tmp_path):
    out = tmp_path / "parts"
    r = subprocess.run([sys.executable, "-m", "rightresponse.cli", "synth", "--calls", "3000", "--out", str(out),
                        "--files", "3", "--format", "csv.gz", "--seed", "2", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert [p["path"] for p in res["parts"]] == [str(out / f"part-{i:05d}.csv.gz") for i in range(3)]
    assert sum(p["rows"] for p in res["parts"]) == res["rows"] == 3000 + res["duplicates"]
    rows = duckdb.connect().execute(f"select count(*) from read_csv('{out}/*.csv.gz', all_varchar=true)").fetchone()[0]
    assert rows == res["rows"]
    r = subprocess.run([sys.executable, "-m", "rightresponse.cli", "synth", "--calls", "10", "--out",
                        str(tmp_path / "x"), "--format", "csv"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr == "error: --format is for part files: add --files or --file-calls\n"
