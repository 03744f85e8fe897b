"""Readers: any supported file into a DuckDB table of strings with exact record numbers.

Every reader produces the same thing, a :class:`RawTable`: a temporary DuckDB table whose
columns are the source's columns as VARCHAR plus ``__row`` (1-based data-record number),
and a list of records that could not be split into fields (quarantined later).

CSV takes two paths. The fast path is DuckDB's strict CSV scanner with a dialect we
sniff ourselves; on clean files (the usual case) it is exact and fast. If DuckDB rejects
anything (mixed newlines, wrong field counts, bad UTF-8, unterminated quotes) we fall back
to Python's ``csv`` module, which never loses a record: every physical record gets a
number, and records with the wrong field count are returned as malformed.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

ROW = "__row"
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".psv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
_BATCH = 100_000
_SNIFF_BYTES = 1 << 16

csv.field_size_limit(1 << 30)


class ReadError(Exception):
    """Input that cannot be read at all (as opposed to rows that are quarantined)."""


@dataclass
class Malformed:
    row: int
    message: str
    record: str


@dataclass
class RawTable:
    name: str
    columns: list[str]
    rows: int
    malformed: list[Malformed] = field(default_factory=list)
    path: str = "duckdb"  # which reader path produced it: duckdb | python | excel | json | parquet
    warnings: list[str] = field(default_factory=list)  # e.g. lines decoded as cp1252
    base: str | None = None  # the table behind ``name`` when ``name`` is a numbering view

    def drop(self, con) -> None:
        if not self.name:  # a direct scan: nothing was materialized
            return
        if self.base:
            con.execute(f'DROP VIEW IF EXISTS "{self.name}"; DROP TABLE IF EXISTS "{self.base}"')
        else:
            con.execute(f'DROP TABLE IF EXISTS "{self.name}"')


# ---------------------------------------------------------------- helpers


def dedupe_names(names: list[str]) -> list[str]:
    """Make header names unique and non-empty, the way DuckDB does (``name_1``).

    Uniqueness is case-insensitive because DuckDB identifiers are (``Beat`` and ``BEAT``
    would collide), and ``__row`` is reserved for the record number.
    """
    seen: set[str] = {ROW}
    out = []
    for i, raw in enumerate(names):
        base = (raw or "").strip().lstrip("\ufeff") or f"column{i}"
        name, n = base, 0
        while name.lower() in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name.lower())
        out.append(name)
    return out


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _open_bytes(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


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
        raise ReadError(f"{path}: corrupt or truncated gzip data ({exc})") from None


def _detect_encoding_of(path: Path, limit: int | None) -> str:
    with _open_bytes(path) as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
            return "utf-16"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            if limit is None:
                while chunk := fh.read(1 << 22):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            else:  # a prefix may end inside a multi-byte character: not final
                decoder.decode(fh.read(limit))
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
        fh.seek(0)
        try:
            codecs.getincrementaldecoder("cp1252")().decode(fh.read(limit or -1), final=True)
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"


def sniff_dialect(path: Path, encoding: str) -> str:
    """Pick the delimiter from the header line: the candidate that splits it most."""
    with _open_bytes(path) as fh:
        text = fh.read(_SNIFF_BYTES).decode(encoding, errors="replace")
    first = text.splitlines()[0] if text else ""
    best, best_n = ",", 0
    for cand in (",", "\t", ";", "|"):
        try:
            n = len(next(csv.reader([first], delimiter=cand)))
        except (StopIteration, csv.Error):
            n = 0
        if n > best_n:
            best, best_n = cand, n
    return best


def read_header(path: Path, delimiter: str | None = None,
                whole_file: bool = True) -> tuple[list[str], str, str]:
    """Header names, delimiter and encoding of a delimited text file."""
    encoding = _detect_encoding(path, whole_file)
    delim = delimiter or sniff_dialect(path, encoding)
    with _open_bytes(path) as fh:
        text = io.TextIOWrapper(fh, encoding=encoding, newline="", errors="replace")
        try:
            header = next(csv.reader(text, delimiter=delim))
        except StopIteration:
            raise ReadError(f"{path}: the file is empty (no header row)") from None
        except csv.Error as exc:
            raise ReadError(f"{path}: cannot read the header row: {exc}") from None
    if not any(h.strip() for h in header):
        raise ReadError(f"{path}: the header row is blank")
    return dedupe_names(header), delim, encoding


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _new_name(con: duckdb.DuckDBPyConnection, stem: str) -> str:
    return f"{stem}_{uuid.uuid4().hex[:10]}"


def _load_arrow(con, name: str, columns: list[str], batches: list[pa.RecordBatch]) -> None:
    schema = pa.schema([(ROW, pa.int64())] + [(c, pa.string()) for c in columns])
    table = pa.Table.from_batches(batches, schema=schema) if batches else schema.empty_table()
    con.register("__arrow_in", table)
    con.execute(f'create or replace temp table "{name}" as select * from __arrow_in')
    con.unregister("__arrow_in")


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
    the scan then fails (bad UTF-8 further down, a ragged record), it falls back to
    :func:`read_csv`, which takes the exact Python path.
    """
    if file_kind(path) != "csv":
        return None
    columns, delim, encoding = read_header(path, delimiter, whole_file=False)
    if encoding != "utf-8-sig":
        return None
    return _scan_sql(path, columns, delim), columns


def _scan_sql(path: Path, columns: list[str], delim: str) -> str:
    # max_line_size stays at DuckDB's default (2 MB): a longer record makes the strict scan
    # fail, and the Python reader then loads it exactly.
    col_spec = "{" + ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in columns) + "}"
    return (f"read_csv({_sql_str(str(path))}, auto_detect=false, header=true, delim={_sql_str(delim)}, "
            f"quote='\"', escape='\"', strict_mode=true, columns={col_spec}, all_varchar=true)")


def _read_csv_duckdb(con, path: Path, columns: list[str], delim: str) -> RawTable:
    name = _new_name(con, "raw")
    # The scan is materialized as it comes (parallel, and in file order: preserve_insertion_order
    # is on by default), so rowid + 1 is the data-record number. A view adds it for free;
    # numbering during the scan (row_number() OVER ()) or copying the table to add it cost
    # as much as the scan itself.
    con.execute(f'create or replace temp table "{name}_scan" as select * from {_scan_sql(path, columns, delim)}')
    cols = ", ".join(_ident(c) for c in columns)
    con.execute(f'create or replace temp view "{name}" as select rowid + 1 as {ROW}, {cols} from "{name}_scan"')
    rows = con.execute(f'select count(*) from "{name}_scan"').fetchone()[0]
    return RawTable(name, columns, rows, [], "duckdb", base=f"{name}_scan")


def _read_csv_python(con, path: Path, columns: list[str], delim: str, encoding: str) -> RawTable:
    name = _new_name(con, "raw")
    width = len(columns)
    malformed: list[Malformed] = []
    warnings: list[str] = []
    batches: list[pa.RecordBatch] = []
    nums: list[int] = []
    buf: list[list[str]] = []
    row = 0
    with _open_bytes(path) as fh:
        if encoding in ("cp1252", "latin-1"):
            lines = _mixed_lines(fh, warnings)
        else:
            if encoding == "utf-16" and (problem := _utf16_problem(path)):
                warnings.append(f"{problem}; undecodable bytes were replaced by U+FFFD")
            lines = io.TextIOWrapper(fh, encoding=encoding, newline="", errors="replace")
        reader = csv.reader(lines, delimiter=delim, strict=False)
        next(reader, None)  # header
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row += 1
                malformed.append(Malformed(row, f"unreadable record: {exc}", ""))
                continue
            if not rec:
                continue  # a blank line is not a record
            row += 1
            if len(rec) != width:
                # The whole record, however long: the quarantine must round-trip it.
                malformed.append(Malformed(row, f"expected {width} fields, found {len(rec)}", json.dumps(rec)))
                continue
            nums.append(row)
            buf.append(rec)
            if len(buf) >= _BATCH:
                batches.append(_batch(nums, columns, buf))
                nums, buf = [], []
    if buf:
        batches.append(_batch(nums, columns, buf))
    _load_arrow(con, name, columns, batches)
    return RawTable(name, columns, row, malformed, "python", warnings)


def _mixed_lines(fh, warnings: list[str]):
    """Text lines of a file that is not valid UTF-8 throughout, decoded line by line.

    Exports are often UTF-8 with a few cp1252 lines pasted in; decoding the whole file
    as cp1252 would turn every correct "é" elsewhere into "Ã©". Each line is UTF-8 if it
    can be, else cp1252, else latin-1 (which never fails), and the count is reported.
    Lines are split on CR, LF and CRLF as ``newline=""`` would, so the csv module sees
    bare carriage returns inside quoted fields exactly as from a text file.
    """
    fallback, first = 0, 0
    for n, raw in enumerate(fh, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            fallback += 1
            first = first or n
            try:
                text = raw.decode("cp1252")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
        if "\r" in text[:-2]:
            yield from io.StringIO(text, newline="")
        else:
            yield text
    if fallback:
        warnings.append(
            f"{fallback} line(s) are not valid UTF-8 and were read as cp1252/latin-1 (first: line {first})"
        )


def _utf16_problem(path: Path) -> str | None:
    """Where a UTF-16 file stops being valid (e.g. cut in the middle of a character)."""
    decoder = codecs.getincrementaldecoder("utf-16")()
    pos = 0
    with _open_bytes(path) as fh:
        try:
            while chunk := fh.read(1 << 22):
                decoder.decode(chunk)
                pos += len(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return f"not valid UTF-16 near byte {pos + exc.start} ({exc.reason})"
    return None


def _batch(nums: list[int], columns: list[str], rows: list[list[str]]) -> pa.RecordBatch:
    cols = list(zip(*rows))
    arrays = [pa.array(nums, pa.int64())] + [pa.array(list(c), pa.string()) for c in cols]
    return pa.RecordBatch.from_arrays(arrays, names=[ROW] + columns)


# ---------------------------------------------------------------- other formats


def _records_to_table(con, records: list[dict], prefix: str, columns: list[str] | None = None,
                      nums: list[int] | None = None, rows: int | None = None,
                      malformed: list[Malformed] | None = None) -> RawTable:
    """Records (dicts) into a raw table; ``nums`` are their record numbers when some were set aside."""
    columns = list(columns or [])
    seen = set(columns)
    for rec in records:
        for k in rec:
            if k not in seen:
                seen.add(k)
                columns.append(k)
    names = dedupe_names(columns)
    name = _new_name(con, prefix)
    nums = nums if nums is not None else list(range(1, len(records) + 1))

    def cell(v):
        if v is None:
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, (dict, list)):
            return json.dumps(v)
        return str(v)

    batches = []
    for i in range(0, len(records), _BATCH):
        chunk = records[i : i + _BATCH]
        cells = [[cell(r.get(c)) for c in columns] for r in chunk]
        batches.append(_batch(nums[i : i + _BATCH], names, cells))
    _load_arrow(con, name, names, batches)
    return RawTable(name, names, len(records) if rows is None else rows, list(malformed or []), prefix)


def _json_records(items: list, what: str) -> tuple[list[dict], list[int], list[Malformed]]:
    """Keep the objects; anything else is a malformed record (numbered from 1)."""
    records, nums, malformed = [], [], []
    for i, item in enumerate(items, 1):
        if isinstance(item, dict):
            records.append(item)
            nums.append(i)
        else:
            malformed.append(Malformed(i, f"{what} {i} is not a JSON object", json.dumps(item)))
    return records, nums, malformed


def read_json(con, path: Path) -> RawTable:
    """Socrata (a list of records, rows.json, or NDJSON) and ArcGIS feature exports.

    In NDJSON every line stands alone, so a broken line (a truncated download, a stray
    edit) is quarantined as a malformed record and the other lines still load. A single
    JSON document that does not parse cannot be split into records: that is an error.
    """
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise ReadError(f"{path}: not UTF-8 JSON (byte {exc.start}: {exc.reason})") from None
    except _GZIP_ERRORS as exc:
        raise ReadError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    if not text.strip():
        raise ReadError(f"{path}: the file is empty")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = [ln for ln in text.split("\n") if ln.strip()]
        try:
            ndjson = isinstance(json.loads(lines[0]), dict)
        except json.JSONDecodeError:
            ndjson = False
        if not ndjson:
            raise ReadError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})") from None
        items, bad = [], {}
        for i, line in enumerate(lines, 1):
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as err:
                bad[i] = Malformed(i, f"invalid JSON ({err.msg}, column {err.colno})", line)
                items.append(None)
        records, nums, malformed = _json_records(items, "line")
        malformed = [bad.get(m.row, m) for m in malformed]
        return _records_to_table(con, records, "json", nums=nums, rows=len(lines), malformed=malformed)
    if isinstance(doc, dict) and isinstance(doc.get("features"), list):  # ArcGIS / GeoJSON
        items = []
        for feat in doc["features"]:
            if not isinstance(feat, dict):
                items.append(feat)
                continue
            rec = dict(feat.get("attributes") or feat.get("properties") or {})
            geom = feat.get("geometry") or {}
            if isinstance(geom, dict) and "x" in geom and "y" in geom:
                rec.setdefault("x", geom["x"])
                rec.setdefault("y", geom["y"])
            items.append(rec)
        what = "feature"
    elif isinstance(doc, dict) and isinstance(doc.get("data"), list) and "meta" in doc:  # Socrata rows.json
        try:
            cols = [c.get("fieldName") or c.get("name") for c in doc["meta"]["view"]["columns"]]
        except (KeyError, TypeError, AttributeError):
            raise ReadError(f"{path}: Socrata rows.json without meta.view.columns") from None
        items = [dict(zip(cols, r)) if isinstance(r, list) and len(r) == len(cols) else r for r in doc["data"]]
        what = "data row"
    elif isinstance(doc, list):
        items, what = doc, "record"
    else:
        raise ReadError(f"{path}: JSON is neither a list of records nor an ArcGIS/Socrata export")
    records, nums, malformed = _json_records(items, what)
    return _records_to_table(con, records, "json", nums=nums, rows=len(items), malformed=malformed)


def read_excel(con, path: Path) -> RawTable:
    """The first sheet; an entirely blank row is skipped like a blank line in a CSV.

    Record numbers follow the sheet (record n is on sheet row n + 1), so a quarantined
    row can be found in the workbook even when blank rows precede it.
    """
    import pandas as pd

    try:
        df = pd.read_excel(path, dtype=str, sheet_name=0, keep_default_na=False)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise ReadError(f"{path}: cannot read as Excel ({type(exc).__name__}: {exc})") from None
    df.columns = [str(c) for c in df.columns]
    records, nums = [], []
    for i, r in enumerate(df.to_dict("records"), 1):
        rec = {k: (v if v != "" else None) for k, v in r.items()}
        if any(v is not None for v in rec.values()):
            records.append(rec)
            nums.append(i)
    return _records_to_table(con, records, "excel", columns=list(df.columns), nums=nums)


def read_parquet(con, path: Path) -> RawTable:
    src = f"read_parquet({_sql_str(str(path))}, file_row_number=true)"
    try:
        cols = [r[0] for r in con.execute(f"describe select * from {src}").fetchall()]
    except duckdb.Error as exc:
        raise ReadError(f"{path}: cannot read as Parquet ({str(exc).splitlines()[0]})") from None
    cols = [c for c in cols if c != "file_row_number"]  # DuckDB's file-order row number, 0-based
    names = dedupe_names(cols)
    name = _new_name(con, "raw")
    sel = ", ".join(f"cast({_ident(c)} as varchar) as {_ident(n)}" for c, n in zip(cols, names))
    con.execute(f'create or replace temp table "{name}" as select file_row_number + 1 as {ROW}, {sel} from {src}')
    rows = con.execute(f'select count(*) from "{name}"').fetchone()[0]
    return RawTable(name, names, rows, [], "parquet")


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
        import pandas as pd

        try:
            head = pd.read_excel(path, dtype=str, sheet_name=0, nrows=0)
        except Exception as exc:
            raise ReadError(f"{path}: cannot read as Excel ({type(exc).__name__}: {exc})") from None
        return dedupe_names([str(c) for c in head.columns])
    con = duckdb.connect()
    if kind == "parquet":
        try:
            cols = [r[0] for r in con.execute(
                f"describe select * from read_parquet({_sql_str(str(path))})").fetchall()]
        except duckdb.Error as exc:
            raise ReadError(f"{path}: cannot read as Parquet ({str(exc).splitlines()[0]})") from None
        finally:
            con.close()
        return dedupe_names(cols)
    try:
        return read_any(con, path, delimiter).columns
    finally:
        con.close()


def expand_zip(path: Path, dest: Path) -> list[Path]:
    """Extract a zip's data members; each is ingested as its own file."""
    out = []
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir() or os.path.basename(info.filename).startswith((".", "__MACOSX")):
                    continue
                target = dest / f"{path.name}!{info.filename.replace('/', '_')}"
                with zf.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                out.append(target)
    except zipfile.BadZipFile as exc:
        raise ReadError(f"{path}: not a valid zip archive ({exc})") from None
    if not out:
        raise ReadError(f"{path}: the zip archive holds no files")
    return out
