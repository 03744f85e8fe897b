"""Declarative per-source adapters: a YAML file says how one CAD layout maps to the call record.

The format is documented in ``docs/adapters.md``; every shipped adapter in
``ingest/adapters/`` is a worked example. Adapters are validated on load so that a typo
in a user's adapter file is reported with the file and the key, not as a SQL error later.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader parses adapters ~10x faster

from ..schema import ORIGINS, OUTCOMES, SERVICES, TIMESTAMP_FIELDS
from ..sqltext import code_spans, ident

# Fields an adapter may fill besides timestamps and the value-mapped ones.
SIMPLE_FIELDS = (
    "call_id",
    "call_type_code",
    "call_type",
    "initial_call_type_code",
    "initial_call_type",
    "district",
    "beat",
    "units_assigned",
    "location",
    "latitude",
    "longitude",
    "narrative",
)
TOP_KEYS = {
    "name", "title", "source", "notes", "agency", "timezone", "grain", "detect", "read",
    "null_values", "fields", "timestamps", "priority", "origin", "disposition", "service",
    "exclude", "unit", "lookups",
}
FIELD_FORMS = {"column", "value", "concat", "coalesce", "lookup", "count_list", "sql", "sep", "table", "key"}
TS_FORMS = {"column", "format", "date", "time", "after", "tolerance_minutes", "epoch_ms", "epoch_s", "base", "add_minutes",
            "add_seconds", "sql"}


class AdapterError(ValueError):
    """An adapter file that does not follow the format."""


@dataclass
class ValueMap:
    column: str | None = None
    map: dict[str, Any] = field(default_factory=dict)
    patterns: list[tuple[str, Any]] = field(default_factory=list)
    default: Any = None
    value: Any = None  # a constant for every row
    pattern: str | None = None  # priority: regex whose first group is a number
    offset: int = 0  # priority: rank = number + offset
    raw: Any = None  # field spec for the *_raw column when it differs from `column`


@dataclass
class Adapter:
    name: str
    title: str
    agency: str
    timezone: str
    detect: list[str]
    fields: dict[str, Any]
    timestamps: dict[str, Any]
    formats: list[str]
    priority: ValueMap
    origin: ValueMap
    disposition: ValueMap
    service: ValueMap
    null_values: list[str] = field(default_factory=lambda: ["", "NULL", "null", "N/A"])
    exclude: list[dict] = field(default_factory=list)
    grain: str = "incident"
    unit: dict[str, str] = field(default_factory=dict)
    read: dict[str, Any] = field(default_factory=dict)
    lookups: dict[str, dict] = field(default_factory=dict)
    source: str = ""
    notes: str = ""
    path: str = ""
    sha256: str = ""

    def matches(self, columns: list[str]) -> int:
        """Number of detect columns present, or 0 unless all are present."""
        have = {c.strip().lower() for c in columns}
        need = [d.lower() for d in self.detect]
        return len(need) if need and all(d in have for d in need) else 0


def _fail(path: str, msg: str) -> AdapterError:
    return AdapterError(f"adapter {path}: {msg}")


def _value_map(spec: Any, key: str, allowed, path: str) -> ValueMap:
    if spec is None:
        return ValueMap()
    if isinstance(spec, str):
        return ValueMap(column=spec)
    if not isinstance(spec, dict):
        raise _fail(path, f"'{key}' must be a column name or a mapping")
    unknown = set(spec) - {"column", "map", "patterns", "default", "value", "pattern", "offset", "raw"}
    if unknown:
        raise _fail(path, f"'{key}' has unknown keys: {', '.join(sorted(unknown))}")
    vm = ValueMap(
        column=spec.get("column"),
        map={str(k).strip().upper(): v for k, v in (spec.get("map") or {}).items()},
        patterns=[tuple(p) for p in (spec.get("patterns") or [])],
        default=spec.get("default"),
        value=spec.get("value"),
        pattern=spec.get("pattern"),
        offset=int(spec.get("offset", 0)),
        raw=spec.get("raw"),
    )
    if allowed is not None:
        values = list(vm.map.values()) + [p[1] for p in vm.patterns] + [vm.default, vm.value]
        bad = sorted({str(v) for v in values if v is not None and v not in allowed})
        if bad:
            raise _fail(path, f"'{key}' maps to unknown value(s) {bad}; allowed: {', '.join(allowed)}")
    else:
        bad = [v for v in vm.map.values() if not isinstance(v, int) or v < 1]
        if bad:
            raise _fail(path, f"'{key}.map' ranks must be integers >= 1, got {bad}")
    for p in vm.patterns:
        if len(p) != 2:
            raise _fail(path, f"'{key}.patterns' entries must be [regex, value] pairs, got {list(p)}")
    return vm


def parse_adapter(doc: dict, path: str = "<memory>") -> Adapter:
    if not isinstance(doc, dict):
        raise _fail(path, "must be a YAML mapping")
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise _fail(path, f"unknown top-level keys: {', '.join(sorted(unknown))}")
    for req in ("name", "agency", "timezone", "detect", "fields", "timestamps"):
        if req not in doc:
            raise _fail(path, f"missing required key '{req}'")
    try:
        ZoneInfo(doc["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(path, f"timezone '{doc['timezone']}' is not an IANA zone name") from None
    fields = dict(doc["fields"] or {})
    bad = set(fields) - set(SIMPLE_FIELDS)
    if bad:
        raise _fail(path, f"unknown field(s) {sorted(bad)}; fields are: {', '.join(SIMPLE_FIELDS)}")
    if "call_id" not in fields:
        raise _fail(path, "fields.call_id is required (it is how calls are de-duplicated)")
    for k, v in fields.items():
        if isinstance(v, dict) and set(v) - FIELD_FORMS:
            raise _fail(path, f"fields.{k} has unknown keys {sorted(set(v) - FIELD_FORMS)}")
        _check_sql_forms(v, f"fields.{k}", path)
    ts = dict(doc["timestamps"] or {})
    formats = ts.pop("formats", ts.pop("format", []))
    formats = [formats] if isinstance(formats, str) else list(formats)
    bad = set(ts) - set(TIMESTAMP_FIELDS)
    if bad:
        raise _fail(path, f"unknown timestamp(s) {sorted(bad)}; timestamps are: {', '.join(TIMESTAMP_FIELDS)}")
    if "received" not in ts:
        raise _fail(path, "timestamps.received is required")
    for k, v in ts.items():
        if isinstance(v, dict) and set(v) - TS_FORMS:
            raise _fail(path, f"timestamps.{k} has unknown keys {sorted(set(v) - TS_FORMS)}")
        _check_sql_forms(v, f"timestamps.{k}", path)
    lookups = doc.get("lookups") or {}
    if not isinstance(lookups, dict):
        raise _fail(path, "lookups must be a mapping of name: {file, key, value}")
    for name, spec in lookups.items():
        if not isinstance(spec, dict) or not all(isinstance(spec.get(k), str) for k in ("file", "key", "value")):
            raise _fail(path, f"lookups.{name} needs file, key and value")
        lookup_path(path, spec["file"], f"lookups.{name}")
    grain = doc.get("grain", "incident")
    if grain not in ("incident", "unit"):
        raise _fail(path, "grain must be 'incident' or 'unit'")
    unit = dict(doc.get("unit") or {})
    if grain == "unit" and "unit_id" not in unit:
        raise _fail(path, "grain: unit needs unit.unit_id (the unit column)")
    detect = doc["detect"]
    if isinstance(detect, str) or not detect:
        raise _fail(path, "detect must be a non-empty list of column names")
    exclude = list(doc.get("exclude") or [])
    for i, rule in enumerate(exclude):
        if not isinstance(rule, dict) or not rule.get("column") or not rule.get("pattern"):
            raise _fail(path, f"exclude[{i}] needs a column and a pattern")
        problem = _re2_problem(str(rule["pattern"]))
        if problem:
            raise _fail(path, f"exclude[{i}].pattern {str(rule['pattern'])!r} is not a regular expression "
                              f"DuckDB can run (RE2 syntax): {problem}")
    return Adapter(
        name=str(doc["name"]),
        title=str(doc.get("title", doc["name"])),
        agency=str(doc["agency"]),
        timezone=doc["timezone"],
        detect=[str(c) for c in detect],
        fields=fields,
        timestamps=ts,
        formats=formats,
        priority=_value_map(doc.get("priority"), "priority", None, path),
        origin=_value_map(doc.get("origin"), "origin", ORIGINS, path),
        disposition=_value_map(doc.get("disposition"), "disposition", OUTCOMES, path),
        service=_value_map(doc.get("service", {"value": "police"}), "service", SERVICES, path),
        null_values=[str(v) for v in doc.get("null_values", ["", "NULL", "null", "N/A"])],
        exclude=exclude,
        grain=grain,
        unit=unit,
        read=dict(doc.get("read") or {}),
        lookups=dict(lookups),
        source=str(doc.get("source", "")),
        notes=str(doc.get("notes", "")),
        path=path,
    )


def load_adapter(path: str | Path) -> Adapter:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AdapterError(f"adapter {path}: cannot read ({exc.strerror})") from None
    try:
        doc = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise AdapterError(f"adapter {path}: invalid YAML: {exc}") from None
    ad = parse_adapter(doc, str(path))
    ad.sha256 = hashlib.sha256(text.encode()).hexdigest()
    return ad


def builtin_adapter_dir() -> Path:
    return Path(str(resources.files("rightresponse.ingest") / "adapters"))


def builtin_adapters() -> dict[str, Adapter]:
    out = {}
    for p in sorted(builtin_adapter_dir().glob("*.yaml")):
        ad = load_adapter(p)
        out[ad.name] = ad
    return out


@functools.lru_cache(maxsize=1)
def _scratch_duckdb():
    """An empty in-memory database for checking patterns; opening one costs 20 ms."""
    import duckdb

    return duckdb.connect()


def _re2_problem(pattern: str) -> str | None:
    """Why DuckDB's regexp_matches (RE2) rejects ``pattern``, or None: exclusions run there."""
    import duckdb

    try:
        _scratch_duckdb().cursor().execute("SELECT regexp_matches('', ?, 'i')", [pattern]).fetchall()
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    return None


# ---------------------------------------------------------------- what an adapter may run

def lookup_path(adapter_path: str, file: str, where: str) -> Path:
    """A lookup file named by an adapter: relative to the adapter file, inside its folder.

    An adapter is a config, not a program: it may decode codes with a table shipped beside
    it, but it cannot read ``/etc/passwd`` or ``../../secrets.csv``.
    """
    if adapter_path in ("", "<memory>"):
        raise _fail(adapter_path, f"{where}: a lookup file needs an adapter file to be relative to")
    folder = Path(adapter_path).resolve().parent
    target = (folder / file).resolve()
    if folder not in target.parents:  # ../x, /etc/x, or a link pointing out
        raise _fail(adapter_path, f"{where}: lookup file {file!r} must be inside the adapter's folder ({folder})")
    return target


def _check_sql_forms(spec: Any, where: str, path: str) -> None:
    """Check every ``sql:`` expression in a field or timestamp spec when the adapter loads."""
    if isinstance(spec, dict):
        if "sql" in spec:
            if not isinstance(spec["sql"], str):
                raise _fail(path, f"{where}.sql must be text")
            _parse_expression(spec["sql"], f"{where}.sql", path)  # rendered when compiled
        for sub in spec.get("coalesce") or []:
            _check_sql_forms(sub, where, path)


_COLUMN = re.compile(r"\{([^{}'\"]+)\}")
_PLACEHOLDER = re.compile(r"^__rr_col_(\d+)$")
# Expression node classes an adapter expression may hold (DuckDB's parser's names). Absent on
# purpose: SUBQUERY (a query, which can read files), STAR, PARAMETER, WINDOW, DEFAULT,
# POSITIONAL_REFERENCE, and anything new.
_NODE_CLASSES = {"FUNCTION", "CONSTANT", "COLUMN_REF", "CAST", "CASE", "COMPARISON", "CONJUNCTION", "OPERATOR",
                 "BETWEEN", "LAMBDA", "COLLATE", "TYPE"}
# Built-in macros that are plain functions of their arguments (the others read the catalog or
# the session, aggregate, or return rows).
_PURE_MACROS = {"nullif", "if", "split_part", "date_add", "days_in_month", "fdiv", "md5_number_lower",
                "md5_number_upper"}
# Functions that change the number of rows, or that DuckDB lists as deterministic but read
# the session or the machine.
_REFUSED = {"unnest", "generate_subscripts", "regexp_split_to_table", "getvariable", "current_setting"}


@functools.lru_cache(maxsize=1)
def allowed_functions() -> frozenset:
    """Functions an adapter expression may call: DuckDB's scalar functions that give the same
    answer for the same arguments (no overload VOLATILE, one at least CONSISTENT: not
    random(), now(), nextval(), write_log()...), the pure built-in macros, ``row``.
    Table functions (read_csv, read_text, glob, query...) and aggregates are not scalar."""
    rows = _scratch_duckdb().cursor().execute(
        "SELECT function_name, function_type, list(DISTINCT stability) FROM duckdb_functions() "
        "WHERE function_type IN ('scalar', 'macro') GROUP BY ALL").fetchall()
    names = {n for n, kind, st in rows
             if (kind == "scalar" and "VOLATILE" not in st and "CONSISTENT" in st)
             or (kind == "macro" and (n in _PURE_MACROS or n.startswith(("list_", "array_"))))}
    return frozenset((names | {"row"}) - _REFUSED)


def compile_expression(text: str, column_sql, where: str, path: str) -> str:
    """An adapter's ``sql:`` expression as SQL that can only compute from the row's columns.

    ``{Name}`` refers to a column; ``column_sql(Name)`` gives the SQL for it. The text is
    parsed by DuckDB's own parser (json_serialize_sql) as one expression, checked node by
    node (no statement, no query, no table function, no window or aggregate, no reference
    to anything but its columns), and rendered back from the parse tree, so none of the
    text itself reaches the query: a quote, a comment or a semicolon cannot change what
    runs. Ingest then evaluates it on a connection that cannot open other files anyway.
    """
    tree, names = _parse_expression(text, where, path)
    cur = _scratch_duckdb().cursor()

    def swap(n):
        if isinstance(n, list):
            return [swap(x) for x in n]
        if not isinstance(n, dict):
            return n
        if n.get("class") == "COLUMN_REF" and len(n["column_names"]) == 1 and \
                (m := _PLACEHOLDER.match(n["column_names"][0])):
            sql = column_sql(names[int(m.group(1))])
            rep = json.loads(cur.execute("SELECT json_serialize_sql(?)", ["SELECT " + sql]).fetchone()[0])
            return rep["statements"][0]["node"]["select_list"][0]
        return {k: swap(v) for k, v in n.items()}

    node = tree["statements"][0]["node"]
    node["select_list"] = [swap(node["select_list"][0])]
    out = cur.execute("SELECT json_deserialize_sql(?::JSON)", [json.dumps(tree)]).fetchone()[0]
    assert out.startswith("SELECT "), out
    return "(" + out[len("SELECT "):] + ")"


def expression_columns(text: str, where: str, path: str) -> list[str]:
    """The columns an adapter's ``sql:`` expression reads (``{Name}``), in order of use."""
    return _parse_expression(text, where, path)[1]


def _parse_expression(text: str, where: str, path: str) -> tuple[dict, list[str]]:
    """DuckDB's parse tree of ``SELECT <text>`` with each ``{Name}`` a placeholder column, and
    the names in placeholder order; AdapterError unless it is one allowed expression."""
    names: list[str] = []

    def placeholder(m: re.Match) -> str:
        names.append(m.group(1))
        return ident(f"__rr_col_{len(names) - 1}")

    body = "".join(_COLUMN.sub(placeholder, t) if code else t for code, t in code_spans(text))
    cur = _scratch_duckdb().cursor()
    tree = json.loads(cur.execute("SELECT json_serialize_sql(?)", ["SELECT " + body]).fetchone()[0])
    if tree.get("error"):
        raise _fail(path, f"{where} is not one SQL expression: {tree.get('error_message', 'cannot parse')}")
    stmts = tree["statements"]
    node = stmts[0]["node"] if len(stmts) == 1 else {}
    if (len(stmts) != 1 or node.get("type") != "SELECT_NODE" or len(node.get("select_list", [])) != 1
            or node.get("from_table", {}).get("type") != "EMPTY" or node.get("modifiers")
            or node.get("cte_map", {}).get("map") or node.get("group_expressions")
            or any(node.get(k) for k in ("where_clause", "having", "qualify", "sample"))):
        raise _fail(path, f"{where} must be one expression over the row's columns ({{Column}}), "
                          "not a statement or a query")
    expr = node["select_list"][0]
    if expr.get("alias"):
        raise _fail(path, f"{where}: an expression has no alias (AS ...)")
    _check_node(expr, set(), len(names), where, path)
    return tree, names


def _check_node(n, params: set, n_cols: int, where: str, path: str) -> None:
    if isinstance(n, list):
        for x in n:
            _check_node(x, params, n_cols, where, path)
        return
    if not isinstance(n, dict):
        return
    cls = n.get("class")
    if cls is None:  # not an expression (a literal's value, an ORDER BY list...)
        for v in n.values():
            _check_node(v, params, n_cols, where, path)
        return
    if cls not in _NODE_CLASSES:
        what = {"SUBQUERY": "a subquery", "STAR": "*", "PARAMETER": "a parameter", "WINDOW": "a window function",
                "DEFAULT": "DEFAULT", "POSITIONAL_REFERENCE": "a positional reference"}.get(cls, cls)
        raise _fail(path, f"{where}: {what} is not allowed in an adapter expression (it may only compute "
                          "from the row's own columns)")
    if cls == "FUNCTION":
        name = str(n.get("function_name", "")).lower()
        if n.get("schema") or n.get("catalog") or name not in allowed_functions():
            raise _fail(path, f"{where}: function {n.get('function_name')!r} is not allowed in an adapter "
                              "expression (only scalar functions of the row's values)")
        if n.get("filter") or n.get("distinct") or (n.get("order_bys") or {}).get("orders"):
            raise _fail(path, f"{where}: {name}(...) with FILTER, DISTINCT or ORDER BY is an aggregate")
    if cls == "COLUMN_REF":
        parts = n.get("column_names", [])
        m = _PLACEHOLDER.match(parts[0]) if len(parts) == 1 else None
        if not ((m and int(m.group(1)) < n_cols) or (len(parts) == 1 and parts[0] in params)):
            raise _fail(path, f"{where}: {'.'.join(parts)!r} is not a column reference; write columns as "
                              "{Column Name}")
    if cls == "LAMBDA":
        lhs = n.get("lhs")
        names = set(_lambda_params(lhs))
        _check_node(n.get("expr"), params | names, n_cols, where, path)
        return
    for v in n.values():
        _check_node(v, params, n_cols, where, path)


def _lambda_params(lhs) -> list[str]:
    if isinstance(lhs, dict):
        if lhs.get("class") == "COLUMN_REF":
            return [p for p in lhs.get("column_names", [])][-1:]
        return [p for a in lhs.get("children", []) + [x.get("expression") for x in lhs.get("arguments", [])]
                for p in _lambda_params(a)]
    return []


def get_adapter(name_or_path: str) -> Adapter:
    """A built-in adapter by name, or a user's adapter file by path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return load_adapter(p)
    ads = builtin_adapters()
    if name_or_path not in ads:
        raise AdapterError(
            f"unknown adapter '{name_or_path}'; built-in adapters: {', '.join(ads)} (or give a path to a .yaml file)"
        )
    return ads[name_or_path]


def detect_adapter(columns: list[str], adapters: dict[str, Adapter] | None = None) -> Adapter | None:
    """The adapter whose detect columns all appear, preferring the most specific."""
    adapters = adapters if adapters is not None else builtin_adapters()
    scored = sorted(((ad.matches(columns), ad.name) for ad in adapters.values()), reverse=True)
    if not scored or scored[0][0] == 0:
        return None
    return adapters[scored[0][1]]
