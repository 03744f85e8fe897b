"""The report's "Who could respond" section: each responder policy applied to the calls, as a
range of calls and officer hours moved, with the published figures beside it and the call
types behind each figure. Fed the comparison frame ``policy.compare_policies`` returns."""

from __future__ import annotations

import html

import pandas as pd

from ..policy.history import TOP_TYPES
from .charts import pct


def _share(v) -> str:
    return pct(v, missing="n/a")


def _range(lo, hi) -> str:
    if lo != lo or hi != hi:
        return "n/a"
    return _share(lo) if abs(hi - lo) < 5e-4 else f"{_share(lo)} to {_share(hi)}"


def _bar(lo, hi, width: int = 160) -> str:
    if lo != lo or hi != hi:
        return ""
    x0, x1 = max(0.0, min(lo, hi)) * width, max(0.0, max(lo, hi)) * width
    return (f'<svg width="{width}" height="12" role="img" aria-label="{_range(lo, hi)}">'
            f'<rect x="0" y="5" width="{width}" height="2" fill="#ddd"/>'
            f'<rect x="0" y="2" width="{x0:.1f}" height="8" fill="#2b6cb0"/>'
            f'<rect x="{x0:.1f}" y="2" width="{max(x1 - x0, 0.0):.1f}" height="8" fill="#90cdf4"/></svg>')


def _anchor_html(anchors: list[dict]) -> str:
    """The published figures beside a policy's range, each with what it measured and, in one
    line, why the sample's figure differs."""
    if not anchors:
        return "<small>none published for this model</small>"
    out = []
    for a in anchors:
        lo, hi = a.get("low"), a.get("high")
        share = "" if lo is None or hi is None else f"<b>{_range(lo, hi)}</b> "
        out.append(f"<p class=\"rr-anchor\">{share}{html.escape(str(a['figure']))}"
                   + (f" <small>({html.escape(str(a['measures']))})</small>" if a.get("measures") else "")
                   + f"<br><small>Source: {html.escape(str(a['source']))}.</small>"
                   + (f"<br><small><b>Why this sample differs:</b> {html.escape(str(a['differs']))}</small>"
                      if a.get("differs") else "") + "</p>")
    return "".join(out)


def _top_types_html(rows: list[dict], min_cell: int) -> str:
    """Per policy, the call types that move the most calls (what "moved" means, concretely).
    A call type that moves fewer than ``min_cell`` calls is not listed, so no small count can
    be read off, or worked back from the policy's total."""
    if not rows:
        return ""
    by_policy: dict[str, list[dict]] = {}
    for r in rows:
        by_policy.setdefault(r["policy"], [])
        if r.get("calls") is not None and int(r["calls"]) >= min_cell:  # None: withheld by the report's disclosure
            by_policy[r["policy"]].append(r)
    parts = []
    for pol, items in by_policy.items():
        if not items:
            parts.append(f"<p><small>{html.escape(pol)}: no call type moves {min_cell} calls or more.</small></p>")
            continue
        lis = []
        for r in items:
            hours = "" if r.get("hours") is None or r["hours"] != r["hours"] else f", {r['hours']:,.0f} officer h"
            cons = r.get("calls_conservative")
            cons_txt = ("withheld" if cons is None else f"{int(cons):,}" if int(cons) == 0 or int(cons) >= min_cell
                        else f"&lt;{min_cell}")
            lis.append(f"<li><b>{html.escape(str(r['call_type']))}</b> <small>({html.escape(str(r['agency']))}"
                       f"{', ' + html.escape(str(r['category'])) if r.get('category') else ''})</small>: "
                       f"{int(r['calls']):,} calls{hours} (conservative view: {cons_txt}) &rarr; "
                       f"{html.escape(str(r['responder']))}</li>")
        parts.append(f"<details><summary>{html.escape(pol)}: the {len(items)} call types that move the most calls"
                     f"</summary><ol>{''.join(lis)}</ol></details>")
    return ("<h4>What \"moved\" means: the call types behind each figure</h4>"
            f"<p><small>Up to {TOP_TYPES} per policy, optimistic view (the screen passed); call types moving fewer "
            f"than {min_cell} calls are not listed.</small></p>" + "".join(parts))


def who_could_respond_html(comparison: pd.DataFrame, heading: str | None = "Who could respond",
                           level: int = 2, sample: bool = False, min_cell: int = 10) -> str:
    """The report's "Who could respond" section: an HTML fragment, inline SVG, no external assets.

    Shows per-policy aggregates, each policy's published figures (``attrs["anchors"]``) and the
    call types that move the most calls (``attrs["top_call_types"]``, counts under ``min_cell``
    withheld); never addresses or narratives. ``sample``: the calls are sample data (e.g. the
    bundled sample), which the note then says.
    """
    cov = comparison.attrs.get("coverage", {})
    anchors = comparison.attrs.get("anchors", {})
    rows = []
    for r in comparison.itertuples(index=False):
        rows.append(
            "<tr>"
            f"<td>{html.escape(r.policy)}<br><small>{html.escape(r.title)}</small></td>"
            f"<td>{_range(r.share_calls_moved_low, r.share_calls_moved_high)}<br>{_bar(r.share_calls_moved_low, r.share_calls_moved_high)}</td>"
            f"<td>{_range(r.share_hours_moved_low, r.share_hours_moved_high)}<br>{_bar(r.share_hours_moved_low, r.share_hours_moved_high)}</td>"
            f"<td>{_range(r.misroute_risk_low, r.misroute_risk_high)}</td>"
            f"<td>{_range(r.share_calls_changed_low, r.share_calls_changed_high)}</td>"
            f"<td>{_anchor_html(anchors.get(r.policy, []))}</td>"
            "</tr>")
    head = f"<h{level}>{html.escape(heading)}</h{level}>" if heading else ""
    n, timed = cov.get("calls", 0), cov.get("calls_with_usable_times", 0)
    narr = ("Narrative flags (weapon, violence) were available and used."
            if cov.get("narrative_flags") else "The data has no call narratives, so no narrative flags were used.")
    sample_note = " Sample data are not a city's true figures." if sample else ""
    route = ("the initial call type where recorded (what the call-taker knew), else the final type"
             if cov.get("route_on", "initial") == "initial" else "the final call type")
    danger = int(cov.get("calls_in_dangerous_call_types", 0))
    danger_txt = (f"&lt;{min_cell}" if 0 < danger < min_cell else f"{danger:,}")
    measure = cov.get("measure_label", "total deployed time")
    max_h = cov.get("max_hours")
    return f"""<section class="rr-who-could-respond">{head}
<p>What share of police calls and officer time each responder policy would send to someone other than an
officer, applied to {n:,} historical police calls. Each figure is a range: the <b>conservative</b> end keeps with
an officer every call type that ever showed a weapon or violence indicator or ended in an arrest or a
violent-crime report, and every call at the most urgent priority; the <b>optimistic</b> end applies the policy as
written with the call-taker's screening questions answered "no" (historical data rarely records them). Routing
uses {route}.</p>
<p>In both views no call whose type is dangerous in itself counts as movable: {danger_txt} calls have a call type
that states a weapon, violence, a crime in progress, impaired driving, a prisoner or an officer in need, and the
safety floor keeps an officer on every one of them under every policy.</p>
<table class="rr-table">
<thead><tr><th>policy</th><th>calls moved from police</th><th>officer hours moved</th>
<th>misroute risk<br><small>diverted calls that ended in an arrest or violent-crime report</small></th>
<th>calls whose response changes<br><small>incl. co-responders</small></th>
<th>published figures<br><small>and why this sample differs</small></th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
{_top_types_html(comparison.attrs.get("top_call_types", []), min_cell)}
<p><small>Officer hours are {html.escape(str(measure))} of the {timed:,} calls with usable times, measured as in the
workload tables{f" (calls over {max_h:g} h left out)" if max_h else ""}. The conservative misroute risk is zero by
construction. {narr}{sample_note} A published figure measures a whole city over a year or more, by its own method;
this sample is a few weeks or months of one agency's police calls, so the two are not expected to agree.</small></p>
</section>"""
