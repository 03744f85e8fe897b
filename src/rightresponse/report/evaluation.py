"""The pilot evaluation page (rightresponse.evaluate): one self-contained HTML file.

Rendered from the published tables only (rightresponse.report.disclosure.publish_evaluation),
in the assessment report's template, so the page cannot say more than tables/ beside it.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from ..evaluation_design import CI_METHOD, LIMITS
from . import charts
from .html import HIDDEN, banner, dispatch_section, fmt_pct, page, table

GROUP_LABEL = {"all": "all calls in scope", "eligible": "eligible", "comparison": "comparison",
               "eligible_treated": "eligible, treated areas", "eligible_other": "eligible, other areas"}
MEASURE_LABEL = {"calls_per_week": "calls per week", "officer_hours_per_week": "officer hours per week"}


def _num(v, f: str) -> str:
    return "–" if v is None else f.format(v)


def _words(j: dict) -> list[str]:
    """The result in sentences, from the published figures (the JSON)."""
    w = j["pilot"]
    out = [f"Policy {j['policy']} ({j['policy_title']}) decides which police calls are eligible: those it moves "
           f"from police in its conservative view. The pilot started on {w['start']}"
           + (f" and ended on {w['end']}" if w["end"] else "")
           + f"; the data cover {w['data_first']} to {w['data_last']}, {w['weeks_before']:g} weeks before the start "
             f"and {w['weeks_after']:g} after."]
    e, c = j["eligible"], j["comparison"]
    if e["before"] and e["after"]:
        out.append(f"Eligible calls went from {_num(e['before']['calls_per_week'], '{:,.1f}')} to "
                   f"{_num(e['after']['calls_per_week'], '{:,.1f}')} a week, and the officer hours they took from "
                   f"{_num(e['before']['officer_hours_per_week'], '{:,.1f}')} to "
                   f"{_num(e['after']['officer_hours_per_week'], '{:,.1f}')} a week; the comparison calls went from "
                   f"{_num(c['before']['calls_per_week'], '{:,.1f}')} to {_num(c['after']['calls_per_week'], '{:,.1f}')} "
                   "a week.")
    for m, d in j["did"].items():
        rel = d.get("relative") or {}
        out.append(f"Difference in differences, {MEASURE_LABEL[m]}: {_num(d['estimate'], '{:+,.1f}')} "
                   f"(95% interval {_num(d['low'], '{:+,.1f}')} to {_num(d['high'], '{:+,.1f}')}); as a proportion of "
                   f"the eligible series, {_num(rel.get('estimate'), '{:+.1%}')} ({_num(rel.get('low'), '{:+.1%}')} to "
                   f"{_num(rel.get('high'), '{:+.1%}')}). An interval that contains zero is no evidence of an effect.")
    return out


def _periods_table(pub) -> str:
    d = pub["evaluation_periods"]
    d = d.subset([True] * len(d))
    d.values["group"] = d.values["group"].map(lambda g: GROUP_LABEL.get(g, g))
    cols = [("group", "group", "text"), ("period", "period", "text"), ("calls", "calls", "int"),
            ("calls_per_week", "calls / week", "min"), ("officer_hours", "officer hours", "hours"),
            ("officer_hours_per_week", "hours / week", "min"),
            ("response_median_minutes", "response median (min)", "min"),
            ("response_p90_minutes", "response p90 (min)", "min"), ("share_arrest", "arrest", "pct"),
            ("share_report", "report", "pct"), ("share_no_action", "no action", "pct")]
    return table(d, cols)


def _did_table(pub) -> str:
    d = pub["evaluation_did"]
    rows = []
    for i in range(len(d)):
        v = d.values.iloc[i]
        lvl = v["scale"] == "level"

        def f(col, _i=i, _lvl=lvl):
            x = d.value(_i, col)
            if x is None:
                return HIDDEN if d.hidden[col].iat[_i] else "–"
            return f"{x:+,.1f}" if _lvl else f"{math.expm1(x):+.1%}"
        what = "difference per week" if lvl else "proportional change"
        rows.append(f"<tr><td>{escape(GROUP_LABEL.get(v['group'], v['group']))} vs "
                    f"{escape(GROUP_LABEL.get(v['versus'], v['versus']))}</td><td>{escape(MEASURE_LABEL[v['measure']])}"
                    f"</td><td>{what}</td><td class=\"n\">{f('estimate')}</td><td class=\"n\">{f('low')} to {f('high')}"
                    f"</td><td class=\"n\">{int(v['weeks_before'])} + {int(v['weeks_after'])}</td></tr>")
    return ('<div class="table-wrap"><table><thead><tr><th>contrast</th><th>measure</th><th>scale</th>'
            '<th class="n">estimate</th><th class="n">95% interval</th><th class="n">full weeks (before + after)</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _event_charts(pub) -> str:
    ev = pub["evaluation_event_study"]
    parts = []
    for (contrast, measure), g in ev.values[ev.values["scale"] == "log"].groupby(["contrast", "measure"], sort=False):
        pts = []
        for i in g.index:
            e, lo, hi = (ev.value(i, c) for c in ("estimate", "low", "high"))
            pts.append((ev.values["week"].iat[i], None if e is None else math.expm1(e),
                        None if lo is None else math.expm1(lo), None if hi is None else math.expm1(hi)))
        a, b = ("eligible", "comparison") if contrast == "groups" else ("eligible_treated", "eligible_other")
        title = (f"{GROUP_LABEL[a].capitalize()} against {GROUP_LABEL[b]}: {MEASURE_LABEL[measure]}, change in the "
                 "ratio of the two series from its pre-pilot mean")
        if all(p[1] is None for p in pts):
            parts.append(f"<h3>{escape(title)}</h3><p class=\"note\">Withheld: the weekly figures rest on weeks with "
                         f"fewer than {pub.min_cell} calls.</p>")
            continue
        parts.append(f"<h3>{escape(title)}</h3>" + charts.event_study(
            pts, title, unit="", fmt=lambda v: f"{v:+.0%}",
            desc="Each point is one full week; bars show where a pre-pilot week would fall if nothing changed "
                 "(95%). Points before the start that wander outside the bars cast doubt on parallel trends."))
    return "".join(parts)


def _repeat(pub, j) -> str:
    rep = pub.get("evaluation_repeat")
    if rep is None:
        return f'<p class="note">{escape((j.get("repeat_calls") or {}).get("note") or "")}</p>'
    cols = [("group", "group", "text"), ("period", "period", "text"), ("repeat_rate", "repeat calls", "pct")]
    return ("<p>Share of calls to a block address that had another police call in the 30 days before it (calls "
            "with an address and a full 30-day look-back only). Rates only: the addresses stay in the analyst's "
            "private folder.</p>" + table(rep, cols))


def _decisions(pub, j) -> str:
    d = j.get("decisions")
    if not d:
        return ""
    fb = d["fallbacks"]
    period = d.get("period") or {}
    text = (f"<p>Decisions logged {escape(period.get('since', ''))} to {escape(period.get('until', ''))} (recording "
            f"date, exclusive end) under this policy: adherence {fmt_pct(d['adherence'])} (the call-taker dispatched "
            "what the console recommended). Fallbacks because the team was busy or off duty: "
            f"{_count_text(fb['total'], pub.min_cell)} eligible calls, of which the console's recommendation had "
            f"already gone down the fallback chain in {_count_text(fb['recommendation_fell_back'], pub.min_cell)} "
            "(team off duty at that hour, marked busy, or screening questions unanswered: the log does not say which) "
            f"and the call-taker overrode with the reason \"busy or off duty\" in "
            f"{_count_text(fb['overridden_unavailable'], pub.min_cell)}.</p>")
    return text + dispatch_section(pub, 3)


def _count_text(v, mc: int) -> str:
    return f"&lt;{mc} or withheld" if v is None else f"{v:,}"


def render_evaluation(result) -> str:
    from .. import __version__

    pub = result.publish()
    j = result.to_json_dict()
    s = result.summary
    mc = pub.min_cell
    lede = "".join(f"<p>{escape(x)}</p>" for x in _words(j))
    placebo = (f'<div class="banner" role="note"><strong>Placebo: no pilot ran in these data</strong>'
               f"{escape(s['placebo_note'])}</div>" if s.get("placebo_note") else banner(None, "evaluation"))
    limits = "".join(f"<li>{escape(x)}</li>" for x in LIMITS)
    areas = ""
    if s.get("areas"):
        areas = (f"<p>Treated areas: {escape(', '.join(s['areas']))}. The second contrast compares the eligible calls "
                 "in those districts with the eligible calls elsewhere.</p>")
    body = (placebo + f'<section class="lede" aria-label="Summary">{lede}</section>'
            + "<h2>Before and after</h2><p>Eligible and comparison calls partition the calls in scope. Response "
              f"time: {escape(s['response_time']['label'])}, calls from the public. Officer hours: "
              f"{escape(s['measure_label'])} ({escape(s['measure_doc'])}).</p>" + _periods_table(pub)
            + "<h2>Difference in differences</h2>" + areas + _did_table(pub)
            + f"<p class=\"note\">Interval: {escape(CI_METHOD)}. Deterministic.</p>"
            + "<h2>Week by week (event study)</h2>" + _event_charts(pub)
            + "<h2>Repeat calls to the same address</h2>" + _repeat(pub, j)
            + ("<h2>The decision log during the pilot</h2>" + _decisions(pub, j) if j.get("decisions") else "")
            + f"<h2>What this design cannot show</h2><ul>{limits}</ul>"
            + (f"<p>{escape(s['placebo_note'])}</p>" if s.get("placebo_note") else ""))
    footer = (f"Aggregates only: no addresses, coordinates or narratives. Counts below {mc} read &lt;{mc}, and figures "
              f"that would give them back are withheld ({HIDDEN}). Produced with rightresponse; the tables are in "
              "tables/ beside this file." if mc > 1 else
              "Aggregates only. Exact counts (minimum cell size 0): for the analyst, not for release.")
    return page(f"Pilot evaluation – {s['policy']}", "Pilot evaluation",
                f"{s['policy_title']} · pilot from {s['window']['start']}",
                f"Generated {s['generated_at'][:10]} by rightresponse {__version__} · time measure: {s['measure_label']}",
                body, footer, __version__)


def write_evaluation_report(result, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_evaluation(result), encoding="utf-8")
    return path
