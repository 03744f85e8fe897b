"""The workspace: a directory of Parquet datasets plus a manifest. All state lives here.

Layout::

    WORKSPACE/
      calls/agency=<id>/year=<yyyy>/*.parquet      normalized calls (analysis columns)
      sensitive/agency=<id>/year=<yyyy>/*.parquet  location, coordinates, narrative by call
      units/agency=<id>/year=<yyyy>/*.parquet      one row per responding unit (unit-grain sources)
      quarantine/<sha256 prefix>_<id>.parquet      rejected records of one source file, with reasons
      manifest.json                                files ingested and the data files they committed
      .staging/, .lock                             an ingest at work (never read)

Hive partitioning keeps the layout readable by DuckDB, Spark, Polars and pandas alike.

**The manifest is the commit point.** An ingest writes everything into ``.staging/``, moves
the finished files into the datasets' folders, and only then replaces ``manifest.json``
(atomically) with a version that lists them. Readers take the list of files from the
manifest, never from the folders, so a run that crashes or is interrupted at any moment
leaves nothing visible: before the manifest is replaced its files are listed nowhere, after
it they all are. The next ingest removes what a crashed run left behind (``recover``), under
a lock that also keeps two ingests from running into one workspace at once.

Sensitive data (addresses, narratives, quarantined raw records) is stored 0600 in 0700
folders: readable by its owner only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

from ..errors import RightResponseError
from ..private import private_dir
from ..sqltext import literal

TABLES = ("calls", "sensitive", "units", "quarantine")
PRIVATE_TABLES = ("sensitive", "quarantine")  # raw records and addresses: owner-only
MANIFEST = "manifest.json"
STAGING = ".staging"
LOCK = ".lock"
FORMAT = 2  # 1: no data lists (every file in a table's folder was its data)


class WorkspaceBusy(RightResponseError, RuntimeError):
    """Another ingest holds the workspace."""


class Workspace:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def dir(self, table: str) -> Path:
        return self.root / table

    # ---- what readers see: the committed files

    def files(self, table: str) -> list[str]:
        """The committed data files of ``table`` (absolute paths, in commit order)."""
        m = self.manifest()
        if "data" in m:
            return [str(self.root / rel) for rel in m["data"].get(table, [])]
        return [str(self.root / rel) for rel in _on_disk(self.root, table)]  # a format-1 workspace

    def has(self, table: str) -> bool:
        return bool(self.files(table))

    # ---- manifest

    def manifest(self) -> dict:
        p = self.root / MANIFEST
        if not p.exists():
            return {"format": FORMAT, "files": [], "data": {t: [] for t in TABLES}}
        return json.loads(p.read_text(encoding="utf-8"))

    def _write_manifest(self, m: dict) -> None:
        """Replace the manifest atomically and durably: the commit point of an ingest."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".manifest-{uuid.uuid4().hex[:12]}.tmp"  # not mkstemp: it would be 0600
        try:
            with open(tmp, "x", encoding="utf-8") as fh:
                json.dump(m, fh, indent=2)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.root / MANIFEST)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.root)

    def commit(self, staged: list[tuple[dict, Path]]) -> None:
        """Make staged files part of the workspace: (manifest entry, staging folder) per source
        file, in order. The files are moved in first, invisible to readers; the manifest that
        lists them is written last. A source file ingested before is replaced in the file list
        (its earlier quarantine too, as a re-ingest finds the same rejects again)."""
        if not staged:
            return
        m = self.manifest()
        data = m.get("data") or {t: _on_disk(self.root, t) for t in TABLES}  # format 1: adopt what is there
        data = {t: list(data.get(t, [])) for t in TABLES}
        entries = list(m.get("files", []))
        replaced: list[str] = []
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for entry, stage in staged:
            tag = entry["sha256"][:16]
            old_q = [q for q in data["quarantine"] if Path(q).name.split("_")[0].split(".")[0] == tag]
            replaced += old_q
            data["quarantine"] = [q for q in data["quarantine"] if q not in old_q]
            for table in TABLES:
                src_root = stage / table
                if not src_root.is_dir():
                    continue
                for f in sorted(src_root.rglob("*.parquet")):
                    rel = Path(table) / f.relative_to(src_root)
                    dest = self.root / rel
                    if table in PRIVATE_TABLES:
                        private_dir(dest.parent, below=self.root)
                        os.chmod(f, 0o600)
                    else:
                        dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(f, dest)
                    data[table].append(rel.as_posix())
            entry = {**entry, "ingested_at": now}
            prior = [f for f in entries if f["sha256"] == entry["sha256"]]
            entry["first_ingested_at"] = (prior[0].get("first_ingested_at", prior[0]["ingested_at"])
                                          if prior else now)
            entries = [f for f in entries if f["sha256"] != entry["sha256"]] + [entry]
        self._write_manifest({"format": FORMAT, "files": entries, "data": data})
        for rel in replaced:  # no longer listed: nobody reads them
            with contextlib.suppress(OSError):
                (self.root / rel).unlink()

    # ---- an ingest at work

    @contextlib.contextmanager
    def lock(self):
        """Hold the workspace for one ingest; WorkspaceBusy if another holds it. The lock
        dies with its process, so a killed ingest never leaves the workspace locked."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                _lock_exclusive(fd)
            except OSError:
                raise WorkspaceBusy(f"{self.root}: another ingest is writing to this workspace; "
                                    "wait for it to finish") from None
            yield self
        finally:
            os.close(fd)

    def recover(self) -> list[str]:
        """Remove what an interrupted ingest left (call holding the lock): its staging folder,
        data files no manifest lists, half-written manifests. Returns what was removed."""
        removed = []
        staging = self.root / STAGING
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(STAGING)
        for tmp in self.root.glob(".manifest-*.tmp"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp.name)
        m = self.manifest()
        if "data" not in m:
            return removed  # format 1: every file on disk is data
        for table in TABLES:
            listed = set(m["data"].get(table, []))
            for rel in _on_disk(self.root, table):
                if rel not in listed:
                    (self.root / rel).unlink(missing_ok=True)
                    removed.append(rel)
        return removed

    def new_stage(self) -> Path:
        """A fresh staging folder for one run (owner-only: it holds sensitive data too)."""
        private_dir(self.root / STAGING)
        return private_dir(self.root / STAGING / uuid.uuid4().hex[:12])

    def end_stage(self, stage: Path) -> None:
        shutil.rmtree(stage, ignore_errors=True)
        with contextlib.suppress(OSError):
            (self.root / STAGING).rmdir()  # only if no other run's folder is in it

    # ---- reads used by ingest

    def existing_ids(self, con, agency: str, name: str, among: str | None = None,
                     also: list[str] = ()) -> None:
        """Create temp table ``name(call_id)`` of calls already stored for the agency (plus
        those in the Parquet files ``also``: this run's earlier files, not yet committed).

        ``among`` (SQL yielding ``call_id``) limits it to those ids. The hash table is then
        built on the new file's ids and the stored ids stream past it, so the cost grows with
        the workspace only as a scan of one column, not as a table of every id stored. Files
        of other agencies are skipped by their partition folder.
        """
        files = self.files("calls") + list(also)
        if files:
            semi = f" SEMI JOIN ({among}) a ON a.call_id = e.call_id" if among else ""
            # The agency as a constant (not a parameter), so DuckDB skips the other agencies'
            # files by their folder names before opening them.
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT DISTINCT e.call_id "
                f"FROM read_parquet(?, hive_partitioning=true, hive_types_autocast=false, union_by_name=true) e"
                f"{semi} WHERE e.agency = {literal(agency)}",
                [files],
            )
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (call_id VARCHAR)")


def _lock_exclusive(fd: int) -> None:
    """Lock the open file without waiting (OSError if another process holds it)."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _on_disk(root: Path, table: str) -> list[str]:
    d = root / table
    if not d.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in d.rglob("*.parquet"))


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def open_dataset(workspace: str | os.PathLike, table: str = "calls", con=None):
    """An Ibis table over a workspace dataset, on DuckDB: the committed files only.

    ``table`` is one of ``calls`` (default), ``sensitive``, ``units`` or ``quarantine``.
    Pass an existing Ibis DuckDB connection as ``con`` to join several tables in one engine.
    """
    import ibis

    ws = Workspace(workspace)
    if table not in TABLES:
        raise ValueError(f"table must be one of {', '.join(TABLES)}, not {table!r}")
    files = ws.files(table)
    if not files:
        raise FileNotFoundError(f"{ws.dir(table)}: no {table} data; run `rightresponse ingest ... --workspace {workspace}` first")
    con = con or ibis.duckdb.connect()
    if table == "quarantine":
        return con.read_parquet(files, table_name=table)
    t = con.read_parquet(files, table_name=table, hive_partitioning=True, union_by_name=True)
    return with_defaults(t) if table == "calls" else t


def with_defaults(calls):
    """The calls with the fields added since a workspace was written filled in: ``channel``
    (absent from files written before it existed, so NULL where such files are read beside
    newer ones, or missing altogether) is the default channel, which every adapter of that
    time was. Applied where a workspace is opened, on any engine, so no reader meets a gap."""
    import ibis

    from ..schema import DEFAULT_CHANNEL

    if "channel" not in calls.columns:
        return calls.mutate(channel=ibis.literal(DEFAULT_CHANNEL))
    return calls.mutate(channel=calls.channel.cast("string").fill_null(DEFAULT_CHANNEL))
