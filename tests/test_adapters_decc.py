"""DECC (a consolidated 911 center, 14 weekly exports) on the real files.

Every count is recomputed from the raw CSVs with the csv module, never from the package.
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

from conftest import CFS, need

DIR = "decc_psap_2025"
WEEKS = [f"week{n}.csv" for n in range(35, 49)]
UTC = timezone.utc
TEST_CALL = re.compile(r"^(TEST|TST)-")


def _raw() -> dict[str, list[dict]]:
    out = {}
    for name in WEEKS:
        with open(CFS / DIR / name, newline="", encoding="utf-8") as fh:
            out[name] = list(csv.DictReader(fh))
    return out


def _fate(r: dict) -> str:
    """What the adapter must do with a raw row, decided here without the package."""
    if not r["Master_Incident_Number"].strip():
        return "missing_call_id"
    if TEST_CALL.match(r["Disposition"]) or "TEST CALL" in r["Problem"]:
        return "excluded_by_adapter"
    return "loaded"


@pytest.fixture(scope="module")
def decc(tmp_path_factory):
    """All 14 weekly files ingested once, as a folder."""
    ws = tmp_path_factory.mktemp("decc") / "ws"
    summary = ingest([need(CFS / DIR)], workspace=ws)
    calls = {r["call_id"]: r for r in open_dataset(ws).to_pyarrow().to_pylist()}
    return ws, summary, calls, _raw()


@pytest.mark.slow
def test_adapter_detected_for_both_layouts(decc, cfs):
    _, summary, _, raw = decc
    widths = {name: len(columns_of(cfs / DIR / name)) for name in WEEKS}
    # schema drift: week40 has 8 more columns than the other 13 weeks (the README says 58 vs
    # 50; the headers hold 56 and 48 fields)
    assert widths.pop("week40.csv") == 56 and set(widths.values()) == {48}
    for name in WEEKS:
        assert detect_adapter(columns_of(cfs / DIR / name)).name == "decc"
    assert [r[1].name for r in resolve_inputs([cfs / DIR])] == ["decc"] * 14
    assert [(f.path.rsplit("/", 1)[-1], f.adapter) for f in summary.files] == [(w, "decc") for w in WEEKS]
    assert summary.skipped == []


@pytest.mark.slow
def test_every_row_reconciles_with_an_independent_count(decc):
    _, summary, calls, raw = decc
    assert sum(len(v) for v in raw.values()) == summary.rows_read == 22147
    for f in summary.files:
        rows = raw[f.path.rsplit("/", 1)[-1]]
        fate = Counter(_fate(r) for r in rows)
        assert f.rows_read == len(rows) == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
        assert f.rows_loaded == fate["loaded"]
        assert f.quarantine_reasons == {k: v for k, v in fate.items() if k != "loaded"}
        assert f.rows_duplicate == 0
    # Nine rows have an empty Master_Incident_Number; no incident number repeats across the
    # files, so there are no duplicates (22,138 distinct ids = 22,147 rows minus the 9 blanks).
    ids = [r["Master_Incident_Number"] for rows in raw.values() for r in rows]
    assert ids.count("") == 9 and len(set(ids) - {""}) == len(ids) - 9 == 22138
    assert summary.rows_quarantined == 9 + 28 and summary.rows_loaded == len(calls) == 22110


def test_quarantine_names_reason_and_column(decc):
    ws, _, _, raw = decc
    q = open_dataset(ws, "quarantine").to_pyarrow().to_pylist()
    got = Counter((r["reason"], r["column_name"]) for r in q)
    # the first exclusion rule that matches names its column
    want = Counter()
    for rows in raw.values():
        for r in rows:
            f = _fate(r)
            if f == "missing_call_id":
                want[(f, "Master_Incident_Number")] += 1
            elif f == "excluded_by_adapter":
                want[(f, "Disposition" if TEST_CALL.match(r["Disposition"]) else "Problem")] += 1
    assert got == want == Counter({("missing_call_id", "Master_Incident_Number"): 9,
                                   ("excluded_by_adapter", "Disposition"): 14,
                                   ("excluded_by_adapter", "Problem"): 14})


def test_arrivals_origin_service_and_priority_match_the_raw_rows(decc):
    _, _, calls, raw = decc
    kept = [r for rows in raw.values() for r in rows if _fate(r) == "loaded"]
    # 'NULL' is the export's empty token
    assert sum(c["arrived"] is not None for c in calls.values()) == sum(
        r["Incident_Arrival_Time"] != "NULL" for r in kept) == 19447
    officer = sum(r["Call_Reception"] in ("OFFICER", "Flag Down") for r in kept)
    assert Counter(c["origin"] for c in calls.values())["officer_initiated"] == officer == 2501
    origin = Counter(c["origin"] for c in calls.values())
    assert origin["911"] == sum(r["Call_Reception"] in ("E-911", "Cell Phone", "911 Center") for r in kept)
    assert origin["non_emergency_phone"] == sum(r["Call_Reception"] == "Phone" for r in kept)
    assert Counter(c["service"] for c in calls.values()) == Counter(r["Agency"].lower() for r in kept)
    assert Counter(c["priority_rank"] for c in calls.values()) == Counter(int(r["Priority_Number"]) for r in kept)
    # UNDEFINED (no disposition entered) is an unknown outcome, not "other"
    assert Counter(c["outcome"] for c in calls.values())[None] == sum(r["Disposition"] == "UNDEFINED" for r in kept)


def test_cleared_is_first_close_the_publishers_total_call_time(decc):
    """Total_Call_Time is start -> first close; the publisher computes it on wall-clock times.

    So it is an hour short for the 12 calls that run across the 2025-11-02 fall-back (started
    before 01:00 EDT, closed at or after 01:00 of the repeated hour, which is read as EST); some
    of its values are negative (-1937 s). The stored instants keep real elapsed time.
    """
    _, _, calls, raw = decc
    n = across = 0
    for rows in raw.values():
        for r in rows:
            if _fate(r) != "loaded" or r["Total_Call_Time"] == "NULL":
                continue
            c = calls[r["Master_Incident_Number"]]
            dst = r["Incident_Start_Time"] < "2025-11-02 01:00" <= r["Incident_First_Close_Time"]
            expect = int(r["Total_Call_Time"]) + (3600 if dst else 0)
            assert abs((c["cleared"] - c["received"]).total_seconds() - expect) <= 1, c["call_id"]
            n += 1
            across += dst
    assert (n, across) == (22104, 12)


def test_rows_normalize_exactly(decc):
    _, _, calls, _ = decc
    # week35 record 1: 2025-08-24 00:07:06 EDT (UTC-4), Phone, priority 2, false alarm
    c = calls["25-071089"]
    assert (c["source_file"], c["source_row"]) == ("week35.csv", 1)
    assert c["received"] == datetime(2025, 8, 24, 4, 7, 6, tzinfo=UTC)
    assert c["received_local"] == datetime(2025, 8, 24, 0, 7, 6)
    assert c["dispatched"] == datetime(2025, 8, 24, 4, 9, 46, 810000, tzinfo=UTC)
    assert c["enroute"] == datetime(2025, 8, 24, 4, 13, 10, 710000, tzinfo=UTC)
    assert c["arrived"] == datetime(2025, 8, 24, 4, 23, 51, 860000, tzinfo=UTC)
    assert c["cleared"] == datetime(2025, 8, 24, 4, 35, 47, 190000, tzinfo=UTC)
    assert (c["service"], c["call_type"], c["priority_raw"], c["priority_rank"]) == ("police", "ALARM COMMERCIAL", "2", 2)
    assert (c["origin_raw"], c["origin"], c["disposition_raw"], c["outcome"]) == (
        "Phone", "non_emergency_phone", "FALSE-False Alarm", "unfounded")
    assert c["time_issue"] is None and c["year"] == 2025
    # week40 (the 56-column layout): an officer's traffic stop
    c = calls["25-081895"]
    assert c["source_file"] == "week40.csv"
    assert c["received"] == datetime(2025, 9, 28, 4, 9, 40, tzinfo=UTC)
    assert c["cleared"] == datetime(2025, 9, 28, 4, 25, 32, 453000, tzinfo=UTC)
    assert (c["origin"], c["outcome"], c["priority_rank"], c["call_type"]) == (
        "officer_initiated", "no_action", 2, "TRAFFIC STOP")
    # EMS, E-911, priority 1 would be most urgent; this one is 4 and has no disposition
    c = calls["25-020296"]
    assert (c["service"], c["origin"], c["priority_rank"], c["outcome"], c["disposition_raw"]) == (
        "ems", "911", 4, None, "UNDEFINED")
    # after the fall-back: 2025-11-29 is EST (UTC-5)
    c = calls["25-100034"]
    assert c["received"] == datetime(2025, 11, 29, 22, 32, 1, tzinfo=UTC)
    assert c["cleared"] is None  # Incident_First_Close_Time is NULL in 6 rows


def test_dst_fall_back_night_resolves_to_standard_time(decc):
    """2025-11-02: 01:00-02:00 happens twice in the export (EDT, then EST).

    DuckDB reads an ambiguous wall time as standard time, so a call from the first 01:xx hour
    is stored one hour late. The test pins that behaviour, and shows how it surfaces.
    """
    _, _, calls, _ = decc
    # 25-026355 came first (01:41:21 EDT = 05:41:21Z) but is stored as EST
    c = calls["25-026355"]
    assert c["received_local"] == datetime(2025, 11, 2, 1, 41, 21)
    assert c["received"] == datetime(2025, 11, 2, 6, 41, 21, tzinfo=UTC)
    # 25-026358, two incident numbers later, is 01:16:14.010 of the second (EST) hour: right
    c = calls["25-026358"]
    assert c["received_local"] == datetime(2025, 11, 2, 1, 16, 14, 10000)
    assert c["received"] == datetime(2025, 11, 2, 6, 16, 14, 10000, tzinfo=UTC)
    # received 01:38:20 EDT, dispatched 01:06:14 EST: stored as received 06:38:20Z, dispatched
    # 06:06:14Z, so the row is flagged rather than silently given a negative queue time
    c = calls["25-092461"]
    assert c["received"] == datetime(2025, 11, 2, 6, 38, 20, tzinfo=UTC)
    assert c["dispatched"] == datetime(2025, 11, 2, 6, 6, 14, 67000, tzinfo=UTC)
    assert c["time_issue"] == "dispatched_before_received"
    # the unambiguous hour before: 00:30:48 EDT
    assert calls["25-026353"]["received"] == datetime(2025, 11, 2, 4, 30, 48, tzinfo=UTC)


def test_these_five_adapters_claim_exactly_their_own_files(cfs):
    """Over every file of the shared samples (lookup tables, data dictionaries, PDFs included),
    the DECC, New Orleans, San Luis Obispo, NYC and Detroit adapters match only their own call
    files, and every one of those files is matched."""
    mine = {"decc": DIR, "new_orleans": "new_orleans", "san_luis_obispo": "san_luis_obispo",
            "nyc": "nyc", "detroit": "detroit"}
    skipped: list[str] = []
    claimed = {(r[0].parent.name, r[0].name): r[1].name for r in resolve_inputs([cfs], skipped=skipped)}
    got = {k: v for k, v in claimed.items() if v in mine}
    want = {}
    for name, folder in mine.items():
        for p in sorted((cfs / folder).iterdir()):
            if p.suffix == ".csv":
                want[(folder, p.name)] = name
    assert got == want and len(want) == 14 + 1 + 1 + 2 + 1
    # the lookup tables and data dictionaries are not call files
    for folder, name in [("new_orleans", "NOPD_-_Data_dictionary_for_Calls_For_Service_Open_Data.xlsx"),
                         ("san_diego", "pd_cfs_calltypes_datasd.csv"), ("san_diego", "pd_dispo_codes_datasd.csv"),
                         ("san_diego", "beat_codes_list_datasd.csv")]:
        assert (folder, name) not in claimed
        assert any(s.startswith(str(cfs / folder / name)) for s in skipped), name
