"""Build the assessment report: one self-contained HTML file a council can read and print.

Everything is inline (CSS, SVG), nothing is fetched, nothing needs JavaScript. The report
renders the *published* tables only (rightresponse.report.disclosure): every figure on the
page, in a table, a chart or a sentence, is one the disclosure module let out, so the page
can never say more than the CSV files beside it. Addresses and narratives never reach this
module.

A section with nothing to show says why and draws nothing: no officer time, no origin, no
geography, an interval that is zero by construction, an hour-of-week grid too sparse to read.
"""

from __future__ import annotations

import math
import re
from html import escape
from importlib import resources
from pathlib import Path

import pandas as pd

from ..measures import INTERVALS, MEASURES, reason_text
from ..workload import ORIGIN_GROUPS, OUTCOME_ORDER
from . import charts
from .published_figures import CRIME_GROUPS, crime_definitions
from .disclosure import Disclosed, count_text

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SAMPLE_TEXT = {
    "decc": ("the bundled sample: 14 weekly exports (2025-08-24 to 2025-11-29) of one consolidated 911 "
             "centre's CAD system, published as open data by its analyst. The publisher does not name the "
             "jurisdiction. The report shows what an assessment looks like and how it is computed; "
             "its figures describe those exports only."),
}
# Call types decided with less confidence than this are flagged at the top of the report when,
# together, they carry more than LOW_CONFIDENCE_SHARE of the calls. A method of
# "needs_review" (a classifier that abstains) is flagged whatever its confidence.
LOW_CONFIDENCE_BELOW = 0.8
LOW_CONFIDENCE_SHARE = 0.05
# Officer activity and administrative statuses (off-duty details, breaks, premise checks) are
# work, but not a service to the public; above this share of officer time the report says so.
NON_SERVICE_GROUP = "officer activity and administrative"
NON_SERVICE_SHARE = 0.10
HIDDEN = "·"  # a withheld figure that is not a small count


# ---------------------------------------------------------------- formatting


def _nan(v) -> bool:
    if v is None or v is pd.NA:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def fmt_int(v) -> str:
    return "–" if _nan(v) else f"{int(v):,}"


def fmt_pct(v, d: int = 1) -> str:
    return charts.pct(v, d)


def fmt_hours(v) -> str:
    if _nan(v):
        return "–"
    v = float(v)
    return f"{v:,.1f}" if v < 10 else f"{v:,.0f}"


def fmt_min(v) -> str:
    return "–" if _nan(v) else f"{float(v):,.1f}"


def fmt_conf(v) -> str:
    return "–" if _nan(v) else f"{float(v):.2f}"


FMT = {"int": fmt_int, "pct": fmt_pct, "hours": fmt_hours, "min": fmt_min, "conf": fmt_conf,
       "text": lambda v: "" if _nan(v) else str(v)}
_N = ' class="n"'


def table(d: Disclosed | None, cols, *, total: dict | None = None, limit: int | None = None, cls: str = "") -> str:
    """A published table. cols: (column, header, kind). A withheld small count reads
    "<min_cell", any other withheld figure "·"."""
    if d is None or d.empty:
        return '<p class="note">No data.</p>'
    n = len(d) if limit is None else min(limit, len(d))
    head = "".join(f'<th{_N if k != "text" else ""}>{escape(h)}</th>' for _, h, k in cols)
    body = []
    for i in range(n):
        tds = []
        for c, _, k in cols:
            num = k != "text"
            hidden = d.text(i, c)
            if hidden is not None:
                tds.append(f'<td class="n sup">{escape(hidden or HIDDEN)}</td>')
                continue
            v = d.values[c].iat[i] if c in d.columns else None
            tds.append(f'<td{_N if num else ""}>{escape(FMT[k](v))}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    if total:
        tds = []
        for c, _, k in cols:
            v = total.get(c, "")
            tds.append(f'<td{_N if k != "text" else ""}>{escape(FMT[k](v) if not isinstance(v, str) else v)}</td>')
        body.append('<tr class="total">' + "".join(tds) + "</tr>")
    more = ""
    if n < len(d):
        more = f'<p class="note">Showing {n} of {len(d):,} rows; the full table is in the CSV and Parquet files.</p>'
    return (f'<div class="table-wrap"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{more}')


def cell_text(d: Disclosed, i: int, col: str) -> str:
    """One published count in a sentence or a chart label: the number, "<min_cell" or "·"."""
    t = d.text(i, col)
    if t is not None:
        return t or HIDDEN
    return fmt_int(d.values[col].iat[i])


def _rows(d: Disclosed | None, key: str) -> dict:
    """{key value: row position} of a published table."""
    if d is None:
        return {}
    return {d.values[key].iat[i]: i for i in range(len(d))}


def _time_cols(s: dict, cols: list) -> list:
    """Without any officer time measured, the time columns are left out rather than shown as zeros."""
    if s["hours"] > 0:
        return cols
    return [c for c in cols if c[0] not in ("hours", "share_time", "mean_minutes", "calls_timed")]


def _withheld_note(d: Disclosed | None) -> str:
    if d is None or d.empty or not d.hidden.to_numpy().any():
        return ""
    mc = d.min_cell
    return (f'<p class="note">&lt;{mc}: fewer than {mc} calls. {HIDDEN}: withheld so that a small count '
            "cannot be worked out from the totals, shares or means published beside it.</p>")


# ---------------------------------------------------------------- narrative


def _list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def narrative(result, pub, s) -> list[str]:
    """Plain-text paragraphs written from the published figures only."""
    out = []
    svc = s["service"]
    period = f"{_date(s['period']['start'])} to {_date(s['period']['end'])}"
    cov = s["coverage"][s["measure"]]
    if svc and s["calls_all_services"] != s["calls"]:
        others = ", ".join(f"{n:,} {k.upper() if k == 'ems' else k}" for k, n in s["services"].items() if k != svc)
        first = (f"Of the {s['calls_all_services']:,} calls in the data ({period}), {s['calls']:,} were {svc} calls; "
                 f"this report measures {svc} time, so the others ({others}) are left out.")
    else:
        first = f"The data holds {s['calls']:,} {svc + ' ' if svc else ''}calls from {period}."
    measured_share = cov["calls_measured"] / cov["calls_in_scope"] if cov["calls_in_scope"] else 0
    m = MEASURES[s["measure"]]
    if cov["calls_measured"]:
        first += (f" Measured as {s['measure_label']} ({m.doc}), they took "
                  f"{s['hours']:,.0f} officer hours, counted over the {cov['calls_measured']:,} calls "
                  f"({measured_share:.0%}) whose timestamps allow it.")
    else:
        first += (f" No call has both the {m.start} and the {m.end} time that {s['measure_label']} needs, so "
                  "officer time cannot be measured from this data; the report counts calls.")
    out.append(first)

    cat = pub["by_category"]
    share = "share_time" if s["hours"] > 0 else "share_calls"
    what = "officer time" if s["hours"] > 0 else "calls"
    vis = cat.values[cat.values[share].notna()].sort_values(share, ascending=False)
    vis = vis[vis[share] > 0]
    if len(vis):
        top = vis.head(3)
        names = [f"{r['category']} ({fmt_pct(r[share])})" for _, r in top.iterrows()]
        para = f"The largest shares of {what} went to {_list(names)}"
        if s["hours"] > 0:
            para += (f": together {fmt_pct(top['share_time'].sum())} of time from "
                     f"{fmt_pct(top['share_calls'].sum())} of calls")
        para += "."
        withheld = 1.0 - float(cat.values[share].dropna().sum())
        if withheld > float(top[share].iloc[-1]) and cat.values[share].isna().any():
            hid = [str(x) for x in cat.values.loc[cat.values[share].isna(), "category"]]
            para += (f" The categories withheld to protect a small count ({_list(hid)}) hold together "
                     f"{fmt_pct(withheld)} of {what}; their crime groups below show where it goes.")
        out.append(para)
    cg = pub["by_crime_group"]
    if cg.values["crime_group"].notna().any():
        rows = _rows(cg, "crime_group")
        bits = []
        for g, i in rows.items():
            if _nan(g):
                continue
            st, sc = cg.value(i, "share_time"), cg.value(i, "share_calls")
            if sc is None:
                bits.append(f"{g} withheld (a small count)")
            elif s["hours"] > 0 and st is not None:
                bits.append(f"{g} {fmt_pct(st)} of officer time ({fmt_pct(sc)} of calls)")
            else:
                bits.append(f"{g} {fmt_pct(sc)} of calls")
        if bits:
            para = "By kind of call (the five crime groups, which add up to all calls): " + "; ".join(bits) + "."
            crime = _crime_share(cg, "share_time" if s["hours"] > 0 else "share_calls")
            dt = pub["by_demand_type"]
            dcrime = dt.value(_rows(dt, "demand_type")["crime"], "share_time" if s["hours"] > 0 else "share_calls") \
                if "crime" in _rows(dt, "demand_type") else None
            defs = crime_definitions(cat.values)
            if crime is not None and dcrime is not None:
                para += (f" \"Crime\" here means the three crime groups ({fmt_pct(crime)} of {what}: "
                         f"{defs['crime groups']}); the comparison with Detroit below uses Langton's narrower "
                         f"demand type \"crime\" ({fmt_pct(dcrime)}: {defs['demand type']}).")
            out.append(para)
    oi, ot = s["officer_initiated_share_calls"], s["officer_initiated_share_time"]
    og = pub["by_origin_group"]
    ogr = _rows(og, "origin_group")
    if s.get("origin_recorded") is False:
        out.append("The source does not record who started each call (the public or an officer on view).")
    elif oi is not None:
        para = f"Officers started {fmt_pct(oi)} of calls themselves (officer-initiated)"
        timed = og.value(ogr["officer"], "calls_timed") if "officer" in ogr else None
        calls_o = og.value(ogr["officer"], "calls") if "officer" in ogr else None
        if s["hours"] > 0 and timed == 0:
            para += (f"; none of them has the timestamps {s['measure_label']} needs, so their share of officer "
                     "time cannot be measured")
        elif s["hours"] > 0 and ot is not None:
            para += f" and took {fmt_pct(ot)} of the measured time"
            if timed is not None and calls_o and timed / calls_o < 0.5:
                para += (f" (only {timed / calls_o:.0%} of them have the timestamps {s['measure_label']} needs, "
                         "so that share is understated; see Data quality)")
        pub_share = og.value(ogr["resident"], "share_calls") if "resident" in ogr else None
        if pub_share:
            para += f"; {fmt_pct(pub_share)} came from the public"
        unk = og.value(ogr["unknown"], "share_calls") if "unknown" in ogr else None
        if unk:
            para += (f"; {fmt_pct(unk)} came by other channels (such as a transfer from another centre or radio "
                     "traffic) or have no recorded origin")
        out.append(para + ".")
    if s.get("top80_call_types"):
        out.append(f"Officer time is concentrated: {s['top80_call_types']} of the {s['call_types']:,} call types "
                   f"account for 80% of it (Gini index {s['gini']:.2f}).")
    rt = pub["response_times"]
    r1 = _rows(rt, "priority").get("1")
    if r1 is not None and rt.value(r1, "median_to_arrival") is not None:
        out.append(f"For the most urgent calls from the public (priority 1), the median time from call to first "
                   f"arrival was {rt.value(r1, 'median_to_arrival'):.1f} minutes; one in ten took longer than "
                   f"{rt.value(r1, 'p90_to_arrival'):.1f} minutes.")
    hw = pub["hour_of_week"].values
    if len(hw) and hw["calls"].notna().any():
        peak = hw.sort_values("calls", ascending=False).iloc[0]
        out.append(f"Calls peak on {DAYS[int(peak['dow'])]}s around {int(peak['hour']):02d}:00 (local time).")
    return out


def _crime_share(cg: Disclosed, col: str):
    rows = _rows(cg, "crime_group")
    vals = [cg.value(rows[g], col) for g in CRIME_GROUPS if g in rows]
    return None if any(v is None for v in vals) else float(sum(vals))


def _date(s) -> str:
    if not s:
        return "?"
    d = pd.Timestamp(s)
    return f"{d.day} {d.strftime('%B %Y')}"


# ---------------------------------------------------------------- notices at the top


def _command(s: dict, *options: str) -> str:
    """How to re-run this assessment with other options."""
    where = f" --workspace {s['workspace']}" if s.get("workspace") else ""
    if not where and not s.get("sample"):
        where = " PATHS --workspace ws"
    return "rightresponse assess" + where + "".join(f" {o}" for o in options)


def low_confidence(pub) -> dict | None:
    """Call types categorized with confidence below LOW_CONFIDENCE_BELOW (or left for review by
    the classifier), when the published ones carry more than LOW_CONFIDENCE_SHARE of the calls:
    {threshold, share_calls, call_types (published rows), more (how many others)}. Reads the
    classification result as it is (confidence, method), whatever decided it."""
    ct = pub.get("by_call_type")
    if ct is None or ct.empty:
        return None
    v = ct.values
    conf = pd.to_numeric(v["confidence"], errors="coerce")
    low = (conf < LOW_CONFIDENCE_BELOW) | (v["method"].astype(str) == "needs_review")
    shown = v[low & v["share_calls"].notna()].sort_values("calls", ascending=False)
    share = float(shown["share_calls"].sum())  # published shares only: withheld ones would give a count back
    if share <= LOW_CONFIDENCE_SHARE:
        return None
    return {"threshold": LOW_CONFIDENCE_BELOW, "share_calls": share, "call_types": shown,
            "more": int(low.sum()) - len(shown)}


def _notice_confidence(pub, s) -> str:
    """Call types categorized with low confidence that carry more than 5% of the calls: named,
    with how to fix them, before any figure that rests on them."""
    lc = low_confidence(pub)
    if lc is None:
        return ""
    shown, share = lc["call_types"], lc["share_calls"]
    items = "".join(
        f"<li><strong>{escape(str(r['call_type']))}</strong>: {escape(str(r['category']))}, "
        f"{'needs review' if r['method'] == 'needs_review' else 'confidence ' + fmt_conf(r['confidence'])}, "
        f"{fmt_int(r['calls'])} calls ({fmt_pct(r['share_calls'])})</li>" for _, r in shown.head(6).iterrows())
    more = lc["more"] + len(shown) - min(len(shown), 6)
    cat = pub["by_category"].values.set_index("category")
    affected = []
    for c, part in shown.groupby("category", sort=False):
        whole = cat["calls"].get(c) if c in cat.index else None
        if whole is not None and not _nan(whole) and whole:
            affected.append(f"{c}: {fmt_int(part['calls'].sum())} of its {fmt_int(whole)} calls "
                            f"({fmt_pct(part['calls'].sum() / whole, 0)})")
    ws = s.get("workspace") or "ws"
    first = "" if s.get("workspace") else (f"<li>keep a workspace: <code>{escape(_command(s))}</code> (or "
                                           "<code>rightresponse ingest ... --workspace ws</code>);</li>")
    return (
        '<div class="banner notice" role="note"><strong>Check these categories before quoting the figures</strong>'
        f"<p>{fmt_pct(share)} of calls are in call types categorized with confidence below "
        f"{LOW_CONFIDENCE_BELOW:g} (a guess nobody has reviewed):</p><ul>{items}</ul>"
        + (f"<p>and {more} more call type{'s' if more != 1 else ''} with fewer calls.</p>" if more > 0 else "")
        + (f"<p>Categories resting on them: {escape('; '.join(affected))}.</p>" if affected else "")
        + "<p>To fix them:</p><ol>" + first
        + f"<li><code>rightresponse crosswalk export --workspace {escape(ws)} -o review.csv</code>;</li>"
          "<li>correct the <code>category</code> of these rows in <code>review.csv</code> (keep only the rows "
          "you decide);</li>"
          f"<li><code>{escape(_command(s, '--overrides review.csv'))}</code>, or keep the decisions in the "
          f"workspace for every later run: <code>rightresponse crosswalk import review.csv --workspace "
          f"{escape(ws)}</code>.</li></ol></div>")


def _notice_excluded(pub, s) -> str:
    """What --exclude-* left out, per value and in total (s: the public summary, whose
    ``excluded`` has the figures resting on a small count withheld)."""
    ex = s.get("excluded")
    if not ex:
        return ""
    mc = pub.min_cell
    items = "".join(
        f"<li>{'category' if x['kind'] == 'category' else 'call type'} <strong>{escape(x['value'])}</strong>: "
        f"{escape(count_text(x['calls'], mc, x['calls'] is None) if x['calls'] is not None else x['calls_text'])} calls, "
        f"{fmt_hours(x['hours']) if x['hours'] is not None else HIDDEN} officer hours "
        f"({fmt_pct(x['share_calls_before']) if x['share_calls_before'] is not None else HIDDEN} of calls and "
        f"{fmt_pct(x['share_time_before']) if x['share_time_before'] is not None else HIDDEN}"
        " of officer time before they were left out)</li>" for x in ex["values"])
    b = ex["before"]
    totals = (f"<p>With them: {b['calls']:,} calls and {b['hours']:,.0f} officer hours; without them (the figures "
              f"below): {s['calls']:,} calls and {s['hours']:,.0f} hours.</p>" if b.get("calls") is not None else
              f"<p>The figures below are without them; the totals with them are withheld, since the difference would "
              f"give a count below {mc} back.</p>")
    return ('<div class="banner notice" role="note"><strong>Left out of every figure below, at the analyst\'s '
            f"request</strong><ul>{items}</ul>{totals}</div>")


def _non_service(pub, s) -> str:
    """Officer activity and administrative statuses: how much of the time they are, the
    shares without them, and how to leave them out."""
    if s.get("excluded"):
        return ""
    cg = pub["by_crime_group"]
    rows = _rows(cg, "crime_group")
    if NON_SERVICE_GROUP not in rows:
        return ""
    col = "share_time" if s["hours"] > 0 else "share_calls"
    what = "officer time" if s["hours"] > 0 else "calls"
    g = cg.value(rows[NON_SERVICE_GROUP], col)
    if g is None or g < NON_SERVICE_SHARE:
        return ""
    cat = pub["by_category"].values
    members = [str(c) for c in cat.loc[cat["crime_group"] == NON_SERVICE_GROUP, "category"]]
    ct = pub["by_call_type"].values
    top = ct[ct["category"].isin(members) & ct[col].notna()].sort_values(col, ascending=False).head(3)
    named = [f"{r['call_type']} {fmt_pct(r[col])}" for _, r in top.iterrows()]
    others = cat[(cat["crime_group"] != NON_SERVICE_GROUP) & cat[col].notna()].sort_values(col, ascending=False).head(5)
    rows_html = "".join(f"<tr><td>{escape(str(r['category']))}</td><td class=\"n\">{fmt_pct(r[col])}</td>"
                        f"<td class=\"n\">{fmt_pct(r[col] / (1 - g))}</td></tr>" for _, r in others.iterrows())
    biggest = top.iloc[0]["call_type"] if len(top) else None
    opts = [f"--exclude-category {m!r}".replace("'", '"') for m in members if m != "Officer Needs Help"]
    cmd = _command(s, *opts[:1]) if opts else ""
    cmd2 = _command(s, f'--exclude-call-type "{biggest}"') if biggest else ""
    return (
        '<div class="callout" role="note"><strong>Not all of this is a service to the public</strong>'
        f"<p>Officer activity and administrative statuses ({escape(_list(members))}) take {fmt_pct(g)} of {what}"
        + (f"; the largest: {escape(_list(named))}" if named else "")
        + ". Off-duty details, breaks and premise checks are police work, but not calls from the public; "
          "a council weighing who should answer which calls may want them apart.</p>"
        + f"<table class=\"compact\"><thead><tr><th>Category</th><th class=\"n\">% of {what}</th>"
          f"<th class=\"n\">without them</th></tr></thead><tbody>{rows_html}</tbody></table>"
        + "<p>To leave them out of every figure:"
        + (f" <code>{escape(cmd)}</code>" if cmd else "")
        + (f", or only the largest call type: <code>{escape(cmd2)}</code>" if cmd2 else "")
        + ". The report then states what was left out and the figures with them.</p></div>")


# ---------------------------------------------------------------- sections


def _cov(text: str) -> str:
    return f'<p class="coverage">Coverage: {escape(text)}.</p>'


def _short(s: dict, name: str) -> str:
    c = s["coverage"][name]
    return (f"{c['calls_measured']:,} of {c['calls_in_scope']:,} calls measured"
            + (f", {c['calls_excluded']:,} excluded (reasons in Data quality)" if c["calls_excluded"] else ""))


def agency_name(a: str) -> str:
    a = str(a).replace("_", " ")
    if a.endswith(" 311"):  # a city's 311 system: "NYC 311", "Boston 311"
        return agency_name(a[:-4]) + " 311"
    return a.upper() if len(a) <= 5 else a.title()


def _h2(num: int, title: str, anchor: str) -> str:
    return f'<h2 id="{anchor}"><span class="num">{num}.</span>{escape(title)}</h2>'


def _section_time(r, p, s) -> str:
    cat = p["by_category"]
    v = cat.values
    rows = [(str(v["category"].iat[i]), cat.value(i, "share_calls"), cat.value(i, "share_time"),
             False if cat.value(i, "share_calls") is not None else
             ("fewer calls than the reporting threshold" if cat.text(i, "calls") else
              "withheld with a small count (see crime groups)")) for i in range(len(cat))]
    chart = charts.paired_bars(rows, "Share of calls and of officer time by category",
                               desc=f"Bars compare each category's share of calls with its share of {s['measure_label']}.")
    cols = _time_cols(s, [("category", "Category", "text"), ("crime_group", "Crime group", "text"),
                          ("demand_type", "Demand type", "text"), ("calls", "Calls", "int"),
                          ("share_calls", "% calls", "pct"), ("hours", "Hours", "hours"),
                          ("share_time", "% time", "pct"), ("mean_minutes", "Min per call", "min")])
    total = {"category": "Total", "calls": s["calls"], "share_calls": 1.0, "hours": s["hours"],
             "share_time": 1.0 if s["hours"] > 0 else None}
    intro = (f"<p>Each pair of bars compares a category's share of calls (light) with its share of officer time "
             f"({escape(s['measure_label'])}, dark), largest share of time first. Where the dark bar is longer, "
             f"the category's calls take longer than the average call.</p>" if s["hours"] > 0 else
             '<p>No officer time could be measured from this data (see Data quality), so the bars and the table '
             "show calls only.</p>")
    return (
        _h2(1, "Where officer time goes" if s["hours"] > 0 else "What the calls are about", "time") + intro
        + f"<figure>{chart}<figcaption>Categories: the Vera Institute's 22 call categories."
        + (f" Time: {escape(s['measure_label'])}, {escape(MEASURES[s['measure']].doc.rstrip('.'))}." if s["hours"] > 0 else "")
        + "</figcaption></figure>"
        + table(cat, cols, total=total) + _withheld_note(cat)
        + _cov(s["notes"][s["measure"]])
    )


def _section_rollups(r, p, s) -> str:
    base = _time_cols(s, [("calls", "Calls", "int"), ("share_calls", "% calls", "pct"), ("hours", "Hours", "hours"),
                          ("share_time", "% time", "pct")])
    avail = [m for m in MEASURES if m in s["measures_available"]]
    defs = crime_definitions(p["by_category"].values)
    out = (
        _h2(2, "Crime, non-crime and demand types", "rollups")
        + "<p>Two ways of grouping the categories, each adding up to all calls. The <strong>crime groups</strong> "
          f"separate offences (violent, property, other crime: {escape(defs['crime groups'])}) from non-criminal calls "
          "and from officer activity. The <strong>demand types</strong> of Langton et al. sort calls by the kind of "
          f"demand; their \"crime\" is narrower ({escape(defs['demand type'])}), because warrants, liquor and status "
          "offences count as other kinds of demand.</p>"
        + '<div class="two"><div><h3>Crime groups</h3>'
        + table(p["by_crime_group"], [("crime_group", "Crime group", "text")] + base)
        + '</div><div><h3>Demand types (Langton et al.)</h3>'
        + table(p["by_demand_type"], [("demand_type", "Demand type", "text")] + base)
        + "</div></div>" + (_withheld_note(p["by_crime_group"]) or _withheld_note(p["by_demand_type"]))
    )
    if len(avail) < 2:
        return out + (f'<p class="note">The data allows {"one time measure" if avail else "no time measure"}, so '
                      "there is no comparison of measures.</p>")
    mcols = [("crime_group", "Crime group", "text"), ("share_calls", "% calls", "pct")] + [
        (f"share_time_{m}", f"% {MEASURES[m].label}", "pct") for m in avail]
    return (out + "<h3>How the choice of time measure changes the picture</h3>"
            + "<p>Published studies measure officer time differently, and for some kinds of call the share of time "
              "depends on that choice (Langton, Verlaan &amp; Ruiter 2023). The same calls under each measure the "
              "data allows:</p>"
            + table(p["measure_comparison"], mcols)
            + _cov("; ".join(f"{MEASURES[m].label}: {_short(s, m)}" for m in avail)))


def _section_origin(r, p, s) -> str:
    title = _h2(3, "Who starts the call", "origin")
    if s.get("origin_recorded") is False:
        return title + ('<p class="note">The source does not record how each call came in (911, the public, an '
                        "officer on view), so calls cannot be split by who started them.</p>")
    og = p["by_origin_group"]
    rows = _rows(og, "origin_group")
    groups = [k for k in ("resident", "officer", "unknown") if k in rows]
    labels = [ORIGIN_GROUPS[k] for k in groups]
    colors = {"resident": charts.TEAL, "officer": charts.NAVY, "unknown": "#b8c0cc"}
    bars = [("Calls", {ORIGIN_GROUPS[k]: og.value(rows[k], "share_calls") for k in groups})]
    timed_any = any((og.value(rows[k], "calls_timed") or 0) > 0 for k in groups)
    if s["hours"] > 0 and timed_any:
        bars.append(("Officer time", {ORIGIN_GROUPS[k]: og.value(rows[k], "share_time") for k in groups}))
    chart = charts.stacked_shares(bars, labels, [colors[k] for k in groups],
                                  "Who starts the call: share of calls and of officer time",
                                  desc="Stacked bars: resident-initiated, officer-initiated and unknown origin.")
    by_o = p["by_origin"]
    by_o = Disclosed(by_o.name, by_o.values.assign(origin_group=by_o.values["origin_group"].map(ORIGIN_GROUPS)),
                     by_o.hidden, by_o.small, by_o.min_cell)
    cols = _time_cols(s, [("origin_group", "Group", "text"), ("origin", "Origin", "text"), ("calls", "Calls", "int"),
                          ("share_calls", "% calls", "pct"), ("hours", "Hours", "hours"), ("share_time", "% time", "pct")])
    co = p["by_category_origin"]
    parts = []
    for k in ("resident", "officer"):
        if k in rows:
            sub = co.subset(co.values["origin_group"] == k)
            ccols = _time_cols(s, [("category", "Category", "text"), ("calls", "Calls", "int"),
                                   ("share_calls", f"% of {ORIGIN_GROUPS[k]} calls", "pct"),
                                   ("share_time", "% of their time", "pct")])
            parts.append(f"<h3>Categories of {escape(ORIGIN_GROUPS[k])} calls</h3>" + table(sub, ccols, limit=22))
    covtxt = []
    for k in groups:
        if s["hours"] > 0:
            covtxt.append(f"{ORIGIN_GROUPS[k]}: {cell_text(og, rows[k], 'calls_timed')} of "
                          f"{cell_text(og, rows[k], 'calls')} calls timed")
    return (
        title
        + "<p>Resident-initiated calls come from the public (911, non-emergency lines, alarm companies, text, "
          "walk-ins). Officer-initiated activity (on-view, self-initiated) is recorded in the same system but is "
          "not a resident's call; a city weighing alternative responders looks at the two apart.</p>"
        + (f"<figure>{chart}</figure>" if any(v is not None for v in bars[0][1].values()) else "")
        + ("" if len(bars) > 1 or s["hours"] <= 0 else
           '<p class="note">No officer-time bar: none of these calls has the timestamps the time measure needs.</p>')
        + table(by_o, cols) + "".join(parts) + _withheld_note(co)
        + (_cov("; ".join(covtxt)) if covtxt else "")
    )


CHANNEL_NAMES = {"cad": "CAD (911 and other calls)", "311": "311 requests", "all": "All"}
CHANNEL_SHORT = {"cad": "CAD", "311": "311"}


def _wide(d: Disclosed, key: str, by: str, cols: list[str]) -> Disclosed:
    """A long published table (one row per key and ``by`` value) side by side: a column
    ``{col}_{value}`` per value. Withheld cells stay withheld; a key absent under a value is
    0 calls there (the long table lists every combination that has calls)."""
    keys = list(dict.fromkeys(d.values[key]))
    pos = {(d.values[key].iat[i], d.values[by].iat[i]): i for i in range(len(d))}
    values, hidden, small = {key: keys}, {key: [False] * len(keys)}, {key: [False] * len(keys)}
    for b in dict.fromkeys(d.values[by]):
        for c in cols:
            name = f"{c}_{b}"
            idx = [pos.get((k, b)) for k in keys]
            values[name] = [d.values[c].iat[i] if i is not None else (0 if c == "calls" else None) for i in idx]
            hidden[name] = [bool(d.hidden[c].iat[i]) if i is not None else False for i in idx]
            small[name] = [bool(d.small[c].iat[i]) if i is not None else False for i in idx]
    return Disclosed(d.name, pd.DataFrame(values), pd.DataFrame(hidden), pd.DataFrame(small), d.min_cell)


def _section_channel(r, p, s) -> str:
    """Calls by channel (CAD and 311), per category, and the 311 request types in scope; only
    where the data holds 311 requests."""
    bc, cc, rq = p.get("by_channel"), p.get("by_category_channel"), p.get("by_311_request_type")
    if bc is None or cc is None:
        return ""
    police = s["service"] == "police"
    timed = s["hours"] > 0
    channels = [c for c in ("cad", "311") if c in _rows(bc, "channel")]
    wide = _wide(cc, "category", "channel", ["calls", "share_calls", "hours"])
    cols = [("category", "Category", "text"), ("calls_all", "Calls, all", "int")]
    for c in channels:
        cols += [(f"calls_{c}", f"{CHANNEL_NAMES[c]}", "int"), (f"share_calls_{c}", f"% of {CHANNEL_SHORT[c]}", "pct")]
        if timed and c == "cad":
            cols.append((f"hours_{c}", "Hours", "hours"))
    bcols = _time_cols(s, [("channel", "Channel", "text"), ("calls", "Calls", "int"), ("share_calls", "% calls", "pct"),
                           ("calls_timed", "Calls timed", "int"), ("hours", "Hours", "hours")])
    named = Disclosed(bc.name, bc.values.assign(channel=bc.values["channel"].map(lambda c: CHANNEL_NAMES.get(c, c))),
                      bc.hidden, bc.small, bc.min_cell)
    rows311 = _rows(bc, "channel").get("311")
    untimed = rows311 is not None and (bc.value(rows311, "calls_timed") or 0) == 0
    out = (
        _h2(3, "Calls and 311 requests", "channel")
        + "<p>A CAD export holds the calls dispatch handled: 911 calls, the non-emergency line, alarms and what "
          "officers start on view. A 311 system holds service requests to city agencies, and some of them go to "
          "the police: noise, illegal parking, blocked driveways, homeless encampments. The same kind of problem "
          "reaches the police by either channel; the table counts each category by channel"
        + (" (the police calls and requests only)." if police else ".") + "</p>"
        + table(named, bcols)
        + ('<p class="note">311 records have a created and a closed time, but no dispatch or arrival, so no officer '
           "time is measured for them: hours are for CAD calls only. The time a 311 request stays open is not time an "
           "officer spent on it.</p>" if untimed and timed else "")
        + "<h3>Categories by channel</h3>" + table(wide, cols) + _withheld_note(cc)
    )
    if rq is not None and not rq.empty:
        heading = "Police work that arrives by 311" if police else "Requests that arrive by 311"
        rcols = _time_cols(s, [("agency", "Agency", "text"), ("call_type", "Request type", "text"),
                               ("category", "Category", "text"), ("calls", "Requests", "int"),
                               ("share_calls", "% of 311 requests here", "pct")])
        rcols = [c for c in rcols if c[0] not in ("hours", "share_time", "mean_minutes")] + (
            [("hours", "Hours", "hours")] if timed and not untimed else [])
        rq_named = Disclosed(rq.name, rq.values.assign(agency=rq.values["agency"].map(agency_name)),
                             rq.hidden, rq.small, rq.min_cell)
        out += (f"<h3>{escape(heading)}</h3>"
                + ("<p>The 311 request types the police handle (in New York, the requests 311 routes to the NYPD), "
                   "most requests first. The responder policies below apply to these requests as to calls: a noise "
                   "complaint is the same call whichever line it came in on.</p>" if police else
                   "<p>The 311 request types in these data, most requests first.</p>")
                + table(rq_named, rcols, limit=30) + _withheld_note(rq))
    return out


def _section_when(r, p, s) -> str:
    title = _h2(4, "When calls come in", "when")
    hw = p["hour_of_week"]
    mc = p.min_cell
    weeks = s["period"].get("weeks_with_calls") or 0
    span = max(math.ceil(s["period"]["days"] / 7.0), 1)
    vals = [[0.0] * 24 for _ in range(7)]
    sup = [[False] * 24 for _ in range(7)]
    hidden = 0
    for i in range(len(hw)):
        d, h = hw.values["dow"].iat[i], hw.values["hour"].iat[i]
        if _nan(d) or _nan(h):
            continue
        c = hw.value(i, "calls")
        vals[int(d)][int(h)] = float(c or 0)
        sup[int(d)][int(h)] = c is None
        hidden += c is None
    gaps = (f" The calls fall in {weeks:,} of the {span:,} weeks between the first and the last call; the grid sums "
            f"those {weeks:,} weeks only." if weeks and weeks < 0.8 * span else "")
    if hidden > 84:
        return (title + f"<p>Calls received in each hour of the week, by local wall-clock time.{escape(gaps)}</p>"
                + f'<p class="note">Not drawn: {hidden} of the 168 hours of the week have fewer than {mc} calls (or are '
                  "withheld with them), too few for a pattern; the counts are in tables/hour_of_week.csv.</p>")
    chart = charts.heatmap(vals, sup, "Calls by hour of week (local time)", unit="calls",
                           desc="Heat map of calls received by day of week and hour, local wall-clock time.")
    return (
        title
        + f"<p>Calls received in each hour of the week, summed over the {weeks or span:,} calendar weeks "
          f"(Monday to Sunday) with calls, by local wall-clock time.{escape(gaps)}</p>"
        + f"<figure>{chart}</figure>"
    )


def _section_response(r, p, s) -> str:
    title = _h2(5, "How fast: response times by priority", "response")
    rt = p["response_times"]
    measured = {k: s["coverage"][k]["calls_measured"] for k in INTERVALS}
    zero = {k: bool(rt.values[f"zero_{k}"].fillna(False).astype(bool).any()) if f"zero_{k}" in rt.columns else False
            for k in INTERVALS}
    pr = p["by_priority"]
    pr = Disclosed(pr.name, pr.values.assign(priority_rank=pr.values["priority_rank"].map(
        lambda v: "none" if _nan(v) else str(int(v)))), pr.hidden, pr.small, pr.min_cell)
    pcols = _time_cols(s, [("priority_rank", "Priority", "text"), ("calls", "Calls", "int"),
                           ("share_calls", "% calls", "pct"), ("hours", "Hours", "hours"),
                           ("share_time", "% time", "pct"), ("mean_minutes", "Min per call", "min")])
    by_priority = "<h3>Calls and officer time by priority</h3>" + table(pr, pcols) + _withheld_note(pr)
    if not any(measured.values()):
        return (title + '<p class="note">The source records no dispatch or arrival time (only when each call was '
                "received), so response times cannot be measured.</p>" + by_priority)
    rows, notes = [], []
    for i in range(len(rt)):
        pri = rt.values["priority"].iat[i]
        label = f"Priority {pri}" if pri != "none" else "No priority"
        n = rt.value(i, "n_to_arrival")
        z = bool(rt.values["zero_to_arrival"].iat[i]) if "zero_to_arrival" in rt.columns else False
        med, p90 = rt.value(i, "median_to_arrival"), rt.value(i, "p90_to_arrival")
        if z:
            rows.append((label, None, None, f"{cell_text(rt, i, 'n_to_arrival')} calls",
                         "zero by construction: one timestamp in the source"))
            continue
        if n == 0:
            continue
        rows.append((label, med, p90, f"{cell_text(rt, i, 'n_to_arrival')} calls timed"))
    drawable = any(m is not None for _, m, _, _ in rows)
    chart = charts.range_bars(rows, "Response time by priority: call received to first unit on scene (minutes)",
                              desc="Median and 90th percentile minutes from call received to arrival, by priority.")
    for k, (a, b, text) in INTERVALS.items():
        if not measured[k]:
            notes.append(f"{text}: not recorded by the source")
        elif zero[k]:
            z = rt.values[rt.values[f"zero_{k}"].fillna(False).astype(bool)]
            notes.append(f"{text}: for the calls of {', '.join('priority ' + x if x != 'none' else 'no priority' for x in z['priority'])} "
                         f"the source gives the same time for {a} and {b} (zero by construction, per the adapter's "
                         "notes), so no time is shown for them")
    cols = [("priority", "Priority", "text"), ("calls", "Calls", "int")]
    for k, label in (("to_dispatch", "To dispatch"), ("travel", "Travel"), ("to_arrival", "To arrival")):
        if measured[k]:
            cols += [(f"median_{k}", label, "min"), (f"p90_{k}", "p90", "min")]
    return (
        title
        + "<p>Minutes for calls from the public (officer-initiated calls have no response time to speak of). "
          "Priority 1 is the most urgent level in the source's own scale. Medians and 90th percentiles: one call "
          "in ten took longer than the 90th percentile.</p>"
        + (f"<figure>{chart}</figure>" if drawable else "")
        + (f'<p class="note">{escape("; ".join(notes))}.</p>' if notes else "")
        + table(rt, cols) + _withheld_note(rt)
        + '<p class="note">To dispatch: call received to first unit dispatched. Travel: dispatched to first unit '
          'on scene. To arrival: received to on scene. Medians and 90th percentiles (p90), in minutes; "–": none '
          "measured.</p>"
        + _cov("; ".join(f"{INTERVALS[k][2]}: {_short(s, k)}" for k in INTERVALS))
        + by_priority
    )


def _section_outcomes(r, p, s) -> str:
    oc = p["outcomes"]
    title = _h2(6, "What happens: outcomes by category", "outcomes")
    v = oc.values
    present = [o for o in OUTCOME_ORDER if o in v.columns and o != "unknown"
               and (pd.to_numeric(v[o], errors="coerce").fillna(0).sum() > 0 or oc.hidden[o].any())]
    if not present:
        return title + ('<p class="note">The source records no disposition that maps to an outcome, so there is '
                        "nothing to show.</p>")
    cols = [("category", "Category", "text"), ("calls", "Calls", "int")]
    shares, hid, sm = v[["category", "calls"]].copy(), oc.hidden[["category", "calls"]].copy(), oc.small[["category", "calls"]].copy()
    for o in present + (["unknown"] if "unknown" in v.columns else []):
        # a share computed from two published counts; withheld where either is
        col = f"p_{o}"
        shares[col] = [None if (oc.value(i, o) is None or not oc.value(i, "calls")) else oc.value(i, o) / oc.value(i, "calls")
                       for i in range(len(oc))]
        hid[col] = [oc.value(i, o) is None or oc.value(i, "calls") is None for i in range(len(oc))]
        sm[col] = oc.small[o].to_numpy()
        cols.append((col, o.replace("_", " "), "pct"))
    t = Disclosed("outcomes_shares", shares, hid, sm, oc.min_cell)
    note = ("Outcome classes come from each source's disposition codes (arrest, report written, no action "
            "needed, unfounded or gone on arrival, cancelled). Shares of each category's calls; counts are in "
            "tables/outcomes.csv.")
    return title + f"<p>{escape(note)}</p>" + table(t, cols) + _withheld_note(oc)


def _section_concentration(r, p, s) -> str:
    if s["hours"] <= 0:  # nothing measured (311 requests, received-only exports): the section is left out;
        return ""        # "What the calls are about" and the data-quality section say why
    title = _h2(7, "Concentration: the call types that take the time", "concentration")
    lz = p["lorenz"].values
    ct = p["by_call_type"]
    if not s.get("top80_call_types"):
        return title + '<p class="note">Not measurable: no officer time could be measured from this data.</p>'
    pts = list(zip(lz["share_call_types"], lz["share_time"]))
    gini = float(lz["gini"].iloc[0]) if len(lz) else None
    k, n = s["top80_call_types"], s["call_types"]
    top = ct.subset(ct.values["top80"].fillna(False).astype(bool).to_numpy())
    top_share = top.values["share_time"].sum() if not top.values["share_time"].isna().any() else None
    mark = (1 - k / n, 1 - float(top_share)) if top_share is not None and n else None
    chart = charts.lorenz_chart(pts, gini, "Concentration of officer time across call types", mark=mark,
                                desc="Lorenz curve: cumulative share of officer time against cumulative share of call types.")
    cols = [("call_type", "Call type (as recorded)", "text"), ("category", "Category", "text"), ("calls", "Calls", "int"),
            ("hours", "Hours", "hours"), ("share_time", "% time", "pct"), ("cum_share_time", "Cumulative", "pct")]
    return (
        title
        + f"<p>{k} of the {n:,} call types recorded account for 80% of officer time. The further the curve sags "
          "below the diagonal, the more time is concentrated in a few call types: that is where a change in who "
          "responds moves the most hours.</p>"
        + f"<figure>{chart}</figure>"
        + "<h3>Call types that account for 80% of officer time</h3>"
        + table(top, cols, limit=40) + _withheld_note(top)
    )


def _section_geo(r, p, s) -> str:
    parts = []
    for col, label in (("district", "District"), ("beat", "Beat")):
        g = p.get(f"by_{col}")
        if g is None or g.empty or g.values[col].notna().sum() == 0:
            continue
        cols = _time_cols(s, [(col, label, "text"), ("calls", "Calls", "int"), ("share_calls", "% calls", "pct"),
                              ("hours", "Hours", "hours"), ("share_time", "% time", "pct"),
                              ("mean_minutes", "Min per call", "min")])
        g = Disclosed(g.name, g.values.assign(**{col: g.values[col].fillna("(not recorded)")}), g.hidden, g.small,
                      g.min_cell)
        parts.append(f"<h3>By {label.lower()}</h3>" + table(g, cols, limit=25) + _withheld_note(g))
    title = _h2(8, "Where: districts and beats", "geo")
    if not parts:
        return title + ('<p class="note">The source records no district or beat, so there is no geographic '
                        "breakdown.</p>")
    lead = ("" if s["hours"] > 0 else
            '<p class="note">Calls only: no officer time could be measured from this data, so the tables have no '
            "hours.</p>")
    return title + lead + "".join(parts)


def _section_who(r, p, s) -> str:
    """Who could respond: each responder policy applied to these calls (rightresponse.policy)."""
    from .who_could_respond import who_could_respond_html

    who = p.get("who_could_respond")
    if who is None or who.empty:
        return ""
    frame = who.values.astype({c: "float64" for c in who.values.columns
                               if str(who.values[c].dtype) in ("Float64", "Int64")})
    frame.attrs = dict(who.attrs)
    top = p.get("who_could_respond_top_types")  # the call types behind each figure, as published
    frame.attrs["top_call_types"] = [] if top is None else [
        {k: (None if pd.isna(v) else v) for k, v in r.items()} for r in top.values.to_dict("records")]
    frag = who_could_respond_html(frame, heading=None, sample=bool(s.get("sample")), min_cell=p.min_cell)
    return (_h2(0, "Who could respond", "who")
            + "<p>The same calls under the responder policies that ship with rightresponse. A policy a city "
              "writes itself can be compared the same way (<code>rightresponse policy diff</code>). n/a: withheld "
              "because it rests on fewer than "
            + f"{p.min_cell} calls moved or misrouted.</p>" + frag)


def dispatch_section(p, heading_level: int = 2, period: str = "") -> str:
    """The decision-log section from its published tables (rightresponse.decisions.summarize_decisions,
    disclosed by rightresponse.report.disclosure). ``p``: a publication with the dispatch tables."""
    tot = p.get("dispatch_totals")
    if tot is None:
        return ""
    h = f"h{heading_level}"
    mc = p.min_cell
    total = tot.value(0, "decisions")
    if total == 0:
        return f'<section class="dispatch-practice"><{h}>Dispatch practice</{h}><p>No decisions recorded.</p></section>'

    def n(col):
        return escape(cell_text(tot, 0, col))

    rate = tot.value(0, "override_rate")
    share = tot.value(0, "alternative_share")
    eligible = tot.values["eligible"].iat[0]
    text = (f"{n('decisions')} decisions recorded by call-takers{escape(period)}. The recommendation was overridden in "
            f"{n('overrides')}" + (f" ({fmt_pct(rate)})" if rate is not None else "") + ". "
            + (f"Of {n('eligible')} calls the policy sent to an alternative responder, {n('handled')}"
               + (f" ({fmt_pct(share)})" if share is not None else "") + " were handled by it."
               if eligible else "No call was eligible for an alternative responder."))
    parts = [f'<section class="dispatch-practice"><{h}>Dispatch practice</{h}><p>{text}</p>']
    for name, caption, cols in (
            ("dispatch_alternative", "Eligible calls handled by the alternative responder",
             [("responder", "responder", "text"), ("eligible", "eligible", "int"), ("handled", "handled", "int"),
              ("share", "share", "pct")]),
            ("dispatch_by_rule", "Overrides by rule",
             [("policy", "policy", "text"), ("rule", "rule", "text"), ("decisions", "decisions", "int"),
              ("overrides", "overrides", "int"), ("override_rate", "override rate", "pct")]),
            ("dispatch_by_category", "Overrides by call category",
             [("category", "category", "text"), ("decisions", "decisions", "int"), ("overrides", "overrides", "int"),
              ("override_rate", "override rate", "pct")]),
            ("dispatch_override_reasons", "Why call-takers overrode",
             [("override_reason", "reason", "text"), ("overrides", "overrides", "int"),
              ("share", "share of overrides", "pct")])):
        d = p.get(name)
        if d is None or d.empty:
            continue
        parts.append(f'<h3 class="caption">{escape(caption)}</h3>' + table(d, cols, cls="decisions"))
    if mc > 1:
        parts.append(f'<p class="note">&lt;{mc}: fewer than {mc} decisions; {HIDDEN}: withheld so that a small count '
                     "cannot be worked out; rates resting on either are left out.</p>")
    parts.append("</section>")
    return "".join(parts)


def _section_dispatch(r, p, s) -> str:
    """Dispatch practice from the triage decision log."""
    d = s.get("dispatch")
    if not d or "dispatch_totals" not in p:
        return ""
    period = f" from {d['first'][:10]} to {d['last'][:10]}" if d.get("first") and d.get("last") else ""
    frag = dispatch_section(p, 2, period)
    frag = frag.replace("<h2>Dispatch practice</h2>", _h2(0, "Dispatch practice", "dispatch"), 1)
    intro = ("<p>From the call-takers' decision log: how often the recommendation of the adopted policy was "
             "overridden, by rule and by call category, and what share of the calls the policy sent to an "
             "alternative responder that responder actually handled (the figure pilot programmes report). "
             "The log covers the calls triaged through the console, which need not be the calls above.</p>")
    return frag.replace("</h2>", "</h2>" + intro, 1)


def _section_compare(r, p, s) -> str:
    cmp = p["comparison"].values
    body = []
    for src, grp in cmp.groupby("source", sort=False):
        body.append(f'<tr class="group"><td colspan="4"><strong>{escape(src)}</strong>'
                    f'<span class="note"> · {escape(grp.iloc[0]["their_method"])}</span></td></tr>')
        recs = list(grp.itertuples())
        i = 0
        while i < len(recs):
            x = recs[i]
            nxt = recs[i + 1] if i + 1 < len(recs) else None
            pub = x.published if isinstance(x.published, str) else fmt_pct(x.published)
            ours = "–" if _nan(x.ours) else fmt_pct(x.ours)
            if (nxt is not None and x.metric.endswith(": share of calls")
                    and nxt.metric == x.metric.replace("share of calls", "share of time")):
                pub = f"{pub} / {fmt_pct(nxt.published)}"
                ours = f"{ours} / {'–' if _nan(nxt.ours) else fmt_pct(nxt.ours)}"
                x = x._replace(metric=x.metric.replace(": share of calls", ": share of calls / of time"),
                               our_method=nxt.our_method)
                i += 1
            i += 1
            body.append(f"<tr><td>{escape(x.metric)}</td><td class=\"n\">{escape(pub)}</td>"
                        f"<td class=\"n\"><strong>{escape(ours)}</strong></td><td class=\"note\">{escape(x.our_method)}</td></tr>")
    dt = p["by_demand_type"].values
    from .published_figures import DETROIT_2019

    chart = ""
    if dt["demand_type"].notna().any() and s["hours"] > 0 and dt["share_time"].notna().all():
        d = dt.set_index("demand_type")
        rows = [(k, float(d.at[k, "share_time"]) if k in d.index else 0.0, v[1]) for k, v in DETROIT_2019.items()]
        chart = ("<figure>" + charts.compare_bars(rows, "Share of officer time by demand type: this data vs Detroit 2019",
                                                   a_label="this data", b_label="Detroit 2019")
                 + f"<figcaption>Detroit: total deployed time. This data: {escape(s['measure_label'])}. "
                   "Demand type \"crime\" is Langton's, narrower than the crime groups of the headline."
                   "</figcaption></figure>")
    warn = ("This data is a sample and" if s["sample"] else "Different cities, years and methods:")
    return (
        _h2(9, "Compared with published figures", "compare")
        + f"<p>{warn} the comparison shows whether the pattern is familiar, not whether one city does better. "
          "Differences in how call types are grouped and how time is measured move these shares by several "
          "points. \"–\": not measured here, or withheld to protect a small count.</p>"
        + chart
        + '<div class="table-wrap"><table class="compare"><thead><tr><th>Figure</th><th class="n">Published</th>'
          '<th class="n">This data</th><th>How ours is computed</th></tr></thead><tbody>'
        + "".join(body) + "</tbody></table></div>"
    )


def _section_quality(r, p, s) -> str:
    files = p["files"]
    fv = files.values
    now = fv[fv["this_run"].astype(bool)] if "this_run" in fv.columns else fv.iloc[0:0]
    before = fv[~fv["this_run"].astype(bool)] if "this_run" in fv.columns else fv
    parts = []
    fcols = [("file", "File", "text"), ("adapter", "Layout", "text"), ("rows_read", "Rows read", "int"),
             ("rows_loaded", "Loaded", "int"), ("rows_quarantined", "Quarantined", "int"),
             ("rows_duplicate", "Duplicates", "int"), ("calls_held", "Calls held", "int")]

    def tot(df):
        return {"file": "Total", **{c: df[c].sum() for c in ("rows_read", "rows_loaded", "rows_quarantined",
                                                              "rows_duplicate", "calls_held")}}

    from .disclosure import exact

    if len(now):
        again = int(((now["rows_loaded"] == 0) & (now["rows_duplicate"] > 0)).sum())
        parts.append("<h3>Files read in this run</h3>"
                     + ("<p>" + (f"{again} of them had been loaded before: every call in them is one the "
                                 "workspace already holds (a duplicate), so nothing new was stored from them. "
                                 if again else "")
                        + "Calls held: the calls the workspace holds from each file, whichever run stored them.</p>")
                     + table(exact("files", now.reset_index(drop=True)), fcols, total=tot(now)))
    if len(before):
        bcols = [("file", "File", "text"), ("adapter", "Layout", "text"), ("first_ingested", "First loaded", "text"),
                 ("rows_read", "Rows read", "int"), ("rows_quarantined", "Quarantined", "int"),
                 ("calls_held", "Calls held", "int")]
        parts.append(("<h3>Files loaded by earlier runs</h3>" if len(now) else "<h3>Files in the workspace</h3>")
                     + "<p>Loaded before this report was made; their calls are counted from the workspace.</p>"
                     + table(exact("files", before.reset_index(drop=True)), bcols, total=tot(before)))
    q = p["quarantine"].values
    if len(q):
        qs = q.groupby(["reason", "explanation"], dropna=False)["rows"].sum().reset_index().sort_values("rows", ascending=False)
        qhtml = table(exact("quarantine", qs.reset_index(drop=True)),
                      [("reason", "Reason", "text"), ("explanation", "Meaning", "text"), ("rows", "Rows", "int")])
    else:
        qhtml = "<p>No record was quarantined.</p>"
    cov = p["coverage"].values
    crow = []
    for k in (*MEASURES, *INTERVALS):
        c = cov[cov["duration"] == k]
        reasons = c[c["reason"] != "measured"].groupby("reason")["calls"].sum().sort_values(ascending=False)
        label = MEASURES[k].label if k in MEASURES else f"response: {INTERVALS[k][2]}"
        crow.append({"duration": label, "in_scope": c["calls"].sum(),
                     "measured": c.loc[c["reason"] == "measured", "calls"].sum(), "excluded": reasons.sum(),
                     "why": "; ".join(f"{n:,} {reason_text(x, s['max_hours'])}" for x, n in reasons.items()) or "–"})
    ccols = [("duration", "Duration", "text"), ("in_scope", "Calls", "int"), ("measured", "Measured", "int"),
             ("excluded", "Excluded", "int"), ("why", "Why excluded", "text")]
    ti = p["time_issues"].values
    scope = p["scope"].values
    scols = [("service", "Service", "text"), ("calls", "Calls", "int"), ("analysed", "Analysed", "text")]
    scope = scope.assign(analysed=scope["in_scope"].map(lambda b: "yes" if b else "no"),
                         service=scope["service"].map(lambda v: "EMS" if v == "ems" else v))
    return (
        _h2(10, "Data quality", "quality")
        + "<p>Every input row is either loaded, quarantined with a reason, or skipped as a duplicate of a call "
          "already loaded; per file, rows read = loaded + quarantined + duplicates. These tables describe "
          "records, not people, and are exact.</p>"
        + "".join(parts)
        + "<h3>Quarantined records</h3>" + qhtml
        + "<h3>Services in the data</h3>" + table(exact("scope", scope), scols)
        + "<h3>Coverage of each time measure</h3>"
        + f"<p>A call counts towards a duration only when both timestamps are present, no time issue is flagged "
          f"on it (for example dispatched before received, or cleared before arrival) and the duration is at most "
          f"{s['max_hours']:g} hours. Excluded calls still count as calls.</p>"
        + table(exact("coverage", pd.DataFrame(crow)), ccols)
        + ("<h3>Time issues flagged at ingest</h3>"
           + table(exact("time_issues", ti.assign(time_issue=ti["time_issue"].map(
               lambda v: v.replace("_", " ").replace(";", "; ")))), [("time_issue", "Issue", "text"), ("calls", "Calls", "int")])
           if len(ti) else "")
    )


def _section_method(r, p, s) -> str:
    mc = p.min_cell
    cm = p["classification_methods"]
    mcols = [("method", "Decided by", "text"), ("call_types", "Call types", "int"), ("calls", "Calls", "int"),
             ("share_calls", "% calls", "pct"), ("mean_confidence", "Mean confidence", "conf"),
             ("min_confidence", "Lowest", "conf")]
    ct = p["by_call_type"]
    v = ct.values
    unreviewed = ((v["method"] == "crosswalk") & (pd.to_numeric(v["confidence"], errors="coerce") < 1)) | v["method"].isin(
        ["model", "needs_review"])
    model = ct.subset(unreviewed.to_numpy())
    if len(model):
        mdl = ("<h3>Call types categorized by the model</h3><p>These decisions were made by the statistical "
               "classifier (or are crosswalk entries it suggested that nobody has reviewed yet), not by a person or "
               "a keyword rule; the confidence is its calibrated probability of being right. Review the low ones "
               "and override them (see the notice at the top when they matter).</p>"
               + table(model, [("call_type", "Call type", "text"), ("category", "Category", "text"),
                               ("confidence", "Confidence", "conf"), ("calls", "Calls", "int"),
                               ("share_time", "% time", "pct")], limit=30))
    else:
        mdl = ("<p>No call type in this data was left to the statistical model: every one was decided by the "
               "agency's crosswalk (reviewed by a person) or by a keyword rule.</p>")
    cl = s.get("classification") or {}
    if cl.get("needs_review_calls"):
        mdl = (f"<p>The classifier left {cl['needs_review_call_types']:,} call types "
               f"({cl['needs_review_calls']:,} calls, {100 * cl['share_calls_needs_review']:.1f}%) for review: its "
               "confidence was below the threshold at which, on cities it had not seen, its answers were more "
               "often wrong than right. They are counted as Uncategorized, not guessed; "
               "<code>rightresponse crosswalk export</code> lists them first, heaviest first.</p>") + mdl
    measures = "".join(f"<dt>{escape(m.label.capitalize())}{' (used here)' if m.name == s['measure'] else ''}</dt>"
                       f"<dd>{escape(m.doc.rstrip('.'))}.</dd>" for m in MEASURES.values())
    why_sample = ""
    if s["sample"]:
        why_sample = ("<dt>Why this sample</dt><dd>Of the real exports bundled or available to the project, the DECC "
                      "exports are the richest in timestamps: call start, queue, dispatch, en route, arrival, first "
                      "close and final close. That lets every time measure and every response interval be computed "
                      "from the same calls; most open-data exports carry only the received time.</dd>")
    svc = s["service"]
    return (
        _h2(11, "Method", "method")
        + '<dl class="method">'
        + (f"<dt>Scope</dt><dd>{escape(svc.capitalize())} calls only ({s['calls']:,} of {s['calls_all_services']:,}). "
           f"Officer time is computed for {escape(svc)} rows; other services in the data (for example EMS and fire "
           "in a consolidated 911 centre) are counted in Data quality but not measured.</dd>" if svc else
           "<dt>Scope</dt><dd>All services in the data.</dd>")
        + why_sample
        + f"<dt>Time measures</dt><dd><dl>{measures}</dl></dd>"
        + f"<dt>Exclusions and outliers</dt><dd>Calls with a flagged time issue, a missing timestamp, or a duration "
          f"over {s['max_hours']:g} hours are left out of time measures and counted in Data quality. Call counts "
          "include them.</dd>"
        + "<dt>Categories</dt><dd>Call types are mapped to the Vera Institute of Justice's 22 categories, with two "
          "roll-ups: crime group (violent, property, other crime, non-criminal, officer activity) and the 7 demand "
          "types of Langton et al. Each distinct call type is decided once, by the city's overrides, else the "
          "agency's crosswalk, else a keyword rule, else a statistical model; a city can override any mapping.</dd>"
        + (f"<dt>Small counts</dt><dd>Counts from 1 to {mc - 1} are shown as &lt;{mc}. So that none can be worked "
           "out from what is published beside it (a total minus its parts, a share times its total, hours divided "
           "by a mean, one roll-up minus another), other counts are withheld with it (·), and so is every share, "
           "mean, median and rate resting on a withheld count. A linear program checks, for every withheld count, "
           "that the published figures allow more than one value. Data-quality tables describe records, not "
           "people, and are exact.</dd>" if mc > 1 else
           "<dt>Small counts</dt><dd>Published exactly (minimum cell size 0): for the analyst, not for release.</dd>")
        + "<dt>Privacy</dt><dd>The report holds aggregates only: no address, coordinate or narrative.</dd>"
        + f"<dt>Software</dt><dd>rightresponse {escape(s['rightresponse'])}, generated {escape(s['generated_at'])}. "
          "Every table in this report is also written as CSV and Parquet in the tables/ folder beside it.</dd>"
        + "</dl>"
        + "<h3>How call types were categorized</h3>"
        + table(cm, mcols) + _withheld_note(cm)
        + mdl
    )


# ---------------------------------------------------------------- page


def _cards(r, p, s) -> str:
    cg = p["by_crime_group"]
    crime = _crime_share(cg, "share_time") if s["hours"] > 0 else None
    rt = p["response_times"]
    r1 = _rows(rt, "priority").get("1")
    p1 = (f"{rt.value(r1, 'median_to_arrival'):.1f} min" if r1 is not None
          and rt.value(r1, "median_to_arrival") is not None else "–")
    oi = s["officer_initiated_share_calls"]
    cards = [
        (f"{s['calls']:,}", f"{s['service'] or 'all'} calls analysed"),
        (f"{s['hours']:,.0f}", f"officer hours ({s['measure_label']})") if s["hours"] > 0
        else ("–", f"officer hours: no {s['measure_label']} in this data"),
        (fmt_pct(oi), "of calls officer-initiated") if oi is not None
        else ("–", "origin not recorded" if s.get("origin_recorded") is False else "officer-initiated: withheld"),
        (fmt_pct(crime), "of officer time on crime (violent, property and other crime groups)")
        if crime is not None else (p1, "median response, priority 1"),
    ]
    html = "".join(f'<div class="card"><div class="v">{escape(v)}</div><div class="l">{escape(lab)}</div></div>'
                   for v, lab in cards)
    return f'<div class="cards">{html}</div>'


def banner(sample: str | None, what: str = "report") -> str:
    """The sample banner (or the softer one for a city's own exports), shared by every page."""
    if sample:
        text = SAMPLE_TEXT.get(sample, "a bundled sample.")
        return ('<div class="banner" role="note"><strong>Sample data: not a city\'s true figures</strong>'
                f"This {escape(what)} runs on {escape(text)} Do not quote these figures as any city's workload.</div>")
    return ('<div class="banner soft" role="note"><strong>Figures describe the exports supplied</strong>'
            "If the exports are a sample, a filtered extract or a partial period, these are not the agency's true "
            "totals. Compare like with like: the same measure, scope and categories.</div>")


def page(title: str, kicker: str, sub: str, meta: str, body: str, footer: str, generator: str) -> str:
    """A complete, self-contained page in the report's style (inline CSS, no script, no network)."""
    css = (resources.files("rightresponse.report") / "templates" / "report.css").read_text(encoding="utf-8")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="rightresponse {escape(generator)}">
<title>{escape(title)}</title>
<style>{css}</style>
</head>
<body>
<div class="page">
<header class="masthead">
<p class="kicker">{escape(kicker)}</p>
<h1>{escape(title.split(' – ')[0])}</h1>
<p class="sub">{escape(sub)}</p>
<p class="meta">{escape(meta)}</p>
</header>
{body}
<footer>{footer}</footer>
</div>
</body>
</html>
"""


def render_report(result) -> str:
    """The report as one HTML string, from the published tables."""
    p = result.publish()
    s = result.public_summary()
    mc = p.min_cell
    agencies = ", ".join(agency_name(a) for a in s["agencies"]) or "unnamed agency"
    period = f"{_date(s['period']['start'])} – {_date(s['period']['end'])}"
    title = ("Calls for service assessment" if s["service"] != "police"
             else "Calls for service: where police time goes" if s["hours"] > 0
             else "Calls for service: what the police are asked to do")  # no officer time measured
    lede = "".join(f"<p>{escape(x)}</p>" for x in narrative(result, p, s))
    sections = [
        (_section_time, "time", "Time"), (_section_rollups, "rollups", "Crime groups"),
        (_section_origin, "origin", "Origin"), (_section_channel, "channel", "311"), (_section_when, "when", "When"),
        (_section_response, "response", "Response"), (_section_outcomes, "outcomes", "Outcomes"),
        (_section_concentration, "concentration", "Concentration"), (_section_geo, "geo", "Where"),
        (_section_who, "who", "Who could respond"), (_section_dispatch, "dispatch", "Dispatch practice"),
        (_section_compare, "compare", "Comparison"), (_section_quality, "quality", "Data quality"),
        (_section_method, "method", "Method"),
    ]
    parts = [(f(result, p, s), a, n) for f, a, n in sections]
    parts = [x for x in parts if x[0]]  # a section that does not apply (no decision log) is left out
    body = "".join(re.sub(r'<span class="num">\d+\.</span>', f'<span class="num">{i}.</span>', html, count=1)
                   for i, (html, _, _) in enumerate(parts, 1))
    toc = " · ".join(f'<a href="#{a}">{escape(n)}</a>' for _, a, n in parts)
    content = (banner(s["sample"]) + _notice_confidence(p, s) + _notice_excluded(p, s) + _cards(result, p, s)
               + f'<section class="lede" aria-label="Summary">{lede}</section>' + _non_service(p, s)
               + f'<p class="note">Contents: {toc}</p>' + body)
    footer = (f"Aggregates only: this report contains no addresses, coordinates or call narratives. Counts below {mc} "
              f"are shown as &lt;{mc}, and figures that would give them back are withheld (·). "
              "Produced with rightresponse, an open-source toolkit; the tables behind every figure are in the tables/ "
              "folder beside this file." if mc > 1 else
              "Aggregates only: this report contains no addresses, coordinates or call narratives. Exact counts "
              "(minimum cell size 0): for the analyst, not for release.")
    return page(f"{title} – {agencies}", "Calls-for-service assessment", f"{agencies} · {period} · {s['calls']:,} "
                f"{s['service'] or ''} calls", f"Generated {s['generated_at'][:10]} by rightresponse "
                f"{s['rightresponse']} · time measure: {s['measure_label']}", content, footer, s["rightresponse"])


def write_report(result, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(result), encoding="utf-8")
    return path
