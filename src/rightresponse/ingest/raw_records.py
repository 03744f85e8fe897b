"""What every reader shares: the raw table it returns, the limits on a record and on a file,
byte-level opening (gzip capped against bombs), and the writer that batches records into DuckDB.

The format readers (``readers`` for CSV, Excel and Parquet, ``jsonread`` for JSON) build on
these; keeping them apart lets ``readers`` dispatch to ``jsonread`` without the two importing
each other.
"""

from __future__ import annotations

import gzip
import io
import json
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from ..errors import RightResponseError
from ..sqltext import ident


ROW = "__row"
_BATCH = 100_000  # records held in Python before they go to DuckDB ...
_JSON_BATCH = 20_000  # ... (as dicts)
_BATCH_CHARS = 64 << 20  # ... or this many characters, whichever comes first

# One record (a CSV row, a JSON record) may hold this many characters. A CAD record is a few
# hundred; a narrative a few thousand. A longer one is quarantined with its first
# RECORD_HEAD characters, so a run of 40 MB of NUL bytes cannot take the machine's memory.
MAX_RECORD_CHARS = 16 << 20
RECORD_HEAD = 1000
# Compressed input (gzip, zip, xlsx) may expand this many times, and at least to
# MIN_EXPANDED_BYTES. CAD exports compress about ten times; a bomb, a thousand.
MAX_EXPANSION = 100
MIN_EXPANDED_BYTES = 64 << 20


class ReadError(RightResponseError):
    """Input that cannot be read at all (as opposed to rows that are quarantined)."""


@dataclass
class RawTable:
    name: str
    columns: list[str]
    rows: int
    bad: str | None = None  # table of malformed records (row, message, record), or None
    bad_rows: int = 0
    path: str = "duckdb"  # which reader path produced it: duckdb | python | excel | json | parquet
    warnings: list[str] = field(default_factory=list)  # e.g. lines decoded as cp1252
    base: str | None = None  # the table behind ``name`` when ``name`` is a numbering view

    def drop(self, con) -> None:
        if self.bad:
            con.execute(f"DROP TABLE IF EXISTS {ident(self.bad)}")
        if not self.name:  # a direct scan: nothing was materialized
            return
        if self.base:
            con.execute(f"DROP VIEW IF EXISTS {ident(self.name)}; DROP TABLE IF EXISTS {ident(self.base)}")
        else:
            con.execute(f"DROP TABLE IF EXISTS {ident(self.name)}")


# ---------------------------------------------------------------- helpers


def dedupe_names(names: list[str]) -> list[str]:
    """Make header names unique and non-empty, the way DuckDB does (``name_1``).

    Uniqueness is case-insensitive because DuckDB identifiers are (``Beat`` and ``BEAT``
    would collide), and ``__row`` is reserved for the record number.
    """
    namer = _Namer()
    return [namer.name(raw, i) for i, raw in enumerate(names)]


class _Namer:
    """dedupe_names one name at a time, for readers that meet new columns as they go."""

    def __init__(self) -> None:
        self._seen: set[str] = {ROW}

    def name(self, raw: str | None, i: int) -> str:
        base = (raw or "").strip().lstrip("\ufeff") or f"column{i}"
        name, n = base, 0
        while name.lower() in self._seen:
            n += 1
            name = f"{base}_{n}"
        self._seen.add(name.lower())
        return name


def expansion_limit(path: Path) -> int:
    """How many bytes compressed input at ``path`` may expand to."""
    return max(MIN_EXPANDED_BYTES, MAX_EXPANSION * path.stat().st_size)


def _too_large(path: Path, limit: int) -> ReadError:
    return ReadError(f"{path}: expands to more than {limit:,} bytes ({MAX_EXPANSION} times its compressed "
                     f"size); refused as a possible decompression bomb")


class _CappedGzip(gzip.GzipFile):
    """A gzip stream that raises ReadError once it has produced more than ``limit`` bytes."""

    def __init__(self, path: Path, limit: int):
        super().__init__(str(path), "rb")
        self._cap_path, self._cap, self._produced = path, limit, 0

    def seek(self, offset, whence=io.SEEK_SET):
        if offset == 0 and whence == io.SEEK_SET:  # read again from the start: count afresh
            self._produced = 0
        return super().seek(offset, whence)

    def _count(self, n: int) -> None:
        self._produced += n
        if self._produced > self._cap:
            raise _too_large(self._cap_path, self._cap)

    def read(self, size=-1):
        if size is None or size < 0:  # never one unbounded read
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        b = super().read(size)
        self._count(len(b))
        return b

    def read1(self, size=-1):
        b = super().read1(size if size and size > 0 else 1 << 20)
        self._count(len(b))
        return b

    def readinto(self, b):
        n = super().readinto(b)
        self._count(n)
        return n

    def readline(self, size=-1):
        b = super().readline(size if size is not None and size >= 0 else MAX_RECORD_CHARS)
        self._count(len(b))
        return b


def open_bytes(path: Path):
    """The file's bytes, decompressed if it is .gz, within the expansion limit."""
    if path.name.lower().endswith(".gz"):
        return _CappedGzip(path, expansion_limit(path))
    return open(path, "rb")


_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def _gzip_error(path: Path, exc: BaseException) -> ReadError:
    return ReadError(f"{path}: corrupt or truncated gzip data ({exc})")


def _new_name(con: duckdb.DuckDBPyConnection, stem: str) -> str:
    return f"{stem}_{uuid.uuid4().hex[:10]}"


class _TableWriter:
    """Rows into a new temp table, one Arrow batch at a time (DuckDB holds them, and spills).

    Columns may be added as they are met (JSON records differ in their keys); earlier rows
    have NULL there.
    """

    def __init__(self, con, name: str, columns: list[str]):
        self.con, self.name = con, name
        self.columns = list(columns)
        cols = ", ".join(f"{ident(c)} VARCHAR" for c in self.columns)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {ident(name)} ({ident(ROW)} BIGINT{', ' if cols else ''}{cols})")

    def add_columns(self, columns: list[str]) -> None:
        for c in columns:
            self.con.execute(f"ALTER TABLE {ident(self.name)} ADD COLUMN {ident(c)} VARCHAR")
            self.columns.append(c)

    def write(self, nums: list[int], cols: list[list]) -> None:
        """One batch: record numbers and one list of values per column (in ``columns`` order)."""
        if not nums:
            return
        names = [ROW] + self.columns[: len(cols)]
        arrays = [pa.array(nums, pa.int64())] + [pa.array(c, pa.string()) for c in cols]
        batch = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(names))])
        self.con.register("__arrow_in", batch)
        try:
            cols_sql = ", ".join(ident(n) for n in names)
            self.con.execute(f"INSERT INTO {ident(self.name)} ({cols_sql}) SELECT * FROM __arrow_in")
        finally:
            self.con.unregister("__arrow_in")


class _BadRecords:
    """Malformed records (row, message, whole record), kept in a DuckDB table as they come."""

    def __init__(self, con, stem: str):
        self.con, self.name, self.count = con, None, 0
        self._stem = stem
        self._buf: tuple[list, list, list] = ([], [], [])
        self._chars = 0
        self._out: _TableWriter | None = None

    def add(self, row: int, message: str, record: str) -> None:
        self._buf[0].append(row)
        self._buf[1].append(f"record {row}: {message}")
        self._buf[2].append(record)
        self.count += 1
        self._chars += len(record)
        if len(self._buf[0]) >= 1000 or self._chars > _BATCH_CHARS:
            self.flush()

    def flush(self) -> None:
        if not self._buf[0]:
            return
        if self._out is None:
            self.name = _new_name(self.con, f"{self._stem}_bad")
            self._out = _TableWriter(self.con, self.name, ["message", "record"])
        self._out.write(self._buf[0], [self._buf[1], self._buf[2]])
        self._buf, self._chars = ([], [], []), 0


class _Oversized(Exception):
    """A physical line longer than MAX_RECORD_CHARS (raised out of the csv reader)."""

    def __init__(self, line: int, size: int, head: str):
        super().__init__(line)
        self.line, self.size, self.head = line, size, head

    def describe(self) -> str:
        """The quarantine message (the record's first RECORD_HEAD characters are its record)."""
        return (f"longer than {MAX_RECORD_CHARS:,} characters ({self.size:,}, at line {self.line}); "
                f"only its first {RECORD_HEAD:,} are kept here")


class _BoundedLines:
    """The physical lines of a text stream for ``csv.reader``, none longer than MAX_RECORD_CHARS.

    A longer line is read to its end and dropped, and ``_Oversized`` is raised in its place
    (the csv reader passes it on and starts afresh at the next line). ``line`` is the number
    of the last line read.
    """

    def __init__(self, text, limit: int = MAX_RECORD_CHARS):
        self._readline, self._limit, self.line = text.readline, limit, 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self._readline(self._limit)
        if not line:
            raise StopIteration
        self.line += 1
        if len(line) >= self._limit and not line.endswith(("\n", "\r")):
            head, size = line[:RECORD_HEAD], len(line)
            while more := self._readline(1 << 20):  # the rest of the line, read and dropped
                size += len(more)
                if more.endswith(("\n", "\r")):
                    break
            raise _Oversized(self.line, size, head)
        return line


# ---------------------------------------------------------------- records (JSON, Excel)
# (JSON's own reading, one record at a time, is in jsonread.py)


def _cell(v):
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


class _RecordTable:
    """Records (dicts) into a raw table in batches; columns in the order their keys first appear."""

    def __init__(self, con, prefix: str, columns: list[str] | None = None):
        self.con, self.prefix = con, prefix
        self.name = _new_name(con, prefix)
        self._namer = _Namer()
        self.keys: list[str] = []
        self.names: list[str] = []
        self._out = _TableWriter(con, self.name, [])
        self._nums: list[int] = []
        self._recs: list[dict] = []
        self._chars = 0
        self._add_keys(list(columns or []))

    def _add_keys(self, keys: list[str]) -> None:
        new = []
        for k in keys:
            self.keys.append(k)
            new.append(self._namer.name(k, len(self.names) + len(new)))
        self.names += new
        self._out.add_columns(new)

    def add(self, num: int, rec: dict, size: int) -> None:
        """One record, ``size`` characters long (about: what its text took)."""
        self._nums.append(num)
        self._recs.append(rec)
        self._chars += size
        if len(self._recs) >= _JSON_BATCH or self._chars > _BATCH_CHARS:
            self.flush()

    def flush(self) -> None:
        if not self._recs:
            return
        known = set(self.keys)
        fresh = list(dict.fromkeys(k for r in self._recs for k in r if k not in known))
        if fresh:
            self._add_keys(fresh)
        cols = [[_cell(r.get(k)) for r in self._recs] for k in self.keys]
        self._out.write(self._nums, cols)
        self._nums, self._recs, self._chars = [], [], 0

    def table(self, rows: int, bad: _BadRecords, warnings: list[str] | None = None) -> RawTable:
        self.flush()
        bad.flush()
        return RawTable(self.name, list(self.names), rows, bad.name, bad.count, self.prefix, list(warnings or []))
