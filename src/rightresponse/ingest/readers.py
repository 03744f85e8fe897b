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


# ---------------------------------------------------------------- helpers


def dedupe_names(names: list[str]) -> list[str]:
    """Make header names unique and non-empty, the way DuckDB does (``name_1``)."""
    seen: dict[str, int] = {}
    out = []
    for i, raw in enumerate(names):
        name = (raw or "").strip().lstrip("\ufeff") or f"column{i}"
        base = name
        while name in seen:
            seen[base] += 1
            name = f"{base}_{seen[base]}"
        seen.setdefault(name, 0)
        out.append(name)
    return out


def _open_bytes(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 by BOM, else cp1252/latin-1.

    The whole file is checked for UTF-8 validity in chunks: a latin-1 byte on row
    900,000 must not crash the read after 899,999 rows were loaded.
    """
    with _open_bytes(path) as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
            return "utf-16"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := fh.read(1 << 22):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
        fh.seek(0)
        try:
            codecs.getincrementaldecoder("cp1252")().decode(fh.read(), final=True)
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


def read_header(path: Path, delimiter: str | None = None) -> tuple[list[str], str, str]:
    """Header names, delimiter and encoding of a delimited text file."""
    encoding = _detect_encoding(path)
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


def read_csv(con, path: Path, delimiter: str | None = None) -> RawTable:
    columns, delim, encoding = read_header(path, delimiter)
    if encoding == "utf-8-sig":
        try:
            return _read_csv_duckdb(con, path, columns, delim)
        except duckdb.Error:
            pass  # not strictly RFC 4180: take the exact, slower path
    return _read_csv_python(con, path, columns, delim, encoding)


def _read_csv_duckdb(con, path: Path, columns: list[str], delim: str) -> RawTable:
    name = _new_name(con, "raw")
    col_spec = "{" + ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in columns) + "}"
    # __row follows the scan order; with preserve_insertion_order (the default) the
    # materialized table keeps file order, so rowid + 1 is the data-record number.
    con.execute(
        f"""create or replace temp table "{name}_scan" as
        select * from read_csv({_sql_str(str(path))}, auto_detect=false, header=true,
            delim={_sql_str(delim)}, quote='"', escape='"', strict_mode=true,
            columns={col_spec}, max_line_size=200000000, all_varchar=true)"""
    )
    cols = ", ".join(f'"{c}"' for c in columns)
    con.execute(
        f'create or replace temp table "{name}" as select rowid + 1 as {ROW}, {cols} from "{name}_scan"'
    )
    con.execute(f'drop table "{name}_scan"')
    rows = con.execute(f'select count(*) from "{name}"').fetchone()[0]
    return RawTable(name, columns, rows, [], "duckdb")


def _read_csv_python(con, path: Path, columns: list[str], delim: str, encoding: str) -> RawTable:
    name = _new_name(con, "raw")
    width = len(columns)
    malformed: list[Malformed] = []
    batches: list[pa.RecordBatch] = []
    nums: list[int] = []
    buf: list[list[str]] = []
    row = 0
    with _open_bytes(path) as fh:
        text = io.TextIOWrapper(fh, encoding=encoding, newline="", errors="strict")
        reader = csv.reader(text, delimiter=delim, strict=False)
        next(reader, None)  # header
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a NUL byte
                row += 1
                malformed.append(Malformed(row, f"unreadable record: {exc}", ""))
                continue
            if not rec:
                continue  # a blank line is not a record
            row += 1
            if len(rec) != width:
                malformed.append(
                    Malformed(row, f"expected {width} fields, found {len(rec)}", json.dumps(rec)[:100_000])
                )
                continue
            nums.append(row)
            buf.append(rec)
            if len(buf) >= _BATCH:
                batches.append(_batch(nums, columns, buf))
                nums, buf = [], []
    if buf:
        batches.append(_batch(nums, columns, buf))
    _load_arrow(con, name, columns, batches)
    return RawTable(name, columns, row, malformed, "python")


def _batch(nums: list[int], columns: list[str], rows: list[list[str]]) -> pa.RecordBatch:
    cols = list(zip(*rows))
    arrays = [pa.array(nums, pa.int64())] + [pa.array(list(c), pa.string()) for c in cols]
    return pa.RecordBatch.from_arrays(arrays, names=[ROW] + columns)


# ---------------------------------------------------------------- other formats


def _records_to_table(con, records: list[dict], prefix: str, columns: list[str] | None = None) -> RawTable:
    columns = list(columns or [])
    seen = set(columns)
    for rec in records:
        for k in rec:
            if k not in seen:
                seen.add(k)
                columns.append(k)
    names = dedupe_names(columns)
    name = _new_name(con, prefix)

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
        rows = [[cell(r.get(c)) for c in columns] for r in chunk]
        batches.append(_batch(list(range(i + 1, i + 1 + len(chunk))), names, rows))
    _load_arrow(con, name, names, batches)
    return RawTable(name, names, len(records), [], prefix)


def read_json(con, path: Path) -> RawTable:
    """Socrata (a list of records, or NDJSON) and ArcGIS feature exports."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise ReadError(f"{path}: not UTF-8 JSON ({exc})") from None
    if not text.strip():
        raise ReadError(f"{path}: the file is empty")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
        records = []
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ReadError(f"{path}: line {i}: invalid JSON ({exc.msg}, column {exc.colno})") from None
    if doc is not None:
        if isinstance(doc, dict) and "features" in doc:  # ArcGIS / GeoJSON
            records = []
            for feat in doc["features"]:
                rec = dict(feat.get("attributes") or feat.get("properties") or {})
                geom = feat.get("geometry") or {}
                if "x" in geom and "y" in geom:
                    rec.setdefault("x", geom["x"])
                    rec.setdefault("y", geom["y"])
                records.append(rec)
        elif isinstance(doc, dict) and isinstance(doc.get("data"), list) and "meta" in doc:  # Socrata rows.json
            cols = [c.get("fieldName") or c.get("name") for c in doc["meta"]["view"]["columns"]]
            records = [dict(zip(cols, r)) for r in doc["data"]]
        elif isinstance(doc, list):
            records = doc
        else:
            raise ReadError(f"{path}: JSON is neither a list of records nor an ArcGIS/Socrata export")
    if not all(isinstance(r, dict) for r in records):
        raise ReadError(f"{path}: JSON records must be objects")
    return _records_to_table(con, records, "json")


def read_excel(con, path: Path) -> RawTable:
    import pandas as pd

    try:
        df = pd.read_excel(path, dtype=str, sheet_name=0, keep_default_na=False)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise ReadError(f"{path}: cannot read as Excel ({type(exc).__name__}: {exc})") from None
    df.columns = [str(c) for c in df.columns]
    records = [{k: (v if v != "" else None) for k, v in r.items()} for r in df.to_dict("records")]
    return _records_to_table(con, records, "excel", columns=list(df.columns))


def read_parquet(con, path: Path) -> RawTable:
    try:
        cols = [r[0] for r in con.execute(f"describe select * from read_parquet({_sql_str(str(path))})").fetchall()]
    except duckdb.Error as exc:
        raise ReadError(f"{path}: cannot read as Parquet ({str(exc).splitlines()[0]})") from None
    name = _new_name(con, "raw")
    sel = ", ".join(f'cast("{c}" as varchar) as "{c}"' for c in cols)
    con.execute(
        f'create or replace temp table "{name}" as select row_number() over () as {ROW}, {sel} '
        f"from read_parquet({_sql_str(str(path))})"
    )
    rows = con.execute(f'select count(*) from "{name}"').fetchone()[0]
    return RawTable(name, cols, rows, [], "parquet")


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


def read_any(con, path: Path, delimiter: str | None = None) -> RawTable:
    kind = file_kind(path)
    if kind == "excel":
        return read_excel(con, path)
    if kind == "parquet":
        return read_parquet(con, path)
    if kind == "json":
        return read_json(con, path)
    if kind == "zip":
        raise ReadError(f"{path}: zip archives are expanded before reading; call expand_zip()")
    return read_csv(con, path, delimiter)


def columns_of(path: Path, delimiter: str | None = None) -> list[str]:
    """Column names without loading the whole file (CSV) or by reading it (others)."""
    if file_kind(path) == "csv":
        return read_header(path, delimiter)[0]
    con = duckdb.connect()
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
