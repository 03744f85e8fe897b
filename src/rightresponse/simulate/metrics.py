"""The figures a scenario reports, defined once.

`simulate` (its words, ``--json`` and HTML section), `scenario compare` (its table, CSV, words
and page) and the report read every figure through :func:`metric_table` and :func:`value`,
so a figure shown in two places is the same number under the same name: "calls handled"
counts the calls a team took (follow-ups are their own line), and "within target" is said
of the calls sent to the team (what a pilot reports) or of the calls it served, never one
under the other's name.

Every figure is a mean over replications with its confidence interval, after disclosure
control (rightresponse.report.disclosure: a count of calls from 1 to ``min_cell - 1`` and
every figure resting on it are withheld), with floating-point noise rounded to zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..report.charts import pct

DEFAULT_MIN_CELL = 10
WITHHELD = "[withheld]"  # a figure withheld so that a small count cannot be worked out
NOISE = 1e-9  # differences of float sums (hours freed in a status quo) below this are zero


@dataclass(frozen=True)
class Metric:
    key: str  # the figure's id in the simulation's totals / pools tables (or a derived one, see value())
    label: str
    unit: str  # calls, share, minutes, hours / week, $ / week, units, unit-hours
    section: str  # "" for a pool's own section ("pool: NAME")
    scope: str = "pool"  # pool | total
    per_week: bool = False


TOTAL = (
    Metric("calls", "calls", "calls", "workload", "total"),
    Metric("officer_hours", "sworn officer hours on calls", "hours / week", "hours per week", "total", True),
    Metric("patrol_hours", "patrol unit-hours on calls", "hours / week", "hours per week", "total", True),
    Metric("officer_hours_freed", "officer hours freed vs all-police", "hours / week", "hours per week", "total", True),
    Metric("patrol_hours_freed", "patrol hours freed vs all-police", "hours / week", "hours per week", "total", True),
    Metric("cost", "all pools' shifts", "$ / week", "cost per week", "total", True),
    Metric("cost_of_new_pools", "new teams' shifts", "$ / week", "cost per week", "total", True),
    Metric("calls_fell_back", "fell back to police", "calls", "calls", "total"),
    Metric("backups_requested", "police backup requests", "calls", "calls", "total"),
)
POOL = (
    Metric("calls_assigned", "calls sent by the policy", "calls", ""),
    Metric("calls_handled", "calls handled", "calls", ""),
    Metric("calls_fell_back", "calls that fell back to another team", "calls", ""),
    Metric("follow_ups_handled", "follow-ups handled", "calls", ""),
    Metric("backups_handled", "police backups handled", "calls", ""),
    Metric("utilization", "utilization", "share", ""),
    Metric("share_taken_within_target", "calls sent to it: reached within target", "share", ""),
    Metric("share_wait_within_target", "calls it served: a unit within target", "share", ""),
    Metric("response_p50_minutes", "response time, median", "minutes", ""),
    Metric("response_p90_minutes", "response time, 90th percentile", "minutes", ""),
    Metric("units_needed_peak", "team size needed at peak (Erlang C)", "units", ""),
    Metric("unit_hours_needed_per_week", "unit-hours needed a week (Erlang C)", "unit-hours", ""),
    Metric("unit_hours_rostered_per_week", "unit-hours rostered a week", "unit-hours", ""),
)
ERLANG = ("units_needed_peak", "unit_hours_needed_per_week", "unit_hours_rostered_per_week")

# For disclosure control (rightresponse.report.disclosure.publish_simulation): which pool
# figures count calls, and which rest on which counts.
POOL_COUNTS = ("calls_assigned", "calls_handled", "calls_fell_back", "follow_ups_handled", "backups_requested",
               "backups_handled", "never_served", "preempted")
TOTAL_COUNTS = ("calls", "calls_simulated", "calls_to_unmodelled_responders", "calls_fell_back", "backups_requested",
                "never_served")


def denoise(x: float) -> float:
    """Floating-point noise (1e-13 hours freed in a status quo) is zero."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return math.nan
    x = float(x)
    return 0.0 if abs(x) < NOISE else x


def _triple(r) -> tuple[float, float, float]:
    return tuple(denoise(v) for v in r)  # type: ignore[return-value]


def value(res, m: Metric, pid: str | None = None, published=None) -> tuple[float, float, float]:
    """(mean, low, high) of a figure, from the published tables (``published``: the result of
    ``res.publish(min_cell)``; withheld figures are NaN)."""
    nan3 = (math.nan,) * 3
    pub = published if published is not None else res.publish()
    if m.scope == "total":
        t = pub["totals"].set_index("metric")
        if m.key not in t.index:
            return nan3
        r = t.loc[m.key]
        v = _triple((r["mean"], r["low"], r["high"]))
        return tuple(x / res.weeks if res.weeks else math.nan for x in v) if m.per_week else v
    if pid not in res.scenario.pools:
        return nan3
    if m.key in ERLANG:
        return (_erlang(res, pid, m.key),) * 3
    p = pub["pools"].set_index(["pool", "metric"])
    if (pid, m.key) not in p.index:
        return nan3
    r = p.loc[(pid, m.key)]
    return _triple((r["mean"], r["low"], r["high"]))


def _erlang(res, pid: str, key: str) -> float:
    """Erlang C's staffing figures for a pool: from the analytic table, or the roster alone
    (a pool with no demand in the data has no Erlang figure)."""
    a = res.analytic
    if len(a) and pid in set(a["pool"]):
        return float(a.set_index("pool").at[pid, key])
    if key == "unit_hours_rostered_per_week":
        st = res.staffing[res.staffing.pool == pid]
        return float(st.units.sum()) if len(st) else math.nan
    return math.nan


def applies(res, m: Metric, pid: str) -> bool:
    """Whether a pool figure means anything for this pool (no 'fell back' for a pool that waits)."""
    p = res.scenario.pools[pid]
    if m.key in ("calls_fell_back", "share_taken_within_target"):
        return bool(p.fallback)
    if m.key == "follow_ups_handled":
        return True
    if m.key == "backups_handled":
        return any(q.backup is not None and q.backup.pool == pid for q in res.scenario.pools.values())
    return True


def urgent(res, published=None):
    """(priority label, (mean, low, high)) of the police pool's most urgent calls' 90th percentile response."""
    pub = published if published is not None else res.publish()
    police = res.scenario.pool_for("police")
    pr = pub["priorities"]
    pr = pr[(pr.pool == police) & (pr.metric == "response_p90_minutes")]
    if not len(pr):
        return None
    r = pr.iloc[0]
    return (r.priority, _triple((r["mean"], r["low"], r["high"])))


def metric_table(res, min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Every figure of one result, one row each: pool ('' for totals), section, key, metric
    (label), unit, mean, low, high. What `simulate --json` lists as ``metrics`` and what
    `scenario compare` puts side by side."""
    pub = res.publish(min_cell)
    rows = []
    for m in TOTAL:
        rows.append(("", m.section, m.key, m.label, m.unit, *value(res, m, None, pub)))
    for pid, p in res.scenario.pools.items():
        for m in POOL:
            if applies(res, m, pid):
                rows.append((pid, f"pool: {p.name}", m.key, m.label, m.unit, *value(res, m, pid, pub)))
    u = urgent(res, pub)
    if u is not None:
        rows.append(("", "police response", "urgent_response_p90", f"priority {u[0]} calls: response, 90th percentile",
                     "minutes", *u[1]))
    return pd.DataFrame(rows, columns=["pool", "section", "key", "metric", "unit", "mean", "low", "high"])


# ---------------------------------------------------------------------------- words


def _n(v, d: int = 0) -> str:
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return "n/a"
    return f"{v:,.{d}f}"


def _pct(v, d: int = 0) -> str:
    """Shares in the simulation's lines: whole percent unless asked (``report.charts.pct``)."""
    return pct(v, d, missing="n/a")


def _money(v) -> str:
    return "n/a" if v is None or v != v else f"${v:,.0f}"


def ci_text(m, lo, hi, d: int = 0, unit: str = "", pct: bool = False) -> str:
    """A mean with its interval: '59% (58%–60%)'; one number when the interval is a point."""
    f = (lambda x: _pct(x, d)) if pct else (lambda x: _n(x, d))
    if m != m:
        return "n/a"
    if lo != lo or hi != hi or abs(hi - lo) < 10 ** (-d - (2 if pct else 0)):
        return f"{f(m)}{unit}"
    return f"{f(m)}{unit} ({f(lo)}–{f(hi)})"


def metric_text(unit: str, v: tuple[float, float, float]) -> str:
    """How a figure reads, in the words and in the tables of both commands."""
    if unit == "share":
        return ci_text(*v, pct=True)
    if unit == "$ / week":
        return _money(v[0])
    if unit in ("minutes", "hours / week"):
        return ci_text(*v, 1)
    return ci_text(*v)


def shown(res, m: Metric, pid: str | None = None, min_cell: int = DEFAULT_MIN_CELL) -> str:
    """A figure as it reads in words: its number, or "<min_cell" / "withheld" when withheld."""
    v = value(res, m, pid, res.publish(min_cell))
    if v[0] == v[0]:
        return metric_text(m.unit, v)
    pub = res.publish(min_cell)
    d = pub["totals_disclosed"] if m.scope == "total" else pub["pools_disclosed"]
    vals = d.values
    rows = vals.index[(vals["metric"] == m.key) & ((vals["pool"] == pid) if m.scope == "pool" else True)]
    if not len(rows):
        return "n/a"
    t = d.text(int(rows[0]), "mean")
    if t is None:
        return "n/a"  # not withheld: there is no such figure (no call was sent to the team)
    return t or WITHHELD


def _pm(key: str) -> Metric:
    return next(m for m in POOL if m.key == key)


def _tm(key: str) -> Metric:
    return next(m for m in TOTAL if m.key == key)


def within_minutes(res, pid: str) -> float:
    """The pool's service target in minutes (``Pool.within_minutes``)."""
    return res.scenario.pools[pid].within_minutes


def _roster_text(units) -> str:
    """'1 unit 07:00-23:00 every day' style description of a 168-hour roster."""
    u = list(units)
    if len(set(u)) == 1:
        return f"{u[0]} unit{'s' if u[0] != 1 else ''} around the clock"
    days = [tuple(u[d * 24:(d + 1) * 24]) for d in range(7)]
    if len(set(days)) == 1:
        day = days[0]
        spans, h = [], 0
        while h < 24:
            k = h
            while k < 24 and day[k] == day[h]:
                k += 1
            if day[h]:
                spans.append(f"{day[h]} {'units' if day[h] != 1 else 'unit'} {h:02d}:00-{k:02d}:00")
            h = k
        return ", ".join(spans) + " every day"
    return f"{min(u)}-{max(u)} units by hour ({sum(u):,} unit-hours a week)"


def summary_lines(res, min_cell: int = DEFAULT_MIN_CELL) -> list[str]:
    """The result in words, one sentence per line; every figure is a published metric, in the
    words `scenario compare` uses for it."""
    scn = res.scenario
    pub = res.publish(min_cell)
    weeks = res.weeks
    lines = [f"{scn.title}: {res.replications} replication(s) of {weeks:.1f} weeks ({scn.mode}) of "
             f"{shown(res, _tm('calls'), None, min_cell)} police calls from the public, routed by policy "
             f"{scn.policy.split('/')[-1]} ({scn.view} view). Ranges are {100 * res.confidence:.0f}% confidence "
             "intervals over replications."]
    police = scn.pool_for("police")
    for pid, p in scn.pools.items():
        units = res.staffing[res.staffing.pool == pid].sort_values("how").units.to_numpy()
        handled = value(res, _pm("calls_handled"), pid, pub)
        fu = value(res, _pm("follow_ups_handled"), pid, pub)
        s = f"{p.name} ({_roster_text(units)}{', sized by Erlang C' if p.units.auto else ''}) handled "
        s += f"{shown(res, _pm('calls_handled'), pid, min_cell)} calls"
        if p.fallback:
            s += (f" of the {shown(res, _pm('calls_assigned'), pid, min_cell)} the policy sent it; "
                  f"{shown(res, _pm('calls_fell_back'), pid, min_cell)} fell back to "
                  f"{scn.pools[p.fallback].name}")
        if fu[0] != 0:
            s += f", and {shown(res, _pm('follow_ups_handled'), pid, min_cell)} follow-ups"
        bk = value(res, _pm("backups_handled"), pid, pub)
        if bk[0] and bk[0] == bk[0]:
            s += f", plus {shown(res, _pm('backups_handled'), pid, min_cell)} backup requests from civilian teams"
        tw = within_minutes(res, pid)
        s += f". Its units were busy {shown(res, _pm('utilization'), pid, min_cell)} of their time on shift"
        assigned = value(res, _pm("calls_assigned"), pid, pub)[0]
        if p.fallback and assigned != 0:
            s += (f"; of the calls sent to it, its units reached {shown(res, _pm('share_taken_within_target'), pid, min_cell)}"
                  f" within {tw:g} minutes (the others waited or fell back)")
        if handled[0] or fu[0] or handled[0] != handled[0]:
            s += (f"; of the calls it served, {shown(res, _pm('share_wait_within_target'), pid, min_cell)} "
                  f"got a unit within {tw:g} minutes")
        lines.append(s + ".")
    fr = value(res, _tm("patrol_hours_freed"), None, pub)
    of = value(res, _tm("officer_hours_freed"), None, pub)
    t = pub["totals"].set_index("metric")
    sq = denoise(t.at["status_quo_patrol_hours", "mean"]) if "status_quo_patrol_hours" in t.index else math.nan
    if fr[0] == fr[0]:
        lines.append(f"Patrol hours freed vs all-police: {metric_text('hours / week', fr)} a week, "
                     f"{_n(fr[0] * weeks)} over the {weeks:.1f} weeks ({_pct(fr[0] * weeks / sq if sq else math.nan, 1)} "
                     f"of the {_n(sq)} patrol hours these calls take if police take them all).")
    else:
        lines.append("Patrol hours freed: withheld, since fewer than "
                     f"{min_cell} calls go to other teams (their time would be that of a handful of calls).")
    sworn_new = [p.name for pid, p in scn.pools.items() if pid != police and p.officers_per_unit > 0]
    if of[0] == of[0]:
        if abs(of[0]) < 0.05 and abs(of[1]) < 0.05 and abs(of[2]) < 0.05:
            s = "Sworn officer hours on these calls do not change"
        else:
            more = of[0] < 0
            s = (f"Sworn officer hours on these calls {'rise' if more else 'fall'} by "
                 f"{metric_text('hours / week', (-of[0], -of[2], -of[1]) if more else of)} a week")
        if sworn_new:
            s += (f" ({', '.join(sworn_new)} carr{'ies' if len(sworn_new) == 1 else 'y'} officers: calls moved there free "
                  "patrol time but still take officer time)")
        lines.append(s + ".")
    bk = value(res, _tm("backups_requested"), None, pub)
    if bk[0]:
        lines.append(f"Civilian teams asked for police backup {shown(res, _tm('backups_requested'), None, min_cell)} times.")
    cost_new = value(res, _tm("cost_of_new_pools"), None, pub)
    if cost_new[0]:
        lines.append(f"The new teams' shifts cost {_money(cost_new[0])} a week, about {_money(cost_new[0] * 52)} a year "
                     "at the stated hourly costs.")
    u = urgent(res, pub)
    if u is not None and u[1][0] == u[1][0]:
        lines.append(f"Priority {u[0]} calls reached by patrol: 90% had a unit on scene within "
                     f"{metric_text('minutes', u[1])} minutes of the call.")
    for r in res.analytic.itertuples():
        p = scn.pools[r.pool]
        hidden = value(res, _pm("response_p50_minutes"), r.pool, pub)[0] != value(res, _pm("response_p50_minutes"), r.pool, pub)[0]
        s = f"Erlang C for {p.name}: "
        if r.units_needed_peak == r.units_needed_peak:
            s += (f"{_n(r.units_needed_peak)} unit(s) at the busiest hour and {_n(r.unit_hours_needed_per_week)} "
                  f"unit-hours a week meet the target ({r.target}; rostered: {r.units_rostered_peak} at peak, "
                  f"{r.unit_hours_rostered_per_week:,} unit-hours)")
        if not hidden:
            s += ("; " if r.units_needed_peak == r.units_needed_peak else "") + (
                f"for the rostered units it predicts {_pct(r.erlang_service_level)} of calls get a unit within "
                f"{r.within_minutes:g} minutes, the simulation {_pct(r.simulated_service_level)}")
            if r.reasons:
                s += f". They differ because {r.reasons}"
        lines.append(s + ".")
    lines += [f"Warning: {w}" for w in res.warnings]
    return lines


def comparison_lines(c) -> list[str]:
    """A comparison in words: the same figures, in the same words, as each scenario's own summary."""
    t = c.table.set_index(["section", "key"])
    a, b = c.a.scenario, c.b.scenario

    def row(sec, k):
        return t.loc[(sec, k)] if (sec, k) in t.index else None

    out = [f"Baseline: {a.title}. Pilot: {b.title}."]
    f = row("hours per week", "patrol_hours_freed")
    if f is not None:
        s = (f"Patrol hours freed vs all-police: {f.a_text} a week in the baseline, {f.b_text} in the pilot"
             + (f" (difference {_n(f.difference, 1)} hours a week" if f.difference == f.difference else ""))
        if f.difference == f.difference and f.difference_low == f.difference_low:
            s += f", {100 * min(c.a.confidence, c.b.confidence):.0f}% CI {_n(f.difference_low, 1)} to {_n(f.difference_high, 1)}"
        out.append(s + (")." if f.difference == f.difference else "."))
    o = row("hours per week", "officer_hours")
    if o is not None:
        out.append(f"Sworn officer hours on these calls: {o.a_text} a week in the baseline, {o.b_text} in the pilot.")
    cst = row("cost per week", "cost_of_new_pools")
    if cst is not None:
        out.append(f"New teams cost {cst.b_text} a week in the pilot (about {_money(cst.b * 52)} a year) against "
                   f"{cst.a_text} in the baseline.")
    for pid, p in c.b.scenario.pools.items():
        sec = f"pool: {p.name}"
        h = row(sec, "calls_handled")
        if h is not None and pid not in c.a.scenario.pools:
            bits = [f"{p.name} handles {h.b_text} calls"]
            fu = row(sec, "follow_ups_handled")
            if fu is not None and fu.b != 0:
                bits.append(f"{fu.b_text} follow-ups")
            tk = row(sec, "share_taken_within_target")
            if tk is not None:
                bits.append(f"reaches {tk.b_text} of the calls sent to it within target")
            out.append(", ".join(bits) + " in the pilot.")
        n = row(sec, "units_needed_peak")
        uh = row(sec, "unit_hours_needed_per_week")
        if n is not None and n.b == n.b:
            out.append(f"{p.name}: Erlang C needs {_n(n.b)} unit(s) at the busiest hour and {_n(uh.b)} unit-hours a "
                       "week in the pilot" + (f" ({_n(n.a)} and {_n(uh.a)} in the baseline)." if n.a == n.a else "."))
    u = row("police response", "urgent_response_p90")
    if u is not None:
        out.append(f"Urgent police calls, 90th percentile response: {u.a_text} min in the baseline, {u.b_text} in the pilot.")
    return out
