"""San Luis Obispo: HH:MM times beside one date, a unit list with embedded CR/CRLF, narratives.

Counts are recomputed from the raw file with the csv module. No narrative or address is
printed or compared by value: only whether one is present.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import datetime, timezone

import pytest

from rightresponse import ingest, open_dataset
from rightresponse.ingest.adapter import detect_adapter
from rightresponse.ingest.pipeline import resolve_inputs
from rightresponse.ingest.readers import columns_of

from conftest import CFS, need, raw_duckdb

DIR = "san_luis_obispo"
FILE = "SLOPD_report_2022-03-15.csv"
UTC = timezone.utc


def _first_rows(raw):
    """First occurrence of each case number among the rows that are calls (type Test is not)."""
    out = {}
    for r in raw:
        if r["type"].strip() != "Test":
            out.setdefault(r["case_number"], r)
    return out


@pytest.fixture(scope="module")
def slo(tmp_path_factory):
    ws = tmp_path_factory.mktemp("slo") / "ws"
    summary = ingest([need(CFS / DIR / FILE)], workspace=ws)
    calls = {r["call_id"]: r for r in open_dataset(ws).to_pyarrow().to_pylist()}
    with open(CFS / DIR / FILE, newline="", encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    return ws, summary, calls, raw


def test_detected(slo, cfs):
    _, summary, _, _ = slo
    assert detect_adapter(columns_of(cfs / DIR / FILE)).name == "san_luis_obispo"
    assert [r[1].name for r in resolve_inputs([cfs / DIR])] == ["san_luis_obispo"]
    assert summary.files[0].adapter == "san_luis_obispo"


def test_counts_reconcile_with_an_independent_count(slo, cfs):
    _, summary, calls, raw = slo
    f = summary.files[0]
    first = _first_rows(raw)
    tests = [r for r in raw if r["type"].strip() == "Test"]
    assert f.rows_read == len(raw) == 20076
    assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
    assert f.quarantine_reasons == {"excluded_by_adapter": len(tests)} == {"excluded_by_adapter": 4}
    # the export repeats 1,013 case numbers; the first row of each is kept
    assert f.rows_duplicate == len(raw) - len(tests) - len(first) == 1013
    assert f.rows_loaded == len(calls) == len(first) == 19059
    assert raw_duckdb(
        f"SELECT count(*), count(DISTINCT case_number) FROM read_csv('{cfs / DIR / FILE}', all_varchar=true)"
    )[0] == (20076, 19063)
    assert set(calls) == set(first)


def test_arrivals_origin_units_and_outcome_match_the_raw_rows(slo):
    ws, _, calls, raw = slo
    first = _first_rows(raw)
    assert sum(c["arrived"] is not None for c in calls.values()) == sum(r["arrived"] != "" for r in first.values()) == 16204
    assert sum(c["dispatched"] is not None for c in calls.values()) == sum(r["dispatched"] != "" for r in first.values())
    assert all(c["cleared"] is None for c in calls.values())  # `cleared` is empty in the export
    # no origin column: only "Traffic Stop" implies officer-initiated, "9-1-1 ABANDON" a 911 call
    origin = Counter(c["origin"] for c in calls.values())
    assert origin["officer_initiated"] == sum(r["type"] == "Traffic Stop" for r in first.values()) == 60
    assert origin["911"] == sum(r["type"] == "9-1-1 ABANDON" for r in first.values())
    assert all(c["origin_raw"] is None for c in calls.values())
    # units: a comma list ending in a bare CR or CRLF
    for cid, r in first.items():
        units = [u for u in re.split(r"[,\r\n]", r["units"]) if u.strip()]
        assert calls[cid]["units_assigned"] == (len(units) if r["units"] else None), cid
    assert Counter(c["call_type"] for c in calls.values()) == Counter(r["type"] or None for r in first.values())
    assert Counter(c["disposition_raw"] for c in calls.values()) == Counter(r["clearance_code"] or None for r in first.values())
    assert Counter(c["outcome"] for c in calls.values())[None] == sum(r["clearance_code"] == "" for r in first.values())
    # narratives only in the sensitive table, one per call that has comments
    assert "narrative" not in next(iter(calls.values()))
    sens = open_dataset(ws, "sensitive").to_pyarrow().to_pylist()
    assert sum(s["narrative"] is not None for s in sens) == sum(r["call_comments"].strip() != "" for r in first.values())


def test_rows_normalize_exactly(slo):
    _, _, calls, _ = slo
    # 09/14/21 07:08, dispatched 07:12, arrived 07:23 PDT (UTC-7); units "4267,4265" + CRLF
    c = calls["210914012"]
    assert c["received"] == datetime(2021, 9, 14, 14, 8, tzinfo=UTC)
    assert c["received_local"] == datetime(2021, 9, 14, 7, 8)
    assert c["dispatched"] == datetime(2021, 9, 14, 14, 12, tzinfo=UTC)
    assert c["arrived"] == datetime(2021, 9, 14, 14, 23, tzinfo=UTC)
    assert (c["units_assigned"], c["call_type"], c["outcome"], c["priority_rank"]) == (2, "Suspicious", "no_action", None)
    assert (c["origin"], c["beat"], c["time_issue"]) == ("unknown", "PN9", None)
    # received 23:59 on 09/16/21, dispatched and arrived 00:08: the next day
    c = calls["210917001"]
    assert c["received_local"] == datetime(2021, 9, 16, 23, 59)
    assert c["received"] == datetime(2021, 9, 17, 6, 59, tzinfo=UTC)
    assert c["dispatched"] == c["arrived"] == datetime(2021, 9, 17, 7, 8, tzinfo=UTC)
    assert (c["outcome"], c["time_issue"], c["year"]) == ("unfounded", None, 2021)
    # winter (PST, UTC-8); 11:13 received but 08:20 dispatched: a recording error on the same
    # day, flagged, not a dispatch 21 hours later
    c = calls["220111017"]
    assert c["received"] == datetime(2022, 1, 11, 19, 13, tzinfo=UTC)
    assert c["dispatched"] == datetime(2022, 1, 11, 16, 20, tzinfo=UTC)
    assert c["arrived"] == datetime(2022, 1, 11, 16, 26, tzinfo=UTC)
    assert c["time_issue"] == "dispatched_before_received"
    # received 23:50, dispatched 09:09: more than 3 hours earlier, so the next morning
    c = calls["211024106"]
    assert c["dispatched"] - c["received"] == datetime(2021, 10, 25, 9, 9) - datetime(2021, 10, 24, 23, 50)
    # a revised clearance code on a repeated row does not replace the first one
    c = calls["211012016"]
    assert (c["disposition_raw"], c["outcome"], c["units_assigned"]) == ("Report To Follow", "report", 2)


def test_dst_fall_back_night(slo):
    """2021-11-07: received 01:57 (PDT), dispatched 01:59, arrived 01:05 of the repeated hour (PST).

    All three wall times are ambiguous and resolve to standard time; the arrival, 52 minutes
    "before" the reception on the wall clock, stays on that day and is flagged, instead of
    becoming a 23-hour response.
    """
    _, _, calls, _ = slo
    c = calls["211107013"]
    assert c["received"] == datetime(2021, 11, 7, 9, 57, tzinfo=UTC)
    assert c["dispatched"] == datetime(2021, 11, 7, 9, 59, tzinfo=UTC)
    assert c["arrived"] == datetime(2021, 11, 7, 9, 5, tzinfo=UTC)
    assert c["time_issue"] == "arrived_before_dispatched"
    # 00:24 is before the change: PDT (UTC-7)
    assert calls["211107001"]["received"] == datetime(2021, 11, 7, 7, 24, tzinfo=UTC)
    # 02:16 is after it: PST (UTC-8)
    assert calls["211107015"]["received"] == datetime(2021, 11, 7, 10, 16, tzinfo=UTC)
