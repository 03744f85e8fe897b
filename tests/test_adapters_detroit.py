"""Detroit: one UTC timestamp, everything else rebuilt from durations in minutes.

The expected instants are recomputed for every row in Python from the raw file.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from rightresponse import ingest, open_dataset
from rightresponse.ingest.adapter import detect_adapter
from rightresponse.ingest.pipeline import resolve_inputs
from rightresponse.ingest.readers import columns_of

from conftest import CFS, need, raw_duckdb

DIR = "detroit"
FILE = "detroit_911_sample_2016.csv"
UTC = timezone.utc


def _raw():
    with open(CFS / DIR / FILE, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _minutes(*values: str):
    """Sum of durations like '1,645.3'; None if any is blank."""
    if any(not v.strip() for v in values):
        return None
    return timedelta(minutes=sum(float(v.replace(",", "")) for v in values))


def _expected(r: dict) -> dict:
    received = datetime.strptime(r["call_timestamp"].replace("+00", "+0000"), "%Y/%m/%d %H:%M:%S%z")
    plus = lambda d: None if d is None else received + d  # noqa: E731
    return {
        "received": received,
        "dispatched": plus(_minutes(r["intaketime"], r["dispatchtime"])),
        "arrived": plus(_minutes(r["totalresponsetime"])),
        "cleared": plus(_minutes(r["totaltime"])),
    }


@pytest.fixture(scope="module")
def detroit(tmp_path_factory):
    ws = tmp_path_factory.mktemp("detroit") / "ws"
    summary = ingest([need(CFS / DIR / FILE)], workspace=ws)
    calls = {r["call_id"]: r for r in open_dataset(ws).to_pyarrow().to_pylist()}
    return ws, summary, calls, _raw()


def test_detected_and_reconciled(detroit, cfs):
    _, summary, calls, raw = detroit
    assert detect_adapter(columns_of(cfs / DIR / FILE)).name == "detroit"
    assert [r[1].name for r in resolve_inputs([cfs / DIR])] == ["detroit"]
    f = summary.files[0]
    assert f.adapter == "detroit"
    assert f.rows_read == len(raw) == 500
    assert (f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (500, 0, 0)
    assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
    assert len(calls) == raw_duckdb(
        f"SELECT count(DISTINCT incident_id) FROM read_csv('{cfs / DIR / FILE}', all_varchar=true)")[0][0]


def test_reingest_counts_every_row_as_a_duplicate(detroit, workspace):
    first = ingest([CFS / DIR / FILE], workspace=workspace).files[0]
    again = ingest([CFS / DIR / FILE], workspace=workspace).files[0]
    assert (first.rows_loaded, again.rows_loaded, again.rows_duplicate) == (500, 0, 500)
    assert open_dataset(workspace).count().execute() == 500


def test_every_timestamp_is_rebuilt_from_the_durations(detroit):
    """dispatched = received + intake + dispatch; arrived = received + totalresponsetime;
    cleared = received + totaltime (travel runs from en route, so dispatched + travel would
    drop the unpublished en-route gap)."""
    _, _, calls, raw = detroit
    for r in raw:
        c, want = calls[r["incident_id"]], _expected(r)
        for k, v in want.items():
            got = c[k]
            assert (got is None and v is None) or abs((got - v).total_seconds()) < 0.001, (r["incident_id"], k)
    # durations with thousands separators are read, not quarantined
    assert sum("," in r["dispatchtime"] + r["totaltime"] for r in raw) == 14
    # the gap: for resident calls, arrived is after dispatched + travel
    gaps = [(calls[r["incident_id"]]["arrived"] - calls[r["incident_id"]]["dispatched"]) - _minutes(r["traveltime"])
            for r in raw if r["officerinitiated"] == "No" and _minutes(r["intaketime"], r["dispatchtime"], r["traveltime"], r["totalresponsetime"])]
    assert sum(g > timedelta(seconds=12) for g in gaps) == 108


def test_arrivals_origin_priority_match_the_raw_rows(detroit):
    _, _, calls, raw = detroit
    assert sum(c["arrived"] is not None for c in calls.values()) == sum(r["totalresponsetime"] != "" for r in raw) == 376
    origin = Counter(c["origin"] for c in calls.values())
    assert origin == {"officer_initiated": sum(r["officerinitiated"] == "Yes" for r in raw), "unknown": 391}
    assert origin["officer_initiated"] == 109
    assert Counter(c["priority_rank"] for c in calls.values()) == Counter(
        int(r["priority"]) if r["priority"].strip() else None for r in raw)
    # the city's own `category` code is not a call type
    categories = {r["category"].strip() for r in raw}
    assert not categories & {c["call_type"] for c in calls.values()}
    assert Counter(c["call_type"] for c in calls.values()) == Counter(r["calldescription"] for r in raw)


def test_rows_normalize_exactly(detroit):
    ws, _, calls, _ = detroit
    # the first incident of the new CAD: 09:36:12 UTC = 05:36:12 EDT
    c = calls["201626400002"]
    assert c["received"] == datetime(2016, 9, 20, 9, 36, 12, tzinfo=UTC)
    assert c["received_local"] == datetime(2016, 9, 20, 5, 36, 12)
    assert c["dispatched"] == datetime(2016, 9, 20, 18, 27, 0, tzinfo=UTC)     # + 2.2 + 528.6 min
    assert c["arrived"] == datetime(2016, 9, 20, 18, 42, 48, tzinfo=UTC)       # + 546.6 min
    assert c["cleared"] == datetime(2016, 9, 20, 20, 43, 18, tzinfo=UTC)       # + 667.1 min
    assert (c["call_type_code"], c["call_type"], c["priority_rank"], c["origin"]) == ("825030", "DISTURBANCE", 3, "unknown")
    assert (c["district"], c["time_issue"], c["outcome"]) == ("910A", None, None)
    # officer-initiated: intake and dispatch 0, arrived at once
    c = calls["201626401530"]
    assert c["received"] == c["dispatched"] == c["arrived"] == datetime(2016, 9, 20, 20, 13, 33, tzinfo=UTC)
    assert c["cleared"] == datetime(2016, 9, 20, 20, 46, 51, tzinfo=UTC)
    assert (c["origin"], c["origin_raw"], c["call_type_code"]) == ("officer_initiated", "Yes", "W4891")
    # "1,645.3" minutes to dispatch; closed 1,668.4 minutes after the call: kept, flagged
    c = next(c for c in calls.values() if c["call_type"] == "RECOVER AUTO" and c["arrived"] is None
             and c["cleared"] is not None and c["cleared"] - c["received"] == timedelta(minutes=1668.4))
    assert c["dispatched"] - c["received"] == timedelta(minutes=1648.3)
    assert c["time_issue"] == "over_24h"
    # address and coordinates only in the sensitive table
    sens = {s["call_id"]: s for s in open_dataset(ws, "sensitive").to_pyarrow().to_pylist()}
    assert sens["201626400002"]["latitude"] == pytest.approx(42.4083576622369)
    assert sens["201626400002"]["location"] is not None
