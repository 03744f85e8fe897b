"""Compile an adapter into DuckDB SQL that turns a source into normalized calls.

The source is either DuckDB's CSV scan itself (the usual case: nothing is materialized
before normalization, so a file is parsed and normalized in one parallel pass) or a raw
table of strings from one of the other readers. Three kinds of work, each where it is
cheapest:

* Row-wise parsing (timestamps, numbers, trimming, null tokens, exclusion patterns) runs as
  SQL over all rows, during that one pass.
* Value maps (origin, priority, disposition, service, lookups) depend only on the value, so
  they are computed in Python over the *distinct* values of the normalized table and joined
  in a view that the Parquet writes read.
* Checks (quarantine reasons, time issues) are one SQL CASE cascade, so every rejected
  row carries the first reason that applies, the column at fault and its raw record.

The adapter is first built into a graph of columns (``column_graph``: each output column a
node over its inputs); ``_Compiler._build`` plans the query by walking that graph and
renders each statement from it.
"""

from __future__ import annotations

import csv
from collections import Counter
import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import duckdb

from ..schema import DEFAULT_CHANNEL, MAX_CALL_HOURS, TIMESTAMP_FIELDS
from ..sqltext import ident, literal
from .adapter import Adapter, AdapterError, ValueMap, expression_columns, lookup_path
from .column_graph import (NULL_TEXT, AdapterSql, Clean, Col, Instant, Mapped, Node, PassColumn, Raw, Scope,
                           is_constant, join, maps_in, plan_layers, render, sql, walk)
from .raw_records import ROW, RawTable, _new_name


@dataclass
class _Check:
    reason: str
    condition: Node  # true when the row is to be quarantined
    column: str
    message: Node  # the message's text


@dataclass
class Source:
    """What the compiler reads: ``sql`` (a table name or a ``read_csv(...)`` scan) with its
    columns. ``numbered`` sources carry ``__row``; a direct scan is numbered afterwards by
    the normalized table's own row order, which is file order."""

    sql: str
    columns: list[str]
    numbered: bool

    @classmethod
    def of(cls, raw: RawTable) -> "Source":
        return cls(ident(raw.name), list(raw.columns), True)


@dataclass
class Compiled:
    """One file's normalized rows.

    ``name``: every row with ``__row``, the quarantine columns (``__reason``, ``__column``,
    ``__message``, ``__record``) and the columns the checks need; cheap to scan for counts
    and duplicates. ``out``: a view adding the value-mapped and constant columns, for the
    Parquet writes. ``statements``: the SQL that built them, in order (``inspect --sql``).
    """

    name: str
    out: str
    rows: int
    warnings: list[str] = field(default_factory=list)
    objects: list[tuple[str, str]] = field(default_factory=list)  # (VIEW|TABLE, name) to drop, in order
    statements: list[str] = field(default_factory=list)

    def drop(self, con) -> None:
        for kind, name in self.objects:
            con.execute(f"DROP {kind} IF EXISTS {name}")


# Output columns the pass itself must compute: the checks and the keys read it, and the
# quarantine keeps it.
_IN_PASS = {"__reason", "__column", "__message", "__record", "call_id", "year", "unit_id", "received_local",
            "time_issue", *TIMESTAMP_FIELDS}


class _Compiler:
    def __init__(self, con, adapter: Adapter, source: Source, agency: str, source_file: str, name: str):
        self.con = con
        self.ad = adapter
        self.source = source
        self.agency = agency
        self.source_file = source_file
        self.name = name
        self.colmap = {c.lower(): c for c in source.columns}
        self.used: dict[str, str] = {}  # source column -> its cleaned column in the pass
        self.maps: list[Mapped] = []
        self.warnings: list[str] = []
        self.checks: list[_Check] = []
        self.statements: list[str] = []

    def _run(self, statement: str, params=None):
        """Execute one statement that builds the result, and keep its text."""
        self.statements.append(statement)
        return self.con.execute(statement, params) if params is not None else self.con.execute(statement)

    def _scope(self, at: dict) -> Scope:
        tz = self.ad.timezone
        return Scope(tz, at, self.clean_sql, lambda col: local_to_instant_sql(tz, col))

    # ---- source columns

    def src(self, name: str) -> Node:
        """The cleaned source column (NULL if the file lacks it)."""
        actual = self.colmap.get(str(name).lower())
        if actual is None:
            msg = f"column '{name}' named by adapter {self.ad.name} is not in the file; treated as empty"
            if msg not in self.warnings:
                self.warnings.append(msg)
            return NULL_TEXT
        self.used.setdefault(actual, f"__s{len(self.used)}")
        return Col(actual)

    def _raw_src(self, name: str) -> Raw | None:
        """The source column as read (the pass carries every raw column), or None if absent."""
        actual = self.colmap.get(str(name).lower())
        return None if actual is None else Raw(actual)

    def _tokens_never_parse(self, fmts: list[str]) -> bool:
        """True when no null token is itself a timestamp in ``fmts`` (a sentinel date would be)."""
        tokens = [v for v in self.ad.null_values if v != ""]
        if not tokens:
            return True
        parsed = render(self._parse(sql("t"), fmts), self._scope({}))
        return not self.con.execute(f"SELECT bool_or({parsed} IS NOT NULL) FROM unnest(?::VARCHAR[]) u(t)",
                                    [tokens]).fetchone()[0]

    def clean_sql(self, x: str) -> str:
        """SQL that trims ``x`` (rendered SQL) and turns empty values and null tokens into NULL."""
        nulls = ", ".join(literal(v) for v in self.ad.null_values if v != "")
        t = f"trim({x})"
        cond = f"{t} = ''" + (f" OR {t} IN ({nulls})" if nulls else "")
        plain = f"{x} = ''" + (f" OR {x} IN ({nulls})" if nulls else "")
        # trim() allocates a copy of every value and dominated the whole query. It only
        # strips spaces and other Unicode space separators, so an ASCII value that neither
        # starts nor ends with ' ' is unchanged: test that cheaply and trim only the rest.
        return (f"CASE WHEN prefix({x}, ' ') OR suffix({x}, ' ') OR length({x}) <> strlen({x}) "
                f"THEN (CASE WHEN {cond} THEN NULL ELSE {t} END) "
                f"WHEN {plain} THEN NULL ELSE {x} END")

    def clean_values(self, values: list) -> list:
        """The cleaned form of each of ``values`` (distinct values, so this is cheap)."""
        if not values:
            return []
        return self.con.execute(f"SELECT list_transform(?::VARCHAR[], lambda v: {self.clean_sql('v')})",
                                [values]).fetchone()[0]

    def stage0_sql(self, deferred: frozenset) -> str:
        """Every raw column (a quarantined row keeps its whole record) plus the cleaned columns;
        ``deferred`` columns stay raw: they are cleaned over their distinct values later."""
        cols = ["src.*"]
        for actual, alias in self.used.items():
            x = ident(actual)
            cols.append(f"{x} AS {alias}" if Col(actual) in deferred else f"{self.clean_sql(x)} AS {alias}")
        return f"SELECT {', '.join(cols)} FROM {self.source.sql} src"

    # ---- value maps over distinct values

    def mapped(self, key: Node, fn: Callable[[str | None], Any], sql_type: str) -> Mapped:
        """A Python function of the value, computed once per distinct value and joined."""
        node = Mapped(f"{self.name}_m{len(self.maps):02d}", key, fn, sql_type)
        self.maps.append(node)
        return node

    # ---- field specs

    def field_expr(self, spec: Any, key: str) -> Node:
        if spec is None:
            return NULL_TEXT
        if isinstance(spec, str):
            return self.src(spec)
        if not isinstance(spec, dict):
            raise AdapterError(f"adapter {self.ad.path}: {key} must be a column name or a mapping")
        if "value" in spec:
            return sql(literal(str(spec["value"])))
        if "concat" in spec:
            parts = [self.src(c) for c in spec["concat"]]
            return sql(f"nullif(concat_ws({literal(spec.get('sep', ' '))}, ", *join(", ", parts), "), '')")
        if "coalesce" in spec:
            return sql("coalesce(", *join(", ", [self.field_expr(c, key) for c in spec["coalesce"]]), ")")
        if "count_list" in spec:
            ref = self.src(spec["count_list"])
            sep = literal(spec.get("sep", ","))
            return sql("CASE WHEN ", ref, " IS NULL THEN NULL ELSE len(list_filter(string_split(replace(replace(",
                       ref, f", chr(13), ''), chr(10), {sep}), {sep}), lambda x: trim(x) <> '')) END")
        if "lookup" in spec:
            table = self._lookup_table(spec["lookup"], key)
            ref = self.src(spec["column"])
            return self.mapped(ref, lambda v, t=table: t.get(v.upper()) if v is not None else None, "VARCHAR")
        if "sql" in spec:
            return self.adapter_sql(spec["sql"], f"{key}.sql")
        if "column" in spec:
            return self.src(spec["column"])
        raise AdapterError(f"adapter {self.ad.path}: {key} has no column, value, concat, coalesce, lookup or sql")

    def adapter_sql(self, text: str, where: str) -> AdapterSql:
        """An adapter's ``sql:`` expression over the cleaned columns it names."""
        names = expression_columns(text, where, self.ad.path)
        return AdapterSql(text, tuple((n, self.src(n)) for n in dict.fromkeys(names)), where, self.ad.path)

    def _lookup_table(self, name: str, key: str) -> dict[str, str]:
        spec = self.ad.lookups.get(name)
        if spec is None:
            raise AdapterError(f"adapter {self.ad.path}: {key} uses lookup '{name}' not defined under lookups:")
        path = lookup_path(self.ad.path, spec["file"], f"lookups.{name}")
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

    def _parse(self, text: Node, fmts: list[str]) -> Node:
        return sql("try_strptime(", text, ", [" + ", ".join(literal(f) for f in fmts) + "])")

    def ts_expr(self, fld: str, spec: Any, ready: dict[str, tuple[Node, Node]]) -> tuple[Node, Node] | None:
        """(local, instant) nodes for one timestamp, or None if it waits on another one."""
        tz = literal(self.ad.timezone)
        if isinstance(spec, str):
            spec = {"column": spec}
        if "after" in spec or "base" in spec:
            dep = spec.get("after") or spec.get("base")
            if dep not in ready:
                return None
        if "column" in spec:
            fmts = self._formats(spec)
            raw = self._raw_src(spec["column"]) if self._tokens_never_parse(fmts) else None
            if raw is None:
                ref = self.src(spec["column"])
                parsed = self._parse(ref, fmts)
            else:
                # Nearly every value parses as it is: trim and test for null tokens only
                # those that do not (coalesce evaluates its second argument for those alone).
                ref = Clean(raw)
                parsed = sql("coalesce(", self._parse(raw, fmts), ", ", self._parse(ref, fmts), ")")
            self._check_parse(ref, parsed, spec["column"], fmts, fld)
            if any("%z" in f or "%Z" in f for f in fmts):
                return sql(f"timezone({tz}, ", parsed, ")"), parsed
            return parsed, Instant(parsed)
        if "date" in spec and "time" in spec:
            both = sql("(", self.src(spec["date"]), " || ' ' || ", self.src(spec["time"]), ")")
            fmts = self._formats(spec)
            parsed = self._parse(both, fmts)
            self._check_parse(both, parsed, f"{spec['date']}+{spec['time']}", fmts, fld)
            return parsed, Instant(parsed)
        if "time" in spec and "after" in spec:
            t = self.src(spec["time"])
            fmts = self._formats(spec)
            self._check_parse(t, self._parse(t, fmts), spec["time"], fmts, fld)
            base_local = ready[spec["after"]][0]
            cand = sql("(CAST(", base_local, " AS DATE) + CAST(", self._parse(t, fmts), " AS TIME))")
            # Next day if earlier than `after` by more than tolerance_minutes (default 0); a time a
            # little earlier is a recording error (or the repeated DST hour), kept on the same day
            # so time_issue flags it, not turned into a 23-hour delay.
            tol = spec.get("tolerance_minutes", 0)
            if not isinstance(tol, int) or tol < 0:
                raise AdapterError(f"adapter {self.ad.path}: timestamps.{fld}.tolerance_minutes must be a whole number >= 0")
            local = sql("CASE WHEN ", cand, " < ", base_local, f" - INTERVAL {tol} MINUTE THEN ", cand,
                        " + INTERVAL 1 DAY ELSE ", cand, " END")
            return local, Instant(local)
        if "epoch_ms" in spec or "epoch_s" in spec:
            col = spec.get("epoch_ms") or spec.get("epoch_s")
            ref = self.src(col)
            num = _number(ref)
            self.checks.append(_Check("unparseable_number", sql(ref, " IS NOT NULL AND ", num, " IS NULL"), col,
                                      sql(f"{literal(f'column {col}: ')} || left(", ref, ", 200) || ' is not an epoch number'")))
            inst = sql("to_timestamp(", num, " / 1000.0)") if "epoch_ms" in spec else sql("to_timestamp(", num, ")")
            return sql(f"timezone({tz}, ", inst, ")"), inst
        if "base" in spec:
            cols = spec.get("add_minutes") or spec.get("add_seconds") or []
            cols = [cols] if isinstance(cols, str) else cols
            scale = 60.0 if "add_minutes" in spec else 1.0
            terms = []
            for c in cols:
                ref = self.src(c)
                num = _number(ref)
                self.checks.append(_Check("unparseable_number", sql(ref, " IS NOT NULL AND ", num, " IS NULL"), c,
                                          sql(f"{literal(f'column {c}: ')} || left(", ref, ", 200) || ' is not a number'")))
                terms.append(num)
            total = join(" + ", terms) if terms else ["0"]
            inst = sql("(", ready[spec["base"]][1], " + to_microseconds(CAST(round((", *total,
                       f") * {scale} * 1e6) AS BIGINT)))")
            return sql(f"timezone({tz}, ", inst, ")"), inst
        if "sql" in spec:
            expr = self.adapter_sql(spec["sql"], f"timestamps.{fld}.sql")
            return expr, Instant(expr)
        raise AdapterError(f"adapter {self.ad.path}: timestamps.{fld} has no column, date+time, time+after, epoch or base")

    def _check_parse(self, ref: Node, parsed: Node, col: str, fmts: list[str], fld: str) -> None:
        tail = literal("' matches none of the formats " + ", ".join(fmts))
        self.checks.append(_Check(
            "unparseable_timestamp", sql(parsed, " IS NULL AND ", ref, " IS NOT NULL"), col,
            sql(f"{literal(f'column {col} ({fld}): ')} || chr(39) || left(", ref, f", 200) || {tail}"),
        ))

    # ---- the graph of output columns

    def compile(self) -> Compiled:
        ad = self.ad
        f = {k: self.field_expr(v, f"fields.{k}") for k, v in ad.fields.items()}

        def vm(spec: ValueMap, kind: str, fallback: str | None = None) -> tuple[Node, Node]:
            """(raw, mapped) nodes; ``fallback`` replaces a value that maps to nothing, inside
            the map, so the mapped column is the map's own (ENUM) column."""
            raw_expr = self.field_expr(spec.raw if spec.raw is not None else spec.column, kind) if (
                spec.column or spec.raw) else NULL_TEXT
            if spec.value is not None:
                return raw_expr, sql(literal(str(spec.value)) if kind != "priority" else str(int(spec.value)))
            if not spec.column and spec.default is None:
                return raw_expr, sql(literal(fallback)) if fallback is not None else NULL_TEXT
            key = self.field_expr(spec.column, kind) if spec.column else NULL_TEXT
            sql_type = "SMALLINT" if kind == "priority" else "VARCHAR"

            def fn(v, s=spec, k=kind):
                out = map_value(s, v, k)
                return fallback if out is None else out
            return raw_expr, self.mapped(key, fn, sql_type)

        prio_raw, prio_rank = vm(ad.priority, "priority")
        origin_raw, origin = vm(ad.origin, "origin", "unknown")
        disp_raw, outcome = vm(ad.disposition, "disposition")
        _, service = vm(ad.service, "service", "police")
        _, channel = vm(ad.channel, "channel", DEFAULT_CHANNEL)

        # timestamps, in dependency order
        ready: dict[str, tuple[Node, Node]] = {}
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
        null_instant = sql("CAST(NULL AS TIMESTAMPTZ)")
        ins = {t: ready[t][1] if t in ready else null_instant for t in TIMESTAMP_FIELDS}
        received_local = ready["received"][0]

        # exclusions (test calls and the like): a row-wise regular-expression search (RE2, as
        # DuckDB's regexp_matches), so the quarantine is decided in the single pass that still
        # sees the raw record.
        excl = []
        for i, rule in enumerate(ad.exclude):
            ref = self.field_expr(rule.get("column"), f"exclude[{i}]")
            pat = str(rule["pattern"])  # checked when the adapter was loaded
            excl.append(_Check("excluded_by_adapter", sql("coalesce(regexp_matches(", ref, f", {literal(pat)}, 'i'), false)"),
                               rule.get("column", ""), sql(literal(rule.get("reason", "excluded by adapter rule")))))

        call_id = f.get("call_id", sql("NULL"))
        id_col, rec_col = _col_of(ad.fields.get("call_id")), _ts_col_of(ad.timestamps.get("received"))
        checks = [
            _Check("missing_call_id", sql(call_id, " IS NULL"), id_col,
                   sql(literal(f"column {id_col} is empty: no incident number" if id_col else "no incident number"))),
        ]
        rec_checks = [c for c in self.checks if c.column and rec_col == c.column]
        checks += rec_checks
        checks.append(_Check("missing_received", sql(ins["received"], " IS NULL"), rec_col,
                             sql(literal(f"column {rec_col} (received) is empty: no received time" if rec_col
                                         else "no received time"))))
        checks += [c for c in self.checks if c not in rec_checks]
        checks += excl

        # One cascade gives the index of the first failing check; reason, column and message
        # are looked up from it, so each condition is evaluated once per row, not three times.
        ri = PassColumn("__ri", sql("CASE ", *[p for i, c in enumerate(checks, 1)
                                               for p in ("WHEN ", c.condition, f" THEN {i} ")], "END"))

        def by_check(values: list[Node]) -> Node:
            if not values:
                return NULL_TEXT
            return sql("CASE ", ri, " ", *[p for i, v in enumerate(values, 1) for p in (f"WHEN {i} THEN ", v, " ")], "END")

        record = [Raw(c) for c in self.source.columns]
        r, d, a, c = ins["received"], ins["dispatched"], ins["arrived"], ins["cleared"]
        issue_checks = [
            (sql(d, " < ", r), "dispatched_before_received"),
            (sql(a, " < ", d), "arrived_before_dispatched"),
            (sql(c, " < ", a), "cleared_before_arrival"),
            (sql(c, " < ", r, " OR ", c, " < ", d), "negative_duration"),
            # On microseconds: subtracting two TIMESTAMPTZ goes through ICU's calendar.
            (sql("epoch_us(", c, ") - epoch_us(", r, f") > {MAX_CALL_HOURS * 3_600_000_000}"), "over_24h"),
        ]
        # Built only for the few rows with an issue: concat_ws on every row cost more
        # than the comparisons themselves.
        time_issue = sql("CASE WHEN ", *join(" OR ", [sql("(", cond, ")") for cond, _ in issue_checks]),
                         " THEN nullif(concat_ws(';', ",
                         *join(", ", [sql("CASE WHEN ", cond, f" THEN '{name}' END") for cond, name in issue_checks]),
                         "), '') END")

        def fld(name, cast=None):
            e = f.get(name, NULL_TEXT)  # typed, so Parquet files agree on the schema
            return sql("try_cast(", e, f" AS {cast})") if cast else e

        select = {
            "__reason": by_check([sql(literal(c.reason)) for c in checks]),
            "__column": by_check([sql(literal(c.column)) for c in checks]),
            # Only a quarantined row has a message: one test instead of the whole CASE.
            "__message": sql("CASE WHEN ", ri, " IS NOT NULL THEN ", by_check([c.message for c in checks]), " END"),
            "__record": (sql("CASE WHEN ", ri, " IS NOT NULL THEN CAST(to_json(struct_pack(", *join(", ", record),
                             ")) AS VARCHAR) END") if record else NULL_TEXT),
            "call_id": call_id,
            "service": service,
            "channel": channel,
            **{t: ins[t] for t in TIMESTAMP_FIELDS},
            "received_local": received_local,
            "call_type_code": fld("call_type_code"),
            "call_type": fld("call_type"),
            "initial_call_type_code": fld("initial_call_type_code"),
            "initial_call_type": fld("initial_call_type"),
            "priority_raw": prio_raw,
            "priority_rank": sql("CAST(", prio_rank, " AS SMALLINT)"),
            "origin_raw": origin_raw,
            "origin": origin,
            "disposition_raw": disp_raw,
            "outcome": outcome,
            "units_assigned": fld("units_assigned", "INTEGER"),
            "district": fld("district"),
            "beat": fld("beat"),
            "time_issue": time_issue,
            "year": sql("CAST(year(", received_local, ") AS INTEGER)"),
            "location": fld("location"),
            "latitude": fld("latitude", "DOUBLE"),
            "longitude": fld("longitude", "DOUBLE"),
            "narrative": fld("narrative"),
        }
        if ad.grain == "unit":
            select["unit_id"] = self.field_expr(ad.unit["unit_id"], "unit.unit_id")
            select["unit_status"] = self.field_expr(ad.unit.get("status"), "unit.status")
        constants = {"agency": sql(literal(self.agency)), "source_file": sql(literal(self.source_file)),
                     "timezone": sql(literal(ad.timezone))}
        return self._build(select, ri, len(checks), constants, ready)

    # ---- planning and rendering the query

    def _build(self, select: dict[str, Node], ri: PassColumn, n_checks: int, constants: dict[str, Node],
               ready: dict[str, tuple[Node, Node]]) -> Compiled:
        """Plan the pass over the source, the value maps and the output view from the graph,
        then run them.

        Columns that need a value map are left out of the pass (unless a check or a key
        needs them): their inputs are kept as hidden columns, the maps are computed from the
        distinct values of the result, and the ``out`` view joins them.
        """
        con = self.con
        cols = {Col(a): alias for a, alias in self.used.items()}  # cleaned source columns of the pass
        # Each parsed timestamp appears in a dozen expressions (checks, time issues, year);
        # DuckDB does not share subexpressions inside CASE, so each is computed once in an
        # inner projection, a layer further out than the ones it is computed from.
        shared: dict[Node, str] = {}
        for i, (loc, inst) in enumerate(ready.values()):
            for j, e in enumerate((loc, inst)):
                shared.setdefault(e, f"__t{i}{j}")
        layers = plan_layers(shared)
        pass_cols = {n: f"s.{a}" for n, a in {**cols, **shared}.items()}
        computed = lambda n: n in pass_cols  # noqa: E731  (a column of the pass's inner projections)

        late = {k: v for k, v in select.items() if maps_in(v) and k not in _IN_PASS}
        early_cols = {k: v for k, v in select.items() if k not in late}
        # Columns that are the same on every row (no enroute column, a fixed service) cost
        # memory in the table for nothing: the view adds them.
        constants = {**{k: v for k, v in early_cols.items() if k not in _IN_PASS and is_constant(v)}, **constants}
        early_cols = {k: v for k, v in early_cols.items() if k not in constants}
        # The table keeps the index of the failing check (one byte); reason and column, which
        # follow from it, are added by the view, as strings they would cost 16 bytes a row each.
        from_ri = {k: early_cols.pop(k) for k in ("__reason", "__column")}
        early_maps = set().union(*map(maps_in, early_cols.values()), maps_in(ri))
        late_maps = set().union(*map(maps_in, late.values())) - early_maps
        early_maps, late_maps = (sorted(m, key=lambda m: m.name) for m in (early_maps, late_maps))
        # Inputs of the late columns (and of their maps' keys), kept as hidden columns unless an
        # output column already holds the same value (priority_raw is often the map's key).
        inputs = {n for e in [*late.values(), *(m.key for m in late_maps)] for n in walk(e, computed) if computed(n)}
        same = {v: k for k, v in early_cols.items() if computed(v)}
        hidden = sorted((pass_cols[n][2:] for n in inputs if n not in same))

        # Output-only source columns (used nowhere but as a whole output column or a whole key
        # of a late map) are stored raw and cleaned over their distinct values after the pass:
        # a few hundred call types instead of millions of rows.
        whole = Counter(v for v in [*(v for k, v in early_cols.items() if k not in _IN_PASS),
                                    *(m.key for m in late_maps)] if v in cols)
        uses = Counter(n for e in [*early_cols.values(), *late.values(), ri.definition, *(m.key for m in self.maps)]
                       for n in walk(e, lambda n: n in shared) if n in cols)
        uses.update(n for e in shared for n in walk(e, lambda n: n is not e and n in shared) if n in cols)
        deferred = frozenset(c for c in cols if uses[c] and uses[c] == whole[c])
        raw_keys = {m for m in late_maps if m.key in deferred}
        deferred_out = {k for k, v in early_cols.items() if v in deferred}

        objects: list[tuple[str, str]] = []
        base = self.name
        pass_scope = self._scope(pass_cols)
        # The pass: the source with its cleaned columns, then one projection per layer of
        # shared timestamps, then the failing check and the maps the checks need.
        stage0 = self.stage0_sql(deferred)
        inner, done = stage0, dict(cols)
        for layer in layers:
            scope = self._scope({n: f"s.{a}" for n, a in done.items()})
            inner = (f"SELECT s.*, {', '.join(f'{render(n, scope, top=False)} AS {shared[n]}' for n in layer)} "
                     f"FROM ({inner}) s")
            done.update({n: shared[n] for n in layer})

        def joins(maps: list[Mapped], scope: Scope) -> str:
            return "\n".join(f"LEFT JOIN {m.name} ON {m.name}.k IS NOT DISTINCT FROM ({render(m.key, scope)})"
                             for m in maps)

        def materialize_map(m: Mapped, from_sql: str, scope: Scope) -> None:
            keys = [r[0] for r in con.execute(f"SELECT DISTINCT {render(m.key, scope)} FROM ({from_sql}) s").fetchall()]
            values = [m.fn(k) for k in (self.clean_values(keys) if m in raw_keys else keys)]
            sql_type = (_enum_type(values) or m.sql_type) if m.sql_type == "VARCHAR" else m.sql_type
            # Two list parameters, not an Arrow table: the first Arrow registration in a
            # process costs a fifth of a second.
            self._run(f"CREATE OR REPLACE TABLE {m.name} AS SELECT unnest(?::VARCHAR[]) AS k, "
                      f"unnest(?::VARCHAR[])::{sql_type} AS v", [keys, values])
            objects.append(("TABLE", m.name))

        for m in early_maps:  # rare: a map feeding a check or a key; costs a pass of its own
            materialize_map(m, stage0, pass_scope)

        mid_scope = pass_scope.with_({m: f"{m.name}.v" for m in early_maps})
        mid = (f"SELECT s.*, {''.join(f'{m.name}.v AS {m.name}__v, ' for m in early_maps)}"
               f"{render(ri, mid_scope, top=False)} AS __ri FROM ({inner}) s {joins(early_maps, pass_scope)}")
        numbering = [] if not self.source.numbered else [f"s.{ROW} AS {ROW}", f"s.{ROW} AS source_row"]
        table_scope = pass_scope.with_({ri: "s.__ri", **{m: f"s.{m.name}__v" for m in early_maps}})
        stored = (numbering + ["CAST(s.__ri AS UTINYINT) AS __ri" if n_checks < 256 else "s.__ri"]
                  + [f"{render(v, table_scope)} AS {ident(k)}" for k, v in early_cols.items()]
                  + [f"s.{h} AS {h}" for h in hidden])
        set_offset_variables(con, self.ad.timezone, self.statements)
        # Tables and views here are not TEMP: the sensitive files are written on a second
        # cursor (another connection to this in-memory database), which cannot see TEMP ones.
        self._run(f"CREATE OR REPLACE TABLE {base} AS SELECT\n  " + ",\n  ".join(stored) + f"\nFROM ({mid}) s")
        objects.append(("TABLE", base))
        # Built in file order (insertion order is preserved), so a direct scan's record number
        # is rowid + 1.
        name = f"{base}_v"
        numbered = "" if self.source.numbered else f"rowid + 1 AS {ROW}, rowid + 1 AS source_row, "
        view_scope = self._scope({ri: "s.__ri"})
        self._run(f"CREATE OR REPLACE VIEW {name} AS SELECT {numbered}s.*, "
                  + ", ".join(f"{render(v, view_scope)} AS {ident(k)}" for k, v in from_ri.items()) + f" FROM {base} s")
        objects.insert(0, ("VIEW", name))
        # The late maps and columns read the stored table: a hidden column, or the output
        # column that holds the same value.
        out_scope = self._scope({**pass_cols,
                                 **{n: f"s.{ident(k)}" for n, k in same.items()},
                                 **{m: f"{m.name}.v" for m in late_maps}})
        for m in late_maps:
            materialize_map(m, f"SELECT * FROM {base} WHERE __ri IS NULL", out_scope)
        out = f"{base}_out"
        extra = ([f"{render(v, out_scope)} AS {ident(k)}" for k, v in late.items()]
                 + [f"{self._as_enum(render(v, out_scope))} AS {ident(k)}" for k, v in constants.items()])
        replace = self._out_columns(base, early_cols, deferred_out)
        star = f"s.* REPLACE ({', '.join(f'{v} AS {ident(k)}' for k, v in replace.items())})" if replace else "s.*"
        self._run(f"CREATE OR REPLACE VIEW {out} AS SELECT {star}, {', '.join(extra)} FROM {name} s "
                  f"{joins(late_maps, out_scope)}")
        objects.insert(0, ("VIEW", out))
        rows = con.execute(f"SELECT count(*) FROM {base}").fetchone()[0]
        return Compiled(name, out, rows, self.warnings, objects, self.statements)


    # ---- output types

    def _as_enum(self, const_sql: str) -> str:
        """A constant text column as a one-value ENUM."""
        kind, value = self.con.execute(f"SELECT typeof({const_sql}), {const_sql}::VARCHAR").fetchone()
        enum = _enum_type([value]) if kind == "VARCHAR" else None
        return f"CAST({const_sql} AS {enum})" if enum else const_sql

    def _out_columns(self, base: str, early_cols: dict[str, str], deferred_out: set[str]) -> dict[str, str]:
        """What the output view shows instead of the stored columns: deferred columns cleaned,
        and low-cardinality text as ENUMs.

        DuckDB's Parquet writer stores an ENUM as the same dictionary-encoded string column,
        without hashing every value again: it wrote the calls in under half the time.
        """
        types = dict(self.con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {base})").fetchall())
        out = {}
        for k in early_cols:
            if types.get(k) != "VARCHAR" or k.startswith("__"):
                continue
            col = f"s.{ident(k)}"
            cleaned = self.clean_sql(col) if k in deferred_out else col
            if k in _NOT_ENUM:
                if k in deferred_out:
                    out[k] = cleaned
                continue
            raw = [r[0] for r in self.con.execute(
                f"SELECT DISTINCT {ident(k)} FROM {base} LIMIT {MAX_ENUM_VALUES + 1}").fetchall()]
            values = self.clean_values(raw) if k in deferred_out else raw
            enum = _enum_type(values)
            if enum is None:
                if k in deferred_out:
                    out[k] = cleaned
                continue
            out[k] = f"CAST({col if values == raw else cleaned} AS {enum})"
        return out


# Identifiers, free text and addresses: nearly one value a row, so not worth an ENUM.
_NOT_ENUM = {"call_id", "unit_id", "narrative", "location"}
MAX_ENUM_VALUES = 4096


def _enum_type(values: list) -> str | None:
    """ENUM type SQL for a column holding ``values`` (None for NULL), or None if too many."""
    distinct = sorted({v for v in values if v is not None})
    if not distinct or len(distinct) > MAX_ENUM_VALUES:
        return None
    return "ENUM(" + ", ".join(literal(v) for v in distinct) + ")"


_DAY_US = 86_400_000_000
_OFFSET_YEARS = (1990, 2060)  # the fast path; times outside it take ICU's


@functools.lru_cache(maxsize=32)
def _offset_segments(tz: str) -> tuple[tuple[int, int | None], ...]:
    """The zone's UTC offset (microseconds) by local day, as (first day, offset) runs, from
    1990 to 2059; None for the days within one day of a clock change, which ICU must
    resolve, and for the days before and after. Empty if DuckDB does not know the zone (the
    ICU path then reports it).

    Computed with DuckDB's own ICU from hourly instants: a local day's offset is constant
    when every instant whose local time falls within a day of it has the same offset. A
    pure function of the zone and DuckDB's time-zone data, so it is cached per process.
    """
    first, last = (f"epoch_us(DATE '{y}-01-01') // {_DAY_US}" for y in _OFFSET_YEARS)
    hour = 3_600_000_000
    try:
        rows = duckdb.connect().execute(f"""
            WITH h AS (SELECT x * {hour} + off AS local_us, off FROM (
                       SELECT x, epoch_us(timezone(?, make_timestamptz(x * {hour}))) - x * {hour} AS off
                       FROM range(({first} - 3) * 24, ({last} + 3) * 24) t(x))),
            d AS (SELECT local_us // {_DAY_US} AS day, min(off) AS lo, max(off) AS hi FROM h GROUP BY 1),
            w AS (SELECT day, CASE WHEN min(lo) OVER near = max(hi) OVER near THEN lo END AS off FROM d
                  WINDOW near AS (ORDER BY day ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING))
            SELECT day, off FROM w WHERE day >= {first} AND day < {last} ORDER BY day""", [tz]).fetchall()
    except duckdb.Error:
        return ()
    segments = [(rows[0][0], None)]  # before the table: ICU
    for day, off in rows:
        if off != segments[-1][1]:
            segments.append((day, off))
    segments.append((rows[-1][0] + 1, None))  # after it: ICU
    return tuple(segments)


_BUCKET_DAYS = 64


@functools.lru_cache(maxsize=32)
def _offset_buckets(tz: str) -> tuple[int, int, dict[str, list]] | None:
    """``_offset_segments`` as four short lists over 64-day buckets, cheap to look up in SQL:
    per bucket the first and last day that ICU must resolve (none if the offset is the same
    all through), the offset before them and the offset after. A bucket with two changes
    (none in the zones tested) is left to ICU whole."""
    segments = _offset_segments(tz)
    if not segments:
        return None
    first, last = segments[0][0], segments[-1][0]
    days = [off for (a, off), (b, _) in zip(segments, segments[1:]) for _ in range(b - a)]
    lists: dict[str, list] = {"ws": [], "we": [], "ob": [], "oa": []}
    for start in range(0, len(days), _BUCKET_DAYS):
        chunk = days[start:start + _BUCKET_DAYS]
        gaps = [i for i, off in enumerate(chunk) if off is None]
        before = {off for off in chunk[:gaps[0]]} if gaps else set(chunk)
        after = {off for off in chunk[gaps[-1] + 1:]} if gaps else set()
        one_gap = not gaps or gaps == list(range(gaps[0], gaps[-1] + 1))
        if one_gap and len(before) <= 1 and len(after) <= 1 and (before or after):
            ob = next(iter(before or after))
            row = (first + start + gaps[0], first + start + gaps[-1]) if gaps else (None, None)
            row += (ob, next(iter(after)) if after else ob)
        else:
            row = (first + start, first + start + len(chunk), None, None)
        for key, value in zip(lists, row):
            lists[key].append(value)
    return first, last, lists


def _variable(tz: str, key: str) -> str:
    return f"rr_tz_{hashlib.sha1(tz.encode()).hexdigest()[:12]}_{key}"


def set_offset_variables(con, tz: str, statements: list[str] | None = None) -> None:
    """Make the zone's offset lists available to ``local_to_instant_sql`` on ``con`` (each
    statement's text appended to ``statements``, the values bound)."""
    buckets = _offset_buckets(tz)
    for key, values in (buckets[2].items() if buckets else ()):
        statement = f"SET VARIABLE {_variable(tz, key)} = ?::BIGINT[]"
        if statements is not None:
            statements.append(statement)
        con.execute(statement, [values])


def local_to_instant_sql(tz: str, local: str) -> str:
    """SQL for the instant of the wall-clock time ``local`` (a TIMESTAMP) in zone ``tz``.

    ICU's conversion (``timezone()``) cost more than parsing the text. Away from the days
    around a clock change, the offset is a function of the local day, so it is looked up in
    ``_offset_buckets`` (session variables: ``set_offset_variables`` first); the days around
    a change, and any outside the table, still go through ICU, so every answer is ICU's.
    """
    icu = f"timezone({literal(tz)}, {local})"
    buckets = _offset_buckets(tz)
    if buckets is None:
        return icu
    first, last, _ = buckets
    day = f"(epoch_us({local}) // {_DAY_US})"

    def at(key: str) -> str:
        return f"getvariable('{_variable(tz, key)}')[({day} - {first}) // {_BUCKET_DAYS} + 1]"

    offset = (f"CASE WHEN {day} < {first} OR {day} >= {last} THEN NULL WHEN {day} < {at('ws')} THEN {at('ob')} "
              f"WHEN {day} > {at('we')} THEN {at('oa')} WHEN {at('ws')} IS NULL THEN {at('ob')} END")
    return f"coalesce(make_timestamptz(epoch_us({local}) - ({offset})), {icu})"


def _number(ref: Node) -> Node:
    """A number in SQL; thousands separators ("1,645.3", as Detroit writes long durations) are
    dropped only when the commas group digits by three, so "1,5" stays unparseable."""
    grouped = "'\\s*-?[0-9]{1,3}(,[0-9]{3})+(\\.[0-9]*)?\\s*'"
    return sql("try_cast(CASE WHEN regexp_full_match(", ref, f", {grouped}) THEN replace(", ref, ", ',', '') ELSE ",
               ref, " END AS DOUBLE)")


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


def normalize(con, adapter: Adapter, source: RawTable | Source, agency: str | None = None,
              source_file: str = "", name: str | None = None) -> Compiled:
    """Normalize ``source`` with ``adapter`` on ``con``; ``name`` names the tables and views
    it creates (default: a fresh one; a fixed one gives the same SQL every time)."""
    if isinstance(source, RawTable):
        source = Source.of(source)
    name = name or _new_name(con, "norm")
    return _Compiler(con, adapter, source, agency or adapter.agency, source_file, name).compile()
