"""San Diego: codes only, decoded through the city's code tables shipped in the package."""

from __future__ import annotations

import csv
import filecmp
from collections import Counter
from datetime import datetime, timezone
from importlib import resources

import pytest

from rightresponse import IngestError, ingest, open_dataset
from rightresponse.ingest.adapter import detect_adapter
from rightresponse.ingest.readers import columns_of

from conftest import CFS, need

CALLS = "pd_calls_for_service_2023_datasd_jan1-22.csv"
LOOKUPS = ("pd_cfs_calltypes_datasd.csv", "pd_dispo_codes_datasd.csv", "beat_codes_list_datasd.csv")
UTC = timezone.utc


def _raw(name):
    with open(CFS / "san_diego" / name, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    """The whole folder (calls file + code tables + PDF) ingested once."""
    ws = tmp_path_factory.mktemp("sd") / "ws"
    summary = ingest([need(CFS / "san_diego")], workspace=ws)
    calls = {r["call_id"]: r for r in open_dataset(ws).to_pyarrow().to_pylist()}
    return ws, summary, calls


def test_only_the_calls_file_is_ingested_from_the_folder(sd, cfs, workspace):
    _, summary, _ = sd
    assert [f.path.rsplit("/", 1)[-1] for f in summary.files] == [CALLS]
    assert summary.files[0].adapter == "san_diego"
    for name in LOOKUPS + ("ct_map_calltype_desc_to_simple.csv",):
        assert detect_adapter(columns_of(cfs / "san_diego" / name)) is None
    with pytest.raises(IngestError, match="unknown layout"):
        ingest([cfs / "san_diego" / LOOKUPS[0]], workspace=workspace)


def test_shipped_lookups_are_the_published_tables(cfs):
    """Users have no ../shared: the tables ship in the package, byte for byte."""
    pkg = resources.files("rightresponse.ingest") / "adapters" / "san_diego"
    for name in LOOKUPS:
        assert filecmp.cmp(str(pkg / name), cfs / "san_diego" / name, shallow=False)


def test_counts_reconcile_with_the_raw_file(sd):
    _, summary, calls = sd
    raw = _raw(CALLS)
    f = summary.files[0]
    assert f.rows_read == len(raw) == 28970
    assert (f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (len(raw), 0, 0)
    assert len(calls) == len({r["incident_num"] for r in raw})
    # No arrival times and no origin in this layout.
    assert all(c["arrived"] is None and c["origin"] == "unknown" for c in calls.values())
    # Priority 0..4 and 9 -> rank p + 1.
    assert Counter(c["priority_rank"] for c in calls.values()) == Counter(int(r["priority"]) + 1 for r in raw)
    # Beat -1 is unknown.
    assert sum(c["beat"] is None for c in calls.values()) == sum(r["beat"] == "-1" for r in raw) == 439


def test_codes_decode_through_the_city_tables(sd):
    _, summary, calls = sd
    types, dup = {}, set()
    for r in _raw(LOOKUPS[0]):
        k, v = r["call_type"].strip().upper(), r["description"].strip()
        if types.get(k, v) != v:
            dup.add(k)
        types[k] = v
    dispos = {r["dispo_code"]: r["description"] for r in _raw(LOOKUPS[1])}
    assert dup == {"FP"}
    assert "lookup 'calltypes': key 'FP' has different values; using the last, 'WARRANT'" in summary.files[0].warnings
    for r in _raw(CALLS):
        c = calls[r["incident_num"]]
        code = r["call_type"] or None
        assert c["call_type_code"] == code
        assert c["call_type"] == (types.get(code.upper(), code) if code else None)
        d = r["disposition"] or None
        assert c["disposition_raw"] == (dispos.get(d, d) if d else None)
    outcomes = Counter(c["outcome"] for c in calls.values())
    raw_d = Counter(r["disposition"] for r in _raw(CALLS))
    assert outcomes["arrest"] == raw_d["A"] + raw_d["AB"] + raw_d["AHR"]
    assert outcomes["cancelled"] == sum(raw_d[k] for k in ("X", "W", "CAN", "DUP", "V"))
    assert outcomes[None] == raw_d[""] + raw_d["DEF"]  # empty, and a code missing from the table


def test_rows_normalize_exactly(sd):
    _, _, calls = sd
    # 2023-01-01 00:00:05 PST (UTC-8): a cancelled fire-assist call, priority 2.
    r = calls["E23010000001"]
    assert r["received"] == datetime(2023, 1, 1, 8, 0, 5, tzinfo=UTC)
    assert r["received_local"] == datetime(2023, 1, 1, 0, 0, 5)
    assert (r["priority_raw"], r["priority_rank"]) == ("2", 3)
    assert (r["disposition_raw"], r["outcome"]) == ("CANCEL", "cancelled")
    assert (r["call_type_code"], r["beat"], r["district"]) == ("FD", "523", "Central")
    # priority 1 -> rank 2, "no report required" -> no_action, beat 433 in Southeastern
    r = calls["E23010000004"]
    assert r["received"] == datetime(2023, 1, 1, 8, 1, 15, tzinfo=UTC)
    assert (r["priority_rank"], r["outcome"], r["district"]) == (2, "no_action", "Southeastern")
    assert (r["call_type_code"], r["disposition_raw"]) == ("AU1", "NO REPORT REQUIRED")
    # unknown beat
    r = calls["E23010000002"]
    assert (r["beat"], r["district"], r["outcome"], r["priority_rank"]) == (None, None, "cancelled", 5)


def test_addresses_only_in_the_sensitive_table(sd):
    ws, _, calls = sd
    sens = {s["call_id"]: s["location"] for s in open_dataset(ws, "sensitive").to_pyarrow().to_pylist()}
    assert "location" not in next(iter(calls.values()))
    assert sens["E23010000004"] == "600 FERGUS ST"
    assert sens["E23010000001"] == "0 05TH AVE / G"  # an intersection
