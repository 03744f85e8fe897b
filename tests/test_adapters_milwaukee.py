"""Milwaukee: one row per call, received time only, status as the disposition."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timezone

import pytest

from rightresponse import ingest, open_dataset
from rightresponse.ingest.adapter import detect_adapter
from rightresponse.ingest.readers import columns_of

from conftest import CFS, need, raw_duckdb

FILE = "mke_calls_data.csv"
UTC = timezone.utc


@pytest.fixture(scope="module")
def mke(tmp_path_factory):
    ws = tmp_path_factory.mktemp("mke") / "ws"
    summary = ingest([need(CFS / "milwaukee" / FILE)], workspace=ws)
    calls = {r["call_id"]: r for r in open_dataset(ws).to_pyarrow().to_pylist()}
    with open(CFS / "milwaukee" / FILE, newline="", encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    return ws, summary, calls, raw


def test_detected_and_reconciled(mke, cfs):
    _, summary, calls, raw = mke
    assert detect_adapter(columns_of(cfs / "milwaukee" / FILE)).name == "milwaukee"
    f = summary.files[0]
    assert f.adapter == "milwaukee"
    assert f.rows_read == len(raw) == 33968
    assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
    assert (f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (len(raw), 0, 0)
    assert len(calls) == raw_duckdb(
        f"SELECT count(DISTINCT id) FROM read_csv('{cfs / 'milwaukee' / FILE}', all_varchar=true)")[0][0]
    # No arrival times and no origin are published.
    assert all(c["arrived"] is None and c["origin"] == "unknown" for c in calls.values())


def test_outcomes_follow_status(mke):
    _, _, calls, raw = mke
    status = Counter(r["status"] for r in raw)
    got = Counter(c["outcome"] for c in calls.values())
    assert got["arrest"] == status["Cleared by Arrest"] == 58
    assert got["unfounded"] == status["Unable to Locate Complainant"] + status["False Alarm"]
    assert got["report"] == status["To be Filed"] + status["Filed Driver Exchange Report"] + status["Open Investigation"]
    assert got[None] == status["Service in Progress"]  # still open: no outcome yet
    assert Counter(c["disposition_raw"] for c in calls.values()) == status
    assert Counter(c["district"] for c in calls.values()) == Counter(r["district"] for r in raw)


def test_rows_normalize_exactly(mke):
    ws, _, calls, _ = mke
    # 2018-05-01 00:10:28 CDT (UTC-5)
    r = calls["1211372"]
    assert r["received"] == datetime(2018, 5, 1, 5, 10, 28, tzinfo=UTC)
    assert r["received_local"] == datetime(2018, 5, 1, 0, 10, 28)
    assert (r["call_type"], r["district"], r["outcome"]) == ("TRBL W/SUBJ", "4", "unfounded")
    assert r["priority_rank"] is None and r["year"] == 2018
    r = calls["1211737"]
    assert r["received"] == datetime(2018, 5, 1, 8, 39, 0, tzinfo=UTC)
    assert (r["call_type"], r["outcome"], r["disposition_raw"]) == ("SUBJ STOP", "arrest", "Cleared by Arrest")
    # Addresses and coordinates only in the sensitive table.
    assert "location" not in r
    sens = {s["call_id"]: s for s in open_dataset(ws, "sensitive").to_pyarrow().to_pylist()}
    assert sens["1211372"]["location"] == "5237 N 35TH ST,MKE"
    assert sens["1211372"]["latitude"] == pytest.approx(43.1127987)
    assert sens["1211372"]["longitude"] == pytest.approx(-87.9567415)
