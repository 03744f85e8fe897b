"""NYC (NYPD Calls for Service layout): two filtered 2024 samples, checked against the raw files."""

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

DIR = "nyc"
CRIME = "nyc_data_crime_top_10_categories_by_call_duration.csv"
POTENTIAL = "nyc_data_potential_crime_top_10_categories_by_call_duration.csv"
UTC = timezone.utc


def _raw(name):
    with open(CFS / DIR / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _first_rows(rows):
    out = {}
    for r in rows:
        out.setdefault(r["cad_evnt_id"], r)
    return out


@pytest.fixture(scope="module")
def nyc(tmp_path_factory):
    ws = tmp_path_factory.mktemp("nyc") / "ws"
    summary = ingest([need(CFS / DIR)], workspace=ws)
    calls = {r["call_id"]: r for r in open_dataset(ws).to_pyarrow().to_pylist()}
    return ws, {f.path.rsplit("/", 1)[-1]: f for f in summary.files}, calls, {n: _raw(n) for n in (CRIME, POTENTIAL)}


def test_detected(nyc, cfs):
    _, files, _, _ = nyc
    for name in (CRIME, POTENTIAL):
        assert detect_adapter(columns_of(cfs / DIR / name)).name == "nyc"
        assert files[name].adapter == "nyc"
    assert sorted((r[0].name, r[1].name) for r in resolve_inputs([cfs / DIR])) == [(CRIME, "nyc"), (POTENTIAL, "nyc")]


def test_counts_reconcile_with_an_independent_count(nyc, cfs):
    _, files, calls, raw = nyc
    for name, (n, dup) in {CRIME: (821, 53), POTENTIAL: (7396, 12)}.items():
        f, rows = files[name], raw[name]
        distinct = raw_duckdb(f"SELECT count(DISTINCT cad_evnt_id) FROM read_csv('{cfs / DIR / name}', all_varchar=true)")[0][0]
        assert f.rows_read == len(rows) == n
        assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
        # events repeated with other dispatch/arrival/close times: the first row is kept
        assert (f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (distinct, 0, n - distinct) == (n - dup, 0, dup)
    # the two samples share no event
    assert len(calls) == 768 + 7384


def test_arrivals_origin_and_priority_match_the_raw_rows(nyc):
    ws, _, calls, raw = nyc
    first = {**_first_rows(raw[CRIME]), **_first_rows(raw[POTENTIAL])}
    assert set(calls) == set(first)
    assert sum(c["arrived"] is not None for c in calls.values()) == sum(r["arrivd_ts"] != "" for r in first.values()) == 8152
    # no origin column: nothing is marked officer-initiated
    assert Counter(c["origin"] for c in calls.values()) == {"unknown": 8152}
    assert sum(c["origin"] == "officer_initiated" for c in calls.values()) == 0
    rank = {"Critical": 1, "Serious": 2, "Non-Critical": 3, "Non CIP": 4}
    assert Counter(c["priority_rank"] for c in calls.values()) == Counter(rank[r["cip_jobs"]] for r in first.values()) == {1: 4, 4: 8148}
    assert Counter(c["call_type_code"] for c in calls.values()) == Counter(r["radio_code"] for r in first.values())
    assert Counter(c["district"] for c in calls.values()) == Counter(r["nypd_pct_cd"] for r in first.values())
    assert all(c["outcome"] is None and c["time_issue"] is None for c in calls.values())
    # coordinates only in the sensitive table
    assert "latitude" not in next(iter(calls.values()))
    sens = {s["call_id"]: s for s in open_dataset(ws, "sensitive").to_pyarrow().to_pylist()}
    assert len(sens) == len(calls)
    assert sens["103473878"]["latitude"] == pytest.approx(40.807614)
    assert sens["103473878"]["longitude"] == pytest.approx(-73.969416)


def test_rows_normalize_exactly(nyc):
    _, _, calls, _ = nyc
    # 2024-01-01 04:18:27 EST (UTC-5)
    c = calls["99848467"]
    assert c["received"] == datetime(2024, 1, 1, 9, 18, 27, tzinfo=UTC)
    assert c["received_local"] == datetime(2024, 1, 1, 4, 18, 27)
    assert c["dispatched"] == datetime(2024, 1, 1, 11, 3, 54, tzinfo=UTC)
    assert c["arrived"] == datetime(2024, 1, 1, 11, 19, 53, tzinfo=UTC)
    assert c["cleared"] == datetime(2024, 1, 1, 15, 1, 4, tzinfo=UTC)
    assert (c["call_type_code"], c["call_type"], c["district"]) == ("24Q7", "ASSAULT (PAST): OTHER/CHILD ABUSE", "66")
    assert (c["priority_raw"], c["priority_rank"], c["origin"]) == ("Non CIP", 4, "unknown")
    # a critical crime in progress, 2024-05-29 18:11:08 EDT (UTC-4), closed after midnight
    c = calls["103473878"]
    assert c["received"] == datetime(2024, 5, 29, 22, 11, 8, tzinfo=UTC)
    assert c["dispatched"] == datetime(2024, 5, 29, 22, 12, 26, tzinfo=UTC)
    assert c["arrived"] == datetime(2024, 5, 29, 22, 15, 15, tzinfo=UTC)
    assert c["cleared"] == datetime(2024, 5, 30, 5, 25, 27, tzinfo=UTC)
    assert (c["priority_raw"], c["priority_rank"], c["call_type_code"], c["district"]) == ("Critical", 1, "34S8", "24")
    # repeated event: the first row in the file wins (dispatched 10:23:41, not 09:19:08)
    c = calls["99871527"]
    assert c["dispatched"] == datetime(2024, 1, 2, 15, 23, 41, tzinfo=UTC)


def test_dst_fall_back_night_resolves_to_standard_time(nyc):
    # 2024-11-03 01:47:07 happened twice; DuckDB reads it as EST (UTC-5)
    c = nyc[2]["107303411"]
    assert c["received_local"] == datetime(2024, 11, 3, 1, 47, 7)
    assert c["received"] == datetime(2024, 11, 3, 6, 47, 7, tzinfo=UTC)
    assert c["dispatched"] == datetime(2024, 11, 3, 6, 50, 35, tzinfo=UTC)
    # 02:01:36 exists once, in EST
    assert c["cleared"] == datetime(2024, 11, 3, 7, 1, 36, tzinfo=UTC)
    assert c["time_issue"] is None
