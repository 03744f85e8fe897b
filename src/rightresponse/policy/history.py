"""Apply a policy to historical calls: who would have responded, and how much police time moves.

Historical CAD data rarely records the risk flags a call-taker would ask about, so every
figure is a range:

- **optimistic**: the policy as written, with the call-taker's screen passed (every question
  answered "no");
- **conservative**: a call type that ever showed a weapon or violence indicator (narrative
  flags, where the data has narratives) or ever ended in an arrest or a violent-crime report
  is treated as if the weapon and violence flags were set, so an officer attends; so does
  every call at the agency's most urgent priority (rank 1).

In both views the engine reads the danger a call type states by itself (ASSAULT IN PROG,
SUBJ WITH GUN, DWI, TRANSPORT PRISONER) and applies the safety floor, exactly as triage does,
so no call whose type is dangerous in itself ever counts as movable.

Decisions depend only on a handful of values (call type, category, priority, origin, the
time window), so the policy is evaluated once per distinct combination in Python. Figures
never touch single calls: one GROUP BY in the engine counts calls and sums officer hours per
distinct combination (plus hour of week and outcome), and every policy's figures are
re-aggregations of that small table, weighted by its counts. Nothing per call is
materialized unless a per-call answer is asked for (``apply_policy``), so memory stays flat
as the data grows. Officer hours are the workload tables' time measure (``measure``, default
total deployed time, dispatched to cleared), with the same exclusions (missing times, time
issues, negative durations, calls longer than ``max_hours``): measures.measure_ms.

The call type used for routing is the *initial* type where the data has one (what the
call-taker knew), else the final type; "violent-crime report" uses the final type's category.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import MAX_CALL_HOURS
from ..measures import DEFAULT_MEASURE, MEASURES, measure_ms
from .definition import Policy, _taxonomy_vocab, list_presets, load_policy
from .triage import CompiledPolicy, call_type_dangers, compiled
from .vocabulary import DANGER_BITS, FLAG_BIT, RESPONDERS

VIEWS = ("conservative", "optimistic")
ADVERSE_GROUP = "violent crime"  # crime_group of the taxonomy whose reports count as misroutes
_NULL = "\u2205"  # join-key stand-in for NULL (SQL joins never match NULL = NULL)
WEAPON_OR_VIOLENCE = FLAG_BIT["weapon"] | FLAG_BIT["violence"]


class PreparedHistory:
    """Calls ready for any policy: routing type and category, indicators, hours. Build once.

    Holds no per-call data: ``groups`` is a small table (Ibis) of call counts and officer
    hours per distinct (call type, priority, origin, outcome, weekday, hour), with routing
    type and category attached. ``cube`` serves every figure from it. ``calls`` builds the
    per-call table on first use only, for per-call answers (``apply_policy``, ``diff``).
    """

    def __init__(self, route_on: str, coverage: dict, flagged_types: pd.DataFrame, groups: ibis.Table | None,
                 per_call=None, window_groups=None):
        self.route_on = route_on
        self.coverage = dict(coverage)
        self.flagged_types = flagged_types
        self.groups = groups
        self._per_call = per_call  # () -> per-call expression (with danger_type)
        self._window_groups = window_groups  # cuts -> groups table with a `window` column
        self._calls: ibis.Table | None = None
        self._cubes: dict[tuple[int, ...], pd.DataFrame] = {}

    @property
    def calls(self) -> ibis.Table:
        """One row per police call with ``danger_type``, as an engine table (built on first use)."""
        if self._calls is None:
            t = self._per_call()
            self._calls = t.get_backend().create_table(f"rr_policy_calls_{uuid.uuid4().hex[:12]}", t, temp=True)
        return self._calls

    def cube(self, cuts) -> pd.DataFrame:
        """Calls and officer hours per (agency, routing type and category, priority, origin,
        outcome indicator, weekday, hour, time window between ``cuts``), with ``danger_type``
        and ``urgent``; cached. ``window`` is -1 when the time of day is unknown.

        ``cuts`` are minutes of the day where some policy's answer may change (0 is implied);
        a cube cut at more places serves too. Whole-hour cuts come from ``groups`` with no
        pass over the calls; a cut inside an hour costs one pass.
        """
        key = tuple(sorted(set(int(c) for c in cuts) | {0}))
        for have, cube in self._cubes.items():
            if set(key) <= set(have):
                return cube
        dims = ["agency", "route_type", "route_category", "priority_rank", "origin", "adverse", "dow", "hour"]
        hourly = all(c % 60 == 0 for c in key)
        g = self.groups if hourly else self._window_groups(key)
        g_dims = dims if hourly else dims + ["window"]
        cube = (g.group_by(g_dims).agg(calls=g.calls.sum(), hours=g.hours.sum().fill_null(0.0))
                .order_by(g_dims).to_pandas())  # one row order: later float sums do not depend on the engine
        if hourly:
            h = cube["hour"].to_numpy(dtype="float64")
            w = np.searchsorted(np.asarray(key), np.nan_to_num(h, nan=0.0) * 60, side="right") - 1
            cube["window"] = np.where(np.isnan(h), -1, w).astype("int16")
        ft = self.flagged_types
        danger = set(zip(ft["agency"], ft["route_type"])) if len(ft) else set()
        cube["danger_type"] = _in_keys(cube["agency"], cube["route_type"], danger)
        cube["urgent"] = (cube["priority_rank"] == 1).fillna(False).astype(bool)
        cube.attrs["cuts"] = list(key)
        self._cubes[key] = cube
        return cube


def _in_keys(agency, route_type, keys: set) -> np.ndarray:
    """(agency, route_type) in keys, as an engine join matches: a NULL key never matches."""
    return np.array([isinstance(a, str) and isinstance(r, str) and (a, r) in keys
                     for a, r in zip(agency, route_type)], dtype=bool)


@dataclass
class PolicyFigures:
    policy: str
    title: str
    policy_hash: str
    summary: pd.DataFrame  # view x responder
    moved: pd.DataFrame  # one row per view
    by_category: pd.DataFrame
    by_hour_of_week: pd.DataFrame
    by_call_type: pd.DataFrame
    coverage: dict

    def range(self, column: str) -> tuple[float, float]:
        """(conservative, optimistic) value of a `moved` column, e.g. 'share_calls_moved'."""
        m = self.moved.set_index("view")[column]
        return float(m["conservative"]), float(m["optimistic"])


# ---------------------------------------------------------------------------- preparation

# What a call's routing and category can depend on; grouped on when present.
TYPE_KEYS = ("agency", "call_type", "call_type_code", "initial_call_type", "initial_call_type_code", "category",
             "crime_group")


def _route_type(t, route_on: str):
    """The call type used for routing: the initial type where recorded, else the final type."""
    final = t.call_type.strip()
    if route_on == "initial" and "initial_call_type" in t.columns:
        init = t.initial_call_type.strip()
        return ibis.ifelse(init.isnull() | (init == ""), final, init)
    return final


def _route(t, opts: dict, route_on: str):
    """Routing type and category, final category and group, adverse outcome: on calls or on
    groups of calls (anything with the TYPE_KEYS present and ``outcome``)."""
    from ..taxonomy import categorize

    if "category" not in t.columns:
        t = categorize(t, **opts)
    if "crime_group" not in t.columns:
        _, cat_group, _ = _taxonomy_vocab(None)
        groups = ibis.memtable(pd.DataFrame({"_fc": list(cat_group), "crime_group": list(cat_group.values())}))
        t = t.left_join(groups, t.category == groups._fc).drop("_fc")
    t = t.rename(final_category="category", final_group="crime_group")
    t = t.drop(*[c for c in ("confidence", "method", "demand_type", "detail") if c in t.columns])
    route_type = _route_type(t, route_on)
    if route_on == "initial" and "initial_call_type" in t.columns:
        init = t.initial_call_type.strip()
        use_final = init.isnull() | (init == "")
        t = categorize(t, value_column="initial_call_type", code_column="initial_call_type_code", **opts)
        t = t.mutate(route_type=route_type, route_category=ibis.ifelse(use_final, t.final_category, t.category))
        t = t.drop("category", "confidence", "method", "crime_group", "demand_type")
    else:
        t = t.mutate(route_type=route_type, route_category=t.final_category)
    adverse = (t.outcome == "arrest") | ((t.outcome == "report") & (t.final_group == ADVERSE_GROUP))
    return t.mutate(adverse=adverse.fill_null(False))


def _officer_ms(t, measure: str = DEFAULT_MEASURE, max_hours: float = MAX_CALL_HOURS):
    """Officer time of each call in whole milliseconds, or NULL where the call is left out of
    the time measure: measures.measure_ms, so these hours are the workload tables' hours."""
    return measure_ms(t, measure, max_hours)


def _officer_hours(t, measure: str = DEFAULT_MEASURE, max_hours: float = MAX_CALL_HOURS):
    return _officer_ms(t, measure, max_hours) / 3_600_000.0


def _minute_of_day(t):
    return (t.received_local.hour() * 60 + t.received_local.minute()).cast("int32")


def _group_calls(base, cuts=None, measure: str = DEFAULT_MEASURE, max_hours: float = MAX_CALL_HOURS):
    """Calls, calls with usable times and officer hours per distinct TYPE_KEYS x priority x
    origin x outcome x weekday x hour (x time window between ``cuts``): one pass, no joins."""
    t = base.mutate(_oh=_officer_ms(base, measure, max_hours), dow=base.received_local.day_of_week.index().cast("int8"),
                    hour=base.received_local.hour().cast("int8"))
    dims = [c for c in TYPE_KEYS if c in base.columns] + ["priority_rank", "origin", "outcome", "dow", "hour"]
    if cuts is not None:
        m = _minute_of_day(base)
        win = ibis.literal(0, "int16")
        for c in cuts[1:]:
            win = win + (m >= c).cast("int16")
        t = t.mutate(window=ibis.ifelse(m.isnull(), -1, win).cast("int16"))
        dims.append("window")
    # Hours from a sum of whole milliseconds: exact, so the same on every engine in any order.
    return t.group_by(dims).agg(calls=t.count(), timed=t._oh.notnull().cast("int64").sum(),
                                hours=t._oh.sum() / 3_600_000.0)


def prepare_history(calls, sensitive=None, route_on: str = "initial", *, classifier=None, model_path=None,
                    overrides=None, measure: str = DEFAULT_MEASURE, max_hours: float = MAX_CALL_HOURS) -> PreparedHistory:
    """Police calls with everything a policy decision needs; ``calls`` is a workspace or Ibis table.

    ``sensitive`` (the workspace's sensitive table) adds narrative flags; narratives are read
    in batches, in memory only, to compute flags and are never stored or returned.
    ``classifier``, ``model_path`` and ``overrides`` go to the taxonomy (a city's category
    overrides apply). A table that already has ``category`` (from ``taxonomy.categorize``)
    keeps it. One pass over the calls groups them by everything a decision or a figure needs
    (a small Arrow table the engine queries); the taxonomy then runs on those groups, not calls.
    """
    if route_on not in ("initial", "final"):
        raise ValueError("route_on must be 'initial' or 'final'")
    if not isinstance(calls, ibis.Table):
        from ..ingest.workspace import Workspace, open_dataset

        ws = calls
        con = ibis.duckdb.connect()
        calls = open_dataset(ws, con=con)
        if sensitive is None and Workspace(ws).has("sensitive"):
            sensitive = open_dataset(ws, "sensitive", con=con)
    from ..taxonomy.provider import category_provider

    opts = category_provider(model_path=model_path, overrides=overrides, classifier=classifier).table_options()
    base = calls
    if "service" in base.columns:
        base = base.filter(base.service.isnull() | (base.service == "police"))

    def materialize(expr):
        # Arrow in, Arrow out: faster here than CREATE TABLE through Ibis, and just as small.
        # Sorted, so that later float sums see the rows in one order whichever engine made them.
        tab = expr.to_pyarrow()
        return ibis.memtable(tab.sort_by([(c, "ascending") for c in tab.column_names if c not in
                                          ("calls", "timed", "hours")]))

    if MEASURES[measure].unit_weighted and "units_assigned" not in base.columns:
        raise ValueError("unit-weighted time needs the number of units per call, and this data has none")
    groups = _route(materialize(_group_calls(base, None, measure, max_hours)), opts, route_on)

    # Per call type: danger indicators (arrests, violent-crime reports) and the totals.
    g = groups
    per_type = g.group_by(["agency", "route_type"]).agg(
        calls=g.calls.sum(),
        timed=g.timed.sum(),
        hours=g.hours.sum(),
        adverse_calls=g.calls.sum(where=g.adverse),
        urgent_calls=g.calls.sum(where=g.priority_rank == 1),
        arrests=g.calls.sum(where=g.outcome == "arrest"),
        violent_reports=g.calls.sum(where=(g.outcome == "report") & g.adverse),
    ).to_pandas()
    for c in ("calls", "timed", "adverse_calls", "urgent_calls", "arrests", "violent_reports"):
        per_type[c] = per_type[c].fillna(0).astype("int64")
    flagged = per_type[["agency", "route_type", "arrests", "violent_reports"]].copy()
    flagged["narrative_danger"] = 0
    has_narr = False
    if sensitive is not None and "narrative" in sensitive.columns:
        nf = _narrative_danger(base.select("agency", "call_id", route_type=_route_type(base, route_on)), sensitive)
        if nf is not None:
            has_narr = True
            flagged = flagged.drop(columns=["narrative_danger"]).merge(nf, on=["agency", "route_type"], how="left")
            flagged["narrative_danger"] = flagged["narrative_danger"].fillna(0).astype("int64")
    flagged = flagged[(flagged.arrests > 0) | (flagged.violent_reports > 0) | (flagged.narrative_danger > 0)]
    flagged = flagged.sort_values(["agency", "route_type"], ignore_index=True)

    def per_call():
        t = _route(base, opts, route_on)
        t = t.mutate(officer_hours=_officer_hours(t, measure, max_hours), minute_of_day=_minute_of_day(t),
                     dow=t.received_local.day_of_week.index().cast("int8"),
                     hour=t.received_local.hour().cast("int8"), urgent=(t.priority_rank == 1).fill_null(False))
        t = t.select("agency", "call_id", "route_type", "route_category", "final_category", "priority_rank",
                     "origin", "outcome", "adverse", "officer_hours", "minute_of_day", "dow", "hour", "urgent")
        fm = ibis.memtable(flagged.assign(_flag=True)[["agency", "route_type", "_flag"]].rename(
            columns={"agency": "_a", "route_type": "_r"}), schema={"_a": "string", "_r": "string", "_flag": "boolean"})
        j = t.left_join(fm, [t.agency == fm._a, t.route_type == fm._r])
        return j.mutate(danger_type=j._flag.fill_null(False)).drop("_a", "_r", "_flag")

    def window_groups(cuts):
        return _route(materialize(_group_calls(base, list(cuts), measure, max_hours)), opts, route_on)

    timed = int(per_type["timed"].sum())
    in_danger = _in_keys(per_type["agency"], per_type["route_type"], set(zip(flagged["agency"], flagged["route_type"])))
    coverage = {
        "calls": int(per_type["calls"].sum()), "calls_with_usable_times": timed,
        "officer_hours": float(per_type["hours"].fillna(0.0).sum()) if timed else 0.0,
        "adverse_calls": int(per_type["adverse_calls"].sum()),
        "calls_in_danger_types": int(per_type["calls"][in_danger].sum()),
        "urgent_calls": int(per_type["urgent_calls"].sum()),
        "danger_types": len(flagged), "narrative_flags": has_narr, "route_on": route_on,
        "calls_in_dangerous_call_types": _calls_in_dangerous_types(per_type),
        "measure": measure, "measure_label": MEASURES[measure].label, "max_hours": float(max_hours),
    }
    return PreparedHistory(route_on, coverage, flagged, groups, per_call, window_groups)


def _calls_in_dangerous_types(per_type: pd.DataFrame) -> int:
    """Calls whose routing type states a danger by itself: the calls no policy can move,
    whatever its rules say."""
    from ..taxonomy.call_type_text import clean

    hit = [isinstance(rt, str) and bool(call_type_dangers(clean(rt))[0] & DANGER_BITS) for rt in per_type["route_type"]]
    return int(per_type["calls"][np.array(hit, dtype=bool)].sum()) if len(per_type) else 0


NARRATIVE_BATCH = 100_000  # rows per batch read from the engine
NARRATIVE_MEMO = 200_000  # distinct narratives whose flag is remembered across batches
NARRATIVE_CHUNK = 1_000_000  # narratives joined to their calls at a time (the join's memory)


def _record_batches(expr, size: int):
    """Stream an expression's rows as Arrow record batches (bounded memory)."""
    con = expr.get_backend()
    if con.name != "duckdb":
        yield from expr.to_pyarrow_batches(chunk_size=size)
        return
    # What Ibis's to_pyarrow_batches does, through DuckDB's relation API, which streams
    # (Ibis 12 calls fetch_record_batch on the connection, which DuckDB 2 no longer has).
    hooks = getattr(con, "_run_pre_execute_hooks", None)  # registers in-memory tables; private in Ibis
    if hooks is not None:
        hooks(expr)
    rel = con.con.sql(con.compile(expr))
    yield from rel.to_arrow_reader(size) if hasattr(rel, "to_arrow_reader") else rel.fetch_record_batch(size)


def _narrative_danger(t, sensitive) -> pd.DataFrame | None:
    """Per (agency, route_type): calls whose narrative shows a weapon or violence.

    Narratives stream from the engine in batches; each distinct text in a batch is flagged
    once, and a bounded memo spares repeats across batches. The join of narratives to their
    calls (whose hash table may hold the narratives) runs on one slice of call ids at a time,
    about NARRATIVE_CHUNK narratives each, so memory stays flat however many there are. Only
    the weapon and violence flags are evaluated. In memory only.
    """
    from ..taxonomy.narrative import load_flags, narrative_flags

    fs = load_flags()
    wanted = tuple(f for f in fs.flags if f.name in ("weapon", "violence"))
    if not wanted:
        raise RuntimeError("taxonomy.narrative_flags() returned neither 'weapon' nor 'violence'")
    fs = replace(fs, flags=wanted)
    s = sensitive.filter(sensitive.narrative.notnull()).select(
        _a=sensitive.agency, _id=sensitive.call_id, _n=sensitive.narrative)
    n = int(s.count().execute())
    if not n:
        return None
    slices = -(-n // NARRATIVE_CHUNK)
    t = t.select("agency", "call_id", "route_type")

    def sliced(tab, col, k):
        # Ibis reads the 64-bit hash as signed: fold negative remainders back into 0..slices-1.
        return tab if slices == 1 else tab.filter((tab[col].hash() % slices + slices) % slices == k)

    def batches():
        for k in range(slices):
            a, b = sliced(t, "call_id", k), sliced(s, "_id", k)
            j = a.join(b, [a.agency == b._a, a.call_id == b._id])
            yield from _record_batches(j.select("agency", "route_type", "_n"), NARRATIVE_BATCH)

    memo: dict[str, bool] = {}
    parts = []
    rows = 0
    for batch in batches():
        if not batch.num_rows:
            continue
        rows += batch.num_rows
        texts = batch.column("_n")
        uniq = pc.unique(texts).to_pylist()
        look = {x: memo[x] for x in uniq if x in memo}
        todo = [x for x in uniq if x not in look]
        if todo:
            hit = narrative_flags(todo, fs).fillna(False).astype(bool).any(axis=1).to_numpy().tolist()
            look.update(zip(todo, hit))
            if len(memo) + len(todo) > NARRATIVE_MEMO:
                memo.clear()
            memo.update(zip(todo, hit))
        danger = [x for x in uniq if look[x]]
        if danger:  # only calls with a flagged narrative count; the rest add zeros
            hits = batch.filter(pc.is_in(texts, value_set=pa.array(danger, type=texts.type)))
            df = hits.select(["agency", "route_type"]).to_pandas()
            parts.append(df.groupby(["agency", "route_type"], dropna=False, as_index=False).size())
    if not rows:
        return None
    if not parts:
        return pd.DataFrame({"agency": pd.Series(dtype=object), "route_type": pd.Series(dtype=object),
                             "narrative_danger": pd.Series(dtype="int64")})
    out = pd.concat(parts, ignore_index=True)
    return out.groupby(["agency", "route_type"], dropna=False, as_index=False)["size"].sum().rename(
        columns={"size": "narrative_danger"})


# ---------------------------------------------------------------------------- decisions

def _time_cuts(policy: Policy) -> tuple[list[int], bool]:
    hours = [c.time for r in policy.rules for c in r.clauses if c.time is not None]
    hours += [r.hours for r in policy.responders.values()]
    cuts = set()
    for h in hours:
        cuts |= h.breakpoints()
    return sorted(cuts), any(h.day_specific for h in hours)


KEY_COLS = ["_krt", "_kcat", "_kpri", "_korg", "_katom", "_kdow", "_kdanger"]
DECISION_COLS = ["rule_optimistic", "responder_optimistic", "co_responder_optimistic",
                 "rule_conservative", "responder_conservative", "co_responder_conservative"]


def _keyed(policy: Policy, t):
    """The calls with the policy's decision key: everything its answer can depend on."""
    cuts, by_day = _time_cuts(policy)
    atom = ibis.literal(0, "int16")
    for c in cuts[1:]:
        atom = atom + (t.minute_of_day >= c).cast("int16")
    return t.mutate(
        _katom=ibis.ifelse(t.minute_of_day.isnull(), -1, atom).cast("int16"),
        _kdow=(t.dow if by_day else ibis.literal(-1)).fill_null(-1).cast("int8"),
        _kpri=t.priority_rank.fill_null(-1).cast("int32"),
        _korg=t.origin.fill_null(_NULL),
        _krt=t.route_type.fill_null(_NULL),
        _kcat=t.route_category.fill_null(_NULL),
        _kdanger=(t.danger_type | t.urgent),
    ), cuts


def _decide(policy: Policy, keys: pd.DataFrame, cuts: list[int]) -> pd.DataFrame:
    """Both views' decision for each distinct key (a few hundred rows, not one per call), by
    the engine's own decision (CompiledPolicy.decide): the danger the call type states, the
    rules, and the safety floor. Optimistic: the screen passed; conservative: weapon and
    violence set for the call types history marks as dangerous."""
    cp: CompiledPolicy = compiled(policy)
    keys = keys[KEY_COLS].drop_duplicates(ignore_index=True)
    out = []
    for rt, cat, pri, org, a, d, danger in keys.itertuples(index=False):
        rt = None if rt == _NULL else rt
        cat = None if cat == _NULL else cat
        pri = None if pri == -1 else int(pri)
        org = None if org == _NULL else org
        minute = None if a == -1 else cuts[int(a)]
        dow = None if d == -1 else int(d)
        texts, tbits, _ = cp.typed(rt)
        k, resp, co, _, _, _ = cp.decide(cat, texts, pri, org, dow, minute, tbits)
        c_k, c_resp, c_co = k, resp, co
        if danger and resp not in cp.police:
            c_k, c_resp, c_co, _, _, _ = cp.decide(cat, texts, pri, org, dow, minute, tbits | WEAPON_OR_VIOLENCE)
        out.append((cp.rules[k][0].id, resp, co, cp.rules[c_k][0].id, c_resp, c_co))
    return pd.concat([keys, pd.DataFrame(out, columns=DECISION_COLS)], axis=1)


def _prepared(calls) -> PreparedHistory:
    return calls if isinstance(calls, PreparedHistory) else prepare_history(calls)


def apply_policy(policy, prep) -> ibis.Table:
    """Every historical call with the responder the policy recommends, in both views (Ibis table).

    ``prep``: a PreparedHistory (reuse it across policies), a workspace or an Ibis table.
    """
    policy = load_policy(policy)
    prep = _prepared(prep)
    t, cuts = _keyed(policy, prep.calls)
    dec = _decide(policy, t.select(*KEY_COLS).distinct().to_pandas(), cuts)
    mem = ibis.memtable(dec.rename(columns={k: k + "_d" for k in KEY_COLS}))
    j = t.join(mem, [t[k] == mem[k + "_d"] for k in KEY_COLS])
    return j.drop(*KEY_COLS, *[k + "_d" for k in KEY_COLS])


# ---------------------------------------------------------------------------- figures

def _cube(policy: Policy, prep: PreparedHistory) -> pd.DataFrame:
    """Calls and hours per decision key x category x hour of week x outcome, decisions attached.

    A re-aggregation of the prepared cube (one engine pass shared by every policy whose time
    windows it resolves); the policy is evaluated once per distinct key, not per call.
    """
    cuts, by_day = _time_cuts(policy)
    cube = prep.cube(cuts)
    ucuts = np.asarray(cube.attrs["cuts"])
    w = cube["window"].to_numpy()
    # The cube's windows refine the policy's: each lies inside exactly one of the policy's.
    atom = np.searchsorted(np.asarray(cuts), ucuts[np.clip(w, 0, None)], side="right") - 1
    keyed = pd.DataFrame({
        "_krt": cube["route_type"].fillna(_NULL),
        "_kcat": cube["route_category"].fillna(_NULL),
        "_kpri": cube["priority_rank"].fillna(-1).astype("int32"),
        "_korg": cube["origin"].fillna(_NULL),
        "_katom": np.where(w < 0, -1, atom).astype("int16"),
        "_kdow": (cube["dow"].fillna(-1) if by_day else pd.Series(-1, index=cube.index)).astype("int8"),
        "_kdanger": cube["danger_type"] | cube["urgent"],
    })
    # Each distinct key decided once; groups are numbered in order of first appearance, as
    # _decide lists the keys, so its rows are taken back by group number (no merge).
    dec = _decide(policy, keyed, cuts)
    codes = keyed.groupby(KEY_COLS, sort=False).ngroup().to_numpy()
    assert codes.max(initial=-1) + 1 == len(dec)
    cols = ["agency", "route_type", "route_category", "adverse", "dow", "hour", "danger_type", "calls", "hours"]
    return pd.concat([cube[cols].reset_index(drop=True),
                      dec[DECISION_COLS].iloc[codes].reset_index(drop=True)], axis=1)


def _moved_row(cube: pd.DataFrame, police: set, view: str) -> pd.DataFrame:
    """One view's totals: calls and hours moved from police, misroutes, changed responses."""
    c = cube
    resp, co = c[f"responder_{view}"], c[f"co_responder_{view}"]
    moved = ~resp.isin(police)
    changed = (resp != "police") | co.notna()
    mv = c[moved]
    return pd.DataFrame([{
        "view": view, "calls": int(c.calls.sum()), "calls_moved": int(mv.calls.sum()),
        "hours": float(c.hours.sum()), "hours_moved": float(mv.hours.sum()),
        "diverted_adverse": int(mv.calls[mv.adverse].sum()),
        "calls_changed": int(c.calls[changed].sum()), "calls_co_response": int(c.calls[co.notna()].sum()),
    }])


def _moved_frame(rows: list[pd.DataFrame]) -> pd.DataFrame:
    moved = pd.concat(rows, ignore_index=True)
    moved["share_calls_moved"] = moved.calls_moved / moved.calls.where(moved.calls > 0)
    moved["share_hours_moved"] = moved.hours_moved / moved.hours.where(moved.hours > 0)
    moved["misroute_risk"] = moved.diverted_adverse / moved.calls_moved.where(moved.calls_moved > 0)
    moved["share_calls_changed"] = moved.calls_changed / moved.calls.where(moved.calls > 0)
    return moved


def policy_figures(policy, prep) -> PolicyFigures:
    """Shares of calls and officer hours per responder, by category and hour of week, in both views.

    ``prep``: a PreparedHistory (reuse it across policies), a workspace or an Ibis table.
    """
    policy = load_policy(policy)
    prep = _prepared(prep)
    cube = _cube(policy, prep)
    police = {r for r in RESPONDERS if policy.responders[r].police}
    kinds = {r: policy.responders[r].kind for r in RESPONDERS}
    total_calls = prep.coverage["calls"]
    total_hours = prep.coverage["officer_hours"]
    parts = {k: [] for k in ("summary", "moved", "by_category", "by_hour_of_week")}
    for view in VIEWS:
        c = cube.assign(view=view, responder=cube[f"responder_{view}"])
        s = c.groupby(["view", "responder"], as_index=False)[["calls", "hours"]].sum()
        parts["summary"].append(s)
        parts["moved"].append(_moved_row(cube, police, view))
        parts["by_category"].append(c.groupby(["view", "route_category", "responder"], dropna=False, as_index=False)[["calls", "hours"]].sum())
        parts["by_hour_of_week"].append(c.groupby(["view", "dow", "hour", "responder"], as_index=False)[["calls", "hours"]].sum())

    summary = pd.concat(parts["summary"], ignore_index=True)
    summary["kind"] = summary.responder.map(kinds)
    summary["share_calls"] = summary.calls / total_calls if total_calls else float("nan")
    summary["share_hours"] = summary.hours / total_hours if total_hours else float("nan")
    summary = summary.sort_values(["view", "calls"], ascending=[True, False], ignore_index=True)

    moved = _moved_frame(parts["moved"])

    bc = pd.concat(parts["by_category"], ignore_index=True).rename(columns={"route_category": "category"})
    bc["category"] = bc.category.fillna("(unclassified)")
    bc["share_of_category_calls"] = bc.calls / bc.groupby(["view", "category"]).calls.transform("sum")
    bc = bc.sort_values(["view", "category", "calls"], ascending=[True, True, False], ignore_index=True)

    bh = pd.concat(parts["by_hour_of_week"], ignore_index=True)
    bh = bh.sort_values(["view", "dow", "hour", "responder"], ignore_index=True)

    ct = cube.groupby(["agency", "route_type", "route_category", "responder_optimistic", "responder_conservative",
                       "danger_type"], dropna=False, as_index=False)[["calls", "hours"]].sum()
    ct = ct.rename(columns={"route_type": "call_type", "route_category": "category"})
    ct = ct.sort_values(["calls", "call_type"], ascending=[False, True], ignore_index=True)

    return PolicyFigures(policy.id, policy.title, policy.hash, summary, moved, bc, bh, ct, dict(prep.coverage))


TOP_TYPES = 10


def _top_moved(cube: pd.DataFrame, police: set, n: int = TOP_TYPES) -> pd.DataFrame:
    """The ``n`` call types that move the most calls away from police (optimistic view): calls
    and officer hours moved, calls moved in the conservative view, and the responder most of
    them go to. ``calls`` is named so that published copies suppress small rows whole."""
    cols = ["rank", "agency", "call_type", "category", "calls", "hours", "calls_conservative", "responder"]
    opt = cube[~cube["responder_optimistic"].isin(police)]
    if opt.empty:
        return pd.DataFrame(columns=cols)
    keys = ["agency", "route_type"]
    top = opt.groupby(keys, dropna=False).agg(calls=("calls", "sum"), hours=("hours", "sum"),
                                              category=("route_category", "first")).reset_index()
    by_resp = opt.groupby(keys + ["responder_optimistic"], dropna=False)["calls"].sum().reset_index()
    by_resp = by_resp.sort_values(["calls", "responder_optimistic"], ascending=[False, True], kind="mergesort")
    main = by_resp.drop_duplicates(keys).rename(columns={"responder_optimistic": "responder"})[keys + ["responder"]]
    cons = cube[~cube["responder_conservative"].isin(police)].groupby(keys, dropna=False)["calls"].sum()
    top = top.merge(main, on=keys, how="left")
    top["calls_conservative"] = [int(cons.get((a, r), 0)) for a, r in zip(top["agency"], top["route_type"])]
    top = top.sort_values(["calls", "route_type"], ascending=[False, True], kind="mergesort").head(n)
    top = top.rename(columns={"route_type": "call_type"}).reset_index(drop=True)
    top["calls"] = top["calls"].astype("int64")
    top["category"] = top["category"].astype(object).where(top["category"].notna(), None)
    top["rank"] = range(1, len(top) + 1)
    return top[cols]


def compare_policies(calls, policies=None, sensitive=None, route_on: str = "initial", **options) -> pd.DataFrame:
    """One row per policy: share of calls and officer hours moved away from police, as a
    conservative-optimistic range, with the misroute risk and the policy's published anchors.
    ``calls``: workspace, Ibis table or PreparedHistory; ``policies``: names, files or Policy
    objects (default: every preset); ``options``: prepare_history's (taxonomy, ``measure``,
    ``max_hours``). ``attrs``: ``coverage``; ``top_call_types``, per policy the call types that
    move the most calls (records); ``anchors``, per policy its published figures."""
    prep = calls if isinstance(calls, PreparedHistory) else prepare_history(calls, sensitive, route_on, **options)
    pols = [load_policy(p) for p in (policies or list_presets())]
    prep.cube(sorted({c for pol in pols for c in _time_cuts(pol)[0]}))  # one engine pass serves every policy
    rows, tops = [], []
    for pol in pols:
        # Only the totals policy_figures would compute (by category, hour and call type are
        # not part of the comparison).
        cube = _cube(pol, prep)
        police = {r for r in RESPONDERS if pol.responders[r].police}
        m = _moved_frame([_moved_row(cube, police, view) for view in VIEWS]).set_index("view")
        row = {"policy": pol.id, "title": pol.title, "policy_hash": pol.hash, "calls": int(m.loc["optimistic", "calls"]),
               "officer_hours": float(m.loc["optimistic", "hours"])}
        for col in ("calls_moved", "share_calls_moved", "hours_moved", "share_hours_moved", "misroute_risk",
                    "share_calls_changed"):
            row[f"{col}_low"] = m.loc["conservative", col]
            row[f"{col}_high"] = m.loc["optimistic", col]
        rows.append(row)
        tops += [{"policy": pol.id, **r} for r in _top_moved(cube, police).to_dict("records")]
    out = pd.DataFrame(rows)
    # attrs hold JSON-ready values only (pandas writes them into Parquet metadata).
    out.attrs["coverage"] = dict(prep.coverage)
    out.attrs["top_call_types"] = tops
    out.attrs["anchors"] = {pol.id: [dict(a) for a in pol.anchors] for pol in pols}
    return out
