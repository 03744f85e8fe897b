"""New Orleans (NOPD open-data layout) on the real subset, checked against the raw file."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timezone

import pytest

from rightresponse import ingest, open_dataset
from rightresponse.ingest.adapter import detect_adapter
from rightresponse.ingest.pipeline import resolve_inputs
from rightresponse.ingest.readers import columns_of

from conftest import CFS, need, raw_duckdb

DIR = "new_orleans"
FILE = "nola_cfs_2016_subset_from_diff.csv"
DICTIONARY = "NOPD_-_Data_dictionary_for_Calls_For_Service_Open_Data.xlsx"
UTC = timezone.utc


@pytest.fixture(scope="module")
def nola(tmp_path_factory):
    ws = tmp_path_factory.mktemp("nola") / "ws"
    summary = ingest([need(CFS / DIR)], workspace=ws)
    calls = {r["call_id"]: r for r in open_dataset(ws).to_pyarrow().to_pylist()}
    with open(CFS / DIR / FILE, newline="", encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    return ws, summary, calls, raw


def test_detected_and_the_dictionary_is_not_a_call_file(nola, cfs):
    _, summary, _, _ = nola
    assert detect_adapter(columns_of(cfs / DIR / FILE)).name == "new_orleans"
    # the data dictionary beside the calls matches no adapter: skipped, not ingested
    assert detect_adapter(columns_of(cfs / DIR / DICTIONARY)) is None
    assert [(r[0].name, r[1].name) for r in resolve_inputs([cfs / DIR])] == [(FILE, "new_orleans")]
    assert len(summary.files) == 1 and summary.files[0].adapter == "new_orleans"
    assert [s.split(":")[0].rsplit("/", 1)[-1] for s in summary.skipped] == [DICTIONARY]


def test_mixed_line_endings_take_the_exact_reader_and_reconcile(nola, cfs):
    _, summary, calls, raw = nola
    data = (cfs / DIR / FILE).read_bytes()
    # the rebuilt header ends in LF, every data record in CRLF
    assert data.count(b"\r\n") == 3213 and data.count(b"\n") == 3214
    f = summary.files[0]
    assert f.reader == "python"
    assert f.rows_read == len(raw) == 3213
    assert (f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (3213, 0, 0)
    assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
    # DuckDB's strict scanner rejects the mixed newlines; its lenient mode agrees on the count
    assert len(calls) == len({r["NOPD_Item"] for r in raw}) == raw_duckdb(
        f"SELECT count(DISTINCT NOPD_Item) FROM read_csv('{cfs / DIR / FILE}', all_varchar=true, strict_mode=false)")[0][0]


def test_arrivals_origin_priority_and_outcome_match_the_raw_rows(nola):
    _, _, calls, raw = nola
    assert sum(c["arrived"] is not None for c in calls.values()) == sum(r["TimeArrive"] != "" for r in raw) == 2576
    assert sum(c["dispatched"] is not None for c in calls.values()) == sum(r["TimeDispatch"] != "" for r in raw)
    officer = Counter(c["origin"] for c in calls.values())
    assert officer == {"officer_initiated": sum(r["SelfInitiated"] == "Y" for r in raw), "unknown": 2244}
    assert officer["officer_initiated"] == 969
    # data dictionary: 3 is the highest level (officer needs assistance), 0 the lowest
    for r in raw:
        assert calls[r["NOPD_Item"]]["priority_rank"] == 4 - int(r["Priority"][0]), r["NOPD_Item"]
    assert Counter(c["priority_rank"] for c in calls.values()) == {1: 1, 2: 718, 3: 2252, 4: 242}
    # every disposition code in the file maps to a real outcome class (none falls to "other")
    codes = Counter(r["Disposition"] for r in raw)
    assert set(codes) == {"NAT", "RTF", "GOA", "VOI", "DUP", "UNF"}
    assert Counter(c["outcome"] for c in calls.values()) == {
        "no_action": codes["NAT"], "report": codes["RTF"],
        "unfounded": codes["GOA"] + codes["UNF"], "cancelled": codes["VOI"] + codes["DUP"],
    }
    assert Counter(c["disposition_raw"] for c in calls.values()) == Counter(r["DispositionText"] for r in raw)


def test_rows_normalize_exactly(nola):
    ws, _, calls, _ = nola
    # self-initiated traffic incident, 04/07/2016 09:09:00 PM CDT (UTC-5)
    c = calls["D0807116"]
    assert c["received"] == datetime(2016, 4, 8, 2, 9, 0, tzinfo=UTC)
    assert c["received_local"] == datetime(2016, 4, 7, 21, 9, 0)
    assert c["dispatched"] == datetime(2016, 4, 8, 2, 14, 54, tzinfo=UTC)
    assert c["arrived"] == datetime(2016, 4, 8, 2, 9, 0, tzinfo=UTC)
    assert c["cleared"] == datetime(2016, 4, 8, 2, 19, 31, tzinfo=UTC)
    assert (c["priority_raw"], c["priority_rank"], c["origin"], c["outcome"]) == ("1H", 3, "officer_initiated", "no_action")
    # the officer was on scene before the item was dispatched: kept, flagged
    assert c["time_issue"] == "arrived_before_dispatched"
    assert (c["call_type_code"], c["call_type"], c["district"], c["beat"]) == ("18", "TRAFFIC INCIDENT", "2", "2M03")
    # the only priority 3 (highest) call
    c = calls["G0828116"]
    assert (c["priority_raw"], c["priority_rank"], c["outcome"], c["disposition_raw"]) == ("3A", 1, "unfounded", "UNFOUNDED")
    assert c["call_type"] == "OFFICER NEEDS ASSISTANCE, LIFE IN DANGER"
    assert c["received"] == datetime(2016, 7, 8, 0, 22, 33, tzinfo=UTC)
    # a resident's call, gone on arrival
    c = calls["G0003816"]
    assert c["received"] == datetime(2016, 7, 1, 5, 40, 54, tzinfo=UTC)
    assert c["cleared"] == datetime(2016, 7, 1, 6, 0, 57, tzinfo=UTC)
    assert (c["priority_rank"], c["origin"], c["outcome"]) == (2, "unknown", "unfounded")
    # winter (CST, UTC-6); closed at 01:09:55, 50 minutes before the 2016-03-13 spring-forward
    c = calls["C1467816"]
    assert c["received"] == datetime(2016, 3, 13, 6, 47, 55, tzinfo=UTC)
    assert c["cleared"] == datetime(2016, 3, 13, 7, 9, 55, tzinfo=UTC)
    # ... and an afternoon call that day is already CDT (UTC-5)
    assert calls["C1522316"]["received"] == datetime(2016, 3, 13, 19, 55, 32, tzinfo=UTC)
    # block address and coordinates only in the sensitive table
    assert "location" not in c and "latitude" not in c
    sens = {s["call_id"]: s for s in open_dataset(ws, "sensitive").to_pyarrow().to_pylist()}
    assert len(sens) == len(calls)
    assert sens["D0807116"]["latitude"] == pytest.approx(29.94441639)
    assert sens["D0807116"]["longitude"] == pytest.approx(-90.11338583)
