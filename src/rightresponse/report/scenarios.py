"""Scenario pages: a simulation's section and the comparison page (comparison.html).

HTML for scenarios lives here, with the assessment report: the same template (report.css),
the same sample banner, the same rule for withheld figures. The figures come from
rightresponse.simulate.metrics (published through rightresponse.report.disclosure), so the
words and tables here are the ones `simulate` and `scenario compare` print.
"""

from __future__ import annotations

from html import escape

from . import charts
from .html import banner, page


def _section_words(lines) -> str:
    return '<div class="scenario-words">' + "".join(f"<p>{escape(s)}</p>" for s in lines) + "</div>"


def _pool_table(res, min_cell: int) -> str:
    """Each pool's figures, as published, in the words of the metric definitions."""
    from ..simulate.metrics import POOL, applies, shown

    ids = list(res.scenario.pools)
    head = "".join(f"<th>{escape(res.scenario.pools[p].name)}</th>" for p in ids)
    body = []
    for m in POOL:
        cells = [f"<td>{escape(shown(res, m, p, min_cell)) if applies(res, m, p) else '–'}</td>" for p in ids]
        body.append(f"<tr><th scope='row'>{escape(m.label)}</th>{''.join(cells)}</tr>")
    return f"<table class='rr-table'><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _priority_chart(res, min_cell: int) -> str:
    pub = res.publish(min_cell)
    rows = []
    for (pid, lab), g in pub["priorities"].groupby(["pool", "priority"], sort=False):
        m = g.set_index("metric")["mean"]
        n = m.get("calls")
        if n is None or n != n or n < min_cell:
            continue
        rows.append((f"{res.scenario.pools[pid].name[:22]} P{lab}", m.get("response_p50_minutes"),
                     m.get("response_p90_minutes"), f"{n:,.0f} calls"))
    if not rows:
        return ""
    title = "Response time (wait for a unit + travel) by pool and priority"
    return f"<h4>{escape(title)}</h4>" + charts.range_bars(
        rows[:14], title, unit="min",
        desc="Median and 90th percentile minutes from the call to a unit on scene, mean over replications.")


def _util_chart(res, pid: str) -> str:
    u = res.utilization[res.utilization.pool == pid].sort_values("how")
    vals = (u["mean"].to_numpy() * 100).reshape(7, 24)
    off = [[v != v for v in row] for row in vals]
    title = f"{res.scenario.pools[pid].name}: share of time on shift busy, by hour of week"
    svg = charts.heatmap([[0 if v != v else v for v in row] for row in vals], off, title, unit="% busy",
                         desc="Mean over replications; hatched hours have no unit on shift.")
    # The shared heatmap hatches withheld cells; here a hatched hour is one with nobody on shift.
    svg = svg.replace("suppressed small cell", "no unit on shift").replace("fewer than the threshold", "no unit on shift")
    return f"<h4>{escape(title)}</h4>" + svg


def simulation_html(res, heading: str | None = None, level: int = 2, min_cell: int = 10) -> str:
    """The scenario's report section: the result in words, the pool table, charts and assumptions."""
    from ..simulate.metrics import _n, _pct, ci_text, summary_lines

    scn = res.scenario
    h = f"<h{level}>{escape(heading or 'Scenario: ' + scn.title)}</h{level}>"
    words = _section_words(summary_lines(res, min_cell))
    jobs = res.publish(min_cell)["pools"].set_index(["pool", "metric"])["mean"]
    shown_pools = [p for p in scn.pools if jobs.get((p, "utilization")) == jobs.get((p, "utilization"))]
    figs = _priority_chart(res, min_cell) + "".join(_util_chart(res, p) for p in shown_pools)
    an = ""
    rows = [r for r in res.analytic.itertuples() if r.pool in shown_pools]
    if rows:
        body = "".join(
            f"<tr><td>{escape(scn.pools[r.pool].name)}</td><td>{_n(r.units_needed_peak)} / {_n(r.unit_hours_needed_per_week)}</td>"
            f"<td>{r.units_rostered_peak} / {r.unit_hours_rostered_per_week:,}</td>"
            f"<td>{_pct(r.erlang_service_level)}</td>"
            f"<td>{ci_text(r.simulated_service_level, r.simulated_service_level_low, r.simulated_service_level_high, pct=True)}</td>"
            f"<td>{_n(r.erlang_mean_wait_minutes, 1)}</td>"
            f"<td>{ci_text(r.simulated_mean_wait_minutes, r.simulated_mean_wait_low, r.simulated_mean_wait_high, 1)}</td>"
            f"<td>{escape(str(r.urgent_priority))}: {_n(r.cobham_urgent_mean_wait_minutes, 1)} / "
            f"{_n(r.simulated_urgent_mean_wait_minutes, 1)}</td></tr>" for r in rows)
        an = ("<h4>Erlang C beside the simulation</h4><table class='rr-table'><thead><tr><th>pool</th>"
              "<th>units needed: peak / unit-hours a week</th><th>rostered: peak / unit-hours a week</th>"
              "<th>Erlang C: within target</th><th>simulated: within target</th><th>Erlang C: mean wait (min)</th>"
              "<th>simulated: mean wait (min)</th><th>most urgent priority: mean wait, Cobham / simulated (min)</th>"
              f"</tr></thead><tbody>{body}</tbody></table>")
    assumptions = "".join(f"<li>{escape(a)}</li>" for a in scn.assumptions())
    cov = res.coverage
    method = (f"<p><small>Discrete-event simulation ({scn.mode}; {res.replications} replications, seed {res.seed}); "
              f"{_n(cov.get('calls'))} calls, {_n(cov.get('calls_with_usable_times'))} with usable times (the others "
              f"borrow the times of a random call of the same category); {_n(cov.get('officer_initiated_left_out'))} "
              "officer-initiated activities left out (nobody called). Officer hours count unit time (travel and "
              f"on scene) times officers per unit. Counts of calls below {min_cell} are withheld with the figures "
              "resting on them." + (" Sample data are not a city's true figures." if _sample_of(res) else "")
              + "</small></p>")
    return (f"<section class='rr-scenario'>{h}{words}{_pool_table(res, min_cell)}{figs}{an}"
            f"<h4>Assumptions stated in the scenario</h4><ul>{assumptions}</ul>{method}</section>")


def comparison_html(c, heading: str | None = None, level: int = 2) -> str:
    """The comparison as a <section>: the words, then the side-by-side table."""
    from ..simulate.metrics import _n, _pct, comparison_lines

    h = f"<h{level}>{escape(heading or 'Scenario comparison')}</h{level}>"
    words = _section_words(comparison_lines(c))
    body, last = [], None
    for r in c.table.itertuples():
        if r.section != last:
            body.append(f'<tr class="group"><td colspan="4"><strong>{escape(r.section)}</strong></td></tr>')
            last = r.section
        share = r.unit == "share"
        fd = (_pct(r.difference, 1) if share else _n(r.difference, 1)) if r.difference == r.difference else "–"
        if r.difference_low == r.difference_low:
            fd += f" ({_n(r.difference_low, 1)} to {_n(r.difference_high, 1)})"
        body.append(f"<tr><td>{escape(r.metric)} <span class=\"note\">({escape(r.unit)})</span></td>"
                    f"<td class=\"n\">{escape(r.a_text)}</td><td class=\"n\">{escape(r.b_text)}</td>"
                    f"<td class=\"n\">{escape(fd)}</td></tr>")
    table = ('<div class="table-wrap"><table class="rr-table compare"><thead><tr><th>Figure</th>'
             f'<th class="n">{escape(c.a.scenario.id)}</th><th class="n">{escape(c.b.scenario.id)}</th>'
             f'<th class="n">difference</th></tr></thead><tbody>{"".join(body)}</tbody></table></div>')
    note = (f'<p class="note">Means over replications, with {100 * min(c.a.confidence, c.b.confidence):.0f}% '
            "confidence intervals in brackets. The same figures, under the same names, as each scenario's own "
            f"`rightresponse simulate`. Counts of calls below {c.min_cell} read \"&lt;{c.min_cell}\" and the figures "
            "resting on them are withheld.</p>")
    return f"<section class='rr-scenario-compare'>{h}{words}{table}{note}</section>"


def comparison_page(c) -> str:
    """comparison.html: the comparison on the report's template, with its banner."""
    from .. import __version__

    sample = _sample_of(c.a) or _sample_of(c.b)
    body = (banner(sample, "comparison") + comparison_html(c, "Baseline and pilot side by side")
            + simulation_html(c.b, f"The pilot: {c.b.scenario.title}", 2, c.min_cell))
    footer = ("Aggregates only: no call, address or narrative. Produced with rightresponse, an open-source toolkit; "
              "the table is also in comparison.csv beside this file.")
    return page(f"Scenario comparison – {c.a.scenario.id} and {c.b.scenario.id}", "Scenario comparison",
                f"{c.a.scenario.title} / {c.b.scenario.title}",
                f"{c.a.replications} replications, seed {c.a.seed} · generated by rightresponse {__version__}",
                body, footer, __version__)


def _sample_of(res) -> str | None:
    """The bundled sample the result ran on, if it did: a scenario written for the sample but
    run on another workspace (``--workspace``) describes that workspace's exports instead."""
    from ..ingest.workspace import Workspace

    sample = res.scenario.sample
    ws = res.coverage.get("workspace")
    if sample is None or not ws:
        return sample
    agencies = {f.get("agency") for f in Workspace(ws).manifest().get("files", [])}
    return sample if not agencies or agencies == {sample} else None
