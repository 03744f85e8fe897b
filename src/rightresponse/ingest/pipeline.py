"""ingest(): files in, reconciled Parquet dataset out.

For every file: rows read = rows loaded + rows quarantined + rows duplicate, exactly.
Duplicates are calls (agency, call_id) already in the workspace or seen earlier in the
same file; they are skipped, never double-counted, so re-ingesting is harmless.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from ..errors import RightResponseError
from .. import __version__
from ..schema import CALL_FIELDS, SENSITIVE_FIELDS, UNIT_FIELDS, field_names
from .adapter import Adapter, AdapterError, builtin_adapters, detect_adapter, get_adapter
from .adapter_compiler import Source, normalize
from ..sqltext import ident, literal
from .raw_records import MAX_EXPANSION, ROW, RawTable, ReadError, expansion_limit
from .readers import columns_of, csv_scan, expand_zip, file_kind, read_any
from .recordcount import RecordCounter
from .workspace import Workspace, WorkspaceBusy


class IngestError(RightResponseError):
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
                    if forced is not None and not _fits(forced, cols):
                        # Every row would be quarantined for want of a call id: a wrong adapter, not data.
                        need = ", ".join(_columns_named(forced.fields.get("call_id")))
                        if named:
                            raise IngestError(
                                f"{shown}: adapter {forced.name} does not fit this file: it takes the call id from "
                                f"column {need}, which the file does not have (columns: "
                                f"{', '.join(_printable(c) for c in cols[:12])}{' ...' if len(cols) > 12 else ''})")
                        skipped.append(f"{shown}: adapter {forced.name} does not fit it (no column {need})")
                        continue
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
                if forced:
                    raise IngestError(f"{p}: none of its {len(skipped) - skipped_before} file(s) fits adapter "
                                      f"{forced.name} (" + "; ".join(skipped[skipped_before:][:3]) + ")")
                raise IngestError(f"{p}: none of its {len(skipped) - skipped_before} file(s) matches a known layout; "
                                  f"pass --adapter NAME")
    except BaseException:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    return out


def _columns_named(spec) -> list[str]:
    """The source columns an adapter field reads (a column, a {column: ...}, the {names} of a
    sql expression, or those of the parts of a concat or coalesce)."""
    if spec is None:
        return []
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, list):
        return [c for x in spec for c in _columns_named(x)]
    if isinstance(spec, dict):
        out = _columns_named(spec.get("column"))
        for k in ("concat", "coalesce"):
            out += _columns_named(spec.get(k))
        if isinstance(spec.get("sql"), str):
            out += re.findall(r"\{([^{}]+)\}", spec["sql"])
        return out
    return []


def _fits(ad: Adapter, columns) -> bool:
    """A forced adapter fits a file when the file has a column its call id is read from."""
    need = _columns_named(ad.fields.get("call_id"))
    have = {str(c).strip().lower() for c in columns}
    return not need or any(c.strip().lower() in have for c in need)


# DuckDB's own default is 80% of RAM. Ingest spills to the run's staging folder beyond this
# instead, so a multi-million-row export fits beside an analyst's other work (about 0.75 GB
# peak for 2M rows; benchmarks/README.md). 640MB because the 2M-row pass fits in it without
# spilling (at 512MB it spilled, about 0.4 s slower). Pass memory_limit (or --memory-limit)
# to change it.
DEFAULT_MEMORY_LIMIT = "640MB"


def _connect(tmp: Path, memory_limit: str | None, threads: int | None = None, *,
             read: list[Path] = (), write: list[Path] = ()):
    """A DuckDB connection that can touch only the files it needs, with its settings locked.

    ``read``: the input file(s); ``write``: folders it may read and write (the workspace,
    its staging and spill folders). Everything else on the machine is out of reach of every
    query on it, including an adapter's ``sql:`` expressions, and no query can change that:
    the configuration is locked once the connection is set up (adapter expressions are also
    checked before they get here: ``adapter.compile_expression``). The time zone is set
    GLOBAL so the second cursor of the Parquet writes has it too (it cannot set it later).
    """
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = {literal(memory_limit or DEFAULT_MEMORY_LIMIT)}")
    except duckdb.Error as exc:
        con.close()
        raise IngestError(f"memory limit {memory_limit!r} is not a size DuckDB understands (e.g. 2GB): "
                          f"{str(exc).splitlines()[0]}") from None
    con.execute(f"SET temp_directory = {literal(str(tmp))}")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET GLOBAL TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # our own progress bar is per file (cursors: off by default)
    con.execute(f"SET allowed_paths = [{', '.join(literal(str(p)) for p in read)}]")
    con.execute(f"SET allowed_directories = [{', '.join(literal(str(p)) for p in write)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


@contextlib.contextmanager
def _interrupt_deferred():
    """Ignore Ctrl-C while the run commits (a few renames and one manifest write): the run
    then completes, so "interrupted" always means "nothing stored". Only the main thread can
    set a signal handler; elsewhere the commit is as atomic as the manifest's replace."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    import signal

    old = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _interrupted(exc: BaseException) -> bool:
    """DuckDB reports Ctrl-C during a query as RuntimeError('Query interrupted')."""
    return isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower()


def ingest(paths, workspace, adapter: str | None = None, agency: str | None = None, progress: bool = False,
           memory_limit: str | None = None, jobs: int = 1) -> IngestSummary:
    """Ingest CAD exports into ``workspace``; returns the per-file reconciliation.

    ``memory_limit`` (e.g. "2GB") bounds DuckDB's memory; default DEFAULT_MEMORY_LIMIT
    (per worker when ``jobs`` > 1).
    ``jobs``: files ingested at once by a pool of worker processes. The result (data,
    counts, manifest) is the same as one at a time: a call repeated across files is kept
    from the earliest file in the order given, as a sequential run would.

    Atomic: every file is staged first and the run is committed at the end by one manifest
    write, so a crash or Ctrl-C (KeyboardInterrupt) leaves the workspace as it was. If a
    file fails (IngestError), the files before it are committed and the error raised.

    >>> summary = ingest(["week35.csv"], workspace="ws")   # doctest: +SKIP
    >>> summary.rows_loaded                                # doctest: +SKIP
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if int(jobs) < 1:
        raise IngestError(f"jobs must be at least 1 (got {jobs})")
    skipped: list[str] = []
    try:
        inputs = resolve_inputs(paths, adapter, skipped)
    except AdapterError as exc:
        raise IngestError(str(exc)) from None
    shown_root = str(Path(workspace))
    ws = Workspace(Path(workspace).resolve())
    bar = None
    committed = False
    try:
        with ws.lock():
            ws.recover()  # what an interrupted run left: never visible, removed now
            run = ws.new_stage()
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=len(inputs), unit="file", desc="ingest", leave=False)
            try:
                if int(jobs) > 1 and len(inputs) > 1:
                    staged, failure = _stage_parallel(inputs, ws, run, agency, int(jobs), memory_limit, bar)
                else:
                    staged, failure = _stage_sequential(inputs, ws, run, agency, memory_limit, bar)
                with _interrupt_deferred():
                    ws.commit([(_manifest_entry(fs, path, ad), stage) for fs, stage, path, ad in staged])
                    committed = True
            finally:
                ws.end_stage(run)
    except KeyboardInterrupt:
        if not committed:
            raise
        # Ctrl-C while the staging folder was being removed: the run is complete (the next
        # run removes what is left of the folder).
    except RuntimeError as exc:
        if _interrupted(exc):
            raise KeyboardInterrupt from None
        if isinstance(exc, WorkspaceBusy):
            raise IngestError(str(exc)) from None
        raise
    finally:
        if bar is not None:
            bar.close()
        for tmp in {t for _, _, t, _ in inputs if t is not None}:
            shutil.rmtree(tmp, ignore_errors=True)
    if failure is not None:
        raise failure
    return IngestSummary(shown_root, [fs for fs, *_ in staged], skipped)


def _manifest_entry(fs: FileSummary, path: Path, ad: Adapter) -> dict:
    return {
        "path": fs.path, "sha256": fs.sha256, "bytes": path.stat().st_size, "adapter": ad.name,
        "adapter_sha256": ad.sha256, "agency": fs.agency, "rightresponse": __version__,
        "duckdb": duckdb.__version__, "rows_read": fs.rows_read, "rows_loaded": fs.rows_loaded,
        "rows_quarantined": fs.rows_quarantined, "rows_duplicate": fs.rows_duplicate,
        "calls_loaded": fs.calls_loaded, "quarantine_reasons": fs.quarantine_reasons,
    }


def _stage_file(root: Path, stage: Path, path: Path, ad: Adapter, agency: str | None, shown: str,
                memory_limit: str | None, threads: int | None = None, also: list[str] = ()) -> FileSummary:
    """Ingest one file into its own staging folder (a workspace of its own, not yet committed).
    Duplicates are checked against the calls committed in ``root`` and the Parquet files
    ``also`` (the calls this run staged before)."""
    stage.mkdir(parents=True, exist_ok=True)  # DuckDB creates the spill folder, not its parents
    con = _connect(stage / ".tmp", memory_limit, threads, read=[path.resolve()], write=[root])
    try:
        return _ingest_file(con, Workspace(stage), path, ad, agency, shown, seen_in=Workspace(root), also=also)
    finally:
        _quietly(con.close)
        shutil.rmtree(stage / ".tmp", ignore_errors=True)


def _quietly(fn, *args) -> None:
    """Clean up a connection without hiding why we got here: after Ctrl-C DuckDB may still
    call the connection busy, and its error would replace the KeyboardInterrupt (or the real
    error) on its way out. The connection is discarded either way."""
    with contextlib.suppress(duckdb.Error):
        fn(*args)


def _stage_sequential(inputs, ws: Workspace, run: Path, agency, memory_limit, bar):
    """Stage the files one at a time; (staged, the error that stopped the run or None)."""
    staged: list = []
    also: list[str] = []
    for i, (path, ad, _, shown) in enumerate(inputs):
        if bar is not None:
            bar.set_postfix_str(path.name[:40])
        stage = run / str(i)
        try:
            fs = _stage_file(ws.root, stage, path, ad, agency, shown, memory_limit, also=also)
        except IngestError as exc:
            return staged, exc
        staged.append((fs, stage, path, ad))
        also += [str(f) for f in sorted((stage / "calls").rglob("*.parquet"))]
        if bar is not None:
            bar.update(1)
    return staged, None


# ---------------------------------------------------------------- many files at once


def _stage_parallel(inputs, ws: Workspace, run: Path, agency: str | None, jobs: int, memory_limit: str | None,
                    bar):
    """Stage every file in a worker process; (staged, the error that stopped the run or None).

    Each worker writes a complete per-file workspace under the run's staging folder. Then
    the calls that more than one staged file holds are dropped from every file but the
    earliest, moving their rows from loaded to duplicate. If a file fails, the files before
    it are kept, as in a sequential run.
    """
    import pickle
    import queue
    import signal
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // jobs)
    results: list = [None] * len(inputs)
    todo: queue.Queue = queue.Queue()
    for i in range(len(inputs)):
        todo.put(i)
    lock = threading.Lock()
    procs: list = []
    stopping = threading.Event()

    def worker(w: int) -> None:
        """Feed files to one worker process until none are left (or it dies)."""
        log = run / f"worker{w}.log"
        with open(log, "w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "rightresponse.ingest.stage"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err, text=True)
        with lock:
            procs.append(proc)
        try:
            while not stopping.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                path, ad, _, shown = inputs[i]
                d = run / str(i)
                d.mkdir()
                with open(d / "request.pickle", "wb") as fh:
                    pickle.dump({"root": ws.root, "stage": d, "path": path, "ad": ad, "agency": agency,
                                 "shown": shown, "memory_limit": memory_limit, "threads": threads}, fh)
                try:
                    proc.stdin.write(f"{d / 'request.pickle'}\t{d / 'result.pickle'}\n")
                    proc.stdin.flush()
                    ok = proc.stdout.readline() == "done\n"
                except OSError:
                    ok = False
                if not ok:  # the worker died (out of memory, killed): report it on this file
                    proc.kill()
                    proc.wait()
                    last = (log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
                    results[i] = IngestError(f"{shown}: the ingest worker failed (exit {proc.returncode}): {last}")
                    return
                with open(d / "result.pickle", "rb") as fh:
                    results[i] = pickle.load(fh)
                (d / "request.pickle").unlink()
                (d / "result.pickle").unlink()
                if bar is not None:
                    with lock:
                        bar.update(1)
        finally:
            if proc.stdin and not proc.stdin.closed:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            proc.wait()

    pool = ThreadPoolExecutor(max_workers=min(jobs, len(inputs)))
    try:
        for f in [pool.submit(worker, w) for w in range(min(jobs, len(inputs)))]:
            f.result()
    except BaseException:  # Ctrl-C: stop the workers now, not after their current file
        stopping.set()
        with lock:
            for proc in procs:
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGKILL)
        raise
    finally:
        pool.shutdown(wait=True)
    for i, r in enumerate(results):
        if r is None:  # never reached: every worker died before it
            results[i] = IngestError(f"{inputs[i][3]}: not ingested: the ingest workers failed")
    failed = next((i for i, r in enumerate(results) if isinstance(r, BaseException)), len(results))
    done = list(range(failed))
    con = _connect(run / ".tmp", memory_limit, write=[ws.root])
    try:
        _drop_cross_file_duplicates(con, run, done, results)
    finally:
        _quietly(con.close)
    staged = [(results[i], run / str(i), inputs[i][0], inputs[i][1]) for i in done]
    return staged, (results[failed] if failed < len(results) else None)


def _staged_files(stage: Path, table: str) -> list[str]:
    d = stage / table
    return [str(f) for f in sorted(d.rglob("*.parquet"))] if d.is_dir() else []


def _drop_cross_file_duplicates(con, run: Path, done: list[int], results: list) -> None:
    """Keep each call in the earliest staged file that has it; fix the others' counts."""
    ids = [f"SELECT {i} AS __i, agency, call_id FROM read_parquet({_list(files)}, hive_partitioning=true)"
           for i in done if (files := _staged_files(run / str(i), "calls"))]
    if len(ids) < 2:
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __cross AS SELECT agency, call_id, min(__i) AS __first, list(__i) AS __in FROM ("
        + " UNION ALL ".join(ids) + ") GROUP BY ALL HAVING count(*) > 1"
    )
    # Only the files holding a call that an earlier file also holds are read again.
    later_files = sorted(i for (i,) in con.execute(
        "SELECT DISTINCT unnest(list_filter(__in, lambda x: x > __first)) FROM __cross").fetchall())
    for i in later_files:
        stage = run / str(i)
        later = f"(SELECT agency, call_id FROM __cross WHERE __first < {int(i)})"
        removed = {}
        for table in ("calls", "units", "sensitive"):
            files = _staged_files(stage, table)
            if not files:
                continue
            n = con.execute(
                f"SELECT count(*) FROM read_parquet({_list(files)}, hive_partitioning=true) t "
                f"SEMI JOIN {later} d ON d.agency = t.agency AND d.call_id = t.call_id").fetchone()[0]
            removed[table] = n
            if n:
                _rewrite_without(con, stage / table, later)
        calls = removed.get("calls", 0)
        rows = removed["units"] if "units" in removed else calls  # unit-grain files count unit rows
        fs = results[i]
        fs.rows_loaded -= rows
        fs.rows_duplicate += rows
        fs.calls_loaded -= calls
        if not fs.reconciles:
            raise AssertionError(f"{fs.path}: counts do not reconcile after the cross-file check: {fs}")


def _list(paths: list[str]) -> str:
    """A SQL list of file names (each a literal)."""
    return "[" + ", ".join(literal(p) for p in paths) + "]"


# zstd at its fastest level: with the text columns written as ENUMs, compression was a third
# of the Parquet writes at the default level 3; files are about a quarter larger (benchmarks/README.md).
_PARQUET = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"


def _rewrite_without(con, table_dir: Path, dups_sql: str) -> None:
    """Rewrite each staged Parquet file of ``table_dir`` without the rows of ``dups_sql``."""
    for f in sorted(table_dir.rglob("*.parquet")):
        agency = next((p.split("=", 1)[1] for p in f.relative_to(table_dir).parts if p.startswith("agency=")), None)
        src = f"read_parquet({literal(str(f))}, hive_partitioning=false)"
        keep_where = f"SELECT call_id FROM {dups_sql} WHERE agency = {literal(agency)}" if agency is not None else \
            f"SELECT call_id FROM {dups_sql}"
        tmp = f.with_suffix(".rewrite")
        con.execute(f"COPY (SELECT t.* FROM {src} t ANTI JOIN ({keep_where}) d ON d.call_id = t.call_id) "
                    f"TO {literal(str(tmp))} ({_PARQUET})")
        os.replace(tmp, f)


_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")


def _copies(select_sql: str, dest: Path, tag: str, parts: list[tuple]) -> list[str]:
    """COPY statements appending the rows to the hive layout
    ``dest/agency=../year=../<tag>_<uuid>.parquet``.

    One COPY per (agency, year), rather than one COPY with PARTITION_BY: DuckDB's
    partitioned writer buffers every partition at once; one partition at a time is faster
    and needs a fraction of the memory. Rows keep file order (no sort: sorting 2M rows by
    ``received`` cost a fifth of the ingest, and exports come roughly in time order anyway).
    Partition values that would need escaping are left to PARTITION_BY, so the directory
    names are always DuckDB's own. ``parts`` are the (agency, year) pairs, found once from
    the normalized table rather than by another pass over the query.
    """
    out = []
    for agency, year in parts:
        # Plain equality where it can, so the scan skips row groups by their min/max (exports
        # come roughly in time order, so each year is a few row groups of the table).
        where = (f"agency = {literal(agency)}" if agency is not None else "agency IS NULL") + " AND " + (
            f"year = {int(year)}" if year is not None else "year IS NULL")
        if agency is not None and year is not None and _PLAIN_VALUE.match(str(agency)):
            target = dest / f"agency={agency}" / f"year={int(year)}"
            target.mkdir(parents=True, exist_ok=True)
            file = target / f"{tag}_{uuid.uuid4()}.parquet"
            out.append(f"COPY (SELECT * EXCLUDE (agency, year) FROM ({select_sql}) WHERE {where}) "
                       f"TO {literal(str(file))} ({_PARQUET})")
        else:
            out.append(f"COPY (SELECT * FROM ({select_sql}) WHERE {where}) TO {literal(str(dest))} "
                       f"({_PARQUET}, PARTITION_BY (agency, year), APPEND, FILENAME_PATTERN {literal(tag + '_{uuid}')})")
    return out


def _parquet_writers(con) -> int:
    """How many Parquet COPYs to run side by side on ``con``: two when DuckDB may use two
    threads or more, else one.

    DuckDB's Parquet writer does part of its work on one thread: on two cores one COPY kept
    about one and a half busy, and two side by side took the 2M-call writes from 2.9 s to
    1.7 s (benchmarks/README.md). With one thread (one core, or ``--jobs`` workers sharing
    the cores) a second COPY would only take turns with the first. More than two was not
    measured: with more cores each COPY has more threads of its own.
    """
    threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
    return 2 if threads >= 2 else 1


def _run_side_by_side(con, statements: list[str]) -> None:
    """Run ``statements`` on ``con`` and, when ``_parquet_writers`` says so, on a second
    cursor, each taking the next in turn.

    The cursor is another connection to the same in-memory database, so the tables it reads
    are not TEMP. A failure (or Ctrl-C) on either stops both.
    """
    if not statements:
        return
    if _parquet_writers(con) < 2 or len(statements) < 2:
        for sql in statements:
            con.execute(sql)
        return
    queue = collections.deque(statements)

    def work(c) -> None:
        while True:
            try:
                sql = queue.popleft()
            except IndexError:
                return
            try:
                c.execute(sql)
            except BaseException:
                queue.clear()
                raise

    cur = con.cursor()
    side = _Background(work, cur)
    try:
        work(con)
    except BaseException:
        cur.interrupt()  # do not wait for the other COPY to finish
        with contextlib.suppress(BaseException):
            side.result()
        _quietly(cur.close)
        raise
    try:
        side.result()
    finally:
        _quietly(cur.close)


def _ingest_file(con, ws: Workspace, path: Path, ad: Adapter, agency: str | None,
                 shown: str | None = None, seen_in: Workspace | None = None, also: list[str] = ()) -> FileSummary:
    """One file into ``ws`` (a staging workspace; the caller commits it); ``shown`` is the name
    to report (``dir/export.zip!member.csv`` for zip members); duplicates are checked against
    the calls committed in ``seen_in`` (default ``ws``) and in the Parquet files ``also``."""
    shown = shown or str(path)
    try:
        return _ingest_checked(con, ws, path, ad, agency, shown, seen_in or ws, also)
    except ReadError as exc:
        raise IngestError(str(exc).replace(str(path), shown, 1)) from None
    except AdapterError as exc:
        raise IngestError(str(exc)) from None
    except duckdb.OutOfMemoryException as exc:
        raise IngestError(f"{shown}: out of memory ({str(exc).splitlines()[0]}); "
                          f"try a larger --memory-limit") from None
    except duckdb.Error as exc:
        raise IngestError(f"{shown}: cannot ingest: {str(exc).splitlines()[0]}") from None


def _ingest_checked(con, ws: Workspace, path: Path, ad: Adapter, agency: str | None, shown: str,
                    seen_in: Workspace, also: list[str]) -> FileSummary:
    scan = csv_scan(path, ad.read.get("delimiter"))
    # The file's hash, and for DuckDB's CSV scan an independent count of its records,
    # computed while DuckDB reads (one read of the file for both).
    check = _Background(source_check, path, scan is not None, con.interrupt)
    agency_id = agency or ad.agency
    comp = None
    raw = None
    try:
        if scan is not None:
            # The usual case: normalize straight from DuckDB's strict CSV scan, one pass.
            try:
                comp = normalize(con, ad, Source(scan[0], scan[1], numbered=False), agency_id, path.name)
            except duckdb.InterruptException:
                raise
            except duckdb.Error:
                comp = None  # not strict RFC 4180 or not UTF-8 after all: the exact Python reader
            if comp is not None and comp.rows != check.result()[1]:
                comp.drop(con)  # DuckDB's scan lost or merged records: the exact reader decides
                comp = None
            if comp is not None:
                raw = RawTable("", scan[1], comp.rows, path="duckdb")
        if comp is None:
            try:
                raw = read_any(con, path, ad.read.get("delimiter"), try_duckdb=scan is None)
            except UnicodeDecodeError as exc:
                raise ReadError(f"{path}: cannot decode text ({exc})") from None
            try:
                comp = normalize(con, ad, raw, agency_id, path.name)
            except duckdb.Error as exc:
                raise IngestError(f"{shown}: adapter {ad.name} failed: {str(exc).splitlines()[0]}") from None
        sha = check.result()[0]
        return _write_outputs(con, ws, path, ad, shown, seen_in, also, agency_id, comp, raw, sha)
    except duckdb.InterruptException:  # the check stopped the scan (a decompression bomb): its error
        check.result()
        raise
    finally:
        if comp is not None:
            _quietly(comp.drop, con)
        if raw is not None:
            _quietly(raw.drop, con)  # the normalized table keeps the raw record of every quarantined row


def _write_outputs(con, ws: Workspace, path: Path, ad: Adapter, shown: str, seen_in: Workspace, also,
                   agency_id: str, comp, raw: RawTable, sha: str) -> FileSummary:
    norm = comp.name
    unit_grain = ad.grain == "unit"

    # Duplicates: calls already stored, or a repeat of an earlier row of this file.
    # Only the duplicate row numbers are materialized ({norm}_d, usually tiny): a
    # GROUP BY on the key finds repeated keys without sorting or copying every row.
    # (Rows that pass every check are those with no failing-check index, __ri; the reason
    # text is a CASE on it, not worth evaluating on every row just to test for NULL.)
    seen = f"seen_{norm}"
    seen_in.existing_ids(con, agency_id, seen, among=f"SELECT call_id FROM {norm} WHERE __ri IS NULL", also=also)
    part = ["call_id", "unit_id"] if unit_grain else ["call_id"]
    on = " AND ".join(f"f.{c} IS NOT DISTINCT FROM n.{c}" for c in part)
    con.execute(
        f"""CREATE OR REPLACE TABLE {norm}_d AS
        WITH f AS (SELECT {', '.join(part)}, min(__row) AS __first FROM {norm} WHERE __ri IS NULL
                   GROUP BY ALL HAVING count(*) > 1)
        SELECT n.__row FROM {norm} n JOIN f ON {on} WHERE n.__ri IS NULL AND n.__row > f.__first
        UNION
        SELECT n.__row FROM {norm} n SEMI JOIN {seen} s ON s.call_id = n.call_id WHERE n.__ri IS NULL"""
    )
    keep = f"SELECT n.* FROM {comp.out} n ANTI JOIN {norm}_d d ON d.__row = n.__row WHERE n.__ri IS NULL"
    counts = dict(con.execute(
        f"SELECT coalesce(__reason, '__ok'), count(*) FROM {norm} GROUP BY 1").fetchall())
    rows_dup = con.execute(f"SELECT count(*) FROM {norm}_d").fetchone()[0]
    rows_loaded = counts.pop("__ok", 0) - rows_dup
    reasons = dict(counts)
    if raw.bad_rows:
        reasons["malformed_record"] = reasons.get("malformed_record", 0) + raw.bad_rows
    rows_quarantined = sum(reasons.values())

    qname = _quarantine_table(con, raw, norm, path, sha)
    # Partitions of the valid rows; a partition that only duplicates populate would just
    # write an empty file, so this superset is harmless and cheap.
    parts = [(agency_id, y) for (y,) in con.execute(f"SELECT DISTINCT year FROM {norm} WHERE __ri IS NULL").fetchall()]

    tag = sha[:16]
    statements: list[str] = []  # the Parquet writes, run side by side at the end
    if unit_grain:
        unit_cols = ", ".join(map(ident, field_names(UNIT_FIELDS)))
        statements += _copies(f"SELECT {unit_cols} FROM ({keep})", ws.dir("units"), tag, parts)
        # One incident row per call: the first unit row, with the number of distinct units.
        # (plus the sensitive columns, which are written from the incident rows too)
        inc_fields = field_names(CALL_FIELDS) + [c for c in field_names(SENSITIVE_FIELDS) if c not in field_names(CALL_FIELDS)]
        call_cols = ", ".join(
            ident(c) if c != "units_assigned" else "count(DISTINCT unit_id) OVER (PARTITION BY call_id) AS units_assigned"
            for c in inc_fields
        )
        incidents = (f"SELECT * FROM (SELECT {call_cols}, __row, row_number() OVER (PARTITION BY call_id ORDER BY __row) AS __n "
                     f"FROM ({keep})) WHERE __n = 1")
    else:
        incidents = keep
    calls_loaded = (con.execute(f"SELECT count(*) FROM ({incidents})").fetchone()[0] if unit_grain
                    else rows_loaded)
    if calls_loaded:
        cols = ", ".join(map(ident, field_names(CALL_FIELDS)))
        sens = ", ".join(f"i.{ident(c)}" for c in field_names(SENSITIVE_FIELDS))
        statements = (_copies(f"SELECT {cols} FROM ({incidents})", ws.dir("calls"), tag, parts) + statements
                      + _copies(f"SELECT {sens} FROM ({incidents}) i WHERE i.location IS NOT NULL "
                                f"OR i.narrative IS NOT NULL OR i.latitude IS NOT NULL", ws.dir("sensitive"), tag, parts))
    _run_side_by_side(con, statements)

    _write_quarantine(con, ws, qname, sha)
    con.execute(f"DROP TABLE IF EXISTS {norm}_d; DROP TABLE IF EXISTS {seen}")

    fs = FileSummary(
        path=shown, adapter=ad.name, rows_read=raw.rows, rows_loaded=rows_loaded,
        rows_quarantined=rows_quarantined, rows_duplicate=rows_dup, calls_loaded=calls_loaded,
        sha256=sha, agency=agency_id, reader=raw.path, quarantine_reasons=reasons,
        warnings=raw.warnings + comp.warnings,
    )
    if not fs.reconciles:  # a bug, never an input problem: refuse to record it
        raise AssertionError(f"{shown}: counts do not reconcile: {fs}")
    return fs


def _quarantine_table(con, raw: RawTable, norm: str, path: Path, sha: str) -> str:
    """Temp table of this file's rejected records (reason, column, message, raw record)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE q_{norm} (source_file VARCHAR, source_sha256 VARCHAR, source_row BIGINT,
            reason VARCHAR, column_name VARCHAR, message VARCHAR, record VARCHAR)"""
    )
    con.execute(
        f"""INSERT INTO q_{norm}
        SELECT ?, ?, n.__row, n.__reason, n.__column, n.__message, n.__record
        FROM {norm} n WHERE n.__ri IS NOT NULL""", [path.name, sha]
    )
    if raw.bad:
        con.execute(f"INSERT INTO q_{norm} SELECT ?, ?, {ROW}, 'malformed_record', NULL, message, record "
                    f"FROM {ident(raw.bad)}", [path.name, sha])
    return f"q_{norm}"


def _write_quarantine(con, ws: Workspace, qname: str, sha: str) -> None:
    """The quarantine file of one source (the commit replaces an earlier one of the same file)."""
    if con.execute(f"SELECT count(*) FROM {qname}").fetchone()[0]:
        dest = ws.dir("quarantine") / f"{sha[:16]}_{uuid.uuid4().hex[:8]}.parquet"
        dest.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT * FROM {qname} ORDER BY source_row) TO {literal(str(dest))} (FORMAT parquet)")
    con.execute(f"DROP TABLE {qname}")


def source_check(path: Path, count_records: bool, on_error=None) -> tuple[str, int | None]:
    """(SHA-256 of the file as stored, number of data records or None), in one read.

    The records are counted (for DuckDB's CSV scan, which they check) over the decompressed
    text of a .gz file, within the expansion limit; past it the scan is stopped with
    ``on_error()`` and the ReadError raised here.
    """
    h = hashlib.sha256()
    counter = RecordCounter() if count_records else None
    gz = count_records and path.name.lower().endswith(".gz")
    limit = expansion_limit(path) if gz else 0
    inflate = zlib.decompressobj(wbits=31) if gz else None
    produced = 0
    started = False  # the current gzip member has begun
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
                if counter is None:
                    continue
                if not gz:
                    counter.feed(chunk)
                    continue
                while chunk:
                    started = True
                    out = inflate.decompress(chunk, 1 << 22)
                    produced += len(out)
                    if produced > limit:
                        raise ReadError(f"{path}: expands to more than {limit:,} bytes ({MAX_EXPANSION} times "
                                        f"its compressed size); refused as a possible decompression bomb")
                    counter.feed(out)
                    if inflate.eof:  # another gzip member may follow
                        chunk = inflate.unused_data
                        inflate, started = zlib.decompressobj(wbits=31), False
                    else:
                        chunk = inflate.unconsumed_tail
        if started and not inflate.eof:
            raise ReadError(f"{path}: corrupt or truncated gzip data (the file ends inside a gzip member)")
    except zlib.error as exc:
        if on_error is not None:
            on_error()
        raise ReadError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    except ReadError:
        if on_error is not None:
            on_error()
        raise
    return h.hexdigest(), (counter.finish() if counter is not None else None)


def quarantine_examples(workspace, limit: int = 5) -> list[dict]:
    """A few quarantined rows with file, row, column and reason (never the raw record)."""
    files = Workspace(workspace).files("quarantine")
    if not files:
        return []
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT source_file, source_row, reason, column_name FROM read_parquet(?) "
            "ORDER BY source_file, source_row LIMIT ?", [files, int(limit)]
        ).fetchall()
    finally:
        con.close()
    return [dict(zip(("file", "row", "reason", "column"), r)) for r in rows]


__all__ = ["ingest", "IngestSummary", "FileSummary", "IngestError", "quarantine_examples", "json"]
