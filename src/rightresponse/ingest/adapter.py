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

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, create_model, field_validator
from typing import Annotated, Literal

from ..errors import Problem, RightResponseError
from ..schema import CHANNELS, DEFAULT_CHANNEL, ORIGINS, OUTCOMES, SERVICES, TIMESTAMP_FIELDS
from ..sqltext import code_spans, ident
from ..validation import Spec, bad, check
from ..yaml_data import load_yaml

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
MAPPED_FIELDS = {"priority": None, "origin": ORIGINS, "disposition": OUTCOMES, "service": SERVICES,
                 "channel": CHANNELS}


class AdapterError(RightResponseError, ValueError):
    """An adapter file that does not follow the format: one line per problem, each naming the
    file and the YAML path (``adapter city.yaml: fields.beat.sql: ...``)."""


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
    channel: ValueMap = field(default_factory=lambda: ValueMap(value=DEFAULT_CHANNEL))
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


# ---------------------------------------------------------------------------- the file format
# The adapter file as a pydantic model: every key, its type and its checks in one place, and
# the JSON Schema editors use (`rightresponse schema adapter`). To add a key: a field of the
# call record is one more name in SIMPLE_FIELDS (a column, constant or expression) or in
# MAPPED_FIELDS (a value map with its allowed values), or a top-level key is a field of
# _AdapterKeys below; then read it in parse_adapter.

def _sql_text(v: Any, info: ValidationInfo) -> Any:
    """An adapter's ``sql:`` expression, parsed and checked when the file loads (rendered
    when it is compiled): one expression over the row's columns, nothing else."""
    if v is not None:
        file = (info.context or {}).get("file", "<memory>")
        try:
            _parse_expression(v, "sql", file)
        except AdapterError as exc:
            raise bad(str(exc).removeprefix(f"adapter {file}: sql").lstrip(": ")) from None
    return v


def _column_or_spec(v: Any) -> Any:
    return {"column": v} if isinstance(v, str) else v


class FieldSpec(Spec):
    """How one field is read: a column, a constant, or computed from columns."""

    column: str | None = None
    value: Any = None
    concat: list[Any] | None = None
    sep: str | None = None
    coalesce: list[Annotated["FieldSpec", BeforeValidator(_column_or_spec, json_schema_input_type=str | dict)]] | None = None
    lookup: str | None = Field(None, description="a table named under lookups:")
    table: Any = None
    key: Any = None
    count_list: str | None = None
    sql: str | None = Field(None, description="one SQL expression over the row's columns, written {Column Name}")

    _check_sql = field_validator("sql")(_sql_text)


class TimestampSpec(Spec):
    """How one timestamp is read: a column with the file's formats, or another form."""

    column: str | None = None
    format: str | list[str] | None = None
    date: str | None = None
    time: str | None = None
    after: str | None = None
    tolerance_minutes: float | None = None
    epoch_ms: str | None = None
    epoch_s: str | None = None
    base: str | None = None
    add_minutes: Any = None
    add_seconds: Any = None
    sql: str | None = Field(None, description="one SQL expression over the row's columns, written {Column Name}")

    _check_sql = field_validator("sql")(_sql_text)


def _spec(model):
    """A field given as a column name (the common case) or as a mapping of ``model``."""
    return Annotated[model | None, BeforeValidator(_column_or_spec, json_schema_input_type=str | model | None)]


Fields = create_model(
    "Fields", __base__=Spec,
    **{f: (_spec(FieldSpec), Field(..., description="it is how calls are de-duplicated") if f == "call_id"
           else Field(None)) for f in SIMPLE_FIELDS})


def _formats(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


Timestamps = create_model(
    "Timestamps", __base__=Spec,
    formats=(Annotated[list[str] | None, BeforeValidator(_formats, json_schema_input_type=str | list[str] | None)], Field(None, description="strptime formats, tried in order")),
    format=(Annotated[list[str] | None, BeforeValidator(_formats, json_schema_input_type=str | list[str] | None)], None),
    **{t: (_spec(TimestampSpec), Field(..., description="when the call came in") if t == "received" else None)
       for t in TIMESTAMP_FIELDS})


def _value_map_model(name: str, allowed):
    """A value map: a column's values mapped to the call record's values (``allowed``), or a
    priority rank (``allowed`` None: integers >= 1)."""
    target = Literal[tuple(allowed)] if allowed is not None else Annotated[int, Field(ge=1, strict=True)]
    return create_model(
        name, __base__=Spec,
        column=(str | None, None),
        map=(dict[str, target | None] | None, Field(None, description="source value (case-insensitive) -> value")),
        patterns=(list[tuple[str, target | None]] | None, Field(None, description="[regex, value] pairs, tried in order")),
        default=(target | None, None),
        value=(target | None, Field(None, description="a constant for every row")),
        pattern=(str | None, Field(None, description="priority: a regex whose first group is the number")),
        offset=(int, 0),
        raw=(Any, Field(None, description="the field spec for the *_raw column when it differs from column")),
    )


class ExcludeRule(Spec):
    """Rows whose column matches the pattern are quarantined as excluded (test calls...)."""

    column: _spec(FieldSpec) = Field(description="the column to test")
    pattern: str = Field(min_length=1, description="a regular expression (RE2, case-insensitive)")
    reason: str | None = Field(None, description="the quarantine reason shown for these rows")

    @field_validator("pattern")
    @classmethod
    def _runs_in_duckdb(cls, v: str) -> str:
        problem = _re2_problem(v)
        if problem:
            raise bad(f"{v!r} is not a regular expression DuckDB can run (RE2 syntax): {problem}")
        return v


class LookupTable(Spec):
    file: str = Field(description="a CSV beside the adapter file (inside its folder)")
    key: str
    value: str

    @field_validator("file")
    @classmethod
    def _beside_the_adapter(cls, v: str, info: ValidationInfo) -> str:
        try:
            lookup_path((info.context or {}).get("file", "<memory>"), v, "file")
        except AdapterError as exc:
            raise bad(str(exc).split(": file: ", 1)[-1]) from None  # lookup_path's own message
        return v


def _zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad(f"{v!r} is not an IANA zone name (e.g. America/Chicago)") from None
    return v


def _detect(v: Any) -> Any:
    if isinstance(v, str):
        raise bad("a list of column names, not one text (detect: [Col A, Col B])")
    return v


class _AdapterKeys(Spec):
    """An adapter: how one CAD export's columns map to the call record (docs/adapters.md)."""

    name: str = Field(description="the adapter's name (--adapter NAME)")
    title: str | None = None
    source: str | None = None
    notes: str | None = None
    agency: str = Field(description="the agency id calls are stored under")
    timezone: Annotated[str, AfterValidator(_zone)] = Field(description="IANA time zone of the wall-clock times")
    grain: Literal["incident", "unit"] = "incident"
    detect: Annotated[list[str], BeforeValidator(_detect), Field(min_length=1)] = Field(
        description="columns that identify this layout (all must be present)")
    read: dict[str, Any] | None = None
    null_values: list[str] | None = None
    fields: Fields
    timestamps: Timestamps
    exclude: list[ExcludeRule] | None = None
    unit: dict[str, Any] | None = Field(None, validate_default=True)
    lookups: dict[str, LookupTable] | None = None

    @field_validator("unit")
    @classmethod
    def _unit_grain(cls, v, info: ValidationInfo):
        if info.data.get("grain") == "unit" and "unit_id" not in (v or {}):
            raise bad("grain: unit needs unit.unit_id (the unit column)")
        return v


AdapterFile = create_model(
    "AdapterFile", __base__=_AdapterKeys, __doc__=_AdapterKeys.__doc__,
    **{k: (_spec(_value_map_model(f"{k.capitalize()}Map", allowed)), None) for k, allowed in MAPPED_FIELDS.items()})


def check_adapter(doc: Any, path: str = "<memory>") -> list[Problem]:
    """Every problem of an adapter document (empty: it loads)."""
    if not isinstance(doc, dict):
        return [Problem(path, "", "must be a YAML mapping")]
    return check(AdapterFile, doc, path)


def parse_adapter(doc: dict, path: str = "<memory>") -> Adapter:
    """An Adapter from a YAML document; AdapterError lists every problem (one a line)."""
    found = check_adapter(doc, path)
    if found:
        raise AdapterError("\n".join(f"adapter {p}" for p in found))
    ts = dict(doc["timestamps"] or {})
    formats = ts.pop("formats", ts.pop("format", []))
    formats = [formats] if isinstance(formats, str) else list(formats)
    return Adapter(
        name=str(doc["name"]),
        title=str(doc.get("title", doc["name"])),
        agency=str(doc["agency"]),
        timezone=doc["timezone"],
        detect=[str(c) for c in doc["detect"]],
        fields=dict(doc["fields"]),
        timestamps=ts,
        formats=formats,
        priority=_value_map(doc.get("priority")),
        origin=_value_map(doc.get("origin")),
        disposition=_value_map(doc.get("disposition")),
        service=_value_map(doc.get("service", {"value": "police"})),
        channel=_value_map(doc.get("channel", {"value": DEFAULT_CHANNEL})),
        null_values=[str(v) for v in doc.get("null_values", ["", "NULL", "null", "N/A"])],
        exclude=list(doc.get("exclude") or []),
        grain=doc.get("grain", "incident"),
        unit=dict(doc.get("unit") or {}),
        read=dict(doc.get("read") or {}),
        lookups=dict(doc.get("lookups") or {}),
        source=str(doc.get("source", "")),
        notes=str(doc.get("notes", "")),
        path=path,
    )


def _value_map(spec: Any) -> ValueMap:
    if spec is None:
        return ValueMap()
    if isinstance(spec, str):
        return ValueMap(column=spec)
    return ValueMap(
        column=spec.get("column"),
        map={str(k).strip().upper(): v for k, v in (spec.get("map") or {}).items()},
        patterns=[tuple(p) for p in (spec.get("patterns") or [])],
        default=spec.get("default"),
        value=spec.get("value"),
        pattern=spec.get("pattern"),
        offset=int(spec.get("offset", 0)),
        raw=spec.get("raw"),
    )


def load_adapter(path: str | Path) -> Adapter:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AdapterError(f"adapter {path}: cannot read ({exc.strerror})") from None
    try:
        doc = load_yaml(text)
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
