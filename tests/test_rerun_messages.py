"""Re-runs and failures speak plainly: a second ingest says there was nothing new (and how
many calls the workspace holds), the report's file table tells this run from earlier ones,
`assess PATHS` that stores nothing says why for each file, and a forced adapter that finds
no column for the call id is an error. Real CLI processes on real exports.
"""

from __future__ import annotations

import csv
import re
import subprocess
from html import unescape

import pytest

from conftest import CFS, need, raw_duckdb, run_cli

WEEK = CFS / "decc_psap_2025" / "week38.csv"
NOLA = CFS / "new_orleans"


def rr(*args, timeout=600) -> subprocess.CompletedProcess:
    return run_cli(*args)


def _held(ws) -> int:
    return raw_duckdb(f"SELECT count(*) FROM read_parquet('{ws}/calls/*/*/*.parquet', hive_partitioning=true)")[0][0]


@pytest.mark.slow
def test_second_ingest_says_nothing_new_and_the_report_tells_the_runs_apart(tmp_path):
    week = need(WEEK)
    ws = tmp_path / "ws"
    first = rr("ingest", week, "--workspace", ws)
    assert first.returncode == 0, first.stderr
    held = _held(ws)
    assert f"{held:,} calls stored in {ws}" in first.stdout
    again = rr("ingest", week, "--workspace", ws)
    assert again.returncode == 0 and f"nothing new: {held:,} calls already in the workspace {ws}" in again.stdout
    assert "0 calls stored" not in again.stdout
    assert _held(ws) == held  # and nothing was added
    # assess the same file into the same workspace: the file table separates this run's reading
    # (all duplicates) from the calls the workspace holds from it (stored by the first run)
    proc = rr("assess", week, "--workspace", ws, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr[-2000:]
    html = unescape(re.sub(r"<[^>]+>", " ", (tmp_path / "out" / "report.html").read_text(encoding="utf-8")))
    assert "Files read in this run" in html
    assert "1 of them had been loaded before" in html and "nothing new was stored from them" in html
    files = list(csv.DictReader(open(tmp_path / "out" / "tables" / "files.csv", encoding="utf-8")))
    assert len(files) == 1
    f = files[0]
    assert (f["this_run"], f["rows_loaded"], int(f["calls_held"])) == ("True", "0", held)
    assert int(f["rows_duplicate"]) == held and f["first_ingested"]
    # without PATHs, nothing was read in this run: the files are the workspace's
    proc = rr("assess", "--workspace", ws, "--out", tmp_path / "out2")
    html = (tmp_path / "out2" / "report.html").read_text(encoding="utf-8")
    assert "Files in the workspace" in html and "Files read in this run" not in html


def test_assess_paths_that_load_nothing_say_why_per_file(tmp_path):
    src = need(NOLA / "nola_cfs_2016_subset_from_diff.csv")
    with open(src, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:4]
    item = header.index("NOPD_Item")
    bad = tmp_path / "no_ids.csv"
    with open(bad, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in body:
            r = list(r)
            r[item] = ""  # no incident number: every row is quarantined
            w.writerow(r)
    proc = rr("assess", bad, "--out", tmp_path / "out")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    msg = proc.stderr.strip()
    assert msg.count("\n") == 0 and msg.startswith("error: no call was loaded: ")
    assert "no_ids.csv: every row quarantined (missing_call_id: 3; adapter new_orleans)" in msg
    assert "ingest exports first or pass PATHs" not in msg


@pytest.mark.parametrize("target", ["folder", "file"])
def test_a_forced_adapter_that_fits_no_column_is_an_error(target, tmp_path):
    path = need(NOLA) if target == "folder" else need(NOLA / "nola_cfs_2016_subset_from_diff.csv")
    proc = rr("ingest", "--adapter", "san_diego", path, "--workspace", tmp_path / "ws")
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    line = proc.stderr.strip()
    assert line.count("\n") == 0 and "incident_num" in line
    assert ("fits adapter san_diego" if target == "folder" else "adapter san_diego does not fit this file") in line
    assert not (tmp_path / "ws" / "calls").exists()
