"""San Antonio: received comes from ResponseDate, because Time drops AM/PM for hours 1-9."""

from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from rightresponse import ingest, open_dataset
from rightresponse.ingest.adapter import detect_adapter
from rightresponse.ingest.readers import columns_of

from conftest import CFS, need

FILE = "sapd_calls_2023-06_partial_snapshot_2023-06-06.csv"
UTC = timezone.utc
CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture(scope="module")
def sa(tmp_path_factory):
    ws = tmp_path_factory.mktemp("sa") / "ws"
    summary = ingest([need(CFS / "san_antonio" / FILE)], workspace=ws)
    calls = {r["call_id"]: r for r in open_dataset(ws).to_pyarrow().to_pylist()}
    with open(CFS / "san_antonio" / FILE, newline="", encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    return ws, summary, calls, raw


def test_detected_and_reconciled(sa, cfs):
    _, summary, calls, raw = sa
    assert detect_adapter(columns_of(cfs / "san_antonio" / FILE)).name == "san_antonio"
    f = summary.files[0]
    assert f.adapter == "san_antonio"
    assert f.rows_read == len(raw) == 13924
    assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
    assert (f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (len(raw), 0, 0)
    assert len(calls) == len({r["IncidentNumber"] for r in raw})
    assert all(c["arrived"] is None and c["origin"] == "unknown" for c in calls.values())


def test_received_agrees_with_date_and_time_where_time_is_unambiguous(sa):
    """Date+Time is the same instant on the local clock; Time lacks AM/PM for hours 1-9."""
    _, _, calls, raw = sa
    with_meridiem = apart = no_meridiem = 0
    for r in raw:
        c = calls[r["IncidentNumber"]]
        t = r["Time"].strip()
        if re.search(r"[AP]M$", t):
            with_meridiem += 1
            local = datetime.strptime(f"{r['Date']} {t}", "%m/%d/%y %I:%M:%S %p").replace(tzinfo=CHICAGO)
            if abs(c["received"] - local) > timedelta(0):
                apart += 1
                assert abs(c["received"] - local) <= timedelta(seconds=1)
        else:
            no_meridiem += 1
            h, m, s = map(int, t.split(":"))
            loc = c["received_local"]
            assert 1 <= h <= 9 and (loc.hour % 12, loc.minute, loc.second) == (h, m, s)
            assert loc.strftime("%m/%d/%y") == r["Date"]
    assert (with_meridiem, no_meridiem, apart) == (3963, 9961, 1)


def test_rows_normalize_exactly(sa):
    ws, _, calls, _ = sa
    # " 6:51:17" on 06/01/23 was 6:51 AM CDT (UTC-5) ...
    r = calls["SAPD-2023-0761785"]
    assert r["received"] == datetime(2023, 6, 1, 11, 51, 17, tzinfo=UTC)
    assert r["received_local"] == datetime(2023, 6, 1, 6, 51, 17)
    assert (r["call_type"], r["district"], r["beat"]) == ("Criminal Mischief In Progress", "CENTRAL", "2110")
    assert r["priority_rank"] is None and r["outcome"] is None
    # ... while " 5:50:38" on the same day was 5:50 PM.
    r = calls["SAPD-2023-0764944"]
    assert r["received"] == datetime(2023, 6, 1, 22, 50, 38, tzinfo=UTC)
    assert r["received_local"] == datetime(2023, 6, 1, 17, 50, 38)
    assert (r["call_type"], r["district"], r["beat"]) == ("Traffic Related", "WEST", "5250")
    sens = {s["call_id"]: s for s in open_dataset(ws, "sensitive").to_pyarrow().to_pylist()}
    assert sens["SAPD-2023-0761785"]["location"] == "800 E Commerce St"
    assert sens["SAPD-2023-0761785"]["latitude"] == pytest.approx(29.423616)
    assert "location" not in r
