"""Report sections for scenarios: words generated from the numbers, tables, inline SVG.

Fragments only (a <section>), self-contained: no scripts, no external assets, and only
aggregates (never a call type with its address or narrative), so they can be dropped into
the assessment report or printed on their own.
"""

from __future__ import annotations

import math
from html import escape

from ..report.charts import heatmap, range_bars


def _n(v, d: int = 0) -> str:
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return "n/a"
    return f"{v:,.{d}f}"


def _pct(v, d: int = 0) -> str:
    return "n/a" if v is None or v != v else f"{100 * v:.{d}f}%"


def _money(v) -> str:
    return "n/a" if v is None or v != v else f"${v:,.0f}"


def _ci(m, lo, hi, d: int = 0, unit: str = "", pct: bool = False) -> str:
    f = (lambda x: _pct(x, d)) if pct else (lambda x: _n(x, d))
    if lo != lo or hi != hi or abs(hi - lo) < 10 ** (-d - (2 if pct else 0)):
        return f"{f(m)}{unit}"
    return f"{f(m)}{unit} ({f(lo)}–{f(hi)})"


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


def summary_lines(res) -> list[str]:
    """The result in words, one sentence per line; every number comes from the result."""
    scn = res.scenario
    t = res.total
    pct_ = 100 * res.confidence
    weeks = res.weeks
    lines = []
    calls = t("calls")[0]
    lines.append(f"{scn.title}: {res.replications} replication(s) of {weeks:.1f} weeks ({scn.mode}) of "
                 f"{_n(calls)} police calls from the public, routed by policy {scn.policy.split('/')[-1]} "
                 f"({scn.view} view). Ranges are {pct_:.0f}% confidence intervals over replications.")
    police = scn.pool_for("police")
    for pid, p in scn.pools.items():
        handled = res.pool(pid, "calls_handled")
        fell = res.pool(pid, "calls_fell_back")
        util = res.pool(pid, "utilization")
        units = res.staffing[res.staffing.pool == pid].sort_values("how").units.to_numpy()
        assigned = res.pool(pid, "calls_assigned")[0]
        fu = res.pool(pid, "follow_ups_handled")
        s = f"{p.name} ({_roster_text(units)}{', sized by Erlang C' if p.units.auto else ''}) handled "
        if not handled[0] and not assigned and fu[0]:
            s += f"{_ci(*fu)} follow-ups"
        else:
            s += f"{_ci(*handled)} calls"
        if fell[0]:
            s += (f" of the {_n(assigned)} the policy sent it; {_ci(*fell)} fell back to "
                  f"{scn.pools[p.fallback].name if p.fallback else 'another pool'}")
        elif handled[0] > assigned:
            s += f" ({_n(assigned)} sent by the policy, {_n(handled[0] - assigned)} that other teams could not take)"
        if fu[0] and (handled[0] or assigned):
            s += f", plus {_ci(*fu)} follow-ups"
        bk = res.pool(pid, "backups_handled")[0]
        if bk:
            s += f", plus {_n(bk)} backup requests from civilian teams"
        s += f". Its units were busy {_ci(*util, pct=True)} of their time on shift"
        w = res.pool(pid, "share_wait_within_target")
        tw = res.analytic.set_index("pool").within_minutes.get(pid) if len(res.analytic) else None
        if p.fallback and assigned:
            tk = res.pool(pid, "share_taken_within_target")
            s += f"; it reached {_ci(*tk, pct=True)} of the calls sent to it within {tw:g} minutes"
        elif tw is not None and w[0] == w[0]:
            s += f", and {_ci(*w, pct=True)} of its calls got a unit within {tw:g} minutes"
        s += "."
        lines.append(s)
    fr = t("patrol_hours_freed")
    of = t("officer_hours_freed")
    sq = t("status_quo_patrol_hours")[0]
    lines.append(f"Patrol units spent {_ci(*t('patrol_hours'))} hours on these calls against {_n(sq)} if police took "
                 f"them all: {_ci(*fr)} patrol hours freed ({_n(fr[0] / weeks if weeks else math.nan)} a week, "
                 f"{_pct(fr[0] / sq if sq else math.nan, 1)}).")
    sworn_new = [p.name for pid, p in scn.pools.items() if pid != police and p.officers_per_unit > 0]
    more = of[0] < 0
    if abs(of[0]) < 0.5 and abs(of[1]) < 0.5 and abs(of[2]) < 0.5:
        s = "Sworn officer hours on these calls do not change"
    else:
        s = (f"Sworn officer hours on these calls {'rise' if more else 'fall'} by "
             f"{_ci(*((-of[0], -of[2], -of[1]) if more else of))}")
    if sworn_new:
        s += (f" ({', '.join(sworn_new)} carr{'ies' if len(sworn_new) == 1 else 'y'} officers: calls moved there free "
              "patrol time but still take officer time)")
    lines.append(s + ".")
    bk = t("backups_requested")
    if bk[0]:
        lines.append(f"Civilian teams asked for police backup {_ci(*bk)} times.")
    cost_new = t("cost_of_new_pools")
    if cost_new[0]:
        per_week = cost_new[0] / weeks if weeks else math.nan
        lines.append(f"The new teams' shifts cost {_money(cost_new[0])} over the horizon, {_money(per_week)} a week "
                     f"or about {_money(per_week * 52)} a year at the stated hourly costs.")
    if police in scn.pools and len(res.priorities):
        pr = res.priorities[(res.priorities.pool == police) & (res.priorities.metric == "response_p90_minutes")]
        if len(pr):
            r0 = pr.iloc[0]
            lines.append(f"Priority {r0.priority} calls reached by patrol: 90% had a unit on scene within "
                         f"{_ci(r0['mean'], r0['low'], r0['high'], 1)} minutes of the call.")
    for r in res.analytic.itertuples():
        p = scn.pools[r.pool]
        s = f"Erlang C for {p.name}: "
        if r.units_needed_peak == r.units_needed_peak:
            s += (f"{_n(r.units_needed_peak)} unit(s) at the busiest hour and {_n(r.unit_hours_needed_per_week)} "
                  f"unit-hours a week meet the target ({r.target}; rostered: {r.units_rostered_peak} at peak, "
                  f"{r.unit_hours_rostered_per_week:,} unit-hours); ")
        s += (f"for the rostered units it predicts {_pct(r.erlang_service_level)} of calls get a unit within "
              f"{r.within_minutes:g} minutes, the simulation {_pct(r.simulated_service_level)}.")
        if r.reasons:
            s += f" They differ because {r.reasons}."
        lines.append(s)
    lines += [f"Warning: {w}" for w in res.warnings]
    return lines


def _pool_table(res) -> str:
    metrics = [("calls_assigned", "calls sent by the policy", 0), ("calls_handled", "calls handled", 0),
               ("calls_fell_back", "fell back", 0), ("follow_ups_handled", "follow-ups", 0),
               ("backups_requested", "backup requests made", 0), ("backups_handled", "backups handled", 0),
               ("busy_hours", "unit-hours busy", 0), ("officer_hours", "officer hours", 0),
               ("staffed_unit_hours", "unit-hours on shift", 0), ("utilization", "utilization", -1),
               ("share_wait_within_target", "its calls: a unit within target", -1),
               ("share_taken_within_target", "calls sent to it: reached within target", -1), ("wait_p90_minutes", "wait, 90th pct (min)", 1),
               ("response_p50_minutes", "response, median (min)", 1), ("response_p90_minutes", "response, 90th pct (min)", 1),
               ("cost", "cost of shifts ($)", 0)]
    ids = list(res.scenario.pools)
    head = "".join(f"<th>{escape(res.scenario.pools[p].name)}</th>" for p in ids)
    body = []
    for m, label, d in metrics:
        cells = []
        for p in ids:
            v = res.pool(p, m)
            cells.append(f"<td>{_ci(*v, pct=True) if d < 0 else _ci(*v, d)}</td>")
        body.append(f"<tr><th scope='row'>{escape(label)}</th>{''.join(cells)}</tr>")
    return (f"<table class='rr-table'><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _priority_chart(res) -> str:
    rows = []
    pr = res.priorities
    for (pid, lab), g in pr.groupby(["pool", "priority"], sort=False):
        m = g.set_index("metric")["mean"]
        if m.get("calls", 0) < 10:
            continue
        rows.append((f"{res.scenario.pools[pid].name[:22]} P{lab}", m.get("response_p50_minutes"),
                     m.get("response_p90_minutes"), f"{m.get('calls', 0):,.0f} calls"))
    if not rows:
        return ""
    title = "Response time (wait for a unit + travel) by pool and priority"
    return f"<h4>{escape(title)}</h4>" + range_bars(
        rows[:14], title, unit="min",
        desc="Median and 90th percentile minutes from the call to a unit on scene, mean over replications.")


def _util_chart(res, pid: str) -> str:
    u = res.utilization[res.utilization.pool == pid].sort_values("how")
    vals = (u["mean"].to_numpy() * 100).reshape(7, 24)
    off = [[v != v for v in row] for row in vals]
    title = f"{res.scenario.pools[pid].name}: share of time on shift busy, by hour of week"
    svg = heatmap([[0 if v != v else v for v in row] for row in vals], off, title, unit="% busy",
                  desc="Mean over replications; hatched hours have no unit on shift.")
    # The shared heatmap hatches suppressed cells; here a hatched hour is one with nobody on shift.
    svg = svg.replace("suppressed small cell", "no unit on shift").replace("fewer than the threshold", "no unit on shift")
    return f"<h4>{escape(title)}</h4>" + svg


def simulation_html(res, heading: str | None = None, level: int = 2) -> str:
    """The scenario's report section: the result in words, the pool table, charts and assumptions."""
    scn = res.scenario
    h = f"<h{level}>{escape(heading or 'Scenario: ' + scn.title)}</h{level}>"
    words = "".join(f"<p>{escape(s)}</p>" for s in summary_lines(res))
    charts = _priority_chart(res) + "".join(_util_chart(res, p) for p in scn.pools)
    an = ""
    if len(res.analytic):
        rows = "".join(
            f"<tr><td>{escape(scn.pools[r.pool].name)}</td><td>{_n(r.units_needed_peak)} / {_n(r.unit_hours_needed_per_week)}</td>"
            f"<td>{r.units_rostered_peak} / {r.unit_hours_rostered_per_week:,}</td>"
            f"<td>{_pct(r.erlang_service_level)}</td>"
            f"<td>{_ci(r.simulated_service_level, r.simulated_service_level_low, r.simulated_service_level_high, pct=True)}</td>"
            f"<td>{_n(r.erlang_mean_wait_minutes, 1)}</td>"
            f"<td>{_ci(r.simulated_mean_wait_minutes, r.simulated_mean_wait_low, r.simulated_mean_wait_high, 1)}</td>"
            f"<td>{escape(str(r.urgent_priority))}: {_n(r.cobham_urgent_mean_wait_minutes, 1)} / "
            f"{_n(r.simulated_urgent_mean_wait_minutes, 1)}</td></tr>"
            for r in res.analytic.itertuples())
        an = ("<h4>Erlang C beside the simulation</h4><table class='rr-table'><thead><tr><th>pool</th>"
              "<th>units needed: peak / unit-hours a week</th><th>rostered: peak / unit-hours a week</th>"
              "<th>Erlang C: within target</th><th>simulated: within target</th><th>Erlang C: mean wait (min)</th>"
              "<th>simulated: mean wait (min)</th><th>most urgent priority: mean wait, Cobham / simulated (min)</th>"
              f"</tr></thead><tbody>{rows}</tbody></table>")
    assumptions = "".join(f"<li>{escape(a)}</li>" for a in scn.assumptions())
    cov = res.coverage
    method = (f"<p><small>Discrete-event simulation ({scn.mode}; {res.replications} replications, seed {res.seed}); "
              f"{_n(cov.get('calls'))} calls, {_n(cov.get('calls_with_usable_times'))} with usable times (the others "
              f"borrow the times of a random call of the same category); {_n(cov.get('officer_initiated_left_out'))} "
              "officer-initiated activities left out (nobody called). Officer hours count unit time (travel and "
              "on scene) times officers per unit. Sample data are not a city's true figures.</small></p>")
    return (f"<section class='rr-scenario'>{h}{words}{_pool_table(res)}{charts}{an}"
            f"<h4>Assumptions stated in the scenario</h4><ul>{assumptions}</ul>{method}</section>")
