"""Readers: any supported file into a DuckDB table of strings with exact record numbers.

Every reader produces the same thing, a :class:`RawTable`: a temporary DuckDB table whose
columns are the source's columns as VARCHAR plus ``__row`` (1-based data-record number),
and a table of the records that could not be split into fields (quarantined later).

CSV takes two paths. The fast path is DuckDB's strict CSV scanner with a dialect we
sniff ourselves; on clean files (the usual case) it is exact and fast, and ingest checks
its count against an independent one (``recordcount``). If DuckDB rejects anything
(mixed newlines, wrong field counts, bad UTF-8, unterminated quotes), or its count is
wrong, the file takes Python's ``csv`` module, which never loses a record: every physical
record gets a number, and records with the wrong field count are returned as malformed.

Every reader holds a bounded amount in memory, whatever the file: rows go to DuckDB in
batches (which spills to disk), one record may not exceed ``MAX_RECORD_CHARS`` (a longer
one is quarantined with its first characters), JSON is parsed one record at a time, and
compressed input may expand ``MAX_EXPANSION`` times at most (a decompression bomb is a
one-line error, not an exhausted machine).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import zipfile
import zlib
from pathlib import Path

import duckdb
import pyarrow as pa

from ..sqltext import ident, literal
from .jsonread import json_columns, read_json
from .raw_records import (MAX_RECORD_CHARS, ROW, RawTable, ReadError, _BATCH, _BATCH_CHARS, _BadRecords, _BoundedLines, _GZIP_ERRORS, _Oversized, _RecordTable, _TableWriter, _gzip_error, _new_name, _too_large, dedupe_names, expansion_limit, open_bytes)
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
_SNIFF_BYTES = 1 << 16

csv.field_size_limit(MAX_RECORD_CHARS)


def _detect_encoding(path: Path, whole_file: bool = True) -> str:
    """UTF-8 (with or without BOM), UTF-16 by BOM, else cp1252/latin-1.

    The whole file is checked for UTF-8 validity in chunks: a latin-1 byte on row
    900,000 must not crash the read after 899,999 rows were loaded. Reading it all also
    finds a truncated or corrupt .gz before any row is loaded. Layout detection only
    needs the header, so it passes ``whole_file=False`` and a large file is decoded once.
    """
    try:
        return _detect_encoding_of(path, None if whole_file else _SNIFF_BYTES)
    except _GZIP_ERRORS as exc:
        raise _gzip_error(path, exc) from None


def _detect_encoding_of(path: Path, limit: int | None) -> str:
    with open_bytes(path) as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
            return "utf-16"
        fh.seek(0)
        if _decodes(fh, "utf-8", limit):
            return "utf-8-sig"
        fh.seek(0)
        return "cp1252" if _decodes(fh, "cp1252", limit) else "latin-1"


def _decodes(fh, encoding: str, limit: int | None) -> bool:
    """Whether the stream (or its first ``limit`` bytes) decodes; read in chunks."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        if limit is not None:  # a prefix may end inside a multi-byte character: not final
            decoder.decode(fh.read(limit))
            return True
        while chunk := fh.read(1 << 22):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def sniff_dialect(path: Path, encoding: str) -> str:
    """Pick the delimiter: the candidate that splits the first records into the header's
    number of fields most consistently, then the one that gives the most fields.

    The header alone misleads when its names hold another candidate (``Notes; comments``):
    the records show which one the file really uses.
    """
    with open_bytes(path) as fh:
        text = fh.read(_SNIFF_BYTES).decode(encoding, errors="replace")
    if len(text) == _SNIFF_BYTES:  # the last record may be cut: leave it out
        text = text[: max(text.rfind("\n"), text.rfind("\r")) + 1] or text
    best, best_key = ",", (0.0, 0)
    for cand in (",", "\t", ";", "|"):
        try:
            recs = [r for r, _ in zip(csv.reader(io.StringIO(text, newline=""), delimiter=cand), range(51)) if r]
        except csv.Error:
            continue
        if not recs or len(recs[0]) < 2:
            continue
        rest = recs[1:] or recs
        key = (sum(len(r) == len(recs[0]) for r in rest) / len(rest), len(recs[0]))
        if key > best_key:
            best, best_key = cand, key
    return best


def read_header(path: Path, delimiter: str | None = None,
                whole_file: bool = True) -> tuple[list[str], str, str]:
    """Header names, delimiter and encoding of a delimited text file."""
    encoding = _detect_encoding(path, whole_file)
    delim = delimiter or sniff_dialect(path, encoding)
    with open_bytes(path) as fh:
        text = io.TextIOWrapper(fh, encoding=encoding, newline="", errors="replace")
        try:
            header = next(csv.reader(_BoundedLines(text), delimiter=delim))
        except StopIteration:
            raise ReadError(f"{path}: the file is empty (no header row)") from None
        except _Oversized:
            raise ReadError(f"{path}: the header row is longer than {MAX_RECORD_CHARS:,} characters") from None
        except csv.Error as exc:
            raise ReadError(f"{path}: cannot read the header row: {exc}") from None
        except _GZIP_ERRORS as exc:
            raise _gzip_error(path, exc) from None
    if not any(h.strip() for h in header):
        raise ReadError(f"{path}: the header row is blank")
    return dedupe_names(header), delim, encoding


# ---------------------------------------------------------------- CSV


def read_csv(con, path: Path, delimiter: str | None = None, try_duckdb: bool = True) -> RawTable:
    # The header's bytes pick the path. DuckDB's strict scan validates UTF-8 as it
    # materializes every value, so a file that only looks like UTF-8 fails there, and the
    # exact Python path then takes it with an encoding checked over the whole file.
    # ``try_duckdb=False``: the caller's own strict scan already failed.
    columns, delim, encoding = read_header(path, delimiter, whole_file=False)
    if encoding == "utf-8-sig" and try_duckdb:
        try:
            return _read_csv_duckdb(con, path, columns, delim)
        except duckdb.Error:
            pass  # not strictly RFC 4180 or not UTF-8: take the exact, slower path
    encoding = _detect_encoding(path)
    return _read_csv_python(con, path, columns, delim, encoding)


def csv_scan(path: Path, delimiter: str | None = None) -> tuple[str, list[str]] | None:
    """DuckDB's strict scan of a CSV file as SQL (``read_csv(...)``) and its column names,
    or None when the header already shows the file needs the Python reader.

    Ingest normalizes straight from this scan, with no table of raw strings in between. If
    the scan then fails (bad UTF-8 further down, a ragged record), or its count differs from
    the independent one, it falls back to :func:`read_csv`, which takes the exact Python path.
    """
    if file_kind(path) != "csv":
        return None
    columns, delim, encoding = read_header(path, delimiter, whole_file=False)
    if encoding != "utf-8-sig":
        return None
    return _scan_sql(path, columns, delim), columns


def _scan_sql(path: Path, columns: list[str], delim: str) -> str:
    # max_line_size stays at DuckDB's default (2 MB): a longer record makes the strict scan
    # fail (or, at the end of a file, stop short: the independent count catches that), and
    # the Python reader then takes the file.
    col_spec = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in columns) + "}"
    return (f"read_csv({literal(str(path))}, auto_detect=false, header=true, delim={literal(delim)}, "
            f"quote='\"', escape='\"', strict_mode=true, columns={col_spec}, all_varchar=true)")


def _read_csv_duckdb(con, path: Path, columns: list[str], delim: str) -> RawTable:
    name = _new_name(con, "raw")
    # The scan is materialized as it comes (parallel, and in file order: preserve_insertion_order
    # is on by default), so rowid + 1 is the data-record number. A view adds it for free;
    # numbering during the scan (row_number() OVER ()) or copying the table to add it cost
    # as much as the scan itself.
    scan = ident(f"{name}_scan")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {scan} AS SELECT * FROM {_scan_sql(path, columns, delim)}")
    cols = ", ".join(ident(c) for c in columns)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {ident(name)} AS SELECT rowid + 1 AS {ROW}, {cols} FROM {scan}")
    rows = con.execute(f"SELECT count(*) FROM {scan}").fetchone()[0]
    return RawTable(name, columns, rows, path="duckdb", base=f"{name}_scan")


def _read_csv_python(con, path: Path, columns: list[str], delim: str, encoding: str) -> RawTable:
    name = _new_name(con, "raw")
    width = len(columns)
    bad = _BadRecords(con, name)
    warnings: list[str] = []
    out = _TableWriter(con, name, columns)
    nums: list[int] = []
    buf: list[list[str]] = []
    chars = 0
    row = 0
    with open_bytes(path) as fh:
        mixed = encoding in ("cp1252", "latin-1")
        if encoding == "utf-16" and (problem := _utf16_problem(path)):
            warnings.append(f"{problem}; undecodable bytes were replaced by U+FFFD")
        # latin-1 maps each byte to one character, so a file of mixed encodings is split into
        # lines exactly as bytes, then each line is decoded on its own (_mixed).
        text = io.TextIOWrapper(fh, encoding="latin-1" if mixed else encoding, newline="", errors="replace")
        lines = _BoundedLines(text)
        source = _mixed(lines) if mixed else lines
        reader = csv.reader(source, delimiter=delim, strict=False)
        next(reader, None)  # header
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                break
            except _Oversized as big:
                row += 1
                bad.add(row, big.describe(), big.head)
                continue
            except csv.Error as exc:
                row += 1
                bad.add(row, f"unreadable record: {exc}", "")
                continue
            if not rec:
                continue  # a blank line is not a record
            row += 1
            if len(rec) != width:
                # The whole record, however long: the quarantine must round-trip it.
                bad.add(row, f"expected {width} fields, found {len(rec)}", json.dumps(rec))
                continue
            nums.append(row)
            buf.append(rec)
            chars += sum(map(len, rec))
            if len(buf) >= _BATCH or chars > _BATCH_CHARS:
                out.write(nums, [list(c) for c in zip(*buf)])
                nums, buf, chars = [], [], 0
        if text.read(1):  # never: every line was read to the end of the file
            raise ReadError(f"{path}: the reader stopped before the end of the file (line {lines.line})")
    if buf:
        out.write(nums, [list(c) for c in zip(*buf)])
    bad.flush()
    if mixed and (note := getattr(source, "note", None)):
        warnings.append(note)
    return RawTable(name, columns, row, bad.name, bad.count, "python", warnings)


class _mixed:
    """Lines of a file that is not valid UTF-8 throughout, each decoded on its own.

    Exports are often UTF-8 with a few cp1252 lines pasted in; decoding the whole file
    as cp1252 would turn every correct "é" elsewhere into "Ã©". Each line (read as latin-1,
    so its characters are its bytes) is UTF-8 if it can be, else cp1252, else latin-1 (which
    never fails), and the count is reported.
    """

    def __init__(self, lines: _BoundedLines):
        self._lines, self.fallback, self.first, self.note = lines, 0, 0, None

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        raw = line.encode("latin-1")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        self.fallback += 1
        self.first = self.first or self._lines.line
        self.note = (f"{self.fallback} line(s) are not valid UTF-8 and were read as cp1252/latin-1 "
                     f"(first: line {self.first})")
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return line


def _utf16_problem(path: Path) -> str | None:
    """Where a UTF-16 file stops being valid (e.g. cut in the middle of a character)."""
    decoder = codecs.getincrementaldecoder("utf-16")()
    pos = 0
    with open_bytes(path) as fh:
        try:
            while chunk := fh.read(1 << 22):
                decoder.decode(chunk)
                pos += len(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return f"not valid UTF-16 near byte {pos + exc.start} ({exc.reason})"
    return None


# ---------------------------------------------------------------- Excel, Parquet


def _check_archive(path: Path) -> None:
    """An xlsx/zip whose members declare more than the expansion limit is refused unread.

    (Python's zipfile stops each member at its declared size, so the declaration binds.)"""
    limit = expansion_limit(path)
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(i.file_size for i in zf.infolist())
    except zipfile.BadZipFile:
        return  # the reader reports it
    if total > limit:
        raise _too_large(path, limit)


def read_excel(con, path: Path) -> RawTable:
    """The first sheet, row by row; an entirely blank row is skipped like a blank line in a CSV.

    Record numbers follow the sheet (record n is on sheet row n + 1), so a quarantined
    row can be found in the workbook even when blank rows precede it. Cells become text as
    pandas' ``read_excel(dtype=str)`` writes them (whole numbers without ".0", dates as
    ``YYYY-MM-DD HH:MM:SS``).
    """
    if path.suffix.lower() == ".xls":
        return _read_xls(con, path)
    _check_archive(path)
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise ReadError(f"{path}: cannot read as Excel ({type(exc).__name__}: {exc})") from None
    try:
        sheet = wb.worksheets[0]
        sheet.reset_dimensions()  # declared dimensions can be wrong; find the real extent
        rows = sheet.iter_rows()
        header = next(rows, None)
        if header is None:
            raise ReadError(f"{path}: the first sheet is empty")
        columns = _excel_header([_excel_value(c) for c in header])
        out, bad = _RecordTable(con, "excel", columns), _BadRecords(con, "excel")
        records = 0
        for n, row in enumerate(rows, 1):
            values = [_excel_value(c) for c in row[: len(columns)]]
            rec = {k: (str(v) if v != "" else None) for k, v in zip(columns, values)}
            if any(v is not None for v in rec.values()):
                out.add(n, rec, sum(len(v) for v in rec.values() if v is not None))
                records += 1
        return out.table(records, bad)
    except ReadError:
        raise
    except Exception as exc:
        raise ReadError(f"{path}: cannot read as Excel ({type(exc).__name__}: {exc})") from None
    finally:
        wb.close()


def _excel_value(cell):
    """A cell as pandas' openpyxl reader converts it."""
    from openpyxl.cell.cell import TYPE_ERROR, TYPE_NUMERIC

    v = cell.value
    if v is None:
        return ""
    if cell.data_type == TYPE_ERROR:
        return "nan"
    if cell.data_type == TYPE_NUMERIC:
        i = int(v)
        return i if i == v else float(v)
    return v


def _excel_header(values: list) -> list[str]:
    """Header names as pandas gives them: 'Unnamed: i' for a blank cell, 'x.1' for a repeat."""
    out, seen = [], {}
    for i, v in enumerate(values):
        name = str(v) if v != "" else f"Unnamed: {i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _read_xls(con, path: Path) -> RawTable:
    """The old binary format (at most 65,536 rows, uncompressed): through pandas."""
    import pandas as pd

    try:
        df = pd.read_excel(path, dtype=str, sheet_name=0, keep_default_na=False)
    except Exception as exc:  # xlrd missing, or a corrupt file
        raise ReadError(f"{path}: cannot read as Excel ({type(exc).__name__}: {exc})") from None
    columns = [str(c) for c in df.columns]
    out, bad = _RecordTable(con, "excel", columns), _BadRecords(con, "excel")
    records = 0
    for i, r in enumerate(df.itertuples(index=False, name=None), 1):
        rec = {k: (v if v != "" else None) for k, v in zip(columns, r)}
        if any(v is not None for v in rec.values()):
            out.add(i, rec, sum(len(v) for v in rec.values() if v is not None))
            records += 1
    return out.table(records, bad)


def read_parquet(con, path: Path) -> RawTable:
    """Every column as text, numbered in file order; the row count is checked against the
    file's own metadata (read by pyarrow, not DuckDB)."""
    import pyarrow.parquet as pq

    src = f"read_parquet({literal(str(path))}, file_row_number=true)"
    try:
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        expected = pq.ParquetFile(path).metadata.num_rows
    except (duckdb.Error, OSError, pa.ArrowException) as exc:
        raise ReadError(f"{path}: cannot read as Parquet ({str(exc).splitlines()[0]})") from None
    cols = [c for c in cols if c != "file_row_number"]  # DuckDB's file-order row number, 0-based
    names = dedupe_names(cols)
    name = _new_name(con, "raw")
    sel = ", ".join(f"CAST({ident(c)} AS VARCHAR) AS {ident(n)}" for c, n in zip(cols, names))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(name)} AS SELECT file_row_number + 1 AS {ROW}, {sel} FROM {src}")
    rows = con.execute(f"SELECT count(*) FROM {ident(name)}").fetchone()[0]
    if rows != expected:
        raise ReadError(f"{path}: read {rows:,} rows but the file's metadata says {expected:,}")
    return RawTable(name, names, rows, path="parquet")


def file_kind(path: Path) -> str:
    low = path.name.lower()
    if low.endswith(".gz"):
        low = low[:-3]
    if low.endswith(".zip"):
        return "zip"
    if low.endswith(EXCEL_SUFFIXES):
        return "excel"
    if low.endswith(".parquet") or low.endswith(".pq"):
        return "parquet"
    if low.endswith(".json") or low.endswith(".geojson") or low.endswith(".ndjson"):
        return "json"
    return "csv"


def read_any(con, path: Path, delimiter: str | None = None, try_duckdb: bool = True) -> RawTable:
    kind = file_kind(path)
    if kind == "excel":
        return read_excel(con, path)
    if kind == "parquet":
        return read_parquet(con, path)
    if kind == "json":
        return read_json(con, path)
    if kind == "zip":
        raise ReadError(f"{path}: zip archives are expanded before reading; call expand_zip()")
    return read_csv(con, path, delimiter, try_duckdb)


def columns_of(path: Path, delimiter: str | None = None) -> list[str]:
    """Column names, reading only the header where the format allows (all but JSON)."""
    kind = file_kind(path)
    if kind == "csv":
        return read_header(path, delimiter, whole_file=False)[0]
    if kind == "excel":  # a large workbook takes seconds to parse: never twice
        if path.suffix.lower() == ".xls":
            import pandas as pd

            try:
                head = pd.read_excel(path, dtype=str, sheet_name=0, nrows=0)
            except Exception as exc:
                raise ReadError(f"{path}: cannot read as Excel ({type(exc).__name__}: {exc})") from None
            return dedupe_names([str(c) for c in head.columns])
        _check_archive(path)
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                header = next(wb.worksheets[0].iter_rows(max_row=1), ())
                return dedupe_names(_excel_header([_excel_value(c) for c in header]))
            finally:
                wb.close()
        except Exception as exc:
            raise ReadError(f"{path}: cannot read as Excel ({type(exc).__name__}: {exc})") from None
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return dedupe_names(pq.ParquetFile(path).schema_arrow.names)
        except (OSError, pa.ArrowException) as exc:
            raise ReadError(f"{path}: cannot read as Parquet ({str(exc).splitlines()[0]})") from None
    if kind == "json":
        return json_columns(path)
    raise ReadError(f"{path}: zip archives are expanded before reading; call expand_zip()")


def expand_zip(path: Path, dest: Path) -> list[Path]:
    """Extract a zip's data members; each is ingested as its own file."""
    out = []
    limit = expansion_limit(path)
    written = 0
    try:
        with zipfile.ZipFile(path) as zf:
            if sum(i.file_size for i in zf.infolist()) > limit:
                raise _too_large(path, limit)
            for info in zf.infolist():
                if info.is_dir() or os.path.basename(info.filename).startswith((".", "__MACOSX")):
                    continue
                target = dest / f"{path.name}!{info.filename.replace('/', '_')}"
                with zf.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > limit:
                            raise _too_large(path, limit)
                        dst.write(chunk)
                out.append(target)
    except zipfile.BadZipFile as exc:
        raise ReadError(f"{path}: not a valid zip archive ({exc})") from None
    except (zlib.error, EOFError) as exc:
        raise ReadError(f"{path}: corrupt zip member ({exc})") from None
    if not out:
        raise ReadError(f"{path}: the zip archive holds no files")
    return out