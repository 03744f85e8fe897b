"""Draft an adapter for a layout never seen before.

The draft is a starting point a person edits: column roles are guessed from names, and
timestamp formats are guessed by trying common CAD formats on sampled values. Sample
values are shown to help the person decide, except for columns whose names suggest an
address or a narrative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from ..sqltext import ident
from .adapter import AdapterError, builtin_adapters, detect_adapter, get_adapter
from .raw_records import ReadError
from .readers import file_kind, read_any

SENSITIVE_NAME = re.compile(r"addr|location|street|block|comment|narrative|note|remark|^lat|^lon|latitude|longitude|^x$|^y$|^map_?[xy]$", re.I)

# (field, name regex) in priority order; the first unclaimed column that matches wins.
ROLE_PATTERNS = [
    ("call_id", r"^(incident|event|call|cad|master)?.?(num|number|no|id|key)$|incident_?num|event.?number|case.?number|cad.?evnt|item$"),
    ("received", r"receiv|create|start|call.?time|date.?time|queued|^time$|^date$|call_?date|add_ts|timestamp"),
    ("dispatched", r"dispatch|disp_ts|assign"),
    ("enroute", r"en.?route|enrt"),
    ("arrived", r"arriv|on.?scene|at.?scene"),
    ("cleared", r"clear|clos|complet|end"),
    ("initial_call_type", r"initial.?(type|call|nature)"),
    ("call_type", r"final.?type|call.?type|nature|problem|type.?text|typ_desc|description|calldesc|incident.?type|^type$"),
    ("priority", r"priority|prio"),
    ("origin", r"self.?init|officer.?init|on.?view|source|reception|origin|how.?rec"),
    ("disposition", r"dispo|status|clearance|outcome|result"),
    ("district", r"district|precinct|division|area|sector"),
    ("beat", r"beat|zone|post|grid"),
    ("units_assigned", r"^units?$|unit.?count|num.?units"),
    ("location", r"address|location|block|street"),
    ("latitude", r"^lat|latitude|^y$"),
    ("longitude", r"^lon|^lng|longitude|^x$"),
    ("narrative", r"comment|narrative|remarks|notes"),
]
TIME_ROLES = {"received", "dispatched", "enroute", "arrived", "cleared"}
CANDIDATE_FORMATS = [
    "%Y-%m-%d %H:%M:%S.%g", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%g", "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%y %H:%M",
    "%Y/%m/%d %H:%M:%S%z", "%Y/%m/%d %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%H:%M:%S", "%H:%M",
]


@dataclass
class ColumnInfo:
    name: str
    non_null: int
    distinct: int
    examples: list[str]
    role: str | None = None
    format: str | None = None


@dataclass
class InspectReport:
    path: str
    rows: int
    columns: list[ColumnInfo]
    matched_adapter: str | None
    draft: dict = field(default_factory=dict)

    @property
    def draft_yaml(self) -> str:
        return yaml.safe_dump(self.draft, sort_keys=False, allow_unicode=True, width=100)

    def describe(self) -> str:
        lines = [f"{self.path}: {self.rows:,} sampled rows, {len(self.columns)} columns"]
        if self.matched_adapter:
            lines.append(f"matches built-in adapter: {self.matched_adapter} (no draft needed)")
        w = max(len(c.name) for c in self.columns) if self.columns else 4
        lines.append(f"\n{'column':<{w}}  {'filled':>7} {'distinct':>8}  {'guess':<16} examples")
        for c in self.columns:
            ex = "(hidden: may be sensitive)" if SENSITIVE_NAME.search(c.name) else ", ".join(c.examples)
            guess = (c.role or "") + (f" [{c.format}]" if c.format else "")
            lines.append(f"{c.name:<{w}}  {c.non_null:>7,} {c.distinct:>8,}  {guess:<16} {ex[:70]}")
        return "\n".join(lines)


def _guess_format(con, table: str, col: str) -> str | None:
    best, best_n = None, 0
    total = con.execute(f"SELECT count({ident(col)}) FROM {table}").fetchone()[0]
    for fmt in CANDIDATE_FORMATS:
        n = con.execute(f"SELECT count(try_strptime(trim({ident(col)}), ?)) FROM {table}", [fmt]).fetchone()[0]
        if n > best_n:
            best, best_n = fmt, n
    return best if total and best_n >= 0.9 * total else None


def _check_inspectable(path: Path) -> None:
    from .pipeline import IngestError

    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if file_kind(path) == "zip":
        raise IngestError(f"{path}: unzip it first, then inspect one member")


def inspect_file(path: Path, sample_rows: int = 2000) -> InspectReport:
    from .pipeline import IngestError

    _check_inspectable(path)
    con = duckdb.connect()
    try:
        try:
            raw = read_any(con, path)
        except ReadError as exc:
            raise IngestError(str(exc)) from None
        sample = "insp_sample"
        con.execute(f"CREATE TEMP TABLE {sample} AS SELECT * FROM {ident(raw.name)} ORDER BY __row LIMIT ?",
                    [int(sample_rows)])
        infos = []
        for c in raw.columns:
            col = ident(c)
            non_null, distinct = con.execute(
                f"SELECT count(nullif(trim({col}), '')), count(DISTINCT {col}) FROM {sample}"
            ).fetchone()
            ex = [r[0] for r in con.execute(
                f"SELECT {col} FROM {sample} WHERE nullif(trim({col}), '') IS NOT NULL "
                f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 3"
            ).fetchall()]
            infos.append(ColumnInfo(c, non_null, distinct, [str(e)[:30] for e in ex]))
        claimed: set[str] = set()
        for role, pat in ROLE_PATTERNS:
            for info in infos:
                if info.role or info.name in claimed or not re.search(pat, info.name, re.I):
                    continue
                if role in TIME_ROLES:
                    info.format = _guess_format(con, sample, info.name)
                    if info.format is None:
                        continue
                info.role = role
                claimed.add(info.name)
                break
        matched = detect_adapter(raw.columns, builtin_adapters())
        n = con.execute(f"SELECT count(*) FROM {sample}").fetchone()[0]
    finally:
        con.close()
    report = InspectReport(str(path), n, infos, matched.name if matched else None)
    report.draft = _draft(path, infos)
    return report


def _draft(path: Path, infos: list[ColumnInfo]) -> dict:
    by_role = {i.role: i for i in infos if i.role}
    stem = re.sub(r"[^a-z0-9]+", "_", path.stem.lower()).strip("_") or "my_city"
    fields = {}
    for role in ("call_id", "call_type", "initial_call_type", "district", "beat", "units_assigned",
                 "location", "latitude", "longitude", "narrative"):
        if role in by_role:
            fields[role] = by_role[role].name
    if "call_id" not in fields:
        fields["call_id"] = "EDIT_ME: the incident number column"
    ts = {"formats": sorted({i.format for i in infos if i.role in TIME_ROLES and i.format})}
    for role in ("received", "dispatched", "enroute", "arrived", "cleared"):
        if role in by_role:
            ts[role] = by_role[role].name
    if "received" not in ts:
        ts["received"] = "EDIT_ME: the call received/created time column"
    draft = {
        "name": stem,
        "title": f"Draft adapter for {path.name} (edit before use)",
        "agency": stem,
        "timezone": "EDIT_ME e.g. America/Chicago",
        "detect": [i.name for i in infos if i.role in ("call_id", "call_type", "received")] or [infos[0].name],
        "fields": fields,
        "timestamps": ts,
    }
    for role in ("priority", "origin", "disposition"):
        if role in by_role:
            info = by_role[role]
            if role == "priority":
                draft[role] = {"column": info.name, "pattern": r"^\s*(\d+)", "offset": 0,
                               "map": {"EDIT_ME": 1}}
            elif role == "origin":
                draft[role] = {"column": info.name, "map": {e: "EDIT_ME" for e in info.examples}, "default": "unknown"}
            else:
                draft[role] = {"column": info.name, "map": {e: "EDIT_ME" for e in info.examples}, "default": "other"}
    return draft


def compiled_sql(path: Path, adapter: str | None = None) -> list[str]:
    """The SQL statements ``adapter`` (default: the one detected from the header) compiles to
    for ``path``, in the order ingest runs them.

    The compiler sizes some of its output from the data (the value maps and the ENUM types
    hold the file's distinct values), so it runs over the file, on a throwaway in-memory
    database, exactly as ingest would; nothing is written.
    """
    from .adapter_compiler import Source, normalize
    from .pipeline import IngestError
    from .readers import csv_scan

    _check_inspectable(path)
    con = duckdb.connect()
    try:
        try:
            scan = csv_scan(path)
            raw = None if scan is not None else read_any(con, path)
        except ReadError as exc:
            raise IngestError(str(exc)) from None
        columns = scan[1] if scan is not None else raw.columns
        try:
            ad = get_adapter(adapter) if adapter else detect_adapter(columns, builtin_adapters())
        except AdapterError as exc:
            raise IngestError(str(exc)) from None
        if ad is None:
            raise IngestError(f"{path}: no adapter matches its columns; name one with --adapter")
        try:
            comp = normalize(con, ad, Source(scan[0], scan[1], numbered=False) if scan else raw,
                             source_file=path.name, name="norm")
        except duckdb.Error:
            if scan is None:
                raise
            # DuckDB's strict scan refuses the file: ingest reads it with the exact reader
            raw = read_any(con, path, try_duckdb=False)
            comp = normalize(con, ad, raw, source_file=path.name, name="norm")
        return comp.statements
    finally:
        con.close()
