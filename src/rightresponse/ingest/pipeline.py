"""ingest(): files in, reconciled Parquet dataset out.

For every file: rows read = rows loaded + rows quarantined + rows duplicate, exactly.
Duplicates are calls (agency, call_id) already in the workspace or seen earlier in the
same file; they are skipped, never double-counted, so re-ingesting is harmless.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from .. import __version__
from ..schema import CALL_FIELDS, SENSITIVE_FIELDS, UNIT_FIELDS, field_names
from .adapter import Adapter, AdapterError, builtin_adapters, detect_adapter, get_adapter
from .normalize import normalize
from .readers import ROW, ReadError, columns_of, expand_zip, file_kind, read_any, _sql_str
from .workspace import Workspace


class IngestError(Exception):
    """A file that cannot be ingested at all: missing, unreadable, unknown layout."""


@dataclass
class FileSummary:
    path: str
    adapter: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int
    calls_loaded: int
    sha256: str
    agency: str
    reader: str
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined + self.rows_duplicate


@dataclass
class IngestSummary:
    workspace: str
    files: list[FileSummary]
    skipped: list[str] = field(default_factory=list)  # files inside a directory or zip matching no adapter

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rows_duplicate(self) -> int:
        return sum(f.rows_duplicate for f in self.files)

    @property
    def calls_loaded(self) -> int:
        return sum(f.calls_loaded for f in self.files)

    def to_dict(self) -> dict:
        return {
            "workspace": self.workspace,
            "files": [
                {k: v for k, v in asdict(f).items()} | {"reconciles": f.reconciles} for f in self.files
            ],
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rows_duplicate": self.rows_duplicate,
            "calls_loaded": self.calls_loaded,
            "skipped": list(self.skipped),
        }


class _Background:
    """Run fn(*args) in a daemon thread; result() waits and re-raises its exception.

    hashlib releases the GIL on large buffers and DuckDB releases it while executing,
    so a file's hash is computed on the otherwise idle core during the read.
    """

    def __init__(self, fn, *args):
        self._out: list = []
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            self._out.append((True, fn(*args)))
        except BaseException as exc:  # re-raised in the caller's thread
            self._out.append((False, exc))

    def result(self):
        self._thread.join()
        ok, value = self._out[0]
        if not ok:
            raise value
        return value


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _printable(text: str, limit: int = 60) -> str:
    """A column name fit for a one-line message: control characters escaped, long names cut."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return out if len(out) <= limit else out[: limit - 3] + "..."


def resolve_inputs(paths, adapter: str | None = None,
                   skipped: list[str] | None = None) -> list[tuple[Path, Adapter, Path | None, str]]:
    """Check every input before any work starts: exists, readable, known layout.

    Failing early means a typo in the 14th file name does not leave 13 files half-ingested.
    Directories and zip archives expand to the data files they contain; files inside them
    that match no adapter (lookup tables, a README) are skipped and listed in ``skipped``,
    but a named file that matches none, or a directory or zip with no call file, is an error.
    Returns (file to read, adapter, temp dir to remove, name to report) per file.
    """
    forced = get_adapter(adapter) if adapter else None
    ads = builtin_adapters() if forced is None else {}  # parsing every adapter is not free
    skipped = skipped if skipped is not None else []
    out = []
    tmpdir: Path | None = None
    try:
        for p in map(Path, paths):
            if not p.exists():
                raise IngestError(f"{p}: no such file or directory")
            if p.is_dir():
                files = sorted(x for x in p.rglob("*") if x.is_file() and not x.name.startswith("."))
            else:
                files = [p]
            found, skipped_before = len(out), len(skipped)
            for f in files:
                members = [(f, str(f))]
                if file_kind(f) == "zip":
                    tmpdir = tmpdir or Path(tempfile.mkdtemp(prefix="rightresponse-zip-"))
                    try:
                        members = [(m, str(f.parent / m.name)) for m in expand_zip(f, tmpdir)]
                    except ReadError as exc:
                        raise IngestError(str(exc)) from None
                named = not p.is_dir() and len(members) == 1  # a zip of one file counts as that file
                for m, shown in members:
                    if file_kind(m) not in ("csv", "excel", "json", "parquet") or m.suffix.lower() in (".pdf", ".md"):
                        if named:
                            raise IngestError(f"{shown}: not a supported data file (CSV, Excel, JSON, Parquet, gzip, zip)")
                        skipped.append(f"{shown}: not a data file")
                        continue
                    try:
                        cols = columns_of(m, (forced.read.get("delimiter") if forced else None))
                    except ReadError as exc:
                        raise IngestError(str(exc).replace(str(m), shown, 1)) from None
                    except OSError as exc:
                        raise IngestError(f"{shown}: cannot read ({exc.strerror or exc})") from None
                    ad = forced or detect_adapter(cols, ads)
                    if ad is None:
                        if not named:
                            skipped.append(f"{shown}: no adapter matches its columns")  # e.g. a code lookup table
                            continue
                        names = ", ".join(_printable(c) for c in cols[:12])
                        raise IngestError(
                            f"{shown}: unknown layout (columns: {names}{' ...' if len(cols) > 12 else ''}); "
                            f"pass --adapter NAME or write one with `rightresponse inspect {shown}`"
                        )
                    out.append((m, ad, tmpdir, shown))
            if len(out) == found:
                raise IngestError(f"{p}: none of its {len(skipped) - skipped_before} file(s) matches a known layout; "
                                  f"pass --adapter NAME")
    except BaseException:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    return out


# DuckDB's own default is 80% of RAM. Ingest spills to WORKSPACE/.tmp beyond this instead,
# so a multi-million-row export fits beside an analyst's other work (about 0.7 GB peak for
# 2M rows; benchmarks/README.md). Pass memory_limit (or --memory-limit) to raise it.
DEFAULT_MEMORY_LIMIT = "512MB"


def ingest(paths, workspace, adapter: str | None = None, agency: str | None = None, progress: bool = False,
           memory_limit: str | None = None) -> IngestSummary:
    """Ingest CAD exports into ``workspace``; returns the per-file reconciliation.

    ``memory_limit`` (e.g. "2GB") bounds DuckDB's memory; default DEFAULT_MEMORY_LIMIT.

    >>> summary = ingest(["week35.csv"], workspace="ws")   # doctest: +SKIP
    >>> summary.rows_loaded                                # doctest: +SKIP
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    skipped: list[str] = []
    try:
        inputs = resolve_inputs(paths, adapter, skipped)
    except AdapterError as exc:
        raise IngestError(str(exc)) from None
    ws = Workspace(workspace)
    ws.root.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET memory_limit = {_sql_str(memory_limit or DEFAULT_MEMORY_LIMIT)}")
    con.execute(f"SET temp_directory = {_sql_str(str(ws.root / '.tmp'))}")
    con.execute("SET TimeZone = 'UTC'")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(inputs), unit="file", desc="ingest", leave=False)
    summaries = []
    try:
        for path, ad, _, shown in inputs:
            if bar is not None:
                bar.set_postfix_str(path.name[:40])
            summaries.append(_ingest_file(con, ws, path, ad, agency, shown))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        con.close()
        for tmp in {t for _, _, t, _ in inputs if t is not None}:
            shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(ws.root / ".tmp", ignore_errors=True)
    return IngestSummary(str(ws.root), summaries, skipped)


_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")


def _copy(con, select_sql: str, dest: Path, tag: str, parts: list[tuple]) -> None:
    """Append the rows to the hive layout ``dest/agency=../year=../<tag>_<uuid>.parquet``.

    One COPY per (agency, year), rather than one COPY with PARTITION_BY: DuckDB's
    partitioned writer buffers every partition at once; one partition at a time is faster
    and needs a fraction of the memory. Rows keep file order (no sort: sorting 2M rows by
    ``received`` cost a fifth of the ingest, and exports come roughly in time order anyway). Partition values that would need escaping are left to PARTITION_BY, so the
    directory names are always DuckDB's own. ``parts`` are the (agency, year) pairs, found
    once from the normalized table rather than by another pass over the query.
    """
    for agency, year in parts:
        where = (f"agency IS NOT DISTINCT FROM {_sql_str(agency) if agency is not None else 'NULL'} "
                 f"AND year IS NOT DISTINCT FROM {int(year) if year is not None else 'NULL'}")
        if agency is not None and year is not None and _PLAIN_VALUE.match(str(agency)):
            target = dest / f"agency={agency}" / f"year={int(year)}"
            target.mkdir(parents=True, exist_ok=True)
            out = target / f"{tag}_{uuid.uuid4()}.parquet"
            con.execute(f"COPY (SELECT * EXCLUDE (agency, year) FROM ({select_sql}) WHERE {where}) "
                        f"TO {_sql_str(str(out))} (FORMAT parquet, COMPRESSION zstd)")
        else:
            con.execute(
                f"COPY (SELECT * FROM ({select_sql}) WHERE {where}) TO {_sql_str(str(dest))} "
                f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (agency, year), APPEND, "
                f"FILENAME_PATTERN {_sql_str(tag + '_{uuid}')})"
            )


def _ingest_file(con, ws: Workspace, path: Path, ad: Adapter, agency: str | None,
                 shown: str | None = None) -> FileSummary:
    """One file; ``shown`` is the name to report (``dir/export.zip!member.csv`` for zip members)."""
    shown = shown or str(path)
    sha_job = _Background(_sha256, path)  # hashing overlaps the DuckDB read
    try:
        raw = read_any(con, path, ad.read.get("delimiter"))
    except ReadError as exc:
        raise IngestError(str(exc).replace(str(path), shown, 1)) from None
    except UnicodeDecodeError as exc:
        raise IngestError(f"{shown}: cannot decode text ({exc})") from None
    agency_id = agency or ad.agency
    try:
        comp = normalize(con, ad, raw, agency_id, path.name)
    except AdapterError as exc:
        raise IngestError(str(exc)) from None
    except duckdb.Error as exc:
        raise IngestError(f"{shown}: adapter {ad.name} failed: {str(exc).splitlines()[0]}") from None
    norm = comp.name
    unit_grain = ad.grain == "unit"

    # Duplicates: calls already stored, or a repeat of an earlier row of this file.
    # Only the duplicate row numbers are materialized ({norm}_d, usually tiny): a
    # GROUP BY on the key finds repeated keys without sorting or copying every row.
    seen = f"seen_{norm}"
    ws.existing_ids(con, agency_id, seen)
    part = ["call_id", "unit_id"] if unit_grain else ["call_id"]
    on = " AND ".join(f"f.{c} IS NOT DISTINCT FROM n.{c}" for c in part)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {norm}_d AS
        WITH f AS (SELECT {', '.join(part)}, min(__row) AS __first FROM {norm} WHERE __reason IS NULL
                   GROUP BY ALL HAVING count(*) > 1)
        SELECT n.__row FROM {norm} n JOIN f ON {on} WHERE n.__reason IS NULL AND n.__row > f.__first
        UNION
        SELECT n.__row FROM {norm} n SEMI JOIN {seen} s ON s.call_id = n.call_id WHERE n.__reason IS NULL"""
    )
    keep = f"SELECT n.* FROM {norm} n ANTI JOIN {norm}_d d ON d.__row = n.__row WHERE n.__reason IS NULL"
    counts = dict(con.execute(
        f"SELECT coalesce(__reason, '__ok'), count(*) FROM {norm} GROUP BY 1").fetchall())
    rows_dup = con.execute(f"SELECT count(*) FROM {norm}_d").fetchone()[0]
    rows_loaded = counts.pop("__ok", 0) - rows_dup
    reasons = dict(counts)
    if raw.malformed:
        reasons["malformed_record"] = reasons.get("malformed_record", 0) + len(raw.malformed)
    rows_quarantined = sum(reasons.values())

    sha = sha_job.result()
    # The quarantine needs the raw records; collect them now so the raw table can be
    # dropped before the sorted Parquet writes need the memory.
    qname = _quarantine_table(con, raw, norm, path, sha)
    raw.drop(con)

    tag = sha[:16]
    if unit_grain:
        unit_cols = ", ".join(f'"{c}"' for c in field_names(UNIT_FIELDS))
        _copy(con, f"SELECT {unit_cols} FROM ({keep})", ws.dir("units"), tag,
              con.execute(f"SELECT DISTINCT agency, year FROM {norm} WHERE __reason IS NULL").fetchall())
        # One incident row per call: the first unit row, with the number of distinct units.
        # (plus the sensitive columns, which are written from the incident rows too)
        inc_fields = field_names(CALL_FIELDS) + [c for c in field_names(SENSITIVE_FIELDS) if c not in field_names(CALL_FIELDS)]
        call_cols = ", ".join(
            f'"{c}"' if c != "units_assigned" else "count(DISTINCT unit_id) OVER (PARTITION BY call_id) AS units_assigned"
            for c in inc_fields
        )
        incidents = (f"SELECT * FROM (SELECT {call_cols}, __row, row_number() OVER (PARTITION BY call_id ORDER BY __row) AS __n "
                     f"FROM ({keep})) WHERE __n = 1")
    else:
        incidents = keep
    calls_loaded = (con.execute(f"SELECT count(*) FROM ({incidents})").fetchone()[0] if unit_grain
                    else rows_loaded)
    if calls_loaded:
        # Partitions of the loaded rows; a partition that only duplicates populate would just
        # write an empty file, so the superset from all valid rows is harmless and cheap.
        parts = con.execute(f"SELECT DISTINCT agency, year FROM {norm} WHERE __reason IS NULL").fetchall()
        cols = ", ".join(f'"{c}"' for c in field_names(CALL_FIELDS))
        _copy(con, f"SELECT {cols} FROM ({incidents})", ws.dir("calls"), tag, parts)
        sens = ", ".join(f'i."{c}"' for c in field_names(SENSITIVE_FIELDS))
        _copy(con, f"SELECT {sens} FROM ({incidents}) i WHERE coalesce(i.location, i.narrative, "
                   f"CAST(i.latitude AS VARCHAR)) IS NOT NULL", ws.dir("sensitive"), tag, parts)

    _write_quarantine(con, ws, qname, sha)
    con.execute(f"DROP TABLE IF EXISTS {norm}_d; DROP TABLE IF EXISTS {norm}; DROP TABLE IF EXISTS {seen}")

    fs = FileSummary(
        path=shown, adapter=ad.name, rows_read=raw.rows, rows_loaded=rows_loaded,
        rows_quarantined=rows_quarantined, rows_duplicate=rows_dup, calls_loaded=calls_loaded,
        sha256=sha, agency=agency_id, reader=raw.path, quarantine_reasons=reasons,
        warnings=raw.warnings + comp.warnings,
    )
    if not fs.reconciles:  # a bug, never an input problem: refuse to record it
        raise AssertionError(f"{shown}: counts do not reconcile: {fs}")
    ws.record({
        "path": shown, "sha256": sha, "bytes": path.stat().st_size, "adapter": ad.name,
        "adapter_sha256": ad.sha256, "agency": agency_id, "rightresponse": __version__,
        "duckdb": duckdb.__version__, "rows_read": fs.rows_read, "rows_loaded": fs.rows_loaded,
        "rows_quarantined": fs.rows_quarantined, "rows_duplicate": fs.rows_duplicate,
        "calls_loaded": fs.calls_loaded, "quarantine_reasons": reasons,
    })
    return fs


def _quarantine_table(con, raw, norm: str, path: Path, sha: str) -> str:
    """Temp table of this file's rejected records (reason, column, message, raw record)."""
    cols = ", ".join("r." + '"' + c.replace('"', '""') + '"' for c in raw.columns)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE q_{norm} (source_file VARCHAR, source_sha256 VARCHAR, source_row BIGINT,
            reason VARCHAR, column_name VARCHAR, message VARCHAR, record VARCHAR)"""
    )
    con.execute(
        f"""INSERT INTO q_{norm}
        SELECT {_sql_str(path.name)}, {_sql_str(sha)}, n.__row, n.__reason, n.__column, n.__message,
               CAST(to_json(struct_pack({cols})) AS VARCHAR)
        FROM {norm} n JOIN "{raw.name}" r ON r.{ROW} = n.__row WHERE n.__reason IS NOT NULL"""
        if raw.columns else "SELECT 1 WHERE false"
    )
    for m in raw.malformed:
        con.execute(
            f"INSERT INTO q_{norm} VALUES (?, ?, ?, 'malformed_record', NULL, ?, ?)",
            [path.name, sha, m.row, f"record {m.row}: {m.message}", m.record],
        )
    return f"q_{norm}"


def _write_quarantine(con, ws: Workspace, qname: str, sha: str) -> None:
    dest = ws.dir("quarantine") / f"{sha[:16]}.parquet"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        dest.unlink()  # re-ingest replaces this file's quarantine rather than doubling it
    if con.execute(f"SELECT count(*) FROM {qname}").fetchone()[0]:
        con.execute(f"COPY (SELECT * FROM {qname} ORDER BY source_row) TO {_sql_str(str(dest))} (FORMAT parquet)")
    con.execute(f"DROP TABLE {qname}")


def quarantine_examples(workspace, limit: int = 5) -> list[dict]:
    """A few quarantined rows with file, row, column and reason (never the raw record)."""
    ws = Workspace(workspace)
    if not ws.has("quarantine"):
        return []
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT source_file, source_row, reason, column_name FROM read_parquet({_sql_str(ws.glob('quarantine'))}) "
            f"ORDER BY source_file, source_row LIMIT {int(limit)}"
        ).fetchall()
    finally:
        con.close()
    return [dict(zip(("file", "row", "reason", "column"), r)) for r in rows]


__all__ = ["ingest", "IngestSummary", "FileSummary", "IngestError", "quarantine_examples", "json"]
