"""The command-line contract, run as a user runs it: a real process, its stdout, stderr and exit code.

Scripts and schedulers parse ``--json``; people read the one-line errors. A traceback in
either place is a bug.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import CFS, need, run_cli, run_cli_process

NOLA = CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv"
FILE_KEYS = {"path", "adapter", "rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"}


def rr(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for n in needles:
        assert n in lines[0]


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """200 real records, three broken: what a typical export with a few bad rows looks like."""
    with open(need(NOLA), newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, recs = rows[0], [list(r) for r in rows[1:201]]
    recs[5][9] = "n/a?"  # TimeCreate
    recs[50][0] = ""  # NOPD_Item
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(recs)
    text = out.getvalue().splitlines(keepends=True)
    text[100] = text[100].replace(",", ",,", 1)  # record 100 gains a field
    text += text[1:4]  # the first three records again
    path = tmp_path_factory.mktemp("cli") / "damaged.csv"
    path.write_text("".join(text), encoding="utf-8")
    n = sum(1 for r in csv.reader(io.StringIO("".join(text))) if r) - 1  # independent count
    return path, n


def test_ingest_json_is_one_object_and_exit_zero_with_quarantined_rows(damaged, tmp_path):
    path, n = damaged
    assert n == 203
    proc = rr("ingest", str(path), "--workspace", str(tmp_path / "ws"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1
    doc = json.loads(proc.stdout)
    assert isinstance(doc, dict) and {"files", "rows_loaded", "rows_quarantined"} <= set(doc)
    (f,) = doc["files"]
    assert FILE_KEYS <= set(f)
    assert {k: f[k] for k in FILE_KEYS} == {
        "path": str(path), "adapter": "new_orleans",
        "rows_read": n, "rows_loaded": 197, "rows_quarantined": 3, "rows_duplicate": 3,
    }
    assert (doc["rows_loaded"], doc["rows_quarantined"]) == (197, 3)
    assert f["quarantine_reasons"] == {"unparseable_timestamp": 1, "missing_call_id": 1, "malformed_record": 1}

    # the table output names the quarantined rows by file, row and column (no values)
    proc = rr("ingest", str(path), "--workspace", str(tmp_path / "ws"))
    assert proc.returncode == 0
    assert "damaged.csv row 6, column TimeCreate: unparseable_timestamp" in proc.stdout
    assert "damaged.csv row 51, column NOPD_Item: missing_call_id" in proc.stdout
    assert "n/a?" not in proc.stdout


def test_missing_file_is_a_one_line_error(tmp_path):
    missing = tmp_path / "no_such_export.csv"
    proc = rr("ingest", str(missing), "--workspace", str(tmp_path / "ws"), "--json")
    assert_one_line_error(proc, str(missing), "no such file")
    assert not (tmp_path / "ws").exists()


def test_unknown_layout_is_a_one_line_error(tmp_path):
    p = tmp_path / "springfield.csv"
    p.write_text("event,when,what\nE1,2024-01-01 10:00:00,THEFT\n")
    proc = rr("ingest", str(p), "--workspace", str(tmp_path / "ws"), "--json")
    assert_one_line_error(proc, str(p), "unknown layout (columns: event, when, what)", "--adapter")


def test_empty_file_and_unknown_adapter_are_one_line_errors(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    assert_one_line_error(rr("ingest", str(p), "-w", str(tmp_path / "ws")), str(p), "empty")
    proc = rr("ingest", str(NOLA), "-w", str(tmp_path / "ws"), "--adapter", "atlantis")
    assert_one_line_error(proc, "unknown adapter 'atlantis'", "new_orleans")


def test_adapters_lists_the_builtin_adapters():
    proc = rr("adapters")
    assert proc.returncode == 0 and proc.stderr == ""
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("new_orleans "))
    assert "New Orleans" in line
    assert "detect: NOPD_Item, TypeText, InitialTypeText, TimeCreate, SelfInitiated" in proc.stdout
    listed = {a["name"] for a in json.loads(rr("adapters", "--json").stdout)}
    from rightresponse.ingest.adapter import builtin_adapters

    assert listed == set(builtin_adapters())


@pytest.mark.parametrize("args", [["--help"], ["ingest", "--help"]])
def test_help(args):
    proc = rr(*args)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("Usage: ")
    if "ingest" in args:
        assert "--workspace" in proc.stdout and "--adapter" in proc.stdout and "--json" in proc.stdout


@pytest.mark.slow
def test_smoke_installed_command_as_a_process(damaged, tmp_path):
    """The installed entry point, in a process of its own: the same JSON, the same one-line
    errors (the contract tests above run the CLI in-process)."""
    path, n = damaged
    exe = shutil.which("rightresponse")
    cmd = [exe] if exe else [sys.executable, "-m", "rightresponse.cli"]
    env = {**os.environ, "COLUMNS": "100"}
    proc = subprocess.run(cmd + ["ingest", str(path), "--workspace", str(tmp_path / "ws"), "--json"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows_loaded"] == 197
    assert_one_line_error(run_cli_process("ingest", str(tmp_path / "missing.csv"), "-w", str(tmp_path / "w2")),
                          "no such file")
