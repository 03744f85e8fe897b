"""Property: whatever a CSV holds, rows read = loaded + quarantined + duplicates, and rows read
is the number of records in the file, counted here by the test itself.

Hypothesis builds the files: quoted fields with delimiters, quotes and line breaks inside,
NUL bytes, fields over DuckDB's 2 MB line limit, a last record of 33-36 MB of NUL bytes (which
DuckDB's scan dropped silently), ragged rows, blank lines, repeated calls,
duplicated header names, and the encodings exports come in (UTF-8 with and without a BOM,
UTF-16, cp1252, UTF-8 with a few cp1252 lines) with LF, CRLF or both. The test's count is
Python's csv module over the bytes (decoded as latin-1, so every quote and line break is
where the bytes put it; UTF-16 decoded first): a reader of its own, not ingest's.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import rightresponse as rr

ADAPTER = {
    "name": "property_city", "agency": "property_city", "timezone": "America/Chicago",
    "detect": ["id", "received"],
    "fields": {"call_id": "id", "call_type": "type", "narrative": "notes"},
    "timestamps": {"formats": ["%Y-%m-%d %H:%M:%S"], "received": "received"},
}

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
_quoting = st.sampled_from(['"', '""', ",", ";", "\n", "\r", "\r\n", "é", "’", "$$", "\\", "'", " ", "\t"])
_value = st.lists(st.one_of(_text, _quoting), max_size=6).map("".join)
_dirty_value = st.lists(st.one_of(_text, _quoting, st.just("\x00")), max_size=6).map("".join)  # NUL bytes too
_big = st.integers(2_100_000, 2_600_000).map(lambda n: "N" * n)  # over DuckDB's 2 MB line limit
_id = st.sampled_from([f"C{i}" for i in range(8)])  # a small pool: repeats


@st.composite
def record(draw, dirty: bool):
    value = _dirty_value if dirty else _value
    rec = [draw(st.one_of(_id, value)), draw(st.one_of(st.just("2025-03-04 05:06:07"), st.just("2025-11-02 01:30:00"),
                                                      value)),
           draw(value), draw(st.one_of(value, _big) if draw(st.integers(0, 30)) == 0 else value)]
    shape = draw(st.integers(0, 8)) if dirty else 2
    if shape == 0:
        rec = rec[: draw(st.integers(0, 3))]  # too few fields (a zero-field record is a blank line)
    elif shape == 1:
        rec += [draw(value) for _ in range(draw(st.integers(1, 3)))]  # too many
    return rec


@st.composite
def hostile_csv(draw) -> tuple[bytes, str]:
    header = ["id", "received", "type", "notes"]
    if draw(st.booleans()):
        header.append("type")  # a duplicated name (read as type_1)
    dirty = draw(st.booleans())  # ragged rows and NUL bytes (the others are well-formed CSV)
    recs = draw(st.lists(record(dirty), min_size=0, max_size=25))
    if len(header) == 5:
        recs = [r + [draw(_value)] if len(r) == 4 else r for r in recs]
    eol = draw(st.sampled_from(["\n", "\r\n", "mixed"]))
    out = io.StringIO()
    lines = []
    for rec in [header] + recs:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n" if eol == "\r\n" or (eol == "mixed" and len(lines) % 2) else "\n",
                   quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))).writerow(rec)
        lines.append(buf.getvalue())
        if draw(st.integers(0, 10)) == 0:
            lines.append(draw(st.sampled_from(["\n", "\r\n"])))  # a blank line
    out.write("".join(lines))
    if dirty and draw(st.integers(0, 3)) == 0:
        out.write(draw(st.sampled_from(['"unterminated,x', "x,y\x00\x00", '"a""b",c"d"e\n'])))
    if dirty and draw(st.integers(0, 9)) == 0:
        # A last record of NUL bytes beyond DuckDB's 32 MB buffer: its strict scan dropped it
        # without a word, and ingest used to trust its count.
        out.write("\x00" * draw(st.integers(33 << 20, 36 << 20)) + "\n")
    text = out.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "mixed"]))
    if encoding == "cp1252":
        data = text.encode("cp1252", errors="replace")
    elif encoding == "mixed":  # UTF-8, with every third line in cp1252
        parts = text.splitlines(keepends=True)
        data = b"".join(p.encode("cp1252", errors="replace") if i % 3 == 2 else p.encode("utf-8")
                        for i, p in enumerate(parts))
    else:
        data = text.encode(encoding)
    return data, encoding


def records_in(data: bytes, encoding: str) -> int:
    """The test's own count: csv records after the header, blank lines excluded."""
    text = data.decode("utf-16", errors="replace") if encoding == "utf-16" else data.decode("latin-1")
    old = csv.field_size_limit(2**31 - 1)
    try:
        return max(sum(1 for rec in csv.reader(io.StringIO(text, newline="")) if rec) - 1, 0)
    finally:
        csv.field_size_limit(old)


@pytest.fixture(scope="module")
def adapter(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("adapter") / "property_city.yaml"
    path.write_text(yaml.safe_dump(ADAPTER), encoding="utf-8")
    return str(path)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                                 HealthCheck.function_scoped_fixture])
@pytest.mark.slow
@given(csv_file=hostile_csv())
def test_every_record_is_loaded_quarantined_or_a_duplicate(adapter, csv_file):
    data, encoding = csv_file
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hostile.csv"
        path.write_bytes(data)
        s = rr.ingest([path], workspace=Path(tmp) / "ws", adapter=adapter)
        (f,) = s.files
        event(f"{encoding}, {f.reader} reader")
        event("quarantined some" if f.rows_quarantined else "quarantined none")
        event("duplicates" if f.rows_duplicate else "no duplicates")
        event("a field over 2 MB" if len(data) > 2_000_000 else "small")
        assert f.rows_read == records_in(data, encoding), (f, encoding)
        assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
        assert f.rows_quarantined == sum(f.quarantine_reasons.values())
        # ... and the workspace holds exactly what the summary says
        con = duckdb.connect()
        try:
            def count(table):
                try:
                    return rr.open_dataset(Path(tmp) / "ws", table).count().execute()
                except FileNotFoundError:
                    return 0
            assert count("calls") == f.rows_loaded
            assert count("quarantine") == f.rows_quarantined
        finally:
            con.close()
