"""Dallas active calls: one row per unit, incidents derived from them, two overlapping snapshots."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime, timezone

import pytest

from rightresponse import ingest, open_dataset
from rightresponse.ingest.adapter import detect_adapter
from rightresponse.ingest.readers import columns_of

from conftest import CFS, need

FILES = ("dallas_active_calls_are8-xahz_2018-01-09.csv", "dallas_active_calls_sample2_2018-01-09.csv")
UTC = timezone.utc


def _raw(name):
    with open(CFS / "dallas" / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def dal(tmp_path_factory):
    ws = tmp_path_factory.mktemp("dal") / "ws"
    summary = ingest([need(CFS / "dallas")], workspace=ws)
    return ws, {f.path.rsplit("/", 1)[-1]: f for f in summary.files}


def _table(ws, table):
    return open_dataset(ws, table).to_pyarrow().to_pylist()


def test_detected_as_unit_grain(dal, cfs):
    _, files = dal
    for name in FILES:
        ad = detect_adapter(columns_of(cfs / "dallas" / name))
        assert (ad.name, ad.grain) == ("dallas", "unit")
        assert files[name].adapter == "dallas"


def test_units_and_incidents_counted_independently(dal):
    ws, files = dal
    first, second = _raw(FILES[0]), _raw(FILES[1])
    units_by_incident = defaultdict(set)
    for r in first:
        units_by_incident[r["incident_number"]].add(r["unit_number"])
    pairs1 = {(r["incident_number"], r["unit_number"]) for r in first}
    pairs2 = {(r["incident_number"], r["unit_number"]) for r in second}
    incidents2 = {r["incident_number"] for r in second}

    f1, f2 = files[FILES[0]], files[FILES[1]]
    for f, raw in ((f1, first), (f2, second)):
        assert f.rows_read == len(raw) == 63
        assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
    assert (f1.rows_loaded, f1.rows_duplicate, f1.calls_loaded) == (len(pairs1), 0, len(units_by_incident))
    # The second snapshot repeats incidents already stored: every one of its rows is a duplicate.
    assert incidents2 <= set(units_by_incident) and pairs2 == pairs1
    assert (f2.rows_loaded, f2.rows_duplicate, f2.calls_loaded) == (0, len(second), 0)

    units = _table(ws, "units")
    calls = _table(ws, "calls")
    assert len(units) == len(pairs1) == 63
    assert {(u["call_id"], u["unit_id"]) for u in units} == pairs1
    assert {u["unit_status"] for u in units} == {r["status"] for r in first} == {"At Scene"}
    assert len(calls) == len(units_by_incident) == 45
    assert {c["call_id"]: c["units_assigned"] for c in calls} == {k: len(v) for k, v in units_by_incident.items()}


def test_rows_normalize_exactly(dal):
    ws, _ = dal
    calls = {c["call_id"]: c for c in _table(ws, "calls")}
    # Four units on one "40 - Other" call at 09:16 CST (UTC-6).
    r = calls["18-0052951"]
    assert r["received"] == datetime(2018, 1, 9, 15, 16, tzinfo=UTC)
    assert r["received_local"] == datetime(2018, 1, 9, 9, 16)
    assert (r["call_type_code"], r["call_type"], r["priority_rank"], r["units_assigned"]) == ("40", "Other", 3, 4)
    assert (r["district"], r["beat"], r["origin"], r["outcome"]) == ("South Central", "728", "unknown", None)
    # No space before the dash, and a dash inside the description.
    assert (calls["18-0052898"]["call_type_code"], calls["18-0052898"]["call_type"]) == ("26/01", "Missing Person-Critical")
    assert calls["18-0052898"]["priority_rank"] == 2
    robbery = next(c for c in calls.values() if c["call_type_code"] == "41/20")
    assert robbery["call_type"] == "Robbery - In Progress"
    r = calls["18-0052973"]
    assert (r["call_type_code"], r["call_type"]) == ("38", "Meet Complainant")
    # Every code/description pair splits the raw value exactly.
    for row in _raw(FILES[0]):
        c = calls[row["incident_number"]]
        code, _, desc = row["nature_of_call"].partition("-")
        assert c["call_type_code"] == code.strip()
        assert c["call_type"] == desc.strip()
    sens = {s["call_id"]: s["location"] for s in _table(ws, "sensitive")}
    assert sens["18-0052951"] == "2500 Marfa Ave"
    assert sens["18-0052923"] == "N Central Expy Sb / N Haskell Ave"  # no block number
    assert "location" not in r
