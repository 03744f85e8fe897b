"""Bad input is a feature: every corrupted variant of a real export either fails with a
one-line error naming the file, or loads with every record accounted for.

The base is New Orleans' real export (header ends LF, records CRLF: a mixed-newline file
that DuckDB's strict scanner refuses, so the exact Python path reads it). ``_lf`` variants
use LF throughout so the DuckDB path is exercised with the same corruption.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rightresponse as rr
from rightresponse.ingest.adapter import builtin_adapter_dir
from rightresponse.ingest.pipeline import FileSummary, IngestError
from rightresponse.ingest.workspace import Workspace

from conftest import CFS, need

NOLA = CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv"
WIDTH = 22  # columns in the NOLA layout
TIME_CREATE = 9  # field index of TimeCreate


def _nola() -> tuple[bytes, list[bytes]]:
    """Header line and the data records (each with its own CRLF) of the real file."""
    data = need(NOLA).read_bytes()
    header, _, body = data.partition(b"\n")
    recs = [r + b"\n" for r in body.split(b"\n") if r]
    assert len(recs) == 3213 and all(r.endswith(b"\r\n") for r in recs)
    return header + b"\n", recs


HEADER, RECS = (b"", []) if not NOLA.exists() else _nola()


def lf(recs: list[bytes]) -> list[bytes]:
    return [r.replace(b"\r\n", b"\n") for r in recs]


def fields(rec: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(rec.decode("latin-1"), newline="")))


def count_records(data: bytes, encoding: str = "latin-1") -> int:
    """Independent count of data records: RFC 4180 records after the header, blank lines excluded.

    latin-1 maps every byte to one character, so quotes, delimiters and newlines are
    where they are in the bytes whatever the file's real encoding (UTF-8 or cp1252).
    """
    reader = csv.reader(io.StringIO(data.decode(encoding), newline=""))
    return sum(1 for rec in reader if rec) - 1


def line(values: list[str], eol: str = "crlf") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if eol == "crlf" else "\n").writerow(values)
    return out.getvalue().encode()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def ingest_one(path: Path, ws: Path, **kw) -> FileSummary:
    """Ingest one file into a fresh workspace and check the summary against the workspace itself."""
    s = rr.ingest([path], workspace=ws, **kw)
    (f,) = s.files
    assert f.rows_read == f.rows_loaded + f.rows_quarantined + f.rows_duplicate
    assert f.rows_quarantined == sum(f.quarantine_reasons.values())
    con = duckdb.connect()
    try:
        calls = con.execute(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning=false) WHERE source_file = ?",
            [str(ws / "calls" / "*" / "*" / "*.parquet"), path.name],
        ).fetchone()[0] if (ws / "calls").exists() else 0
        qfiles = list((ws / "quarantine").glob("*.parquet")) if (ws / "quarantine").exists() else []
        quarantined = dict(con.execute(
            "SELECT reason, count(*) FROM read_parquet(?) WHERE source_file = ? GROUP BY 1",
            [[str(q) for q in qfiles], path.name],
        ).fetchall()) if qfiles else {}
    finally:
        con.close()
    assert calls == f.rows_loaded
    assert quarantined == f.quarantine_reasons
    return f


def quarantine(ws: Path) -> list[dict]:
    con = duckdb.connect()
    try:
        cur = con.execute(f"SELECT * FROM read_parquet('{ws}/quarantine/*.parquet') ORDER BY source_row")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def calls(ws: Path, cols: str = "*") -> list[tuple]:
    con = duckdb.connect()
    try:
        return con.execute(
            f"SELECT {cols} FROM read_parquet('{ws}/calls/*/*/*.parquet', hive_partitioning=false) ORDER BY source_row"
        ).fetchall()
    finally:
        con.close()


def one_line_error(exc: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg, msg
    return msg


# ---------------------------------------------------------------- truncation


@pytest.mark.parametrize("eol", ["crlf", "lf"])
def test_file_cut_mid_record_quarantines_the_partial_record(tmp_path, eol):
    recs = RECS[:41] if eol == "crlf" else lf(RECS[:41])
    cut = recs[40][:40]  # 'D1188416,62A,"BURGLAR ALARM, SILENT",2C,': 5 fields, no newline
    data = HEADER + b"".join(recs[:40]) + cut
    f = ingest_one(write(tmp_path, "cut.csv", data), tmp_path / "ws")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (41, 40, 1, 0)
    assert f.rows_read == count_records(data)
    (q,) = quarantine(tmp_path / "ws")
    assert (q["source_file"], q["source_row"], q["reason"]) == ("cut.csv", 41, "malformed_record")
    assert q["message"] == "record 41: expected 22 fields, found 5"
    assert json.loads(q["record"]) == fields(cut)


@pytest.mark.parametrize("eol", ["crlf", "lf"])
def test_file_cut_inside_a_quoted_field_keeps_every_earlier_record(tmp_path, eol):
    recs = RECS[:41] if eol == "crlf" else lf(RECS[:41])
    last = recs[40]
    q0 = last.index(b'"(')
    cut = last[: q0 + 8]  # ... ,"(29.94  : the Location quote never closes
    data = HEADER + b"".join(recs[:40]) + cut
    f = ingest_one(write(tmp_path, "cut.csv", data), tmp_path / "ws")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (41, 40, 1)
    assert f.rows_read == count_records(data)
    (q,) = quarantine(tmp_path / "ws")
    assert q["source_row"] == 41 and q["reason"] == "malformed_record"
    assert q["message"] == "record 41: expected 22 fields, found 21"
    rec = json.loads(q["record"])
    assert rec == fields(cut) and rec[-1] == last[q0 + 1 : q0 + 8].decode()  # the partial value is kept


def test_truncated_or_corrupt_gzip_is_a_one_line_error(tmp_path):
    good = gzip.compress(HEADER + b"".join(RECS[:100]))
    for name, data in [("cut.csv.gz", good[: len(good) // 2]), ("plain.csv.gz", HEADER + RECS[0])]:
        p = write(tmp_path, name, data)
        with pytest.raises(IngestError) as exc:
            rr.ingest([p], workspace=tmp_path / "ws")
        assert "corrupt or truncated gzip data" in one_line_error(exc, p)
    assert not (tmp_path / "ws").exists()  # checked before anything was written


# ---------------------------------------------------------------- encodings


def test_cp1252_lines_in_a_utf8_file_are_decoded_per_line(tmp_path):
    """One pasted cp1252 line must not turn the file's correct UTF-8 into mojibake."""
    recs = lf(RECS[:30])
    ids = [fields(r)[0] for r in recs]
    # record 4: cp1252 bytes (é = E9, right quote = 92); record 8: the same text in UTF-8
    recs[3] = recs[3].replace(b"NAT,Necessary Action Taken", b"NAT,Necessary Action Taken \xe9\x92", 1)
    recs[7] = recs[7].replace(b"NAT,Necessary Action Taken", "NAT,Necessary Action Taken é’".encode(), 1)
    assert recs[3] != RECS[3] and recs[7] != RECS[7]
    data = HEADER + b"".join(recs)
    f = ingest_one(write(tmp_path, "mixed.csv", data), tmp_path / "ws")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (30, 30, 0)
    assert f.rows_read == count_records(data)
    assert f.warnings[0] == "1 line(s) are not valid UTF-8 and were read as cp1252/latin-1 (first: line 5)"
    got = dict(calls(tmp_path / "ws", "call_id, disposition_raw"))
    assert got[ids[3]] == got[ids[7]] == "Necessary Action Taken é’"
    assert got[ids[0]] == "Necessary Action Taken"


def test_utf16_file_with_bom_reads_like_the_utf8_original(tmp_path):
    text = (HEADER + b"".join(RECS[:50])).decode("utf-8")
    f8 = ingest_one(write(tmp_path, "u8.csv", text.encode("utf-8")), tmp_path / "ws8")
    f16 = ingest_one(write(tmp_path, "u16.csv", text.encode("utf-16")), tmp_path / "ws16")
    assert (f16.rows_read, f16.rows_loaded, f16.warnings) == (50, 50, [])
    assert f16.rows_read == count_records(text.encode("utf-16"), "utf-16")
    assert (f8.rows_read, f8.rows_loaded) == (50, 50)
    cols = "call_id, received, dispatched, arrived, cleared, call_type, priority_rank, outcome, time_issue"
    assert calls(tmp_path / "ws16", cols) == calls(tmp_path / "ws8", cols)


def test_utf16_file_cut_mid_character_warns_and_quarantines_the_last_record(tmp_path):
    data = (HEADER + b"".join(RECS[:50])).decode("utf-8").encode("utf-16")
    data = data[: len(data) - 41]  # odd length: the last record loses 20 characters and a half
    f = ingest_one(write(tmp_path, "u16.csv", data), tmp_path / "ws")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (50, 49, 1)
    assert f.rows_read == count_records(data[:-1], "utf-16")  # whole characters only
    assert f.warnings[0].startswith("not valid UTF-16 near byte")
    (q,) = quarantine(tmp_path / "ws")
    assert (q["source_row"], q["reason"]) == (50, "malformed_record")


# ---------------------------------------------------------------- garbage


@pytest.mark.parametrize("eol", ["crlf", "lf"])
def test_random_byte_lines_and_nul_padding_are_quarantined(tmp_path, eol):
    recs = RECS[:20] if eol == "crlf" else lf(RECS[:20])
    nl = b"\r\n" if eol == "crlf" else b"\n"
    garbage = bytes(b for b in range(1, 256) if b not in b'\r\n",') + nl  # one field of junk bytes
    data = HEADER + b"".join(recs[:5]) + garbage + b"".join(recs[5:]) + b"\x00" * 512  # zero-filled tail
    f = ingest_one(write(tmp_path, "junk.csv", data), tmp_path / "ws")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (22, 20, 2)
    assert f.rows_read == count_records(data)
    q = quarantine(tmp_path / "ws")
    assert [(r["source_row"], r["reason"], r["message"]) for r in q] == [
        (6, "malformed_record", "record 6: expected 22 fields, found 1"),
        (22, "malformed_record", "record 22: expected 22 fields, found 1"),
    ]
    assert json.loads(q[1]["record"]) == ["\x00" * 512]
    # the records after the junk line keep their own number
    assert [r[0] for r in calls(tmp_path / "ws", "source_row")] == [1, 2, 3, 4, 5] + list(range(7, 22))


@pytest.mark.parametrize("eol", ["crlf", "lf"])
def test_nul_byte_inside_a_timestamp_names_the_column(tmp_path, eol):
    recs = RECS[:20] if eol == "crlf" else lf(RECS[:20])
    f0 = fields(recs[9])
    bad = f0[TIME_CREATE][:5] + "\x00" + f0[TIME_CREATE][6:]
    recs[9] = recs[9].replace(f0[TIME_CREATE].encode(), bad.encode(), 1)
    data = HEADER + b"".join(recs)
    f = ingest_one(write(tmp_path, "nul.csv", data), tmp_path / "ws")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (20, 19, 1)
    assert f.rows_read == count_records(data)
    (q,) = quarantine(tmp_path / "ws")
    assert (q["source_row"], q["reason"], q["column_name"]) == (10, "unparseable_timestamp", "TimeCreate")
    assert q["message"].startswith("column TimeCreate (received): '")
    assert json.loads(q["record"])["TimeCreate"] == bad


# ---------------------------------------------------------------- shifted columns


@pytest.mark.parametrize("eol", ["crlf", "lf"])
def test_shifted_columns(tmp_path, eol):
    recs = RECS[:30] if eol == "crlf" else lf(RECS[:30])
    orig = [fields(r) for r in recs]
    recs[5] = recs[5].replace(b",", b",,", 1)  # an extra delimiter: 23 fields
    recs[7] = recs[7].replace(b",", b"", 1)  # a lost delimiter: 21 fields
    # an unquoted comma in a description and a lost delimiter later: 22 fields, all shifted
    f11 = list(orig[11])
    assert "," not in f11[2]
    shifted = f11[:2] + [f11[2][:3], f11[2][3:]] + f11[3:9] + [f11[9] + f11[10]] + f11[11:]
    recs[11] = line(shifted, eol)
    assert fields(recs[11]) == shifted and len(shifted) == WIDTH
    f13 = list(orig[13])
    f13[TIME_CREATE] = "CALL TAKER NOTE"  # text where a timestamp belongs
    recs[13] = line(f13, eol)
    data = HEADER + b"".join(recs)
    f = ingest_one(write(tmp_path, "shifted.csv", data), tmp_path / "ws")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (30, 26, 4)
    assert f.quarantine_reasons == {"malformed_record": 2, "unparseable_timestamp": 2}
    assert f.rows_read == count_records(data)
    q = {r["source_row"]: r for r in quarantine(tmp_path / "ws")}
    assert q[6]["message"] == "record 6: expected 22 fields, found 23"
    assert q[8]["message"] == "record 8: expected 22 fields, found 21"
    assert q[6]["column_name"] is None
    assert (q[12]["reason"], q[12]["column_name"]) == ("unparseable_timestamp", "TimeCreate")
    assert q[12]["message"].startswith(f"column TimeCreate (received): '{f11[8]}' matches none of the formats")
    assert json.loads(q[12]["record"])["TimeCreate"] == f11[8]  # MapY, shifted into TimeCreate
    assert (q[14]["reason"], q[14]["column_name"]) == ("unparseable_timestamp", "TimeCreate")
    assert q[14]["message"].startswith("column TimeCreate (received): 'CALL TAKER NOTE' matches none")
    assert json.loads(q[8]["record"]) == fields(recs[7])


def test_stray_quote_merges_lines_into_one_quarantined_record(tmp_path):
    """An opening quote swallows text up to the next quote; the merged record is not lost."""
    recs = lf(RECS[:20])
    i = recs[4].rindex(b",")
    recs[4] = recs[4][: i + 1] + b'"' + recs[4][i + 1 :]  # opens a quote that closes in record 6's Location
    data = HEADER + b"".join(recs)
    f = ingest_one(write(tmp_path, "quote.csv", data), tmp_path / "ws")
    n = count_records(data)
    assert n == 19  # records 5 and 6 became one
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (19, 18, 1)
    (q,) = quarantine(tmp_path / "ws")
    assert q["source_row"] == 5 and q["reason"] == "malformed_record"
    assert fields(RECS[5])[0] in q["record"]  # the swallowed record's text is in the quarantine


# ---------------------------------------------------------------- empty, header-only, huge


def test_empty_file_is_a_one_line_error(tmp_path):
    p = write(tmp_path, "empty.csv", b"")
    with pytest.raises(IngestError) as exc:
        rr.ingest([p], workspace=tmp_path / "ws")
    assert one_line_error(exc, p).endswith("the file is empty (no header row)")


@pytest.mark.parametrize("tail", [b"\n", b"\r\n", b""])
def test_header_only_file_reads_zero_rows(tmp_path, tail):
    p = write(tmp_path, "hdr.csv", HEADER.rstrip(b"\n") + tail)
    s = rr.ingest([p], workspace=tmp_path / "ws")
    (f,) = s.files
    assert (f.adapter, f.rows_read, f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == ("new_orleans", 0, 0, 0, 0)
    assert len(Workspace(tmp_path / "ws").manifest()["files"]) == 1


@pytest.mark.parametrize("eol", ["crlf", "lf"])
def test_100k_character_fields(tmp_path, eol):
    recs = RECS[:10] if eol == "crlf" else lf(RECS[:10])
    big = "X" * 100_000
    recs[2] = recs[2].replace(b"Necessary Action Taken", big.encode(), 1)  # loads
    f5 = fields(recs[4])
    recs[4] = recs[4].replace(f5[TIME_CREATE].encode(), big.encode(), 1)  # unparseable timestamp
    recs[6] = recs[6].replace(b",", f',"{big}",'.encode(), 1)  # malformed: 23 fields
    data = HEADER + b"".join(recs)
    f = ingest_one(write(tmp_path, "big.csv", data), tmp_path / "ws")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (10, 8, 2)
    assert f.rows_read == count_records(data)
    got = {r[0]: r[1] for r in calls(tmp_path / "ws", "source_row, disposition_raw")}
    assert got[3] == big
    q = {r["source_row"]: r for r in quarantine(tmp_path / "ws")}
    assert q[5]["column_name"] == "TimeCreate" and len(q[5]["message"]) < 400  # the value is cut in the message
    assert json.loads(q[5]["record"])["TimeCreate"] == big  # ... but kept whole in the record
    assert json.loads(q[7]["record"])[1] == big


# ---------------------------------------------------------------- missing, unknown


def test_missing_file_is_a_one_line_error(tmp_path):
    p = tmp_path / "nope.csv"
    with pytest.raises(IngestError) as exc:
        rr.ingest([p], workspace=tmp_path / "ws")
    assert one_line_error(exc, p).endswith("no such file or directory")


def test_unknown_layout_without_adapter_is_a_one_line_error(tmp_path):
    data = HEADER.replace(b"NOPD_Item", b"EventNo").replace(b"TimeCreate", b"Created") + b"".join(RECS[:5])
    p = write(tmp_path, "other.csv", data)
    with pytest.raises(IngestError) as exc:
        rr.ingest([p], workspace=tmp_path / "ws")
    msg = one_line_error(exc, p)
    assert "unknown layout (columns: EventNo, Type_, TypeText," in msg and "--adapter" in msg
    # ... and naming an adapter whose call-id column the file lacks is an error too: every row
    # would be quarantined for want of an id, an "exit 0, 0 loaded" that looks like success
    with pytest.raises(IngestError) as exc:
        rr.ingest([p], workspace=tmp_path / "ws", adapter="new_orleans")
    msg = one_line_error(exc, p)
    assert "adapter new_orleans does not fit this file: it takes the call id from column NOPD_Item" in msg


def test_unprintable_header_is_escaped_in_the_error(tmp_path):
    p = write(tmp_path, "zeros.csv", b"\x00" * 300)
    with pytest.raises(IngestError) as exc:
        rr.ingest([p], workspace=tmp_path / "ws")
    msg = one_line_error(exc, p)
    assert "\x00" not in msg and "unknown layout (columns: \\x00\\x00" in msg


@pytest.mark.parametrize("header", [
    HEADER.replace(b"Zip", b'Zip "5"'),  # a quote in a column name
    HEADER.replace(b"Neighborhood", b"BEAT"),  # two names equal but for case
    HEADER.replace(b"Zip", b"__row"),  # the reader's own row-number column
    HEADER.replace(b"Zip", b""),  # an empty name
])
def test_awkward_header_names(tmp_path, header):
    data = header + b"".join(lf(RECS[:10]))
    f = ingest_one(write(tmp_path, "h.csv", data), tmp_path / "ws", adapter="new_orleans")
    assert (f.rows_read, f.rows_loaded, f.warnings) == (10, 10, [])
    assert [r[0] for r in calls(tmp_path / "ws", "beat")] == [fields(r)[16] for r in RECS[:10]]


def test_directories_and_archives_skip_non_call_files_visibly(tmp_path):
    """A lookup table beside the calls is skipped and listed; nothing usable at all is an error."""
    d = tmp_path / "export"
    d.mkdir()
    write(d, "calls.csv", HEADER + b"".join(RECS[:10]))
    write(d, "priority_codes.csv", b"code,meaning\n1A,Emergency\n")
    s = rr.ingest([d], workspace=tmp_path / "ws")
    assert [(Path(f.path).name, f.rows_loaded) for f in s.files] == [("calls.csv", 10)]
    assert s.skipped == [f"{d / 'priority_codes.csv'}: no adapter matches its columns"]
    assert s.to_dict()["skipped"] == s.skipped

    (d / "calls.csv").unlink()
    with pytest.raises(IngestError) as exc:
        rr.ingest([d], workspace=tmp_path / "ws")
    assert one_line_error(exc, d).endswith("none of its 1 file(s) matches a known layout; pass --adapter NAME")

    z = write(tmp_path, "broken.zip", b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(IngestError) as exc:
        rr.ingest([z], workspace=tmp_path / "ws")
    assert "not a valid zip archive" in one_line_error(exc, z)


# ---------------------------------------------------------------- blank lines, duplicates


@pytest.mark.parametrize("eol", ["crlf", "lf"])
def test_blank_lines_are_not_records(tmp_path, eol):
    recs = RECS[:30] if eol == "crlf" else lf(RECS[:30])
    nl = b"\r\n" if eol == "crlf" else b"\n"
    data = HEADER + nl + b"".join(recs[:10]) + nl * 3 + b"".join(recs[10:]) + nl * 2
    f = ingest_one(write(tmp_path, "blank.csv", data), tmp_path / "ws")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (30, 30, 0)
    assert f.rows_read == count_records(data)
    got = calls(tmp_path / "ws", "source_row, call_id")
    assert got == [(i + 1, fields(r)[0]) for i, r in enumerate(recs)]


@pytest.mark.parametrize("eol", ["crlf", "lf"])
def test_duplicate_rows_are_counted_once(tmp_path, eol):
    recs = RECS[:30] if eol == "crlf" else lf(RECS[:30])
    first = fields(recs[6])
    revised = list(first)
    revised[13:15] = ["VOI", "VOID"] if first[13] != "VOI" else ["NAT", "Necessary Action Taken"]
    data = HEADER + b"".join(recs) + recs[3] + recs[3] + line(revised, eol)
    f = ingest_one(write(tmp_path, "dups.csv", data), tmp_path / "ws")
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined, f.rows_duplicate) == (33, 30, 0, 3)
    assert f.rows_read == count_records(data)
    got = calls(tmp_path / "ws", "call_id, source_row, disposition_raw")
    assert len(got) == len({g[0] for g in got}) == 30
    assert next(g for g in got if g[0] == first[0])[1:] == (7, first[14])  # the first one wins


# ---------------------------------------------------------------- random corruption


_SPECIAL = [b'"', b",", b"\n", b"\r", b"\r\n", b"\x00", b"\xe9", b"\xff\xfe", b'",', b',"', b"\xef\xbb\xbf"]
_edit = st.tuples(
    st.sampled_from(["insert", "delete", "truncate", "duplicate", "blank_field"]),
    st.floats(0, 1, allow_nan=False),
    st.one_of(st.sampled_from(_SPECIAL), st.binary(min_size=1, max_size=12)),
)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(eol=st.sampled_from([b"\r\n", b"\n"]), edits=st.lists(_edit, min_size=1, max_size=4))
def test_random_corruption_of_real_rows_reconciles(eol, edits):
    body = b"".join(RECS[:25]).replace(b"\r\n", eol)
    for op, where, blob in edits:
        i = int(where * len(body))
        if op == "insert":
            body = body[:i] + blob + body[i:]
        elif op == "delete":
            body = body[:i] + body[i + len(blob) :]
        elif op == "truncate":
            body = body[:i]
        elif op == "duplicate":
            lines = body.split(eol)
            k = i % max(len(lines), 1)
            body = eol.join(lines[: k + 1] + lines[k:])
        else:  # empty a field: the CSV stays well-formed but a value goes missing
            j = body.find(b",", i)
            k = body.find(b",", j + 1)
            if 0 <= j < k:
                body = body[: j + 1] + body[k:]
    data = HEADER + body
    with tempfile.TemporaryDirectory() as tmp:
        p = write(Path(tmp), "rand.csv", data)
        try:  # the adapter by path: 30 runs need not parse every built-in adapter
            f = ingest_one(p, Path(tmp) / "ws", adapter=str(builtin_adapter_dir() / "new_orleans.yaml"))
        except IngestError as exc:  # allowed: a clear, one-line error naming the file
            assert "\n" not in str(exc) and str(p) in str(exc)
            return
        assert f.rows_read == count_records(data)
        assert f.rows_loaded + f.rows_duplicate <= 25 + sum(op == "duplicate" for op, *_ in edits)
