"""311 service requests (NYC CSV and SODA JSON, Boston, Baltimore): every record accounted for,
checked against an independent count of the raw files; a channel of 311 on each; the police
share of NYC 311 equal to the raw rows; a workspace written before channels reads as CAD."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import duckdb
import pytest

from rightresponse import ingest, open_dataset
from rightresponse.ingest.adapter import detect_adapter
from rightresponse.ingest.readers import columns_of
from rightresponse.ingest.workspace import Workspace

from conftest import DATA, REPO, need

D311 = DATA / "311"
NYC_CSV = D311 / "nyc" / "311_subset.micro.csv"
NYC_JSON = D311 / "nyc" / "311_Service_Requests.json"
BOSTON = D311 / "boston" / "311_service_requests_2011_jul01-31.csv"
BALTIMORE = D311 / "baltimore" / "311_Customer_Service_Requests.csv"
NY = ZoneInfo("America/New_York")
# file -> (adapter, id column, agency); the figures in shared/data/README.md
FILES = {NYC_CSV: ("nyc_311", "Unique Key", "nyc_311"), NYC_JSON: ("nyc_311_soda", "unique_key", "nyc_311"),
         BOSTON: ("boston_311", "case_enquiry_id", "boston_311"),
         BALTIMORE: ("baltimore_311", "ServiceRequestNum", "baltimore_311")}


def raw_records(path):
    """The records of a raw file, read by Python's own csv and json modules (not DuckDB, not
    our readers): the independent count."""
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def ws311(tmp_path_factory):
    ws = tmp_path_factory.mktemp("s311") / "ws"
    summary = ingest([str(need(p)) for p in FILES], workspace=ws)
    calls = open_dataset(ws).to_pyarrow().to_pylist()
    return ws, {f.path.rsplit("/", 1)[-1]: f for f in summary.files}, calls


def test_layouts_detected(ws311):
    _, files, _ = ws311
    for path, (adapter, _, _) in FILES.items():
        assert detect_adapter(columns_of(path)).name == adapter
        assert files[path.name].adapter == adapter


def test_every_record_accounted_for_against_an_independent_count(ws311):
    _, files, calls = ws311
    expected = {NYC_CSV: 2000, NYC_JSON: 1000, BOSTON: 9854, BALTIMORE: 3000}
    for path, (_, id_col, agency) in FILES.items():
        f, raw = files[path.name], raw_records(path)
        ids = [r[id_col] for r in raw]
        assert f.rows_read == len(raw) == expected[path]
        assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
        # every request has a number and a creation time; none repeats within its file
        assert (f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (len(set(ids)), 0, 0) == (len(raw), 0, 0)
        held = sorted(c["call_id"] for c in calls if c["source_file"] == path.name)
        assert held == sorted(ids)
        assert {c["agency"] for c in calls if c["source_file"] == path.name} == {agency}
    # the NYC CSV (2011) and the API page (2024) share no request
    assert not {r["Unique Key"] for r in raw_records(NYC_CSV)} & {r["unique_key"] for r in raw_records(NYC_JSON)}
    assert len(calls) == 15854


def test_a_request_in_both_nyc_files_is_counted_once(tmp_path):
    """The CSV and JSON adapters share the agency id, so an overlap is found as duplicates."""
    part = tmp_path / "page2.json"
    raw = raw_records(need(NYC_JSON))
    part.write_text(json.dumps(raw[:40] + [dict(raw[0], unique_key="X-NEW")]), encoding="utf-8")
    summary = ingest([str(NYC_JSON), str(part)], workspace=tmp_path / "ws")
    f = {x.path.rsplit("/", 1)[-1]: x for x in summary.files}["page2.json"]
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (41, 1, 0, 40)
    assert open_dataset(tmp_path / "ws").count().to_pyarrow().as_py() == 1001


def test_channel_service_and_times_match_the_raw_rows(ws311):
    _, _, calls = ws311
    assert Counter(c["channel"] for c in calls) == {"311": 15854}
    nyc = [r for p in (NYC_CSV, NYC_JSON) for r in raw_records(p)]
    agency_of = {r.get("Unique Key") or r["unique_key"]: r.get("Agency") or r["agency"] for r in nyc}
    police = [c for c in calls if c["service"] == "police"]
    # the police requests are NYC's NYPD ones (619 in the 2011 CSV, 935 in the 2024 page), nothing else
    assert {c["call_id"] for c in police} == {k for k, a in agency_of.items() if a == "NYPD"}
    assert Counter(c["source_file"] for c in police) == {NYC_CSV.name: 619, NYC_JSON.name: 935}
    assert Counter(c["call_type"] for c in police if c["source_file"] == NYC_JSON.name).most_common(2) == [
        ("Noise - Residential", 392), ("Noise - Street/Sidewalk", 269)]
    assert {c["service"] for c in calls if c["agency"] != "nyc_311"} == {"other"}  # no police in Boston, Baltimore 311
    # created and closed times, read independently with datetime and zoneinfo
    by_id = {(c["agency"], c["call_id"]): c for c in calls}
    for r in raw_records(BALTIMORE)[:200]:
        c = by_id[("baltimore_311", r["ServiceRequestNum"])]
        want = datetime.strptime(r["CreatedDate"], "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=NY)
        assert c["received"] == want
        assert (c["cleared"] is None) == (r["CloseDate"] in ("", "NA"))
        assert c["call_type"] == r["SRType"]
    for r in raw_records(NYC_JSON):
        c = by_id[("nyc_311", r["unique_key"])]
        assert c["received"] == datetime.fromisoformat(r["created_date"]).replace(tzinfo=NY)
        assert (c["cleared"] is None) == ("closed_date" not in r)
    # no dispatch, arrival or unit: 311 has no officer time to measure
    assert all(c[k] is None for c in calls for k in ("dispatched", "enroute", "arrived", "units_assigned"))
    # the 1900 closing date is kept and flagged, not changed
    bad = [c for c in calls if c["cleared"] is not None and c["cleared"].year == 1900]
    assert len(bad) == 1 and bad[0]["time_issue"] == "negative_duration"


def test_a_workspace_written_before_channels_reads_as_cad(tmp_path):
    """Old files lack the column: opened alone they read as cad; beside new 311 files too."""
    ws = tmp_path / "ws"
    week = REPO / "src/rightresponse/data/sample/decc_psap_2025/week39.csv.gz"
    ingest([str(week)], workspace=ws)
    con = duckdb.connect()
    for f in Workspace(ws).files("calls"):  # rewrite each file as an older version wrote it
        con.execute(f"COPY (SELECT * EXCLUDE (channel) FROM read_parquet('{f}')) TO '{f}.tmp' (FORMAT parquet)")
        os.replace(f"{f}.tmp", f)
    assert "channel" not in {r[0] for r in con.execute(
        f"DESCRIBE SELECT * FROM read_parquet('{Workspace(ws).files('calls')[0]}')").fetchall()}
    old = open_dataset(ws)
    assert dict(Counter(old.channel.to_pyarrow().to_pylist())) == {"cad": 1320}
    ingest([str(need(BALTIMORE))], workspace=ws)
    both = open_dataset(ws).group_by(["agency", "channel"]).agg(n=lambda t: t.count()).to_pandas()
    assert sorted(map(tuple, both.values.tolist())) == [("baltimore_311", "311", 3000), ("decc", "cad", 1320)]


def test_an_adapter_channel_is_checked_when_it_loads():
    from rightresponse.ingest.adapter import AdapterError, parse_adapter

    doc = {"name": "x", "agency": "x", "timezone": "UTC", "detect": ["id"], "fields": {"call_id": "id"},
           "timestamps": {"received": "t", "formats": ["%Y"]}}
    assert parse_adapter(doc).channel.value == "cad"  # every adapter before channels was CAD
    assert parse_adapter({**doc, "channel": {"value": "311"}}).channel.value == "311"
    with pytest.raises(AdapterError, match=r"channel\.value: unknown value '911' \(did you mean '311'\?\); one of: cad, 311"):
        parse_adapter({**doc, "channel": {"value": "911"}})
