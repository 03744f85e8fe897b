"""Re-ingesting is harmless and overlapping exports never double-count a call.

Cities publish rolling exports (last 90 days, year to date): the same call arrives in many
files. The workspace keeps one row per (agency, call_id), and every repeat is counted as a
duplicate so the per-file reconciliation still holds.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from zoneinfo import ZoneInfo

import duckdb
import pytest

import rightresponse as rr
from rightresponse.ingest.workspace import Workspace

from conftest import CFS, need

NOLA = CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv"
FMT = "%m/%d/%Y %I:%M:%S %p"
CHICAGO = ZoneInfo("America/Chicago")


def _read() -> tuple[list[str], list[list[str]]]:
    with open(need(NOLA), newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _write(path, header, rows) -> None:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8", newline="")


def _sql(ws, sql: str, *params):
    con = duckdb.connect()
    try:
        return con.execute(sql.replace("CALLS", f"read_parquet('{ws}/calls/*/*/*.parquet')")
                           .replace("QUARANTINE", f"read_parquet('{ws}/quarantine/*.parquet')"), list(params)).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_same_file_twice(tmp_path):
    header, rows = _read()
    rows = [list(r) for r in rows[:300]]
    rows[10][9] = "not a time"  # two records that are quarantined each time
    rows[20][0] = ""
    p = tmp_path / "calls.csv"
    _write(p, header, rows)
    ws = tmp_path / "ws"
    first = rr.ingest([p], workspace=ws).files[0]
    assert (first.rows_read, first.rows_loaded, first.rows_quarantined, first.rows_duplicate) == (300, 298, 2, 0)
    second = rr.ingest([p], workspace=ws).files[0]
    assert (second.rows_read, second.rows_loaded, second.rows_quarantined) == (300, 0, 2)
    assert second.rows_duplicate == first.rows_loaded == 298
    assert _sql(ws, "SELECT count(*), count(DISTINCT call_id) FROM CALLS") == [(298, 298)]
    assert _sql(ws, "SELECT count(*) FROM QUARANTINE") == [(2,)]  # replaced, not doubled
    entries = Workspace(ws).manifest()["files"]
    assert len(entries) == 1
    assert entries[0]["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert (entries[0]["rows_loaded"], entries[0]["rows_duplicate"]) == (0, 298)  # the latest run
    assert entries[0]["first_ingested_at"] <= entries[0]["ingested_at"]


@pytest.mark.parametrize("together", [False, True], ids=["two_runs", "one_run"])
def test_overlapping_exports_count_each_call_once(tmp_path, together):
    header, rows = _read()
    a, b = tmp_path / "jan_to_may.csv", tmp_path / "apr_to_jul.csv"
    _write(a, header, rows[:2000])  # records 1-2000
    _write(b, header, rows[1499:])  # records 1500-3213
    overlap = len({r[0] for r in rows[:2000]} & {r[0] for r in rows[1499:]})
    assert overlap == 501
    ws = tmp_path / "ws"
    if together:
        fa, fb = rr.ingest([a, b], workspace=ws).files
    else:
        fa = rr.ingest([a], workspace=ws).files[0]
        fb = rr.ingest([b], workspace=ws).files[0]
    assert (fa.rows_read, fa.rows_loaded, fa.rows_duplicate) == (2000, 2000, 0)
    assert (fb.rows_read, fb.rows_loaded, fb.rows_duplicate) == (1714, 1714 - overlap, overlap)
    assert _sql(ws, "SELECT count(*), count(DISTINCT call_id) FROM CALLS") == [(3213, 3213)]
    # each overlapping call keeps the lineage of the file that brought it first
    assert _sql(ws, "SELECT source_file, count(*) FROM CALLS GROUP BY 1 ORDER BY 1") == [
        ("apr_to_jul.csv", 1213), ("jan_to_may.csv", 2000)]
    assert len(Workspace(ws).manifest()["files"]) == 2


def _expected_issue(r: dict) -> str | None:
    """The time_issue rules of schema.TIME_ISSUES, computed in Python from the raw strings."""
    t = {k: dt.datetime.strptime(r[k], FMT).replace(tzinfo=CHICAGO) if r[k] else None
         for k in ("TimeCreate", "TimeDispatch", "TimeArrive", "TimeClosed")}
    rc, d, a, c = t["TimeCreate"], t["TimeDispatch"], t["TimeArrive"], t["TimeClosed"]

    def lt(x, y):
        return x is not None and y is not None and x < y

    issues = [name for name, hit in [
        ("dispatched_before_received", lt(d, rc)),
        ("arrived_before_dispatched", lt(a, d)),
        ("cleared_before_arrival", lt(c, a)),
        ("negative_duration", lt(c, rc) or lt(c, d)),
        ("over_24h", c is not None and c - rc > dt.timedelta(hours=24)),
    ] if hit]
    return ";".join(issues) or None


def test_impossible_durations_are_kept_flagged_and_unchanged(tmp_path):
    header, rows = _read()
    recs = [dict(zip(header, r)) for r in rows]
    # three real calls (dispatched and arrived) given impossible clearing times
    timed = [r for r in recs if r["TimeDispatch"] and r["TimeArrive"]]
    neg, early, long_ = timed[3], timed[100], timed[200]
    create = {id(r): dt.datetime.strptime(r["TimeCreate"], FMT) for r in (neg, early, long_)}
    neg["TimeClosed"] = (create[id(neg)] - dt.timedelta(hours=2)).strftime(FMT)
    arrive = dt.datetime.strptime(early["TimeArrive"], FMT)
    early["TimeClosed"] = (arrive - dt.timedelta(seconds=1)).strftime(FMT)
    long_["TimeClosed"] = (create[id(long_)] + dt.timedelta(hours=30)).strftime(FMT)
    p = tmp_path / "times.csv"
    _write(p, header, [[r[h] for h in header] for r in recs])
    ws = tmp_path / "ws"
    s = rr.ingest([p], workspace=ws)
    assert (s.rows_read, s.rows_loaded, s.rows_quarantined) == (3213, 3213, 0)  # kept, not quarantined

    got = dict(_sql(ws, "SELECT call_id, time_issue FROM CALLS"))
    expected = {r["NOPD_Item"]: _expected_issue(r) for r in recs}
    assert got == expected  # every call of the file, not only the three
    assert "negative_duration" in got[neg["NOPD_Item"]]
    assert "cleared_before_arrival" in got[early["NOPD_Item"]]
    assert got[long_["NOPD_Item"]] == "over_24h"

    # the timestamps are stored as given (as UTC instants), never "repaired"
    stored = {k: (rcv, clr) for k, rcv, clr in _sql(ws, "SELECT call_id, received, cleared FROM CALLS")}
    for r in (neg, early, long_):
        rcv, clr = stored[r["NOPD_Item"]]
        assert rcv == dt.datetime.strptime(r["TimeCreate"], FMT).replace(tzinfo=CHICAGO)
        assert clr == dt.datetime.strptime(r["TimeClosed"], FMT).replace(tzinfo=CHICAGO)
    assert stored[long_["NOPD_Item"]][1] - stored[long_["NOPD_Item"]][0] == dt.timedelta(hours=30)
