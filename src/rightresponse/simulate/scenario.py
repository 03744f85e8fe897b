"""Scenario files: which data, which policy, which responder pools, which dispatch rules.

A scenario is YAML so a budget office can read and argue about every assumption: each
stated (not data-derived) service or travel time must carry an ``assumption:`` text, and
the report repeats it. Validation collects every problem, each naming the file and the key
(``pools.crisis_team.service.default.lognormal.mean_minutes``), before failing.

Shape (docs/scenarios.md has the full reference)::

    id: decc-co-responder-pilot
    title: ...
    data: {sample: decc}            # or {workspace: path/to/ws}
    policy: co-responder-pilot      # a preset or a policy file (relative to this file)
    horizon: {mode: replay}         # or {mode: bootstrap, weeks: 13}
    replications: 20
    pools:
      police:
        serves: [police]
        units: {staffing: {max_utilization: 0.6}}
        hourly_cost: 95
        travel: data
        service: {default: data}
        dispatch: {priority_order: [1, 2, 3], preemptible: [], when_busy: wait}
        target: {priority: 1, within_minutes: 10, service_level: 0.9}
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BeforeValidator, Field

from ..errors import Problem, RightResponseError
from ..policy.vocabulary import RESPONDERS
from ..validation import Spec, check, in_document_order
from ..yaml_data import load_yaml

SCENARIOS_DIR = Path(__file__).parent / "scenarios"
DISTRIBUTIONS = ("data", "fixed", "exponential", "lognormal")
DEFAULT_WITHIN = 10.0  # minutes, for P(wait <= T) when a pool states no target


class ScenarioError(RightResponseError, ValueError):
    """A scenario that cannot be run; ``issues`` lists every problem as 'file: key: message'."""

    def __init__(self, issues: list[str]):
        self.issues = issues
        super().__init__("\n".join(issues))


@dataclass(frozen=True)
class Dist:
    """A time model in minutes: the historical call's own time ('data'), or a stated distribution."""

    kind: str  # data | fixed | exponential | lognormal
    mean: float = 0.0  # minutes (fixed: the value)
    sd: float = 0.0
    scale: float = 1.0  # data only: multiply the historical time
    assumption: str = ""

    def describe(self) -> str:
        if self.kind == "data":
            return "from the data" + (f" x {self.scale:g}" if self.scale != 1 else "")
        if self.kind == "fixed":
            return f"{self.mean:g} min (fixed)"
        if self.kind == "exponential":
            return f"exponential, mean {self.mean:g} min"
        return f"lognormal, mean {self.mean:g} min, sd {self.sd:g} min"


@dataclass(frozen=True)
class Backup:
    probability: float
    pool: str
    priority: int | None
    service: Dist
    travel: Dist | None
    assumption: str


@dataclass(frozen=True)
class Target:
    priority: int | None = None  # None = every call
    within_minutes: float | None = None
    service_level: float | None = None
    max_utilization: float | None = None


@dataclass(frozen=True)
class Units:
    """Units on shift by hour of week (168 values, Monday 00:00 first), or sized by Erlang C."""

    by_hour: tuple[int, ...] | None
    staffing: Target | None = None
    min_units: int = 0
    spec: Any = None

    @property
    def auto(self) -> bool:
        return self.by_hour is None


@dataclass(frozen=True)
class Pool:
    id: str
    name: str
    serves: tuple[str, ...]
    officers_per_unit: float
    hourly_cost: float
    units: Units
    travel: Dist
    service_default: Dist
    service_by_category: dict
    priority_order: tuple[tuple[int, ...], ...] | None  # None = ascending rank, unknown last
    preemptible: frozenset
    when_busy: str  # wait | fallback
    fallback: str | None
    fallback_after: float  # minutes
    target: Target | None
    backup: Backup | None
    note: str = ""

    def service_for(self, category: str | None) -> Dist:
        return self.service_by_category.get(category, self.service_default)

    @property
    def sworn(self) -> bool:
        return self.officers_per_unit > 0

    @property
    def service_target(self) -> Target | None:
        """The target the pool is held to: its own, else the staffing rule it is sized by."""
        return self.target or (self.units.staffing if self.units.auto else None)

    @property
    def within_minutes(self) -> float:
        """The T of P(wait <= T) wherever the pool's waits are reported: the service target's
        minutes, else DEFAULT_WITHIN."""
        tgt = self.service_target
        return float(tgt.within_minutes) if tgt and tgt.within_minutes is not None else DEFAULT_WITHIN


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    description: str
    path: str
    workspace: str | None
    sample: str | None
    include_officer_initiated: bool
    route_on: str
    agency: str | None
    policy: str  # preset name or resolved file path
    view: str
    routing_hours: str
    mode: str
    weeks: int | None
    start: str | None
    end: str | None
    warmup_hours: float
    replications: int
    seed: int
    confidence: float
    pools: dict  # id -> Pool, in file order
    notes: tuple[str, ...] = ()
    _doc: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def hash(self) -> str:
        blob = json.dumps(self._doc, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def pool_for(self, responder: str | None) -> str | None:
        for p in self.pools.values():
            if responder in p.serves:
                return p.id
        return None

    def assumptions(self) -> list[str]:
        """Every stated (not data-derived) time model, with its reason, for the report."""
        out = []
        for p in self.pools.values():
            for what, d in [("travel", p.travel), ("service", p.service_default)] + [
                    (f"service ({c})", d) for c, d in p.service_by_category.items()]:
                if d.kind != "data" or d.scale != 1:
                    out.append(f"{p.name}: {what} {d.describe()}" + (f" - {d.assumption}" if d.assumption else ""))
            if p.backup is not None:
                out.append(f"{p.name}: asks for police backup on {100 * p.backup.probability:.1f}% of calls; backup "
                           f"takes {p.backup.service.describe()}" + (f" - {p.backup.assumption}" if p.backup.assumption else ""))
            if p.hourly_cost:
                out.append(f"{p.name}: ${p.hourly_cost:,.0f} per unit-hour on shift")
        return out

    def with_overrides(self, **kw) -> "Scenario":
        """A copy with e.g. replications, seed or workspace changed (the CLI's flags)."""
        from dataclasses import replace

        return replace(self, **{k: v for k, v in kw.items() if v is not None})


# ---------------------------------------------------------------------------- the file format
# The scenario file as a pydantic model: every key, its type, range and allowed values, in one
# place, and the JSON Schema editors use (`rightresponse schema scenario`). What depends on
# several keys at once (a stated time needs its assumption, a fallback pool must exist, the
# units of each shift) is checked while the Scenario is built, below, in the same
# ``file: key.path: message`` form; both lists are reported together.

Minutes = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Rank = Annotated[int, Field(ge=1)]
ResponderName = Literal[RESPONDERS]


class _DataScale(Spec):
    scale: Positive | None = Field(None, description="multiply the historical time (needs an assumption)")


class _Fixed(Spec):
    minutes: Minutes


class _Exponential(Spec):
    mean_minutes: Positive


class _Lognormal(Spec):
    mean_minutes: Positive
    sd_minutes: Positive


def _number_as(key: str):
    return BeforeValidator(lambda v: {key: v} if isinstance(v, (int, float)) and not isinstance(v, bool) else v,
                           json_schema_input_type=float | dict)


class _Dist(Spec):
    """A time model: exactly one of data, fixed, exponential, lognormal; a stated one says why."""

    data: _DataScale | None = None
    fixed: Annotated[_Fixed | None, _number_as("minutes")] = None
    exponential: Annotated[_Exponential | None, _number_as("mean_minutes")] = None
    lognormal: _Lognormal | None = None
    assumption: str | None = Field(None, description="where a stated figure comes from (the report repeats it)")
    source: str | None = None


TimeModel = Literal["data"] | _Dist


class _ServiceByCategory(Spec):
    default: TimeModel | None = None
    categories: dict[str, TimeModel] | None = None


class _Staffing(Spec):
    max_utilization: Annotated[float, Field(gt=0, le=1)] | None = Field(None, description="0.6 = ICMA's rule of 60")
    service_level: Annotated[float, Field(ge=0, le=0.9999)] | None = None
    within_minutes: Minutes | None = None
    priority: Rank | None = None
    min_units: Annotated[int, Field(ge=0)] | None = None


class _SizedUnits(Spec):
    staffing: _Staffing = Field(description="size the pool by Erlang C")


class _Target(Spec):
    priority: Rank | None = None
    within_minutes: Minutes | None = None
    service_level: Annotated[float, Field(ge=0, le=0.9999)] | None = None
    max_utilization: Annotated[float, Field(gt=0, le=1)] | None = None


class _WhenBusy(Spec):
    fallback: str = Field(description="the pool that takes the call")
    after_minutes: Minutes | None = None


class _Dispatch(Spec):
    priority_order: list[Rank | list[Rank]] | None = Field(None, description="ranks in service order: [1, 2, [3, 4]]")
    preemptible: list[Rank] | None = None
    when_busy: Literal["wait"] | _WhenBusy | None = None


class _Backup(Spec):
    probability: Annotated[float, Field(ge=0, le=1)] = Field(
        description="share of the team's calls that ask for police backup (CAHOOTS: about 150 of 24,000, 0.006)")
    pool: str | None = None
    priority: Rank | None = None
    service: _Dist = Field(description="how long an officer spends backing the team up: {fixed: {minutes: 30}, "
                                       "assumption: ...}")
    travel: TimeModel | None = None
    assumption: str | None = None
    source: str | None = None


class _PoolSpec(Spec):
    name: str | None = None
    serves: Annotated[list[ResponderName], BeforeValidator(lambda v: [v] if isinstance(v, str) else v,
                                                             json_schema_input_type=ResponderName | list[ResponderName]),
                      Field(min_length=1)] = Field(description="the policy responders whose calls this pool takes")
    officers_per_unit: Minutes | None = None
    hourly_cost: Minutes | None = None
    units: Annotated[int, Field(ge=0)] | list[Annotated[int, Field(ge=0)]] | _SizedUnits | dict[str, Annotated[int, Field(ge=0)]] = Field(
        description="a number, {'07:00-23:00': 2, ...}, 168 hourly values, or {staffing: {max_utilization: 0.6}}")
    travel: TimeModel | None = None
    service: TimeModel | _ServiceByCategory | None = None
    dispatch: _Dispatch | None = None
    target: _Target | None = None
    police_backup: _Backup | None = None
    note: str | None = None


class _DataSource(Spec):
    workspace: str | None = None
    sample: str | None = Field(None, description="a bundled sample: decc")
    include_officer_initiated: Annotated[bool, Field(strict=True)] | None = None
    route_on: Literal["initial", "final"] | None = None
    agency: str | None = None


class _Horizon(Spec):
    mode: Literal["replay", "bootstrap"] | None = Field(
        None, description="replay: the calls at the times they arrived; bootstrap: weeks resampled")
    weeks: Annotated[int, Field(ge=1)] | None = None
    start: str | None = None
    end: str | None = None
    warmup_hours: Minutes | None = None


class ScenarioFile(Spec):
    """A scenario: which data, which policy, which responder pools, which dispatch rules."""

    id: str | None = None
    title: str | None = None
    description: str | None = None
    data: _DataSource
    policy: str = Field(description="a policy preset (e.g. co-responder-pilot) or a policy YAML file")
    view: Literal["optimistic", "conservative"] | None = None
    routing_hours: Literal["policy", "pools"] | None = None
    horizon: _Horizon
    replications: Annotated[int, Field(ge=1)] | None = None
    seed: Annotated[int, Field(ge=0)] | None = None
    confidence: Annotated[float, Field(ge=0.5, le=0.999)] | None = None
    pools: dict[str, _PoolSpec]
    notes: str | list[str] | None = None


# ---------------------------------------------------------------------------- loading

def list_scenarios() -> list[str]:
    """The example scenarios shipped in simulate/scenarios/."""
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def resolve_scenario_path(name_or_file) -> Path:
    p = Path(name_or_file)
    if p.exists():
        return p
    if p.suffix.lower() not in (".yaml", ".yml"):
        shipped = SCENARIOS_DIR / f"{name_or_file}.yaml"
        if shipped.exists():
            return shipped
    close = difflib.get_close_matches(p.stem, list_scenarios(), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ScenarioError([f"{name_or_file}: scenario file not found{hint}; shipped examples: {', '.join(list_scenarios())}"])


def load_scenario(name_or_file) -> Scenario:
    """Load and validate a scenario YAML (a path, or the name of a shipped example)."""
    if isinstance(name_or_file, Scenario):
        return name_or_file
    path = resolve_scenario_path(name_or_file)
    try:
        with open(path, encoding="utf-8") as f:
            doc = load_yaml(f)
    except yaml.YAMLError as exc:
        raise ScenarioError([f"{path}: not valid YAML: {exc}"]) from None
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_scenario(doc, str(path))


class _V:
    """Collects the problems found while the Scenario is built (ScenarioFile checked the keys
    and types; these need several keys at once)."""

    def __init__(self, path: str):
        self.path = path
        self.issues: list[Problem] = []

    def err(self, key: str, msg: str) -> None:
        self.issues.append(Problem(self.path, key, msg))

    def mapping(self, v, key: str, required: bool = False) -> dict:
        if v is None:
            if required:
                self.err(key, "missing")
            return {}
        if not isinstance(v, dict):
            self.err(key, f"expected a mapping, got {type(v).__name__}")
            return {}
        return v

    def number(self, v, key: str, lo: float | None = None, hi: float | None = None, integer: bool = False,
               lo_open: bool = False, default=None):
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not float(v).is_integer()):
            self.err(key, f"expected {'a whole number' if integer else 'a number'}, got {v!r}")
            return default
        if lo is not None and (v <= lo if lo_open else v < lo):
            self.err(key, f"must be {'>' if lo_open else '>='} {lo:g}, got {v!r}")
            return default
        if hi is not None and v > hi:
            self.err(key, f"must be <= {hi:g}, got {v!r}")
            return default
        return int(v) if integer else float(v)


def _categories() -> tuple[str, ...]:
    from ..taxonomy.taxonomy import load_taxonomy

    return tuple(load_taxonomy().names)


def _dist(v, key: str, val: _V, allow_data: bool = True) -> Dist | None:
    """'data', {data: {scale}}, {fixed: {minutes}}, {exponential: {mean_minutes}},
    {lognormal: {mean_minutes, sd_minutes}}; stated models need an 'assumption' text."""
    if v == "data" and allow_data:
        return Dist("data")
    if not isinstance(v, dict):
        val.err(key, f"expected 'data' or a mapping like {{lognormal: {{mean_minutes: 45, sd_minutes: 30}}, "
                     f"assumption: why}}, got {v!r}")
        return None
    kinds = [k for k in v if k in DISTRIBUTIONS]
    if len(kinds) != 1:
        val.err(key, f"give exactly one of {', '.join(DISTRIBUTIONS if allow_data else DISTRIBUTIONS[1:])}")
        return None
    kind = kinds[0]
    if kind == "data" and not allow_data:
        val.err(f"{key}.data", "'data' is not available here; state a distribution")
        return None
    body = v[kind] if v[kind] is not None else {}
    k2 = f"{key}.{kind}"
    note = " ".join(str(v.get("assumption") or v.get("source") or "").split())
    if isinstance(body, (int, float)) and not isinstance(body, bool) and kind in ("fixed", "exponential"):
        body = {"minutes" if kind == "fixed" else "mean_minutes": body}
    body = val.mapping(body, k2)
    if kind == "data":
        scale = val.number(body.get("scale"), f"{k2}.scale", lo=0, lo_open=True, default=1.0)
        if scale != 1.0 and not note:
            val.err(key, "a scaled data model is an assumption: add 'assumption: <why>'")
        return Dist("data", scale=scale, assumption=note)
    if not note:
        val.err(key, f"a stated {kind} time is an assumption: add 'assumption: <where the figure comes from>'")
    if kind == "fixed":
        m = val.number(body.get("minutes"), f"{k2}.minutes", lo=0)
        if m is None:
            val.err(f"{k2}.minutes", "missing")
            return None
        return Dist("fixed", mean=m, assumption=note)
    m = val.number(body.get("mean_minutes"), f"{k2}.mean_minutes", lo=0, lo_open=True)
    if m is None:
        if "mean_minutes" not in body:
            val.err(f"{k2}.mean_minutes", "missing")
        return None
    sd = 0.0
    if kind == "lognormal":
        sd = val.number(body.get("sd_minutes"), f"{k2}.sd_minutes", lo=0, lo_open=True)
        if sd is None:
            if "sd_minutes" not in body:
                val.err(f"{k2}.sd_minutes", "missing")
            return None
    return Dist(kind, mean=m, sd=sd, assumption=note)


def _hours_units(spec, key: str, val: _V) -> tuple[int, ...] | None:
    from ..policy.hours import parse_hours

    if isinstance(spec, bool):
        val.err(key, "expected a number of units, a mapping of shifts to units, or 168 hourly values")
        return None
    if isinstance(spec, (int, float)):
        n = val.number(spec, key, lo=0, integer=True)
        return None if n is None else (n,) * 168
    if isinstance(spec, list):
        if len(spec) != 168:
            val.err(key, f"a list gives units for each of the 168 hours of the week (Monday 00:00 first); got {len(spec)}")
            return None
        out = [val.number(x, f"{key}[{i}]", lo=0, integer=True) for i, x in enumerate(spec)]
        return None if any(x is None for x in out) else tuple(out)
    if isinstance(spec, dict):
        total = [0] * 168
        for window, n in spec.items():
            k = f"{key}.{window}"
            n = val.number(n, k, lo=0, integer=True)
            try:
                h = parse_hours(str(window))
            except ValueError as exc:
                val.err(k, str(exc))
                continue
            if any(b % 60 for b in h.breakpoints()):
                val.err(k, "shifts must start and end on the hour")
                continue
            if n is None:
                continue
            for d in range(7):
                for hr in range(24):
                    if h.on(d, hr * 60):
                        total[d * 24 + hr] += n
        return tuple(total)
    val.err(key, "expected a number of units, a mapping of shifts to units "
                 "({'24/7': 4, 'mon-fri 08:00-18:00': 2}), 168 hourly values, or {staffing: {...}}")
    return None


def _target(v, key: str, val: _V) -> Target | None:
    v = val.mapping(v, key)
    if not v:
        return None
    t = Target(
        priority=val.number(v.get("priority"), f"{key}.priority", lo=1, integer=True),
        within_minutes=val.number(v.get("within_minutes"), f"{key}.within_minutes", lo=0),
        service_level=val.number(v.get("service_level"), f"{key}.service_level", lo=0, hi=0.9999),
        max_utilization=val.number(v.get("max_utilization"), f"{key}.max_utilization", lo=0, hi=1, lo_open=True),
    )
    if (t.service_level is None) != (t.within_minutes is None):
        val.err(key, "service_level and within_minutes go together (P(wait <= within_minutes) >= service_level)")
    if t.service_level is None and t.max_utilization is None:
        val.err(key, "give service_level + within_minutes, or max_utilization (0.6 = ICMA's rule of 60), or both")
    return t


def _ranks(v, key: str, val: _V) -> tuple[tuple[int, ...], ...] | None:
    if v is None:
        return None
    if not isinstance(v, list) or not v:
        val.err(key, "expected a list of priority ranks in service order, e.g. [1, 2, [3, 4]]")
        return None
    out, seen = [], set()
    for i, g in enumerate(v):
        group = g if isinstance(g, list) else [g]
        ranks = []
        for r in group:
            n = val.number(r, f"{key}[{i}]", lo=1, integer=True)
            if n is None:
                continue
            if n in seen:
                val.err(f"{key}[{i}]", f"rank {n} listed twice")
            seen.add(n)
            ranks.append(n)
        if ranks:
            out.append(tuple(ranks))
    return tuple(out)


def _pool(pid: str, v, val: _V, cats: tuple[str, ...]) -> Pool | None:
    key = f"pools.{pid}"
    v = val.mapping(v, key, required=True)
    if not v:
        return None
    serves = v.get("serves")
    serves = [serves] if isinstance(serves, str) else serves
    if not isinstance(serves, list) or not serves:
        val.err(f"{key}.serves", f"list the policy responders whose calls this pool takes (of {', '.join(RESPONDERS)})")
        serves = []
    police = "police" in serves or "co_responder" in serves
    officers = val.number(v.get("officers_per_unit"), f"{key}.officers_per_unit", lo=0, default=1.0 if police else 0.0)
    cost = val.number(v.get("hourly_cost"), f"{key}.hourly_cost", lo=0, default=0.0)

    u = v.get("units")
    ukey = f"{key}.units"
    if u is None:
        val.err(ukey, "missing: a number, {'07:00-23:00': 2, ...}, 168 hourly values, or {staffing: {max_utilization: 0.6}}")
        units = None
    elif isinstance(u, dict) and "staffing" in u:
        if len(u) > 1:
            val.err(ukey, "'staffing' sizes the pool by itself; give no shifts beside it")
        st = val.mapping(u["staffing"], f"{ukey}.staffing", required=True)
        t = _target({k: x for k, x in st.items() if k != "min_units"}, f"{ukey}.staffing", val) if st else None
        mn = val.number(st.get("min_units"), f"{ukey}.staffing.min_units", lo=0, integer=True, default=0) if st else 0
        units = Units(None, t, mn, spec=u) if t else None
    else:
        before = len(val.issues)
        hours = _hours_units(u, ukey, val)
        units = Units(hours, spec=u) if hours is not None else None
        if hours is not None and not any(hours) and len(val.issues) == before:
            val.err(ukey, "the pool has no units in any hour of the week")

    travel = _dist(v.get("travel", "data"), f"{key}.travel", val)
    svc = v.get("service", "data")
    skey = f"{key}.service"
    by_cat = {}
    if isinstance(svc, dict) and ("default" in svc or "categories" in svc):
        default = _dist(svc.get("default", "data"), f"{skey}.default", val)
        cs = val.mapping(svc.get("categories"), f"{skey}.categories")
        for c, d in cs.items():
            if c not in cats:
                close = difflib.get_close_matches(str(c), cats, n=1)
                val.err(f"{skey}.categories.{c}", "not a category of the taxonomy"
                        + (f" (did you mean {close[0]!r}?)" if close else ""))
                continue
            dd = _dist(d, f"{skey}.categories.{c}", val)
            if dd:
                by_cat[c] = dd
    else:
        default = _dist(svc, skey, val)

    dk = f"{key}.dispatch"
    disp = val.mapping(v.get("dispatch"), dk)
    order = _ranks(disp.get("priority_order"), f"{dk}.priority_order", val)
    pre = disp.get("preemptible") or []
    if not isinstance(pre, list):
        val.err(f"{dk}.preemptible", "expected a list of priority ranks whose service a more urgent call may interrupt")
        pre = []
    pre = frozenset(x for i, r in enumerate(pre) if (x := val.number(r, f"{dk}.preemptible[{i}]", lo=1, integer=True)) is not None)
    wb = disp.get("when_busy", "wait")
    when, fb, after = "wait", None, 0.0
    if wb == "wait":
        pass
    elif isinstance(wb, dict):
        when = "fallback"
        fb = wb.get("fallback")
        if not isinstance(fb, str):
            val.err(f"{dk}.when_busy.fallback", "name the pool that takes the call (e.g. police)")
        after = val.number(wb.get("after_minutes"), f"{dk}.when_busy.after_minutes", lo=0, default=0.0)
    else:
        val.err(f"{dk}.when_busy", f"expected 'wait' or {{fallback: police, after_minutes: 10}}, got {wb!r}")

    target = _target(v.get("target"), f"{key}.target", val) if v.get("target") is not None else None

    backup = None
    if v.get("police_backup") is not None:
        bk = f"{key}.police_backup"
        b = val.mapping(v.get("police_backup"), bk)
        p = val.number(b.get("probability"), f"{bk}.probability", lo=0, hi=1)
        if p is None and "probability" not in b:
            val.err(f"{bk}.probability", "missing (CAHOOTS asked for backup on about 150 of 24,000 calls: 0.006)")
        bsvc = _dist(b.get("service"), f"{bk}.service", val, allow_data=False) if b.get("service") is not None else None
        if b and b.get("service") is None:
            val.err(f"{bk}.service", "missing: how long an officer spends backing the team up, e.g. "
                                     "{fixed: {minutes: 30}, assumption: ...}")
        btr = _dist(b.get("travel"), f"{bk}.travel", val) if b.get("travel") is not None else None
        if p is not None and bsvc is not None:
            backup = Backup(p, str(b.get("pool", "police")), val.number(b.get("priority"), f"{bk}.priority", lo=1,
                                                                         integer=True, default=1),
                            bsvc, btr, " ".join(str(b.get("assumption") or b.get("source") or "").split()))
    if units is None or travel is None or default is None:
        return None
    return Pool(pid, str(v.get("name") or pid), tuple(serves), officers, cost, units, travel, default, by_cat, order,
                pre, when, fb, after, target, backup, " ".join(str(v.get("note") or "").split()))


def parse_scenario(doc: Any, path: str) -> Scenario:
    """Validate a scenario document; raise ScenarioError listing every problem."""
    val = _V(path)
    if not isinstance(doc, dict):
        raise ScenarioError([f"{path}: expected a mapping with id, data, policy, horizon and pools"])
    base = Path(path).parent

    data = val.mapping(doc.get("data"), "data", required=True)
    ws, sample = data.get("workspace"), data.get("sample")
    if ws is None and sample is None:
        val.err("data", "name a workspace ({workspace: path}) or a bundled sample ({sample: decc})")
    if sample is not None:
        from ..samples import SAMPLES

        if sample not in SAMPLES:
            val.err("data.sample", f"unknown sample {sample!r}; samples: {', '.join(SAMPLES)}")
    if ws is not None:
        ws = os.path.expanduser(str(ws))
        if not Path(ws).is_absolute():
            ws = str((base / ws).resolve())
    route_on = data.get("route_on", "initial")
    inc = data.get("include_officer_initiated", False)

    pol = doc.get("policy")
    policy = ""
    if not isinstance(pol, str) or not pol.strip():
        val.err("policy", "name a policy preset (e.g. co-responder-pilot) or a policy YAML file")
    else:
        from ..policy.definition import load_policy
        from ..policy.findings import PolicyError

        candidate = base / pol
        policy = str(candidate.resolve()) if pol.endswith((".yaml", ".yml")) else pol
        try:
            load_policy(policy)
        except PolicyError as exc:
            for f in exc.findings:
                val.err("policy", str(f))
    view = doc.get("view", "optimistic")
    rh = doc.get("routing_hours", "policy")

    hz = val.mapping(doc.get("horizon"), "horizon", required=True)
    mode = hz.get("mode", "replay")
    weeks = val.number(hz.get("weeks"), "horizon.weeks", lo=1, integer=True)
    if mode == "bootstrap" and weeks is None:
        val.err("horizon.weeks", "bootstrap needs the number of weeks to simulate")
    if mode == "replay" and weeks is not None:
        val.err("horizon.weeks", "replay uses the history's own span (or start/end); weeks is for bootstrap")
    for k in ("start", "end"):
        if hz.get(k) is not None:
            import pandas as pd

            try:
                pd.Timestamp(str(hz[k]))
            except ValueError:
                val.err(f"horizon.{k}", f"not a date: {hz[k]!r}")
    warm = val.number(hz.get("warmup_hours"), "horizon.warmup_hours", lo=0,
                      default=24.0 if mode == "bootstrap" else 0.0)
    reps = val.number(doc.get("replications"), "replications", lo=1, integer=True, default=10)
    seed = val.number(doc.get("seed"), "seed", lo=0, integer=True, default=0)
    conf = val.number(doc.get("confidence"), "confidence", lo=0.5, hi=0.999, default=0.95)

    cats = _categories()
    raw_pools = val.mapping(doc.get("pools"), "pools", required=True)
    pools = {}
    for pid, pv in raw_pools.items():
        p = _pool(str(pid), pv, val, cats)
        if p:
            pools[p.id] = p
    served: dict[str, str] = {}
    for p in pools.values():
        for r in p.serves:
            if r in served:
                val.err(f"pools.{p.id}.serves", f"{r} is already served by pool {served[r]}")
            served[r] = p.id
    if raw_pools and "police" not in served:
        val.err("pools", "one pool must serve 'police' (calls the policy keeps with officers, fallbacks, backup)")
    for p in pools.values():
        if p.fallback is not None:
            if p.fallback not in pools:
                val.err(f"pools.{p.id}.dispatch.when_busy.fallback", f"no pool {p.fallback!r}; pools: {', '.join(pools)}")
            elif p.fallback == p.id or pools[p.fallback].fallback is not None:
                val.err(f"pools.{p.id}.dispatch.when_busy.fallback",
                        "a fallback pool must wait for a unit itself (no chains or loops of fallbacks)")
        if p.backup is not None and p.backup.pool not in pools:
            val.err(f"pools.{p.id}.police_backup.pool", f"no pool {p.backup.pool!r}; pools: {', '.join(pools)}")
    found = check(ScenarioFile, doc, path)
    if found or val.issues:
        # The model's problem at a key first; what the build found there adds nothing new.
        done = {p.path for p in found}
        found += [p for p in val.issues if p.path not in done]
        raise ScenarioError([str(p) for p in in_document_order(doc, found)])
    sid = str(doc.get("id") or Path(path).stem)
    notes = doc.get("notes") or []
    return Scenario(
        id=sid, title=str(doc.get("title") or sid), description=" ".join(str(doc.get("description") or "").split()),
        path=str(path), workspace=ws, sample=sample,
        include_officer_initiated=inc, route_on=route_on, agency=data.get("agency"), policy=policy, view=view,
        routing_hours=rh, mode=mode, weeks=weeks, start=None if hz.get("start") is None else str(hz["start"]),
        end=None if hz.get("end") is None else str(hz["end"]), warmup_hours=warm, replications=reps, seed=seed,
        confidence=conf, pools=pools, notes=tuple(str(n) for n in (notes if isinstance(notes, list) else [notes])),
        _doc=doc,
    )
