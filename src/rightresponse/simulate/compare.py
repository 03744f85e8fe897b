"""Two scenarios side by side (baseline and pilot): cost, hours freed, team size, response times.

Both run with the same seed, so their replications share random numbers (common random
numbers): the difference between them is estimated far more tightly than either alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from .report import _ci, _money, _n, _pct
from .run import SimulationResult, ci, json_safe, simulate


@dataclass
class Comparison:
    a: SimulationResult
    b: SimulationResult
    table: pd.DataFrame  # section, metric, unit, a, a_low, a_high, b, b_low, b_high, difference, difference_low, difference_high

    def to_csv(self, path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.table.to_csv(p, index=False)
        return p

    def to_dict(self) -> dict:
        return json_safe({"a": self.a.scenario.id, "b": self.b.scenario.id, "table": self.table.to_dict(orient="records"),
                          "summary": self.summary_lines()})

    def summary_lines(self) -> list[str]:
        return comparison_lines(self)

    def html(self, heading: str | None = None, level: int = 2) -> str:
        return comparison_html(self, heading, level)


def _rep(res: SimulationResult, key: str) -> np.ndarray:
    return res.per_replication[key].to_numpy(dtype=float)


def compare_scenarios(a, b, replications: int | None = None, seed: int | None = None, workspace=None,
                      progress: bool = False) -> Comparison:
    """Run scenarios ``a`` (baseline) and ``b`` (pilot) and tabulate them side by side.

    ``a``/``b``: paths, shipped example names, Scenarios or finished SimulationResults.
    """
    memo: dict = {}  # both scenarios usually share the data: prepare it once
    ra = a if isinstance(a, SimulationResult) else simulate(a, replications, seed, workspace, progress, memo)
    rb = b if isinstance(b, SimulationResult) else simulate(b, replications or ra.replications,
                                                            ra.seed if seed is None else seed, workspace, progress,
                                                            memo)
    return Comparison(ra, rb, comparison_table(ra, rb))


def comparison_table(ra: SimulationResult, rb: SimulationResult) -> pd.DataFrame:
    rows = []
    conf = min(ra.confidence, rb.confidence)

    def add(section, metric, unit, va, vb, diff_reps=None):
        d = (vb[0] - va[0]) if va[0] == va[0] and vb[0] == vb[0] else math.nan
        dl, dh = (ci(diff_reps, conf)[1:] if diff_reps is not None else (math.nan, math.nan))
        rows.append({"section": section, "metric": metric, "unit": unit, "a": va[0], "a_low": va[1], "a_high": va[2],
                     "b": vb[0], "b_low": vb[1], "b_high": vb[2], "difference": d, "difference_low": dl,
                     "difference_high": dh})

    def paired(key):
        x, y = _rep(ra, key), _rep(rb, key)
        return (y - x) if len(x) == len(y) else None

    wa, wb = ra.weeks or math.nan, rb.weeks or math.nan
    per_week = lambda res, m, w: tuple(v / w for v in res.total(m))  # noqa: E731
    add("workload", "calls", "calls", ra.total("calls"), rb.total("calls"))
    for m, label in (("officer_hours", "sworn officer hours on calls"), ("patrol_hours", "patrol unit-hours on calls"),
                     ("officer_hours_freed", "officer hours freed vs all-police"),
                     ("patrol_hours_freed", "patrol hours freed vs all-police")):
        add("hours per week", label, "hours / week", per_week(ra, m, wa), per_week(rb, m, wb),
            None if paired(m) is None or wa != wb else paired(m) / wa)
    add("cost per week", "all pools' shifts", "$ / week", per_week(ra, "cost", wa), per_week(rb, "cost", wb),
        None if paired("cost") is None or wa != wb else paired("cost") / wa)
    add("cost per week", "new teams' shifts", "$ / week", per_week(ra, "cost_of_new_pools", wa),
        per_week(rb, "cost_of_new_pools", wb))
    add("calls", "fell back to police", "calls", ra.total("calls_fell_back"), rb.total("calls_fell_back"))
    add("calls", "police backup requests", "calls", ra.total("backups_requested"), rb.total("backups_requested"))

    pools = list(dict.fromkeys(list(ra.scenario.pools) + list(rb.scenario.pools)))
    for pid in pools:
        name = (rb.scenario.pools.get(pid) or ra.scenario.pools.get(pid)).name
        for res_metric, label, unit in (("calls_handled", "calls handled", "calls"),
                                        ("utilization", "utilization", "share"),
                                        ("share_wait_within_target", "got a unit within target", "share"),
                                        ("response_p50_minutes", "response time, median", "minutes"),
                                        ("response_p90_minutes", "response time, 90th percentile", "minutes")):
            va = ra.pool(pid, res_metric) if pid in ra.scenario.pools else (math.nan,) * 3
            vb = rb.pool(pid, res_metric) if pid in rb.scenario.pools else (math.nan,) * 3
            add(f"pool: {name}", label, unit, va, vb)
        na = _team(ra, pid)
        nb = _team(rb, pid)
        add(f"pool: {name}", "team size needed at peak (Erlang C)", "units", (na[0],) * 3, (nb[0],) * 3)
        add(f"pool: {name}", "unit-hours needed a week (Erlang C)", "unit-hours", (na[1],) * 3, (nb[1],) * 3)
        add(f"pool: {name}", "unit-hours rostered a week", "unit-hours", (na[2],) * 3, (nb[2],) * 3)
    # Priority-1 (or most urgent) police response.
    pa, pb = _urgent(ra), _urgent(rb)
    if pa is not None or pb is not None:
        add("police response", f"priority {(pa or pb)[0]} calls: response, 90th percentile", "minutes",
            pa[1] if pa else (math.nan,) * 3, pb[1] if pb else (math.nan,) * 3)
    return pd.DataFrame(rows)


def _team(res: SimulationResult, pid: str) -> tuple[float, float, float]:
    a = res.analytic
    if pid not in res.scenario.pools or not len(a) or pid not in set(a.pool):
        st = res.staffing[res.staffing.pool == pid] if pid in res.scenario.pools else None
        if st is None or not len(st):
            return (math.nan, math.nan, math.nan)
        return (float("nan"), float("nan"), float(st.units.sum()))
    r = a.set_index("pool").loc[pid]
    return (float(r.units_needed_peak), float(r.unit_hours_needed_per_week), float(r.unit_hours_rostered_per_week))


def _urgent(res: SimulationResult):
    police = res.scenario.pool_for("police")
    pr = res.priorities[(res.priorities.pool == police) & (res.priorities.metric == "response_p90_minutes")]
    if not len(pr):
        return None
    r = pr.iloc[0]
    return (r.priority, (float(r["mean"]), float(r["low"]), float(r["high"])))


def comparison_lines(c: Comparison) -> list[str]:
    t = c.table.set_index(["section", "metric"])
    a, b = c.a.scenario, c.b.scenario

    def row(sec, m):
        return t.loc[(sec, m)] if (sec, m) in t.index else None

    out = [f"Baseline: {a.title}. Pilot: {b.title}."]
    f = row("hours per week", "patrol hours freed vs all-police")
    o = row("hours per week", "sworn officer hours on calls")
    if f is not None:
        s = (f"Patrol hours freed: {_n(f.a, 1)} a week in the baseline, {_n(f.b, 1)} in the pilot "
             f"(difference {_n(f.difference, 1)} hours a week")
        if f.difference_low == f.difference_low:
            s += f", {100 * min(c.a.confidence, c.b.confidence):.0f}% CI {_n(f.difference_low, 1)} to {_n(f.difference_high, 1)}"
        out.append(s + ").")
    if o is not None:
        out.append(f"Sworn officer hours on these calls: {_n(o.a, 1)} a week in the baseline, {_n(o.b, 1)} in the pilot.")
    cst = row("cost per week", "new teams' shifts")
    if cst is not None:
        out.append(f"New teams cost {_money(cst.b)} a week in the pilot (about {_money(cst.b * 52)} a year) against "
                   f"{_money(cst.a)} in the baseline.")
    for pid, p in c.b.scenario.pools.items():
        n = row(f"pool: {p.name}", "team size needed at peak (Erlang C)")
        uh = row(f"pool: {p.name}", "unit-hours needed a week (Erlang C)")
        if n is not None and n.b == n.b:
            out.append(f"{p.name}: Erlang C needs {_n(n.b)} unit(s) at the busiest hour and {_n(uh.b)} unit-hours a "
                       "week in the pilot" + (f" ({_n(n.a)} and {_n(uh.a)} in the baseline)." if n.a == n.a else "."))
    u = row("police response", next((m for s, m in t.index if s == "police response"), ""))
    if u is not None:
        out.append(f"Urgent police calls, 90th percentile response: {_n(u.a, 1)} min in the baseline, {_n(u.b, 1)} in the pilot.")
    return out


def comparison_html(c: Comparison, heading: str | None = None, level: int = 2) -> str:
    """Self-contained HTML fragment: the comparison in words, then the side-by-side table."""
    h = f"<h{level}>{escape(heading or 'Scenario comparison')}</h{level}>"
    words = "".join(f"<p>{escape(s)}</p>" for s in comparison_lines(c))
    body = []
    for r in c.table.itertuples():
        share = r.unit == "share"
        fa = _ci(r.a, r.a_low, r.a_high, 0 if share else 1, pct=share)
        fb = _ci(r.b, r.b_low, r.b_high, 0 if share else 1, pct=share)
        fd = (_pct(r.difference, 1) if share else _n(r.difference, 1)) if r.difference == r.difference else "n/a"
        if r.difference_low == r.difference_low:
            fd += f" ({_n(r.difference_low, 1)} to {_n(r.difference_high, 1)})"
        body.append(f"<tr><td>{escape(r.section)}</td><td>{escape(r.metric)}</td><td>{escape(r.unit)}</td>"
                    f"<td>{fa}</td><td>{fb}</td><td>{fd}</td></tr>")
    table = ("<table class='rr-table'><thead><tr><th>section</th><th>measure</th><th>unit</th>"
             f"<th>{escape(c.a.scenario.id)}</th><th>{escape(c.b.scenario.id)}</th><th>difference</th></tr></thead>"
             f"<tbody>{''.join(body)}</tbody></table>")
    return f"<section class='rr-scenario-compare'>{h}{words}{table}</section>"
