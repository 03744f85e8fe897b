"""Compile an adapter into DuckDB SQL that turns a raw table into normalized calls.

Three kinds of work, each where it is cheapest:

* Row-wise parsing (timestamps, numbers, trimming, null tokens) runs as SQL over all rows.
* Value maps (origin, priority, disposition, service, lookups, exclusions) depend only on
  the value, so they are computed in Python over the *distinct* values and joined back.
* Checks (quarantine reasons, time issues) are SQL CASE cascades, so every rejected
  row carries the first reason that applies and the column at fault.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa

from ..schema import MAX_CALL_HOURS, TIMESTAMP_FIELDS
from .adapter import Adapter, AdapterError, ValueMap
from .readers import ROW, RawTable, _new_name, _sql_str


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class _Check:
    reason: str
    condition: str  # SQL: true when the row is to be quarantined
    column: str
    message: str  # SQL expression producing the message


@dataclass
class Compiled:
    """The normalized rows of one raw table, in temp table ``name``."""

    name: str
    warnings: list[str] = field(default_factory=list)


class _Compiler:
    def __init__(self, con, adapter: Adapter, raw: RawTable, agency: str, source_file: str):
        self.con = con
        self.ad = adapter
        self.raw = raw
        self.agency = agency
        self.source_file = source_file
        self.colmap = {c.lower(): c for c in raw.columns}
        self.used: dict[str, str] = {}  # source column -> stage0 alias
        self.warnings: list[str] = []
        self.checks: list[_Check] = []
        self.joins: list[str] = []
        self.ts_exprs: dict[str, tuple[str, str]] = {}  # field -> (local expr, instant expr)

    # ---- source columns

    def src(self, name: str) -> str:
        """Cleaned reference to a source column (NULL if the file lacks it)."""
        actual = self.colmap.get(str(name).lower())
        if actual is None:
            msg = f"column '{name}' named by adapter {self.ad.name} is not in the file; treated as empty"
            if msg not in self.warnings:
                self.warnings.append(msg)
            return "CAST(NULL AS VARCHAR)"
        alias = self.used.setdefault(actual, f"s{len(self.used)}")
        return f"s.{alias}"

    def stage0_sql(self) -> str:
        nulls = ", ".join(_sql_str(v) for v in self.ad.null_values if v != "")
        cols = [f"{ROW}"]
        for actual, alias in self.used.items():
            x = _q(actual)
            t = f"trim({x})"
            cond = f"{t} = ''" + (f" OR {t} IN ({nulls})" if nulls else "")
            plain = f"{x} = ''" + (f" OR {x} IN ({nulls})" if nulls else "")
            # trim() allocates a copy of every value and dominated the whole query. It only
            # strips spaces and other Unicode space separators, so an ASCII value that neither
            # starts nor ends with ' ' is unchanged: test that cheaply and trim only the rest.
            cols.append(
                f"CASE WHEN prefix({x}, ' ') OR suffix({x}, ' ') OR length({x}) <> strlen({x}) "
                f"THEN (CASE WHEN {cond} THEN NULL ELSE {t} END) "
                f"WHEN {plain} THEN NULL ELSE {x} END AS {alias}"
            )
        return f"SELECT {', '.join(cols)} FROM {_q(self.raw.name)}"

    # ---- value maps over distinct values

    def mapped(self, key_sql: str, fn: Callable[[str | None], Any], arrow_type: pa.DataType) -> str:
        """Join a Python function of the value, computed once per distinct value."""
        name = _new_name(self.con, "vm")
        self._pending.append((name, key_sql, fn, arrow_type))
        self.joins.append(f"LEFT JOIN {name} ON {name}.k IS NOT DISTINCT FROM ({key_sql})")
        return f"{name}.v"

    # ---- field specs

    def field_expr(self, spec: Any, key: str) -> str:
        if spec is None:
            return "CAST(NULL AS VARCHAR)"
        if isinstance(spec, str):
            return self.src(spec)
        if not isinstance(spec, dict):
            raise AdapterError(f"adapter {self.ad.path}: {key} must be a column name or a mapping")
        if "value" in spec:
            return _sql_str(str(spec["value"]))
        if "concat" in spec:
            parts = ", ".join(self.src(c) for c in spec["concat"])
            return f"nullif(concat_ws({_sql_str(spec.get('sep', ' '))}, {parts}), '')"
        if "coalesce" in spec:
            return "coalesce(" + ", ".join(self.field_expr(c, key) for c in spec["coalesce"]) + ")"
        if "count_list" in spec:
            ref = self.src(spec["count_list"])
            sep = spec.get("sep", ",")
            return (
                f"CASE WHEN {ref} IS NULL THEN NULL ELSE "
                f"len(list_filter(string_split(replace(replace({ref}, chr(13), ''), chr(10), {_sql_str(sep)}), "
                f"{_sql_str(sep)}), lambda x: trim(x) <> '')) END"
            )
        if "lookup" in spec:
            table = self._lookup_table(spec["lookup"], key)
            ref = self.src(spec["column"])
            return self.mapped(ref, lambda v, t=table: t.get(v.upper()) if v is not None else None, pa.string())
        if "sql" in spec:
            return self._sql_template(spec["sql"])
        if "column" in spec:
            return self.src(spec["column"])
        raise AdapterError(f"adapter {self.ad.path}: {key} has no column, value, concat, coalesce, lookup or sql")

    def _sql_template(self, text: str) -> str:
        return re.sub(r"\{([^{}]+)\}", lambda m: self.src(m.group(1)), text)

    def _lookup_table(self, name: str, key: str) -> dict[str, str]:
        spec = self.ad.lookups.get(name)
        if spec is None:
            raise AdapterError(f"adapter {self.ad.path}: {key} uses lookup '{name}' not defined under lookups:")
        path = Path(spec["file"])
        if not path.is_absolute():
            path = Path(str(resources.files("rightresponse.ingest") / "lookups")) / path
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh))
        except OSError as exc:
            raise AdapterError(f"adapter {self.ad.path}: lookup '{name}' file {path}: {exc.strerror}") from None
        table: dict[str, str] = {}
        for r in rows:
            if not r.get(spec["key"]):
                continue
            k, v = r[spec["key"]].strip().upper(), r[spec["value"]].strip()
            if k in table and table[k] != v:  # a published code table may list a code twice
                msg = f"lookup '{name}': key '{k}' has different values; using the last, '{v}'"
                if msg not in self.warnings:
                    self.warnings.append(msg)
            table[k] = v
        return table

    # ---- timestamps

    def _formats(self, spec: dict) -> list[str]:
        fmts = spec.get("format", self.ad.formats)
        fmts = [fmts] if isinstance(fmts, str) else list(fmts)
        if not fmts:
            raise AdapterError(f"adapter {self.ad.path}: timestamps need a format (timestamps.formats)")
        return fmts

    def _parse(self, text_sql: str, fmts: list[str]) -> str:
        lst = "[" + ", ".join(_sql_str(f) for f in fmts) + "]"
        return f"try_strptime({text_sql}, {lst})"

    def ts_expr(self, fld: str, spec: Any, ready: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
        """(local, instant) SQL for one timestamp, or None if it waits on another one."""
        tz = _sql_str(self.ad.timezone)
        if isinstance(spec, str):
            spec = {"column": spec}
        if "after" in spec or "base" in spec:
            dep = spec.get("after") or spec.get("base")
            if dep not in ready:
                return None
        if "column" in spec:
            ref = self.src(spec["column"])
            fmts = self._formats(spec)
            parsed = self._parse(ref, fmts)
            self._check_parse(ref, parsed, spec["column"], fmts, fld)
            if any("%z" in f or "%Z" in f for f in fmts):
                return f"timezone({tz}, {parsed})", parsed
            return parsed, f"timezone({tz}, {parsed})"
        if "date" in spec and "time" in spec:
            d, t = self.src(spec["date"]), self.src(spec["time"])
            fmts = self._formats(spec)
            parsed = self._parse(f"({d} || ' ' || {t})", fmts)
            self._check_parse(f"({d} || ' ' || {t})", parsed, f"{spec['date']}+{spec['time']}", fmts, fld)
            return parsed, f"timezone({tz}, {parsed})"
        if "time" in spec and "after" in spec:
            t = self.src(spec["time"])
            fmts = self._formats(spec)
            parsed_t = f"CAST({self._parse(t, fmts)} AS TIME)"
            self._check_parse(t, self._parse(t, fmts), spec["time"], fmts, fld)
            base_local = ready[spec["after"]][0]
            cand = f"(CAST({base_local} AS DATE) + {parsed_t})"
            # Next day if earlier than `after` by more than tolerance_minutes (default 0); a time a
            # little earlier is a recording error (or the repeated DST hour), kept on the same day
            # so time_issue flags it, not turned into a 23-hour delay.
            tol = spec.get("tolerance_minutes", 0)
            if not isinstance(tol, int) or tol < 0:
                raise AdapterError(f"adapter {self.ad.path}: timestamps.{fld}.tolerance_minutes must be a whole number >= 0")
            local = (f"CASE WHEN {cand} < {base_local} - INTERVAL {tol} MINUTE "
                     f"THEN {cand} + INTERVAL 1 DAY ELSE {cand} END")
            return local, f"timezone({tz}, {local})"
        if "epoch_ms" in spec or "epoch_s" in spec:
            col = spec.get("epoch_ms") or spec.get("epoch_s")
            ref = self.src(col)
            num = _number(ref)
            self.checks.append(_Check("unparseable_number", f"{ref} IS NOT NULL AND {num} IS NULL", col,
                                      f"'column {col}: ' || left({ref}, 200) || ' is not an epoch number'"))
            secs = f"{num} / 1000.0" if "epoch_ms" in spec else num
            inst = f"to_timestamp({secs})"
            return f"timezone({tz}, {inst})", inst
        if "base" in spec:
            cols = spec.get("add_minutes") or spec.get("add_seconds") or []
            cols = [cols] if isinstance(cols, str) else cols
            scale = 60.0 if "add_minutes" in spec else 1.0
            terms = []
            for c in cols:
                ref = self.src(c)
                num = _number(ref)
                self.checks.append(_Check("unparseable_number", f"{ref} IS NOT NULL AND {num} IS NULL", c,
                                          f"'column {c}: ' || left({ref}, 200) || ' is not a number'"))
                terms.append(num)
            total = " + ".join(terms) if terms else "0"
            inst = f"({ready[spec['base']][1]} + to_microseconds(CAST(round(({total}) * {scale} * 1e6) AS BIGINT)))"
            return f"timezone({tz}, {inst})", inst
        if "sql" in spec:
            expr = self._sql_template(spec["sql"])
            return expr, f"timezone({tz}, {expr})"
        raise AdapterError(f"adapter {self.ad.path}: timestamps.{fld} has no column, date+time, time+after, epoch or base")

    def _check_parse(self, ref: str, parsed: str, col: str, fmts: list[str], fld: str) -> None:
        tail = _sql_str("' matches none of the formats " + ", ".join(fmts))
        self.checks.append(_Check(
            "unparseable_timestamp", f"{ref} IS NOT NULL AND {parsed} IS NULL", col,
            f"'column {col} ({fld}): ' || chr(39) || left({ref}, 200) || {tail}",
        ))

    # ---- the whole query

    def compile(self) -> Compiled:
        self._pending: list = []
        ad = self.ad
        f = {k: self.field_expr(v, f"fields.{k}") for k, v in ad.fields.items()}

        def vm(spec: ValueMap, kind: str) -> tuple[str, str]:
            raw_expr = self.field_expr(spec.raw if spec.raw is not None else spec.column, kind) if (
                spec.column or spec.raw) else "CAST(NULL AS VARCHAR)"
            if spec.value is not None:
                return raw_expr, _sql_str(str(spec.value)) if kind != "priority" else str(int(spec.value))
            key = self.field_expr(spec.column, kind) if spec.column else "CAST(NULL AS VARCHAR)"
            arrow_type = pa.int16() if kind == "priority" else pa.string()
            return raw_expr, self.mapped(key, lambda v, s=spec, k=kind: map_value(s, v, k), arrow_type)

        prio_raw, prio_rank = vm(ad.priority, "priority")
        origin_raw, origin = vm(ad.origin, "origin")
        disp_raw, outcome = vm(ad.disposition, "disposition")
        _, service = vm(ad.service, "service")

        # timestamps, in dependency order
        ready: dict[str, tuple[str, str]] = {}
        todo = dict(ad.timestamps)
        while todo:
            progressed = False
            for fld, spec in list(todo.items()):
                out = self.ts_expr(fld, spec, ready)
                if out is not None:
                    ready[fld] = out
                    del todo[fld]
                    progressed = True
            if not progressed:
                raise AdapterError(f"adapter {ad.path}: timestamps {sorted(todo)} depend on each other or on a missing one")
        ins = {t: ready[t][1] if t in ready else "CAST(NULL AS TIMESTAMPTZ)" for t in TIMESTAMP_FIELDS}
        received_local = ready["received"][0]

        # exclusions (test calls and the like), decided per distinct value
        excl = []
        for i, rule in enumerate(ad.exclude):
            ref = self.field_expr(rule.get("column"), f"exclude[{i}]")
            pat = re.compile(rule["pattern"], re.I)
            hit = self.mapped(ref, lambda v, p=pat: bool(v is not None and p.search(v)), pa.bool_())
            excl.append(_Check("excluded_by_adapter", f"coalesce({hit}, false)", rule.get("column", ""),
                               _sql_str(rule.get("reason", "excluded by adapter rule"))))

        call_id = f.get("call_id", "NULL")
        id_col, rec_col = _col_of(ad.fields.get("call_id")), _ts_col_of(ad.timestamps.get("received"))
        checks = [
            _Check("missing_call_id", f"{call_id} IS NULL", id_col,
                   _sql_str(f"column {id_col} is empty: no incident number" if id_col else "no incident number")),
        ]
        rec_checks = [c for c in self.checks if c.column and rec_col == c.column]
        checks += rec_checks
        checks.append(_Check("missing_received", f"{ins['received']} IS NULL", rec_col,
                             _sql_str(f"column {rec_col} (received) is empty: no received time" if rec_col
                                      else "no received time")))
        checks += [c for c in self.checks if c not in rec_checks]
        checks += excl

        reason = "CASE " + " ".join(f"WHEN {c.condition} THEN {_sql_str(c.reason)}" for c in checks) + " END"
        column = "CASE " + " ".join(f"WHEN {c.condition} THEN {_sql_str(c.column)}" for c in checks) + " END"
        message = "CASE " + " ".join(f"WHEN {c.condition} THEN {c.message}" for c in checks) + " END"

        r, d, a, c = ins["received"], ins["dispatched"], ins["arrived"], ins["cleared"]
        issue_checks = [
            (f"{d} < {r}", "dispatched_before_received"),
            (f"{a} < {d}", "arrived_before_dispatched"),
            (f"{c} < {a}", "cleared_before_arrival"),
            (f"{c} < {r} OR {c} < {d}", "negative_duration"),
            (f"{c} - {r} > INTERVAL {MAX_CALL_HOURS} HOUR", "over_24h"),
        ]
        # Built only for the few rows with an issue: concat_ws on every row cost more
        # than the comparisons themselves.
        time_issue = (
            "CASE WHEN " + " OR ".join(f"({cond})" for cond, _ in issue_checks) + " THEN "
            "nullif(concat_ws(';', " + ", ".join(f"CASE WHEN {cond} THEN '{name}' END" for cond, name in issue_checks)
            + "), '') END"
        )

        def fld(name, cast=None):
            e = f.get(name, "CAST(NULL AS VARCHAR)")  # typed, so Parquet files agree on the schema
            return f"try_cast({e} AS {cast})" if cast else e

        select = {
            "__row": f"s.{ROW}",
            "__reason": reason,
            "__column": column,
            "__message": message,
            "agency": _sql_str(self.agency),
            "call_id": call_id,
            "source_file": _sql_str(self.source_file),
            "source_row": f"s.{ROW}",
            "service": f"coalesce({service}, 'police')",
            "timezone": _sql_str(ad.timezone),
            **{t: ins[t] for t in TIMESTAMP_FIELDS},
            "received_local": received_local,
            "call_type_code": fld("call_type_code"),
            "call_type": fld("call_type"),
            "initial_call_type_code": fld("initial_call_type_code"),
            "initial_call_type": fld("initial_call_type"),
            "priority_raw": prio_raw,
            "priority_rank": f"CAST({prio_rank} AS SMALLINT)",
            "origin_raw": origin_raw,
            "origin": f"coalesce({origin}, 'unknown')",
            "disposition_raw": disp_raw,
            "outcome": outcome,
            "units_assigned": fld("units_assigned", "INTEGER"),
            "district": fld("district"),
            "beat": fld("beat"),
            "time_issue": time_issue,
            "year": f"CAST(year({received_local}) AS INTEGER)",
            "location": fld("location"),
            "latitude": fld("latitude", "DOUBLE"),
            "longitude": fld("longitude", "DOUBLE"),
            "narrative": fld("narrative"),
        }
        if ad.grain == "unit":
            select["unit_id"] = self.field_expr(ad.unit["unit_id"], "unit.unit_id")
            select["unit_status"] = self.field_expr(ad.unit.get("status"), "unit.status")

        # Materialize the value maps now that every reference is known.
        stage0 = self.stage0_sql()
        for name, key_sql, fn, arrow_type in self._pending:
            keys = [r[0] for r in self.con.execute(f"SELECT DISTINCT {key_sql} FROM ({stage0}) s").fetchall()]
            tbl = pa.table({"k": pa.array(keys, pa.string()), "v": pa.array([fn(k) for k in keys], arrow_type)})
            self.con.register("__vm_in", tbl)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM __vm_in")
            self.con.unregister("__vm_in")

        out = _new_name(self.con, "norm")
        cols = ",\n  ".join(f"{expr} AS {_q(k)}" for k, expr in select.items())
        # Each parsed timestamp appears in a dozen expressions (checks, time issues, year);
        # DuckDB does not share subexpressions inside CASE, so parse each once in an inner
        # projection and refer to its columns. Longest first: one expression may contain another.
        parsed = sorted(((e, f"__t{i}{j}") for i, (loc, inst) in enumerate(ready.values())
                         for j, e in enumerate((loc, inst))), key=lambda x: -len(x[0]))
        inner_cols = ", ".join(f"{e} AS {alias}" for e, alias in parsed)
        for e, alias in parsed:
            cols = cols.replace(e, f"s.{alias}")
        inner = f"SELECT s.*, {inner_cols} FROM ({stage0}) s" if parsed else stage0
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {out} AS SELECT\n  {cols}\nFROM ({inner}) s\n" + "\n".join(self.joins)
        )
        for name, *_ in self._pending:
            self.con.execute(f"DROP TABLE IF EXISTS {name}")
        return Compiled(out, self.warnings)


def _number(ref: str) -> str:
    """A number in SQL; thousands separators ("1,645.3", as Detroit writes long durations) are
    dropped only when the commas group digits by three, so "1,5" stays unparseable."""
    grouped = "'\\s*-?[0-9]{1,3}(,[0-9]{3})+(\\.[0-9]*)?\\s*'"
    return f"try_cast(CASE WHEN regexp_full_match({ref}, {grouped}) THEN replace({ref}, ',', '') ELSE {ref} END AS DOUBLE)"


def _col_of(spec) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        return str(spec.get("column") or spec.get("count_list") or "")
    return ""


def _ts_col_of(spec) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        if "date" in spec and "time" in spec:
            return f"{spec['date']}+{spec['time']}"
        return str(spec.get("column") or spec.get("time") or spec.get("epoch_ms") or spec.get("epoch_s") or "")
    return ""


def map_value(spec: ValueMap, value: str | None, kind: str):
    """Exact map (case-insensitive), then ordered regex patterns, then the default."""
    if value is not None:
        key = value.strip().upper()
        if key in spec.map:
            return spec.map[key]
        for pat, out in spec.patterns:
            if re.search(pat, value, re.I):
                return out
        if kind == "priority" and spec.pattern:
            m = re.search(spec.pattern, value)
            if m:
                try:
                    return int(m.group(1)) + spec.offset
                except (ValueError, IndexError):
                    return None
    return spec.default


def normalize(con, adapter: Adapter, raw: RawTable, agency: str | None = None, source_file: str = "") -> Compiled:
    return _Compiler(con, adapter, raw, agency or adapter.agency, source_file).compile()
