"""Seattle's two layouts ("Call Data" and the older "911 Incident Response") on the real samples."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timezone

import pytest

from rightresponse import ingest, open_dataset
from rightresponse.ingest.adapter import builtin_adapters, detect_adapter
from rightresponse.ingest.readers import columns_of

from conftest import CFS, need

CALL_DATA = ("db_call_data_2010-2023.csv", "db_call_data_2018-2023.csv")
INCIDENT = "Seattle_Police_Department_911_Incident_Response_CSSS508.csv"
UTC = timezone.utc


def _raw(name):
    """The raw records, read independently of the package (csv module, BOM stripped)."""
    with open(CFS / "seattle" / name, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def seattle(tmp_path_factory):
    """All three Seattle files ingested once, as a folder (the adapters are detected)."""
    ws = tmp_path_factory.mktemp("seattle") / "ws"
    summary = ingest([need(CFS / "seattle")], workspace=ws)
    return ws, {f.path.rsplit("/", 1)[-1]: f for f in summary.files}


def _calls(ws, table="calls"):
    return open_dataset(ws, table).to_pyarrow().to_pylist()


def _one(ws, call_id):
    rows = [r for r in _calls(ws) if r["call_id"] == call_id]
    assert len(rows) == 1
    return rows[0]


def test_each_file_gets_its_layout_adapter(seattle, cfs):
    _, files = seattle
    for name in CALL_DATA:
        assert detect_adapter(columns_of(cfs / "seattle" / name)).name == "seattle_call_data"
        assert files[name].adapter == "seattle_call_data"
    assert detect_adapter(columns_of(cfs / "seattle" / INCIDENT)).name == "seattle_911_incident"
    assert files[INCIDENT].adapter == "seattle_911_incident"
    # the BOM file's first column is found by name
    assert columns_of(cfs / "seattle" / CALL_DATA[0])[0] == "CAD Event Number"


def test_call_data_counts_match_the_raw_files(seattle):
    ws, files = seattle
    calls = _calls(ws)
    for name in CALL_DATA:
        raw = _raw(name)
        f = files[name]
        assert f.rows_read == len(raw)
        assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
        assert (f.rows_loaded, f.rows_quarantined) == (len(raw), 0)
        mine = [c for c in calls if c["source_file"] == name]
        assert len(mine) == len(raw)
        assert sum(c["arrived"] is not None for c in mine) == sum(bool(r["Arrived Time"].strip()) for r in raw)
        assert sum(c["origin"] == "officer_initiated" for c in mine) == sum(r["Call Type"] == "ONVIEW" for r in raw)
        # every Call Type value present maps to a real origin, never 'unknown'
        assert all(c["origin"] != "unknown" for c in mine)
        assert Counter(c["priority_rank"] for c in mine) == Counter(int(r["Priority"]) for r in raw)


def test_origin_map_covers_every_value_present(seattle):
    ws, _ = seattle
    expected = {
        "911": "911",
        "ONVIEW": "officer_initiated",
        "TELEPHONE OTHER, NOT 911": "non_emergency_phone",
        "ALARM CALL (NOT POLICE ALARM)": "alarm",
    }
    raw_values = {r["Call Type"] for name in CALL_DATA for r in _raw(name)}
    assert raw_values == set(expected)
    seen = {(c["origin_raw"], c["origin"]) for c in _calls(ws) if c["source_file"] in CALL_DATA}
    assert seen == set(expected.items())
    # Every clearance present is mapped explicitly, not left to the default.
    mapped = builtin_adapters()["seattle_call_data"].disposition.map
    clearances = {r["Event Clearance Description"] for name in CALL_DATA for r in _raw(name)}
    assert {v.upper() for v in clearances} <= set(mapped)
    outcomes = Counter(c["outcome"] for c in _calls(ws) if c["source_file"] in CALL_DATA)
    raw = Counter(r["Event Clearance Description"] for name in CALL_DATA for r in _raw(name))
    assert outcomes["arrest"] == raw["PHYSICAL ARREST MADE"] == 10
    assert outcomes["unfounded"] == raw["UNABLE TO LOCATE INCIDENT OR COMPLAINANT"] + raw["FALSE COMPLAINT/UNFOUNDED"]


def test_overlapping_exports_are_counted_once(seattle, tmp_path):
    """The 2010-2023 and 2018-2023 exports may share CAD Event Numbers: each call is stored once."""
    ws, files = seattle
    a = {r["CAD Event Number"] for r in _raw(CALL_DATA[0])}
    b = {r["CAD Event Number"] for r in _raw(CALL_DATA[1])}
    overlap = len(a & b)  # folders ingest in name order, so the 2018-2023 file comes second
    assert files[CALL_DATA[1]].rows_duplicate == overlap
    stored = [c["call_id"] for c in _calls(ws) if c["source_file"] in CALL_DATA]
    assert len(stored) == len(set(stored)) == len(a | b)
    # The same export again is nothing but duplicates.
    again = ingest([CFS / "seattle" / CALL_DATA[1]], workspace=ws)
    assert (again.rows_loaded, again.rows_duplicate) == (0, len(b))


def test_call_data_rows_normalize_exactly(seattle):
    ws, _ = seattle
    # Summer 2011 (PDT, UTC-7), officer-initiated: queued = arrived.
    r = _one(ws, "2011000272829")
    assert r["received"] == datetime(2011, 8, 20, 4, 16, 27, tzinfo=UTC)
    assert r["received_local"] == datetime(2011, 8, 19, 21, 16, 27)
    assert r["arrived"] == r["received"]
    assert (r["priority_rank"], r["origin"], r["outcome"]) == (7, "officer_initiated", "no_action")
    assert r["call_type"] == "--SUSPICIOUS CIRCUM. - SUSPICIOUS PERSON"
    assert r["initial_call_type"] == "TRAFFIC STOP - OFFICER INITIATED ONVIEW"
    assert (r["district"], r["beat"], r["year"]) == ("EAST", "C2", 2011)
    # Winter 2014 (PST, UTC-8), a 911 call with a report.
    r = _one(ws, "2014000063173")
    assert r["received"] == datetime(2014, 2, 28, 17, 14, 5, tzinfo=UTC)
    assert r["arrived"] == datetime(2014, 2, 28, 17, 36, 59, tzinfo=UTC)
    assert (r["priority_rank"], r["origin"], r["outcome"]) == (3, "911", "report")
    # Unpadded hour in the 2018-2023 export, the evening before DST ended: still PDT, next UTC day.
    r = _one(ws, "2023000319821")
    assert r["received"] == datetime(2023, 11, 5, 1, 8, 26, tzinfo=UTC)
    assert r["received_local"] == datetime(2023, 11, 4, 18, 8, 26)
    assert r["arrived"] == datetime(2023, 11, 5, 1, 51, 6, tzinfo=UTC)
    assert (r["priority_rank"], r["origin"], r["outcome"]) == (2, "911", "unfounded")
    assert r["disposition_raw"] == "UNABLE TO LOCATE INCIDENT OR COMPLAINANT"
    # a "TELEPHONE OTHER, NOT 911" call
    r = _one(ws, "2019000438098")
    assert (r["origin"], r["outcome"], r["priority_rank"]) == ("non_emergency_phone", "report", 3)


def test_incident_response_layout(seattle):
    """No received time in this layout: received approximates, dispatched stays empty."""
    ws, files = seattle
    raw = _raw(INCIDENT)
    f = files[INCIDENT]
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (len(raw), len(raw), 0, 0)
    mine = [c for c in _calls(ws) if c["source_file"] == INCIDENT]
    assert len(mine) == len(raw)
    assert sum(c["arrived"] is not None for c in mine) == sum(bool(r["At Scene Time"].strip()) for r in raw) == 271
    assert sum(c["cleared"] is not None for c in mine) == len(raw)
    assert all(c["dispatched"] is None and c["enroute"] is None for c in mine)
    assert all(c["received"] == (c["arrived"] or c["cleared"]) for c in mine)
    assert all(c["priority_rank"] is None and c["origin"] == "unknown" and c["outcome"] is None for c in mine)
    # ids carry the century, as in Call Data
    assert {c["call_id"] for c in mine} == {"20" + r["CAD Event Number"] for r in raw}

    # At scene 10:25:51 PM and cleared 11:58:30 PM on 2016-03-25 (PDT: DST began 03-13).
    r = _one(ws, "2016000104006")
    assert r["received"] == r["arrived"] == datetime(2016, 3, 26, 5, 25, 51, tzinfo=UTC)
    assert r["received_local"] == datetime(2016, 3, 25, 22, 25, 51)
    assert r["cleared"] == datetime(2016, 3, 26, 6, 58, 30, tzinfo=UTC)
    assert (r["call_type_code"], r["call_type"]) == ("063", "THEFT - CAR PROWL")
    assert r["initial_call_type"] == "THEFT (DOES NOT INCLUDE SHOPLIFT OR SVCS)"
    assert (r["district"], r["beat"]) == ("K", "K3")
    # No at-scene time: received falls back to the clearance time, arrival stays empty.
    r = _one(ws, "2016000104108")
    assert r["arrived"] is None
    assert r["received"] == r["cleared"] == datetime(2016, 3, 26, 6, 54, 19, tzinfo=UTC)

    # Hundred-block locations and coordinates go to the sensitive table only.
    assert "location" not in mine[0]
    sens = {s["call_id"]: s for s in _calls(ws, "sensitive")}
    assert sum(1 for c in mine if sens[c["call_id"]]["location"]) == sum(bool(r["Hundred Block Location"]) for r in raw)
    assert sens["2016000104006"]["latitude"] == pytest.approx(47.598347)
