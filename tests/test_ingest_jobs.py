"""ingest(..., jobs=N): files ingested by worker processes give what one at a time gives.

The hazard is a call repeated across files (rolling exports, re-sent weeks, unit-grain
snapshots): a sequential run keeps it from the earliest file, so the parallel run must
find it across the staged files and count it as a duplicate there too.
"""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys

import duckdb
import pytest

import rightresponse as rr
from rightresponse.ingest.pipeline import IngestError
from rightresponse.ingest.workspace import Workspace
from rightresponse.synthetic_cad import Dirt, generate

from conftest import CFS, need

COUNTS = ("path", "adapter", "rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate", "calls_loaded",
          "sha256", "quarantine_reasons")


def _counts(summary) -> list[tuple]:
    return [tuple(getattr(f, k) if k != "quarantine_reasons" else sorted(f.quarantine_reasons.items())
                  for k in COUNTS) for f in summary.files]


def _same_tables(ws_a, ws_b) -> dict[str, int]:
    """Rows per table, after checking both workspaces hold exactly the same rows."""
    con = duckdb.connect()
    out = {}
    for table in ("calls", "sensitive", "units", "quarantine"):
        if not Workspace(ws_a).has(table):
            assert not Workspace(ws_b).has(table), table
            continue
        q = [f"SELECT * FROM read_parquet('{ws}/{table}/**/*.parquet', hive_partitioning=true, union_by_name=true)"
             for ws in (ws_a, ws_b)]
        n = con.execute(f"SELECT count(*) FROM ({q[0]})").fetchone()[0]
        assert con.execute(f"SELECT count(*) FROM ({q[1]})").fetchone()[0] == n, table
        assert con.execute(f"SELECT count(*) FROM (({q[0]}) EXCEPT ALL ({q[1]}))").fetchone()[0] == 0, table
        out[table] = n
    con.close()
    return out


def _manifest(ws) -> list[tuple]:
    return [(f["path"], f["sha256"], f["rows_loaded"], f["rows_duplicate"], f["calls_loaded"])
            for f in Workspace(ws).manifest()["files"]]


@pytest.mark.slow
def test_real_files_with_repeats_ingest_the_same_with_two_jobs(tmp_path):
    decc = need(CFS / "decc_psap_2025")
    files = [str(need(CFS / "dallas")), *(str(decc / f"week{w}.csv") for w in (35, 36, 37)),
             str(decc / "week35.csv"),  # sent again: every call is already stored
             str(need(CFS / "baltimore" / "pdap_CFS_2018_converted.csv"))]
    one = rr.ingest(files, workspace=tmp_path / "one")
    two = rr.ingest(files, workspace=tmp_path / "two", jobs=2)
    assert _counts(two) == _counts(one)
    assert all(f.reconciles for f in two.files)
    # The repeated week adds nothing: each of its valid rows is a duplicate of the first copy.
    first, again = two.files[2], two.files[5]
    assert again.path.endswith("week35.csv") and again.sha256 == first.sha256
    assert (again.rows_loaded, again.calls_loaded) == (0, 0)
    assert again.rows_duplicate == first.rows_loaded + first.rows_duplicate
    # The second Dallas snapshot repeats calls of the first (one row per unit).
    assert two.files[1].path.endswith("sample2_2018-01-09.csv") and two.files[1].rows_duplicate > 0
    n = _same_tables(tmp_path / "one", tmp_path / "two")
    assert n["calls"] == one.calls_loaded == two.calls_loaded
    assert n["units"] == sum(f.rows_loaded for f in two.files if f.adapter == "dallas")
    assert _manifest(tmp_path / "two") == _manifest(tmp_path / "one")
    assert not (tmp_path / "two" / ".staging").exists()


@pytest.mark.slow
def test_calls_repeated_across_synthetic_parts_are_counted_once(tmp_path):
    src = tmp_path / "all.csv"
    res = generate(6_000, src, seed=5, dirt=Dirt(duplicate_rate=0.01))
    with open(src, newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    # Three overlapping windows, as rolling exports overlap: rows 0-2499, 2000-4499, 4000-end.
    parts = []
    for k, (a, b) in enumerate(((0, 2500), (2000, 4500), (4000, len(rows)))):
        p = tmp_path / f"part{k}.csv"
        with open(p, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows[a:b])
        parts.append(str(p))
    one = rr.ingest(parts, workspace=tmp_path / "one", adapter="new_orleans")
    two = rr.ingest(parts, workspace=tmp_path / "two", adapter="new_orleans", jobs=2)
    assert _counts(two) == _counts(one)
    # Independent count: a row is a duplicate when its incident number appeared in any earlier row.
    ids = [r[0] for r in rows[0:2500] + rows[2000:4500] + rows[4000:]]
    assert two.rows_quarantined == 0
    assert two.rows_loaded == len(set(ids)) == res.calls
    assert two.rows_duplicate == len(ids) - len(set(ids)) == 1000 + res.duplicates
    assert two.files[0].rows_duplicate == len(rows[0:2500]) - len({r[0] for r in rows[0:2500]})
    _same_tables(tmp_path / "one", tmp_path / "two")


@pytest.mark.slow
def test_a_failing_file_keeps_the_files_before_it_as_a_sequential_run_does(tmp_path):
    decc = need(CFS / "decc_psap_2025")
    bad = tmp_path / "week99.csv.gz"
    bad.write_bytes(gzip.compress((decc / "week36.csv").read_bytes())[:-5000])  # truncated gzip
    files = [str(decc / "week35.csv"), str(bad), str(decc / "week37.csv")]
    for jobs in (1, 2):
        ws = tmp_path / f"ws{jobs}"
        with pytest.raises(IngestError, match=r"week99\.csv\.gz"):
            rr.ingest(files, workspace=ws, jobs=jobs)
        assert [f["path"] for f in Workspace(ws).manifest()["files"]] == [files[0]]
    _same_tables(tmp_path / "ws1", tmp_path / "ws2")
    assert not (tmp_path / "ws2" / ".staging").exists()


@pytest.mark.slow
def test_cli_jobs_prints_the_same_json(tmp_path):
    decc = need(CFS / "decc_psap_2025")
    files = [str(decc / f"week{w}.csv") for w in (38, 39)]
    out = {}
    for jobs in ("1", "2"):
        p = subprocess.run([sys.executable, "-m", "rightresponse.cli", "ingest", *files, "--workspace",
                            str(tmp_path / jobs), "--jobs", jobs, "--json"], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        out[jobs] = json.loads(p.stdout)
        out[jobs].pop("workspace")
    assert out["2"] == out["1"]
    assert out["2"]["files"][0]["rows_read"] == out["2"]["files"][0]["rows_loaded"] + \
        out["2"]["files"][0]["rows_quarantined"] + out["2"]["files"][0]["rows_duplicate"]


def test_cli_rejects_zero_jobs_in_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-m", "rightresponse.cli", "ingest", "x.csv", "--jobs", "0"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "--jobs" in p.stderr
