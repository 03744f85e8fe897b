"""The quarantine table: every rejected record with file, row, reason, column and its raw values.

An analyst fixes a source by reading it; a message that says where (file, record, column)
and what (the value, the formats tried) is the difference between a fix and a guess.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

import rightresponse as rr
from rightresponse.ingest.pipeline import quarantine_examples
from rightresponse.schema import QUARANTINE_FIELDS, QUARANTINE_REASONS, field_names

from conftest import CFS, need

NOLA = CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv"


def _line(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """40 real records, five of them broken in the ways exports break; ingested once."""
    with open(need(NOLA), newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, recs = rows[0], [list(r) for r in rows[1:41]]
    col = {h: i for i, h in enumerate(header)}
    raw = {}  # record number -> the raw values written
    recs[4][col["NOPD_Item"]] = ""
    recs[6][col["TimeCreate"]] = ""
    recs[8][col["TimeCreate"]] = "13/45/2016 10:00:00 AM"
    recs[10][col["TimeClosed"]] = "yesterday"
    lines = [_line(r) for r in recs]
    lines[2] = lines[2].replace(",", ",,", 1)  # an extra delimiter
    for i, r in enumerate(recs, 1):
        raw[i] = dict(zip(header, r))
    tmp = tmp_path_factory.mktemp("q")
    path = tmp / "bad.csv"
    path.write_text(_line(header) + "".join(lines), encoding="utf-8")
    ws = tmp / "ws"
    s = rr.ingest([path], workspace=ws)
    table = rr.open_dataset(ws, "quarantine")
    q = table.order_by("source_row").to_pyarrow().to_pylist()  # list of dicts, NULL stays None
    assert table.columns == tuple(field_names(QUARANTINE_FIELDS))
    return s, q, raw, lines, ws


def test_counts_and_reasons(bad):
    s, q, *_ = bad
    (f,) = s.files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (40, 35, 5, 0)
    assert f.quarantine_reasons == {
        "malformed_record": 1, "missing_call_id": 1, "missing_received": 1, "unparseable_timestamp": 2,
    }
    assert len(q) == 5 and {r["reason"] for r in q} <= set(QUARANTINE_REASONS)


def test_quarantine_columns(bad):
    _, q, *_ = bad
    assert list(q[0]) == field_names(QUARANTINE_FIELDS)
    assert {r["source_file"] for r in q} == {"bad.csv"}
    assert [r["source_row"] for r in q] == [3, 5, 7, 9, 11]


def test_each_row_names_reason_column_and_value(bad):
    _, q, *_ = bad
    got = [(r["source_row"], r["reason"], r["column_name"]) for r in q]
    assert got == [
        (3, "malformed_record", None),
        (5, "missing_call_id", "NOPD_Item"),
        (7, "missing_received", "TimeCreate"),
        (9, "unparseable_timestamp", "TimeCreate"),
        (11, "unparseable_timestamp", "TimeClosed"),
    ]
    msg = {r["source_row"]: r["message"] for r in q}
    assert msg[3] == "record 3: expected 22 fields, found 23"
    assert msg[5] == "column NOPD_Item is empty: no incident number"
    assert msg[7] == "column TimeCreate (received) is empty: no received time"
    formats = "%m/%d/%Y %I:%M:%S %p, %Y-%m-%dT%H:%M:%S.%g, %Y-%m-%d %H:%M:%S"
    assert msg[9] == f"column TimeCreate (received): '13/45/2016 10:00:00 AM' matches none of the formats {formats}"
    assert msg[11] == f"column TimeClosed (cleared): 'yesterday' matches none of the formats {formats}"
    for r in q:
        assert r["column_name"] is None or r["column_name"] in r["message"]


def test_record_json_round_trips_the_raw_values(bad):
    _, q, raw, lines, _ = bad
    for r in q:
        row, reason, value = r["source_row"], r["reason"], json.loads(r["record"])
        if reason == "malformed_record":  # could not be split into the header's columns: the fields as read
            assert value == next(csv.reader([lines[row - 1]]))
        else:
            # empty fields are stored as empty or null depending on the reader; the values are the same
            assert {k: v or "" for k, v in value.items()} == raw[row]


def test_loaded_rows_are_the_other_35(bad):
    s, q, raw, _, ws = bad
    calls = rr.open_dataset(ws).to_pyarrow().to_pylist()
    rejected = {r["source_row"] for r in q}
    assert sorted(c["source_row"] for c in calls) == sorted(set(range(1, 41)) - rejected)
    assert {c["call_id"] for c in calls} == {raw[i]["NOPD_Item"] for i in range(1, 41) if i not in rejected}


def test_quarantine_examples_give_location_never_the_record(bad):
    *_, ws = bad
    ex = quarantine_examples(ws, limit=3)
    assert ex == [
        {"file": "bad.csv", "row": 3, "reason": "malformed_record", "column": None},
        {"file": "bad.csv", "row": 5, "reason": "missing_call_id", "column": "NOPD_Item"},
        {"file": "bad.csv", "row": 7, "reason": "missing_received", "column": "TimeCreate"},
    ]
    assert len(quarantine_examples(ws, limit=50)) == 5


def test_no_quarantine_means_no_examples(tmp_path):
    assert quarantine_examples(tmp_path / "empty-ws") == []
    with pytest.raises(FileNotFoundError, match="no quarantine data"):
        rr.open_dataset(tmp_path / "empty-ws", "quarantine")
