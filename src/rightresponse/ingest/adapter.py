"""Declarative per-source adapters: a YAML file says how one CAD layout maps to the call record.

The format is documented in ``docs/adapters.md``; every shipped adapter in
``ingest/adapters/`` is a worked example. Adapters are validated on load so that a typo
in a user's adapter file is reported with the file and the key, not as a SQL error later.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader parses adapters ~10x faster

from ..schema import ORIGINS, OUTCOMES, SERVICES, TIMESTAMP_FIELDS

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
MAPPED_FIELDS = {"priority": None, "origin": ORIGINS, "disposition": OUTCOMES, "service": SERVICES}
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
        lookups=dict(doc.get("lookups") or {}),
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
