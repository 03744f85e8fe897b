"""Every supported container and format ingests to the same normalized calls as the CSV original.

The variants are built in tmp_path from the real New Orleans and Baltimore exports, the way
each portal or tool writes them (Socrata JSON with lower-case field names and ISO times,
Excel with real date cells, Parquet with typed timestamps, ArcGIS with epoch-ms numbers).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import rightresponse as rr

from conftest import CFS, need

NOLA = CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv"
BALTIMORE = CFS / "baltimore" / "pdap_CFS_2018_converted.csv"
NOLA_TS = {"TimeCreate", "TimeDispatch", "TimeArrive", "TimeClosed"}
NOLA_FMT = "%m/%d/%Y %I:%M:%S %p"


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(need(path), newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _table(ws: Path, table: str, exclude: str) -> list[dict]:
    """A workspace table as dicts ordered by call_id, without the lineage columns named."""
    con = duckdb.connect()
    try:
        cur = con.execute(
            f"SELECT * EXCLUDE ({exclude}) FROM read_parquet('{ws}/{table}/*/*/*.parquet', hive_partitioning=true) "
            "ORDER BY call_id"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def _ingest(path: Path, ws: Path, **kw):
    s = rr.ingest([path], workspace=ws, **kw)
    for f in s.files:
        assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
    return s


@pytest.fixture(scope="module")
def nola():
    header, data = _rows(NOLA)
    assert len(data) == 3213 and len({r[0] for r in data}) == 3213  # independent count, all distinct ids
    return header, data


@pytest.fixture(scope="module")
def reference(nola, tmp_path_factory):
    """The CSV original, ingested once: (calls, sensitive) without lineage columns."""
    ws = tmp_path_factory.mktemp("ref") / "ws"
    s = _ingest(NOLA, ws)
    assert (s.rows_read, s.rows_loaded, s.rows_quarantined) == (3213, 3213, 0)
    calls = _table(ws, "calls", "source_file")
    assert len(calls) == 3213
    return calls, _table(ws, "sensitive", "year")


def _same_as_csv(ws: Path, reference, lineage: str = "source_file", first: int | None = None) -> None:
    """The workspace holds exactly the reference calls (or those of its ``first`` records)."""
    calls, sensitive = reference
    if first is not None:
        calls = [r for r in calls if r["source_row"] <= first]
        sensitive = [r for r in sensitive if r["call_id"] in {c["call_id"] for c in calls}]
    got = _table(ws, "calls", lineage)
    assert len(got) == len(calls)
    if lineage == "source_file":
        assert got == calls
    else:  # source_row too: compare without it
        assert got == [{k: v for k, v in r.items() if k != "source_row"} for r in calls]
    assert _table(ws, "sensitive", "year") == sensitive


def test_reference_times_are_exact_utc_instants(reference):
    """Spot check of what every format must reproduce, DST included (CDT = UTC-5)."""
    calls, _ = reference
    row = next(r for r in calls if r["call_id"] == "D0807116")
    assert (row["agency"], row["source_row"], row["year"]) == ("new_orleans", 1, 2016)
    assert row["received"] == dt.datetime(2016, 4, 8, 2, 9, tzinfo=dt.timezone.utc)
    assert row["dispatched"] == dt.datetime(2016, 4, 8, 2, 14, 54, tzinfo=dt.timezone.utc)
    assert row["received_local"] == dt.datetime(2016, 4, 7, 21, 9)


# ---------------------------------------------------------------- delimited text


@pytest.mark.slow
@pytest.mark.parametrize("delim, name", [(";", "semicolon.csv"), ("\t", "tab.tsv"), ("|", "pipe.txt")])
def test_other_delimiters(nola, reference, tmp_path, delim, name):
    header, data = nola
    p = tmp_path / name
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=delim)
        w.writerow(header)
        w.writerows(data)
    s = _ingest(p, tmp_path / "ws")
    assert (s.files[0].adapter, s.rows_read, s.rows_loaded) == ("new_orleans", 3213, 3213)
    _same_as_csv(tmp_path / "ws", reference)


def test_gzip(reference, tmp_path):
    p = tmp_path / NOLA.with_suffix(".csv.gz").name
    p.write_bytes(gzip.compress(NOLA.read_bytes()))
    s = _ingest(p, tmp_path / "ws")
    assert (s.rows_read, s.rows_loaded) == (3213, 3213)
    _same_as_csv(tmp_path / "ws", reference)


def test_zip_with_one_member(reference, tmp_path):
    p = tmp_path / "export.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(NOLA, NOLA.name)
    s = _ingest(p, tmp_path / "ws")
    (f,) = s.files
    assert f.path == str(tmp_path / f"export.zip!{NOLA.name}")  # reported by archive, not by temp path
    assert (f.rows_read, f.rows_loaded) == (3213, 3213)
    _same_as_csv(tmp_path / "ws", reference)


@pytest.mark.slow
def test_zip_with_several_members_and_a_readme(nola, reference, tmp_path):
    """Members are ingested one by one; a non-data member is listed as skipped, not loaded."""
    header, data = nola
    p = tmp_path / "quarterly.zip"
    bounds = [(0, 1000), (1000, 2500), (2500, 3213)]
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (a, b) in enumerate(bounds, 1):
            with zf.open(f"q{i}/calls.csv", "w") as fh:
                text = "\n".join(",".join(f'"{v}"' if "," in v else v for v in r) for r in [header] + data[a:b])
                fh.write((text + "\n").encode())
        zf.writestr("README.txt", "Calls for service, exported quarterly.\n")
    s = _ingest(p, tmp_path / "ws")
    assert [(Path(f.path).name, f.rows_read, f.rows_loaded) for f in s.files] == [
        ("quarterly.zip!q1_calls.csv", 1000, 1000),
        ("quarterly.zip!q2_calls.csv", 1500, 1500),
        ("quarterly.zip!q3_calls.csv", 713, 713),
    ]
    assert s.skipped == [f"{tmp_path / 'quarterly.zip!README.txt'}: no adapter matches its columns"]
    _same_as_csv(tmp_path / "ws", reference, lineage="source_file, source_row")


# ---------------------------------------------------------------- Excel, Parquet


@pytest.mark.slow
def test_excel_with_date_cells(nola, reference, tmp_path):
    """As an analyst saves it: times as real Excel dates, coordinates as numbers, blanks empty.

    1,200 rows, not all 3,213: openpyxl takes seconds per workbook either way.
    """
    openpyxl = pytest.importorskip("openpyxl")
    header, data = nola[0], nola[1][:1200]
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("calls")
    ws.append(header)
    for r in data:
        ws.append([
            dt.datetime.strptime(v, NOLA_FMT) if h in NOLA_TS and v else int(v) if h in ("MapX", "MapY") else (v or None)
            for h, v in zip(header, r)
        ])
    p = tmp_path / "calls.xlsx"
    wb.save(p)
    s = _ingest(p, tmp_path / "ws")
    assert (s.files[0].reader, s.rows_read, s.rows_loaded) == ("excel", 1200, 1200)
    _same_as_csv(tmp_path / "ws", reference, first=1200)


def test_parquet_with_typed_columns(nola, reference, tmp_path):
    header, data = nola
    cols = {}
    for i, h in enumerate(header):
        if h in NOLA_TS:
            cols[h] = pa.array([dt.datetime.strptime(r[i], NOLA_FMT) if r[i] else None for r in data], pa.timestamp("s"))
        elif h in ("MapX", "MapY"):
            cols[h] = pa.array([int(r[i]) for r in data], pa.int64())
        else:
            cols[h] = pa.array([r[i] or None for r in data], pa.string())
    p = tmp_path / "calls.parquet"
    pq.write_table(pa.table(cols), p, row_group_size=400)  # several row groups: order must hold
    s = _ingest(p, tmp_path / "ws")
    assert (s.files[0].reader, s.rows_read, s.rows_loaded) == ("parquet", 3213, 3213)
    _same_as_csv(tmp_path / "ws", reference)


# ---------------------------------------------------------------- JSON


def _socrata(header: list[str], row: list[str]) -> dict:
    """A record as Socrata's API returns it: lower-case field names, ISO times, nulls left out."""
    out = {}
    for h, v in zip(header, row):
        if v == "":
            continue
        if h in NOLA_TS:
            v = dt.datetime.strptime(v, NOLA_FMT).strftime("%Y-%m-%dT%H:%M:%S.000")
        out[h.lower()] = v
    return out


def test_socrata_json_list_of_records(nola, reference, tmp_path):
    header, data = nola
    p = tmp_path / "calls.json"
    p.write_text(json.dumps([_socrata(header, r) for r in data]))
    s = _ingest(p, tmp_path / "ws")
    assert (s.files[0].reader, s.rows_read, s.rows_loaded) == ("json", 3213, 3213)
    _same_as_csv(tmp_path / "ws", reference)


@pytest.mark.slow
def test_socrata_rows_json(nola, reference, tmp_path):
    header, data = nola
    meta = [{"fieldName": f":{n}", "name": n} for n in ("sid", "id", "position", "created_at", "updated_at", "meta")]
    columns = meta + [{"fieldName": h.lower(), "name": h, "dataTypeName": "text"} for h in header]
    rows = []
    for i, r in enumerate(data, 1):
        rec = _socrata(header, r)
        rows.append([i, f"row-{i:05d}", 0, 1464000000, 1464000000, "{ }"] + [rec.get(h.lower()) for h in header])
    p = tmp_path / "rows.json"
    p.write_text(json.dumps({"meta": {"view": {"id": "w68y-xmk6", "columns": columns}}, "data": rows}))
    s = _ingest(p, tmp_path / "ws")
    assert (s.rows_read, s.rows_loaded) == (3213, 3213)
    _same_as_csv(tmp_path / "ws", reference)


def test_ndjson(nola, reference, tmp_path):
    header, data = nola
    p = tmp_path / "calls.ndjson"
    p.write_text("".join(json.dumps(_socrata(header, r)) + "\n" for r in data))
    s = _ingest(p, tmp_path / "ws")
    assert (s.rows_read, s.rows_loaded) == (3213, 3213)
    _same_as_csv(tmp_path / "ws", reference)


def test_ndjson_with_a_broken_line_quarantines_only_that_line(nola, tmp_path):
    header, data = nola
    lines = [json.dumps(_socrata(header, r)) for r in data[:50]]
    lines[20] = lines[20][:35]  # cut mid-record
    lines[30] = "[1, 2]"  # valid JSON, but not a record
    p = tmp_path / "calls.ndjson"
    p.write_text("\n".join(lines) + "\n")
    s = _ingest(p, tmp_path / "ws")
    assert (s.rows_read, s.rows_loaded, s.rows_quarantined) == (50, 48, 2)
    q = rr.open_dataset(tmp_path / "ws", "quarantine").order_by("source_row").to_pandas()
    assert q["source_row"].tolist() == [21, 31]
    assert q["reason"].tolist() == ["malformed_record", "malformed_record"]
    assert q["message"].tolist()[1] == "record 31: line 31 is not a JSON object"
    assert q["record"].tolist() == [lines[20], "[1, 2]"]


def test_truncated_json_document_is_a_one_line_error(nola, tmp_path):
    header, data = nola
    text = json.dumps([_socrata(header, r) for r in data[:20]], indent=1)
    p = tmp_path / "calls.json"
    p.write_text(text[: len(text) // 2])
    with pytest.raises(rr.IngestError) as exc:
        rr.ingest([p], workspace=tmp_path / "ws")
    assert str(exc.value).startswith(f"{p}: invalid JSON at line ") and "\n" not in str(exc.value)


BALTIMORE_ADAPTER = {
    "name": "baltimore_test",
    "agency": "baltimore",
    "timezone": "America/New_York",
    "detect": ["callKey", "callDateTime", "callNumber", "description"],
    "fields": {"call_id": "callNumber", "call_type": "description", "district": "district",
               "location": "incidentLocation"},
    "timestamps": {"received": {"epoch_ms": "callDateTime"}},
    "priority": {"column": "priority", "map": {"High": 1, "Medium": 2, "Low": 3, "Non-Emergency": 4}},
}


def test_arcgis_feature_export_matches_the_csv(tmp_path):
    """Baltimore's real rows in ArcGIS REST shape: numbers stay numbers, times are epoch ms."""
    header, data = _rows(BALTIMORE)
    assert len(data) == 2000
    numeric = {"OBJECTID", "recordId", "callDateTime", "PolicePost", "CouncilDistrict", "ZIPCode"}
    features = [
        {"attributes": {h: (float(v) if "." in v else int(v)) if h in numeric and v else (v or None)
                        for h, v in zip(header, r)},
         "geometry": {"x": -76.6, "y": 39.3}}
        for r in data
    ]
    assert features[0]["attributes"]["callDateTime"] == 1516437780000
    p = tmp_path / "query.json"
    p.write_text(json.dumps({"objectIdFieldName": "OBJECTID", "geometryType": "esriGeometryPoint",
                             "features": features}))
    adapter = tmp_path / "baltimore_test.yaml"
    adapter.write_text(yaml.safe_dump(BALTIMORE_ADAPTER))
    s_json = _ingest(p, tmp_path / "ws_json", adapter=str(adapter))
    s_csv = _ingest(BALTIMORE, tmp_path / "ws_csv", adapter=str(adapter))
    assert (s_json.rows_read, s_json.rows_loaded) == (s_csv.rows_read, s_csv.rows_loaded) == (2000, 2000)
    got = _table(tmp_path / "ws_json", "calls", "source_file")
    assert got == _table(tmp_path / "ws_csv", "calls", "source_file")
    row = next(r for r in got if r["call_id"] == "P180200676")  # callDateTime 1516437780000
    assert row["received"] == dt.datetime(2018, 1, 20, 8, 43, tzinfo=dt.timezone.utc)
    assert row["received_local"] == dt.datetime(2018, 1, 20, 3, 43)  # EST = UTC-5
    assert (row["priority_rank"], row["district"]) == (4, "CD")
