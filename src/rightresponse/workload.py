"""Workload measures: where calls and officer time go.

Written once as Ibis expressions so the same code runs on DuckDB (the default) and on any
other Ibis backend (Spark for a region that outgrows one machine). The one DuckDB-specific
piece is a faster form of a duration, used only on DuckDB (``measures.millis``). What each
time measure and interval is, and when a call is left out of one, is ``measures``.

Cost model: the calls are scanned a handful of times, not once per table. One pass builds
a "cube" (calls and seconds per call type x origin x priority x outcome x exclusion reason,
a few thousand rows); categories are joined onto the cube rather than onto every call, and
every category, roll-up, origin, priority, outcome, call-type and coverage table is a
re-aggregation of it. Only what cannot be rolled up from it (response-time quantiles, hour of
week and geography, repeat locations) takes its own pass.

Every time measure states its coverage: how many calls in scope had the timestamps it
needs, and how many were excluded and why. Rows with ``time_issue`` set are excluded from
all time measures (they are kept in call counts); durations over ``max_hours`` are counted
as outliers and excluded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from .errors import RightResponseError
from .measures import (DEFAULT_MEASURE, EXCLUSION_CODES, INTERVALS, MEASURES, XBITS, decode_exclusions, durations,
                       exclusion_code, exclusion_reason, is_duckdb, measured, millis, reason_text)
from .schema import CHANNEL_311, DEFAULT_CHANNEL, MAX_CALL_HOURS


# Calls from the public, whatever the channel. "other" (CAD-to-CAD transfers, radio traffic,
# teletype messages) and "unknown" are neither the public nor an officer on view.
RESIDENT_ORIGINS = ("911", "non_emergency_phone", "alarm", "text", "walk_in", "online")
ORIGIN_GROUPS = {"resident": "resident-initiated", "officer": "officer-initiated", "unknown": "other or unknown origin"}
OUTCOME_ORDER = ("arrest", "report", "no_action", "unfounded", "cancelled", "other", "unknown")
UNCATEGORIZED = "Uncategorized"


class WorkloadError(RightResponseError, ValueError):
    """The data cannot support what was asked (e.g. unit-weighted time without unit counts)."""


CATEGORY_COLUMNS = ("category", "crime_group", "demand_type", "method", "confidence")


def _category_defaults(t):
    """Accept the taxonomy's column names, whichever spelling; add neutral defaults if absent."""
    cols = set(t.columns)
    add = {}
    if "category" not in cols:
        add["category"] = ibis.literal(UNCATEGORIZED)
    if "crime_group" not in cols:
        add["crime_group"] = ibis.null("string")
    if "demand_type" not in cols:
        add["demand_type"] = ibis.null("string")
    if "category_confidence" in cols and "confidence" not in cols:
        add["confidence"] = t.category_confidence.cast("float64")
    elif "confidence" not in cols:
        add["confidence"] = ibis.null("float64")
    if "method" not in cols:
        add["method"] = ibis.null("string")
    t = t.mutate(**add) if add else t
    return t.mutate(category=t.category.fill_null(UNCATEGORIZED))


def _is_categorized(t) -> bool:
    return "category" in t.columns


def prepare(calls, service: str | None = "police", max_hours: float = MAX_CALL_HOURS, portable: bool | None = None,
            units: bool = True):
    """Calls in scope with derived columns: origin group, hour of week, and per measure the
    duration in seconds (``sec_<m>``; ``ms_<m>``: the same in whole milliseconds, as float64,
    which the tables sum) or the reason it is excluded (``excl_<m>``).

    ``portable``: compile durations for any backend (default: only when not on DuckDB).
    ``units=False``: the data has no unit counts, so unit-weighted time is NULL without work."""
    if portable is None:
        portable = not is_duckdb(calls)
    t = calls if "units_assigned" in calls.columns else calls.mutate(units_assigned=ibis.null("int32"))
    if _is_categorized(t):
        t = _category_defaults(t)
    if service:
        t = t.filter(t.service == service)
    max_s = float(max_hours) * 3600.0
    og = t.origin
    derived = {
        "origin_group": ibis.cases(
            (og == "officer_initiated", "officer"),
            (og.isin(list(RESIDENT_ORIGINS)), "resident"),
            else_="unknown",
        ),
        "outcome": t.outcome.fill_null("unknown"),
        "dow": t.received_local.day_of_week.index(),
        "hour": t.received_local.hour(),
    }
    # Two stages: raw durations first, then exclusions over those columns. Each duration is
    # written once in the plan instead of once per reference (much faster to compile).
    pairs = {(m.start, m.end) for m in MEASURES.values()} | {(a, b) for a, b, _ in INTERVALS.values()}
    # Whole milliseconds held in a float64: every partial sum of them is an integer below 2**53
    # (about 2.5 billion hours), so sums are exact in any order (the same on every engine) and
    # as fast as a float sum (an int64 sum is a 128-bit sum in DuckDB, ~10% slower).
    t = t.mutate(**derived, **{f"_d_{a}_{b}": millis(t, a, b, portable) for a, b in sorted(pairs)})
    max_ms = max_s * 1000.0
    final = {}
    xcode = ibis.literal(0, "int32")
    for i, (name, a, b, weighted) in enumerate(durations()):
        ms = t[f"_d_{a}_{b}"]
        if weighted and not units:
            final[f"excl_{name}"] = ibis.literal("missing_units")
            final[f"sec_{name}"] = ibis.null("float64")
            final[f"ms_{name}"] = ibis.null("float64")
            xcode = xcode + ibis.literal(EXCLUSION_CODES["missing_units"] << (XBITS * i), "int32")
            continue
        final[f"excl_{name}"] = exclusion_reason(t, a, b, ms, max_ms, units=weighted)
        xcode = xcode + exclusion_code(t, a, b, ms, max_ms, units=weighted).cast("int32") * (1 << (XBITS * i))
        final[f"ms_{name}"] = measured(t, a, b, ms, max_ms, weighted)
        final[f"sec_{name}"] = final[f"ms_{name}"] / 1000.0
    return t.mutate(**final, xcode=xcode)


def _with_origin_group(df: pd.DataFrame) -> pd.DataFrame:
    """``origin_group`` on cube rows, as prepare() derives it per call."""
    og = df["origin"]
    df["origin_group"] = np.select([og == "officer_initiated", og.isin(list(RESIDENT_ORIGINS))],
                                   ["officer", "resident"], "unknown")
    return df


def _time_aggs(t):
    out = {"calls": t.count()}
    for m in MEASURES:
        out[f"n_{m}"] = t[f"ms_{m}"].count()
        out[f"s_{m}"] = t[f"ms_{m}"].sum()  # exact: integer milliseconds (see prepare)
    return out


# The cube: calls and seconds per call type, origin, priority, outcome and exclusion reason.
# Categories are joined onto it (a few thousand rows) rather than onto every call.
CUBE_KEYS = ("agency", "channel", "call_type", "call_type_code", "origin_group", "origin", "priority_rank",
             "outcome", "time_issue")
EXCL_KEYS = ("origin_group",) + tuple(f"excl_{k}" for k in (*MEASURES, *INTERVALS))


def expressions(t) -> dict:
    """The engine passes over prepared calls ``t`` (see :func:`prepare`), as Ibis expressions.

    Exposed so they can be compiled for another backend (``ibis.to_sql(expr, dialect=...)``)
    or run there directly.
    """
    pub = t.filter(t.origin_group != "officer")
    rt = {"calls": pub.count()}
    for k in INTERVALS:
        col = pub[f"sec_{k}"]
        rt[f"n_{k}"] = col.count()
        rt[f"q_{k}"] = col.quantile([0.5, 0.9])  # one state for both quantiles (seconds)
        rt[f"max_{k}"] = col.max()  # all zero: the source does not record the two times apart
    # origin_group and the exclusion reasons are functions of origin, time_issue and the
    # packed xcode: grouping on those is cheaper; compute() decodes them on the cube rows.
    keys = [k for k in CUBE_KEYS if k in t.columns and k != "origin_group"] + ["xcode"]
    aggs = _time_aggs(t)
    if _is_categorized(t):  # categorized already: carry the categories through the cube
        keys += [c for c in CATEGORY_COLUMNS if c != "confidence"]
        aggs["confidence"] = t.confidence.max()
    return {
        "cube": t.group_by(keys).agg(**aggs),
        "response_times": pub.group_by("priority_rank").agg(**rt),
        "when_where": t.group_by(["dow", "hour", "district", "beat"]).agg(**_time_aggs(t)),
    }


@dataclass
class WorkloadTables:
    """The analysis tables (pandas DataFrames) plus coverage notes for each."""

    measure: str
    service: str | None
    max_hours: float
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    analyst: dict[str, pd.DataFrame] = field(default_factory=dict)  # sensitive: never in the report
    notes: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


def compute(calls, measure: str = DEFAULT_MEASURE, service: str | None = "police",
            max_hours: float = MAX_CALL_HOURS, sensitive=None, top_locations: int = 50,
            step=None, categorize=None, scope: pd.DataFrame | None = None) -> WorkloadTables:
    """All workload tables for ``calls`` (an Ibis table).

    ``calls`` either carries categories already (``category`` and roll-ups, e.g. from
    ``rightresponse.taxonomy.categorize``) or ``categorize`` is given: a function of an Ibis
    table with agency/call_type/call_type_code that adds them. It is then applied to the
    cube (one row per call type x origin x priority x outcome), which is far cheaper than
    joining every call. ``sensitive``: the workspace's sensitive table, for the analyst-only
    repeat-location table. ``step(name)``: progress callback, called once per engine pass.
    ``scope``: the result of :func:`scope_table` on ``calls`` if the caller has it already
    (saves a pass).
    """
    if measure not in MEASURES:
        raise WorkloadError(f"unknown time measure {measure!r}; measures: {', '.join(MEASURES)}")
    step = step or (lambda name: None)
    m = MEASURES[measure]
    out = WorkloadTables(measure=measure, service=service, max_hours=max_hours)

    # 0. Scope: every service, before filtering, so the report can say what was left out.
    step("scope")
    sc = (scope if scope is not None else scope_table(calls)).copy()
    has_units = bool(sc["units"].sum() > 0)
    sc = sc.drop(columns="units")
    sc["in_scope"] = (sc["service"] == service) if service else True
    out.tables["scope"] = sc
    if m.unit_weighted and not has_units:
        raise WorkloadError(
            "unit-weighted time needs the number of units per call, and this data has none; "
            "use measure='deployed' or 'on_scene'"
        )
    t = _as_view(prepare(calls, service=service, max_hours=max_hours, units=has_units))
    ex = expressions(t)

    # 1. The cube, cached in the engine, categorized (a join on a few thousand rows, not on
    #    every call) and brought back: coverage and most tables re-aggregate it locally.
    step("cube")
    cube = ex["cube"].cache()
    try:
        step("categories")
        tagged = cube if _is_categorized(cube) else (categorize(cube) if categorize else cube)
        cube_df = _with_origin_group(decode_exclusions(_category_defaults(tagged).to_pandas()))
    finally:
        _release(cube)
    excl = cube_df.groupby(list(EXCL_KEYS), dropna=False)["calls"].sum().reset_index()
    out.tables["coverage"] = _coverage_table(excl)
    ti = cube_df[cube_df["time_issue"].notna()].groupby("time_issue")["calls"].sum().reset_index()
    out.tables["time_issues"] = ti.sort_values(["calls", "time_issue"], ascending=[False, True], ignore_index=True)
    total = int(excl["calls"].sum())
    if m.unit_weighted and not _measured(out.tables["coverage"], measure):
        raise WorkloadError(
            "unit-weighted time needs the number of units per call, and this data has none; "
            "use measure='deployed' or 'on_scene'"
        )
    _from_cube(out, cube_df, measure)

    # 3. Response times by priority (calls from the public; quantiles cannot roll up).
    step("response times")
    out.tables["response_times"] = _response_times(ex["response_times"].to_pandas())

    # 4. Hour of week (local wall clock) and geography, from one pass.
    step("hour of week and geography")
    hg = ex["when_where"].to_pandas()
    hg[["dow", "hour"]] = hg[["dow", "hour"]].astype("int64")  # engines differ in the integer width
    hw = hg.groupby(["dow", "hour"])[_agg_cols()].sum().reset_index()
    out.tables["hour_of_week"] = _finish(hw, measure, ["dow", "hour"], shares=False).sort_values(
        ["dow", "hour"], ignore_index=True)
    for col in ("district", "beat"):
        g = hg.groupby(col, dropna=False)[_agg_cols()].sum().reset_index()
        out.tables[f"by_{col}"] = _finish(g, measure, [col]).sort_values(
            ["calls", col], ascending=[False, True], ignore_index=True)

    # 6. Repeat locations: analyst-only (addresses), never written into the report.
    if sensitive is not None:
        step("repeat locations")
        sc = out.tables["scope"]
        out.analyst["repeat_locations"] = _repeat_locations(t, sensitive, measure, top_locations,
                                                            all_in_scope=bool(sc["in_scope"].all()))

    out.notes = coverage_notes(out.tables["coverage"], measure, total)
    return out


def _as_view(t):
    """The prepared calls as a view in their engine, so each pass compiles a small query over
    it instead of re-translating the whole derivation (Ibis compilation was ~15% of a run at
    2M calls). DuckDB only (an in-memory view that dies with the connection); on another
    backend a view would outlive the run in the user's database, so the expression is used."""
    if not is_duckdb(t):
        return t
    try:
        con = t._find_backend()
        name = f"rr_prepared_{uuid.uuid4().hex[:12]}"
        con.create_view(name, t, overwrite=True)
        return con.table(name)
    except Exception:  # pragma: no cover - a view that cannot be created: run the expression
        return t


def scope_table(calls) -> pd.DataFrame:
    """Calls per service (every service, before filtering) with the first and last received
    time, the number of calendar weeks (Monday to Sunday, local time) with at least one call,
    and how many calls record a unit count: one pass. A sample with gaps (Seattle's spans
    14 years in 61 weeks) is described by the weeks it has, not by its first and last day."""
    units = calls.units_assigned.count() if "units_assigned" in calls.columns else calls.count() * 0
    df = (calls.group_by("service")
          .agg(calls=calls.count(), first_received=calls.received_local.min(),
               last_received=calls.received_local.max(), weeks_with_calls=calls.received_local.truncate("W").nunique(),
               units=units)
          .order_by([ibis.desc("calls"), "service"]).to_pandas())
    df["weeks_with_calls"] = df["weeks_with_calls"].astype("int64")
    return df


def _release(t) -> None:
    try:
        t.release()
    except Exception:  # pragma: no cover - backends without release
        pass


def _agg_cols():
    return ["calls"] + [f"{p}_{m}" for m in MEASURES for p in ("n", "s")]


def _finish(df: pd.DataFrame, measure: str, keys: list[str], shares: bool = True, within: str | None = None) -> pd.DataFrame:
    """Aggregated counts and seconds -> calls, shares, hours under each measure."""
    df = df.copy()
    df["calls"] = df["calls"].astype("int64")
    ms = df[f"s_{measure}"].fillna(0).astype("int64")  # exact milliseconds: shares independent of row order
    for mm in MEASURES:
        df[f"calls_timed_{mm}"] = df.pop(f"n_{mm}").fillna(0).astype("int64")
        df[f"hours_{mm}"] = df.pop(f"s_{mm}").fillna(0).astype("float64") / 3_600_000.0  # from ms
    df["calls_timed"] = df[f"calls_timed_{measure}"]
    df["hours"] = df[f"hours_{measure}"]
    df["mean_minutes"] = (df["hours"] * 60.0 / df["calls_timed"].where(df["calls_timed"] > 0)).astype("float64")
    if shares:
        grp = df.groupby(within) if within else None
        tot_c = grp["calls"].transform("sum") if grp is not None else df["calls"].sum()
        tot_ms = ms.groupby(df[within]).transform("sum") if grp is not None else ms.sum()
        df["share_calls"] = df["calls"] / tot_c
        df["share_time"] = (ms / tot_ms).astype("float64") if (grp is not None or tot_ms > 0) else float("nan")
    lead = keys + ["calls"] + (["share_calls"] if shares else []) + ["calls_timed", "hours"] + (
        ["share_time"] if shares else []) + ["mean_minutes"]
    rest = [c for c in df.columns if c not in lead]
    return df[lead + rest]


def _from_cube(out: WorkloadTables, cube: pd.DataFrame, measure: str) -> None:
    """Every category, roll-up, origin, priority, outcome and call-type table, re-aggregated
    from the (small) cube the engine produced."""
    cube = cube.copy()
    cube["confidence"] = pd.to_numeric(cube["confidence"], errors="coerce").astype("float64")
    sums = _agg_cols()

    def agg(keys):
        return cube.groupby(keys, dropna=False, sort=False)[sums].sum().reset_index()

    tb = out.tables
    cat = _finish(agg(["category", "crime_group", "demand_type"]), measure, ["category", "crime_group", "demand_type"])
    tb["by_category"] = cat.sort_values(["hours", "calls", "category"], ascending=[False, False, True], ignore_index=True)
    for col in ("crime_group", "demand_type"):
        tb[f"by_{col}"] = _finish(agg([col]), measure, [col]).sort_values(
            ["hours", "calls", col], ascending=[False, False, True], ignore_index=True)

    og = _finish(agg(["origin_group", "origin"]), measure, ["origin_group", "origin"])
    tb["by_origin"] = og.sort_values(["calls", "origin_group", "origin"], ascending=[False, True, True],
                                     ignore_index=True)
    grp = _finish(agg(["origin_group"]), measure, ["origin_group"])
    tb["by_origin_group"] = grp.sort_values(["calls", "origin_group"], ascending=[False, True], ignore_index=True)

    # Category by origin: apart (within each origin group) and together ("all").
    co = _finish(agg(["origin_group", "category"]), measure, ["origin_group", "category"], within="origin_group")
    allrows = tb["by_category"].drop(columns=["crime_group", "demand_type"]).assign(origin_group="all")
    tb["by_category_origin"] = pd.concat([allrows[co.columns], co], ignore_index=True).sort_values(
        ["origin_group", "hours", "category"], ascending=[True, False, True], ignore_index=True)

    _channel_tables(tb, cube, agg, measure)

    pr = _finish(agg(["priority_rank"]), measure, ["priority_rank"])
    tb["by_priority"] = pr.sort_values("priority_rank", ignore_index=True, na_position="last")

    wide = cube.pivot_table(index="category", columns="outcome", values="calls", aggfunc="sum", fill_value=0)
    for o in OUTCOME_ORDER:
        if o not in wide.columns:
            wide[o] = 0
    wide = wide[list(OUTCOME_ORDER)].astype("int64")
    wide.insert(0, "calls", wide.sum(axis=1))
    tb["outcomes"] = wide.reset_index().sort_values(["calls", "category"], ascending=[False, True], ignore_index=True)
    tb["outcomes"].columns.name = None

    g = cube.groupby(["agency", "call_type", "category", "method"], dropna=False, sort=False)
    ct = g[sums].sum().join(g["confidence"].max()).reset_index()
    ct = _finish(ct, measure, ["agency", "call_type", "category", "method", "confidence"])
    # Ties broken on every key, so the order (and the cumulative share) is the same on any engine.
    ct = ct.sort_values(["hours", "calls", "call_type", "agency", "category", "method"],
                        ascending=[False, False, True, True, True, True], ignore_index=True)
    tot_h = ct["hours"].sum()
    ct["cum_share_time"] = ct["hours"].cumsum() / tot_h if tot_h > 0 else float("nan")
    # The call types that together account for 80% of time: up to and including the one that crosses 80%.
    prev = ct["cum_share_time"].shift(fill_value=0.0)
    ct["top80"] = (prev < 0.8) & (tot_h > 0)
    tb["by_call_type"] = ct
    tb["lorenz"] = lorenz(ct["hours"].to_numpy(), ct["calls"].to_numpy())


def _channel_tables(tb: dict, cube: pd.DataFrame, agg, measure: str) -> None:
    """Where 311 requests are in scope: calls and time by channel, by category and channel
    (within each channel, and "all"), and the 311 request types in scope, most calls first
    (with the default service, police, these are the police work that arrives by 311). Not
    made for CAD data alone: there every figure would repeat by_category's."""
    channels = set(cube["channel"].dropna()) if "channel" in cube.columns else set()
    if channels <= {DEFAULT_CHANNEL}:
        return
    tb["by_channel"] = _finish(agg(["channel"]), measure, ["channel"]).sort_values(
        ["calls", "channel"], ascending=[False, True], ignore_index=True)
    cc = _finish(agg(["channel", "category"]), measure, ["channel", "category"], within="channel")
    allrows = tb["by_category"].drop(columns=["crime_group", "demand_type"]).assign(channel="all")
    tb["by_category_channel"] = pd.concat([allrows[cc.columns], cc], ignore_index=True).sort_values(
        ["channel", "calls", "category"], ascending=[True, False, True], ignore_index=True)
    sub = cube[cube["channel"] == CHANNEL_311]
    g = sub.groupby(["agency", "call_type", "category", "method"], dropna=False, sort=False)
    rt = _finish(g[_agg_cols()].sum().reset_index(), measure, ["agency", "call_type", "category", "method"])
    tb["by_311_request_type"] = rt.sort_values(["calls", "agency", "call_type", "category", "method"],
                                               ascending=[False, True, True, True, True], ignore_index=True)


def lorenz(hours, calls=None) -> pd.DataFrame:
    """Lorenz curve of officer time across call types: call types from least to most time;
    x = cumulative share of call types, y = cumulative share of time. Also the Gini index."""
    import numpy as np

    h = np.sort(np.asarray(hours, dtype=float))
    n = len(h)
    if n == 0 or h.sum() <= 0:
        return pd.DataFrame({"share_call_types": [0.0, 1.0], "share_time": [0.0, 1.0], "gini": [float("nan")] * 2})
    x = np.concatenate([[0.0], np.arange(1, n + 1) / n])
    y = np.concatenate([[0.0], np.cumsum(h) / h.sum()])
    gini = 1.0 - float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1])))
    return pd.DataFrame({"share_call_types": x, "share_time": y, "gini": gini})


def _response_times(by: pd.DataFrame) -> pd.DataFrame:
    # By priority only: an all-priorities quantile cannot be rolled up and would cost a pass.
    df = by.sort_values("priority_rank", na_position="last", ignore_index=True)
    df.insert(0, "priority", [str(int(p)) if pd.notna(p) else "none" for p in df["priority_rank"]])
    for k in INTERVALS:
        q = df.pop(f"q_{k}")
        pair = [(v[0], v[1]) if hasattr(v, "__len__") and len(v) == 2 else (None, None) for v in q]
        df[f"n_{k}"] = df[f"n_{k}"].fillna(0).astype("int64")
        # Every measured duration exactly zero: the two timestamps are one field of the source
        # (Seattle's "911 Incident Response" layout fills received from the arrival time), so
        # the interval is zero by construction, not a measurement. Flagged, and no median.
        zero = (df[f"n_{k}"] > 0) & (pd.to_numeric(df.pop(f"max_{k}"), errors="coerce").fillna(0) == 0)
        med = [None if a is None or z else a / 60.0 for (a, _), z in zip(pair, zero)]
        p90 = [None if b is None or z else b / 60.0 for (_, b), z in zip(pair, zero)]
        df[f"median_{k}"] = pd.array(med, dtype="Float64").astype("float64")
        df[f"p90_{k}"] = pd.array(p90, dtype="Float64").astype("float64")
        df[f"zero_{k}"] = zero.astype(bool)
    df["calls"] = df["calls"].astype("int64")
    return df


def _repeat_locations(t, sensitive, measure: str, top: int, all_in_scope: bool = False) -> pd.DataFrame:
    """Top block addresses by calls in scope, with officer time. When every call is in scope
    the ranking needs only the sensitive table, and just the top locations' calls are joined."""
    s = sensitive.select("agency", "call_id", "location").filter(sensitive.location.notnull())
    if all_in_scope:
        best = (s.group_by(["agency", "location"]).agg(n=s.count())
                .order_by([ibis.desc("n"), "agency", "location"]).limit(top))
        s = s.semi_join(best, ["agency", "location"])
    j = t.select("agency", "call_id", "origin_group", f"ms_{measure}").join(s, ["agency", "call_id"])
    sec = j[f"ms_{measure}"]
    df = (
        j.group_by(["agency", "location"])
        .agg(calls=j.count(), calls_timed=sec.count(), seconds=sec.sum(),
             officer_initiated=(j.origin_group == "officer").sum())
        .order_by([ibis.desc("calls"), "agency", "location"])
        .limit(top)
        .to_pandas()
    )
    df["hours"] = df.pop("seconds").fillna(0).astype("float64") / 3_600_000.0  # from ms
    return df


def _coverage_table(excl: pd.DataFrame) -> pd.DataFrame:
    """Long table: one row per (duration, origin group, reason) with the number of calls."""
    rows = []
    for name in (*MEASURES, *INTERVALS):
        col = f"excl_{name}"
        g = excl.groupby(["origin_group", col], dropna=False)["calls"].sum().reset_index()
        for _, r in g.iterrows():
            reason = r[col] if isinstance(r[col], str) else "measured"
            kind = "measure" if name in MEASURES else "response_interval"
            rows.append((name, kind, r["origin_group"], reason, int(r["calls"])))
    return pd.DataFrame(rows, columns=["duration", "kind", "origin_group", "reason", "calls"])


def _measured(cov: pd.DataFrame, name: str) -> int:
    c = cov[(cov["duration"] == name) & (cov["reason"] == "measured")]
    return int(c["calls"].sum())


def coverage_summary(cov: pd.DataFrame, name: str) -> dict:
    """Calls in scope, measured, and excluded by reason for one duration."""
    c = cov[cov["duration"] == name]
    reasons = c[c["reason"] != "measured"].groupby("reason")["calls"].sum().sort_values(ascending=False)
    return {
        "calls_in_scope": int(c["calls"].sum()),
        "calls_measured": int(c.loc[c["reason"] == "measured", "calls"].sum()),
        "calls_excluded": int(reasons.sum()),
        "excluded_by_reason": {k: int(v) for k, v in reasons.items()},
    }


def coverage_notes(cov: pd.DataFrame, measure: str, total: int) -> dict[str, str]:
    """One sentence per duration: 'N of M calls measured; K excluded (reasons)'."""
    notes = {}
    for name in (*MEASURES, *INTERVALS):
        s = coverage_summary(cov, name)
        why = "; ".join(f"{n:,} {reason_text(r)}" for r, n in s["excluded_by_reason"].items())
        notes[name] = (f"{s['calls_measured']:,} of {s['calls_in_scope']:,} calls measured"
                       + (f"; {s['calls_excluded']:,} excluded ({why})" if s["calls_excluded"] else ""))
    return notes
