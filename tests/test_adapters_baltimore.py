"""Baltimore: four yearly ArcGIS exports, two layouts, two meanings of callDateTime.

The last 8 hex digits of `callKey` are the call's Unix time. That gives a check of the
received time that does not go through callDateTime at all.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timezone

import pytest

from rightresponse import ingest, open_dataset
from rightresponse.ingest.adapter import detect_adapter
from rightresponse.ingest.readers import columns_of

from conftest import CFS, need

YEARS = (2018, 2019, 2020, 2021)
UTC = timezone.utc


def _name(year):
    return f"pdap_CFS_{year}_converted.csv"


def _raw(year):
    with open(CFS / "baltimore" / _name(year), newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def bal(tmp_path_factory):
    ws = tmp_path_factory.mktemp("bal") / "ws"
    summary = ingest([need(CFS / "baltimore")], workspace=ws)
    calls = {r["call_id"]: r for r in open_dataset(ws).to_pyarrow().to_pylist()}
    return ws, {f.path.rsplit("/", 1)[-1]: f for f in summary.files}, calls


@pytest.mark.slow
def test_all_four_exports_are_detected(bal, cfs):
    _, files, _ = bal
    expected = {2018: "baltimore_local_epoch", 2019: "baltimore_local_epoch", 2020: "baltimore_local_epoch",
                2021: "baltimore"}
    for year, name in expected.items():
        assert detect_adapter(columns_of(cfs / "baltimore" / _name(year))).name == name
        assert files[_name(year)].adapter == name
    assert "ESRI_OID" in columns_of(cfs / "baltimore" / _name(2021))
    assert "OBJECTID" not in columns_of(cfs / "baltimore" / _name(2021))


def test_counts_reconcile_and_call_numbers_are_the_ids(bal):
    _, files, calls = bal
    ids = []
    for year in YEARS:
        raw = _raw(year)
        f = files[_name(year)]
        assert f.rows_read == len(raw) == 2000
        assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
        assert (f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (2000, 0, 0)
        assert len({r["callNumber"] for r in raw}) == len({r["callKey"] for r in raw}) == 2000
        ids += [r["callNumber"] for r in raw]
    assert sorted(calls) == sorted(set(ids))
    assert all(c["arrived"] is None and c["origin"] == "unknown" for c in calls.values())


def test_received_matches_the_time_inside_callkey(bal):
    """Older exports store local time as if UTC; 2021 stores UTC. Both must land on callKey's time."""
    _, _, calls = bal
    for year in YEARS:
        close = naive_utc_close = 0
        for r in _raw(year):
            key_time = int(r["callKey"][-8:], 16)
            got = calls[r["callNumber"]]["received"].timestamp()
            close += abs(got - key_time) < 120
            naive_utc_close += abs(int(r["callDateTime"]) / 1000 - key_time) < 120
        if year == 2021:
            assert (close, naive_utc_close) == (2000, 2000)
        else:
            # two 2018 rows are 1.5 h off callKey whichever way they are read
            assert close == (1998 if year == 2018 else 2000)
            assert naive_utc_close == 0  # reading callDateTime as UTC would be 4-5 h early


def test_priorities(bal):
    _, _, calls = bal
    raw = Counter(r["priority"] for y in YEARS for r in _raw(y))
    got = Counter((c["priority_raw"], c["priority_rank"]) for c in calls.values())
    ranks = {"Emergency": 1, "High": 2, "Medium": 3, "Low": 4, "Non-Emergency": 5, "Out of Service": None}
    assert set(raw) == set(ranks)  # every value present is mapped on purpose
    assert got == Counter({(p, ranks[p]): n for p, n in raw.items()})


def test_rows_normalize_exactly(bal):
    ws, _, calls = bal
    # 2018 export, winter: callDateTime spells 08:43 -> 08:43 EST = 13:43 UTC
    r = calls["P180200676"]
    assert r["received"] == datetime(2018, 1, 20, 13, 43, tzinfo=UTC)
    assert r["received_local"] == datetime(2018, 1, 20, 8, 43)
    assert (r["call_type"], r["priority_rank"], r["district"], r["beat"]) == ("Personal Relief", 5, "CD", "111")
    # 2019 export, summer time: 23:41 EDT = 03:41 UTC the next day
    r = calls["P191054910"]
    assert r["received"] == datetime(2019, 4, 16, 3, 41, tzinfo=UTC)
    assert r["received_local"] == datetime(2019, 4, 15, 23, 41)
    assert (r["year"], r["priority_rank"], r["beat"]) == (2019, 3, "342")
    # 2021 export, true UTC: 16:33 UTC = 11:33 EST; and 10:46 UTC = 06:46 EDT
    r = calls["P210041843"]
    assert r["received"] == datetime(2021, 1, 4, 16, 33, tzinfo=UTC)
    assert r["received_local"] == datetime(2021, 1, 4, 11, 33)
    assert (r["call_type"], r["priority_rank"], r["district"], r["beat"]) == ("HIT AND RUN", 4, "TRU", "426")
    r = calls["P211050818"]
    assert r["received_local"] == datetime(2021, 4, 15, 6, 46)
    assert r["outcome"] is None  # no disposition published
    sens = {s["call_id"]: s["location"] for s in open_dataset(ws, "sensitive").to_pyarrow().to_pylist()}
    assert sens["P210041843"] == "3500 AILSA AV"
    assert "location" not in r
