"""The workspace: a directory of Parquet datasets plus a manifest. All state lives here.

Layout::

    WORKSPACE/
      calls/agency=<id>/year=<yyyy>/*.parquet      normalized calls (analysis columns)
      sensitive/agency=<id>/year=<yyyy>/*.parquet  location, coordinates, narrative by call
      units/agency=<id>/year=<yyyy>/*.parquet      one row per responding unit (unit-grain sources)
      quarantine/<sha256 prefix>.parquet           rejected records of one source file, with reasons
      manifest.json                                files ingested: hash, adapter, versions, counts

Hive partitioning keeps the layout readable by DuckDB, Spark, Polars and pandas alike.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import duckdb

TABLES = ("calls", "sensitive", "units", "quarantine")
MANIFEST = "manifest.json"


class Workspace:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def dir(self, table: str) -> Path:
        return self.root / table

    def has(self, table: str) -> bool:
        d = self.dir(table)
        return d.exists() and any(d.rglob("*.parquet"))

    def glob(self, table: str, agency: str | None = None) -> str:
        if table == "quarantine":
            return str(self.dir(table) / "*.parquet")
        base = self.dir(table) / (f"agency={agency}" if agency else "*")
        return str(base / "*" / "*.parquet")

    # ---- manifest

    def manifest(self) -> dict:
        p = self.root / MANIFEST
        if not p.exists():
            return {"format": 1, "files": []}
        return json.loads(p.read_text(encoding="utf-8"))

    def record(self, entry: dict) -> None:
        """Add or replace the manifest entry for one source file (keyed by content hash)."""
        m = self.manifest()
        entry = {**entry, "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        prior = [f for f in m["files"] if f["sha256"] == entry["sha256"]]
        if prior:
            entry["first_ingested_at"] = prior[0].get("first_ingested_at", prior[0]["ingested_at"])
        else:
            entry["first_ingested_at"] = entry["ingested_at"]
        m["files"] = [f for f in m["files"] if f["sha256"] != entry["sha256"]] + [entry]
        self._write_json(m)

    def _write_json(self, m: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(m, fh, indent=2)
        os.replace(tmp, self.root / MANIFEST)  # atomic: a crash never leaves half a manifest

    # ---- reads used by ingest

    def existing_ids(self, con: duckdb.DuckDBPyConnection, agency: str, name: str, among: str | None = None) -> None:
        """Create temp table ``name(call_id)`` of calls already stored for the agency.

        ``among`` (SQL yielding ``call_id``) limits it to those ids. The hash table is then
        built on the new file's ids and the stored ids stream past it, so the cost grows with
        the workspace only as a scan of one column, not as a table of every id stored.
        """
        if (self.dir("calls") / f"agency={agency}").exists():
            semi = f" SEMI JOIN ({among}) a ON a.call_id = e.call_id" if among else ""
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT DISTINCT e.call_id "
                f"FROM read_parquet(?, hive_partitioning=false) e{semi}",
                [self.glob("calls", agency)],
            )
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (call_id VARCHAR)")


def open_dataset(workspace: str | os.PathLike, table: str = "calls", con=None):
    """An Ibis table over a workspace dataset, on DuckDB.

    ``table`` is one of ``calls`` (default), ``sensitive``, ``units`` or ``quarantine``.
    Pass an existing Ibis DuckDB connection as ``con`` to join several tables in one engine.
    """
    import ibis

    ws = Workspace(workspace)
    if table not in TABLES:
        raise ValueError(f"table must be one of {', '.join(TABLES)}, not {table!r}")
    if not ws.has(table):
        raise FileNotFoundError(f"{ws.dir(table)}: no {table} data; run `rightresponse ingest ... --workspace {workspace}` first")
    con = con or ibis.duckdb.connect()
    if table == "quarantine":
        return con.read_parquet(ws.glob(table), table_name=table)
    return con.read_parquet(ws.glob(table), table_name=table, hive_partitioning=True, union_by_name=True)
