"""Build the assessment report: one self-contained HTML file a council can read and print.

Everything is inline (CSS, SVG), nothing is fetched, nothing needs JavaScript. The report
only ever sees aggregates; addresses and narratives are never passed to this module, and
counts below ``min_cell`` are shown as "<min_cell".
"""

from __future__ import annotations

import math
import re
from html import escape
from importlib import resources
from pathlib import Path

import pandas as pd

from ..workload import INTERVALS, MEASURES, ORIGIN_GROUPS, OUTCOME_ORDER, reason_text
from . import charts
from .suppress import is_count_column, small, suppression_masks

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SAMPLE_TEXT = {
    "decc": ("the bundled sample: 14 weekly exports (2025-08-24 to 2025-11-29) of one consolidated 911 "
             "centre's CAD system, published as open data by its analyst. The publisher does not name the "
             "jurisdiction. The report shows what an assessment looks like and how it is computed; "
             "its figures describe those exports only."),
}


# ---------------------------------------------------------------- formatting


def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (v is pd.NA) or (
        not isinstance(v, str) and pd.isna(v))


def fmt_int(v) -> str:
    return "–" if _nan(v) else f"{int(v):,}"


def fmt_pct(v, d: int = 1) -> str:
    return "–" if _nan(v) else f"{100 * float(v):.{d}f}%"


def fmt_hours(v) -> str:
    if _nan(v):
        return "–"
    v = float(v)
    return f"{v:,.1f}" if v < 10 else f"{v:,.0f}"


def fmt_min(v) -> str:
    return "–" if _nan(v) else f"{float(v):,.1f}"


def fmt_conf(v) -> str:
    return "–" if _nan(v) else f"{float(v):.2f}"


FMT = {"int": fmt_int, "pct": fmt_pct, "hours": fmt_hours, "min": fmt_min, "conf": fmt_conf, "text": lambda v: "" if _nan(v) else str(v)}


_N = ' class="n"'


def table(df: pd.DataFrame, cols, min_cell: int, *, total: dict | None = None, exempt: bool = False,
          limit: int | None = None, cls: str = "") -> str:
    """cols: (column, header, kind). Small counts read '<min_cell'; rows with few calls are withheld."""
    if df is None or df.empty:
        return '<p class="note">No data.</p>'
    rows_df = df if limit is None else df.head(limit)
    if exempt:
        row_mask = pd.Series(False, index=rows_df.index)
        cell_mask = pd.DataFrame(False, index=rows_df.index, columns=rows_df.columns)
    else:
        row_mask, cell_mask = suppression_masks(rows_df, min_cell)
    head = "".join(f'<th{_N if k != "text" else ""}>{escape(h)}</th>' for _, h, k in cols)
    body = []
    # Plain lists, not iterrows(): rendering was a visible share of a small assessment's time.
    rmask = row_mask.to_numpy()
    cmask = {c: cell_mask[c].to_numpy() for c, _, _ in cols if c in cell_mask.columns}
    values = {c: (rows_df[c].tolist() if c in rows_df.columns else [None] * len(rows_df)) for c, _, _ in cols}
    for i in range(len(rows_df)):
        tds = []
        for c, _, k in cols:
            v = values[c][i]
            num = k != "text"
            if num and (rmask[i] or (c in cmask and cmask[c][i])):
                shown = (f"&lt;{min_cell}" if (is_count_column(c) and small(v, min_cell))
                         or (rmask[i] and c == "calls") else "·")
                tds.append(f'<td class="n sup">{shown}</td>')
            else:
                tds.append(f'<td{_N if num else ""}>{escape(FMT[k](v))}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    if total:
        tds = []
        for c, _, k in cols:
            v = total.get(c, "")
            tds.append(f'<td{_N if k != "text" else ""}>{escape(FMT[k](v) if v != "" else "")}</td>')
        body.append('<tr class="total">' + "".join(tds) + "</tr>")
    more = ""
    if limit is not None and len(df) > limit:
        more = f'<p class="note">Showing {limit} of {len(df):,} rows; the full table is in the CSV and Parquet files.</p>'
    return (f'<div class="table-wrap"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>{more}')


def _is_small(v, min_cell) -> bool:
    return min_cell > 1 and small(v, min_cell)


# ---------------------------------------------------------------- narrative


def narrative(result) -> list[str]:
    """Plain-text paragraphs written from the figures."""
    s, t = result.summary, result.tables
    mc = s["min_cell"]
    out = []
    svc = s["service"]
    services = s["services"]
    period = f"{_date(s['period']['start'])} to {_date(s['period']['end'])}"
    cov = s["coverage"][s["measure"]]
    if svc and s["calls_all_services"] != s["calls"]:
        others = ", ".join(f"{n:,} {k.upper() if k == 'ems' else k}" for k, n in services.items() if k != svc)
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

    cat = t["by_category"]
    big = cat[(cat["calls"] >= max(mc, 1)) & (cat["hours"] > 0)].sort_values("hours", ascending=False)
    if not len(big) and s["hours"] <= 0:
        bigc = cat[cat["calls"] >= max(mc, 1)].head(3)
        if len(bigc):
            names = [f"{r.category} ({fmt_pct(r.share_calls)})" for r in bigc.itertuples()]
            out.append("The most frequent categories were " + ", ".join(names) + " of calls.")
    if len(big) and s["hours"] > 0:
        top = big.head(3)
        names = [f"{r.category} ({fmt_pct(r.share_time)})" for r in top.itertuples()]
        lead = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        ctop = top["share_calls"].sum()
        out.append(f"The largest shares of officer time went to {lead}: together "
                   f"{fmt_pct(top['share_time'].sum())} of time from {fmt_pct(ctop)} of calls.")
    cg = t["by_crime_group"].set_index("crime_group")
    if cg.index.notna().any():
        bits = []
        for g, label in (("violent crime", "Violent crime"), ("property crime", "property crime"),
                         ("non-criminal", "non-criminal calls")):
            if g in cg.index and not _is_small(cg.at[g, "calls"], mc):
                bits.append(f"{label} {fmt_pct(cg.at[g, 'share_time'])} of officer time "
                            f"({fmt_pct(cg.at[g, 'share_calls'])} of calls)" if s["hours"] > 0
                            else f"{label} {fmt_pct(cg.at[g, 'share_calls'])} of calls")
        if bits:
            out.append("By kind of call: " + "; ".join(bits) + ".")
    oi, ot = s["officer_initiated_share_calls"], s["officer_initiated_share_time"]
    og = s["origin_groups"]
    if oi is None:
        out.append("The source does not record who started each call (the public or an officer on view).")
        og = {}
    unknown = og.get(ORIGIN_GROUPS["unknown"], 0)
    para = f"Officers started {fmt_pct(oi)} of calls themselves (officer-initiated)" if oi is not None else ""
    para += f" and took {fmt_pct(ot)} of the measured time" if ot is not None else ""
    pub = og.get(ORIGIN_GROUPS["resident"], 0)
    if pub:
        para += f"; {fmt_pct(pub / s['calls'])} came from the public"
    if unknown:
        para += (f"; {fmt_pct(unknown / s['calls'])} came by other channels (such as a transfer from another "
                 "centre or radio traffic) or have no recorded origin")
    para += "." if para else ""
    ocov = result.tables["coverage"]
    oc = ocov[(ocov["duration"] == s["measure"]) & (ocov["origin_group"] == "officer")]
    if len(oc) and oc["calls"].sum() > 0:
        share = oc.loc[oc["reason"] == "measured", "calls"].sum() / oc["calls"].sum()
        if share < 0.5:
            para += (f" Only {share:.0%} of officer-initiated calls have the timestamps {s['measure_label']} needs, "
                     "so their share of time is understated; see Data quality.")
    if para:
        out.append(para)
    if s.get("top80_call_types"):
        out.append(f"Officer time is concentrated: {s['top80_call_types']} of the {s['call_types']:,} call types "
                   f"account for 80% of it (Gini index {s['gini']:.2f}).")
    rt = t["response_times"]
    r1 = rt[rt["priority"] == "1"]
    if len(r1) and not _nan(r1.iloc[0]["median_to_arrival"]) and r1.iloc[0]["n_to_arrival"] >= max(mc, 1):
        r = r1.iloc[0]
        out.append(f"For the most urgent calls from the public (priority 1), the median time from call to first "
                   f"arrival was {r['median_to_arrival']:.1f} minutes; one in ten took longer than "
                   f"{r['p90_to_arrival']:.1f} minutes.")
    hw = t["hour_of_week"]
    if len(hw):
        peak = hw.sort_values("calls", ascending=False).iloc[0]
        out.append(f"Calls peak on {DAYS[int(peak['dow'])]}s around {int(peak['hour']):02d}:00 (local time).")
    return out


def _date(s) -> str:
    if not s:
        return "?"
    d = pd.Timestamp(s)
    return f"{d.day} {d.strftime('%B %Y')}"


# ---------------------------------------------------------------- sections


def _cov(text: str) -> str:
    return f'<p class="coverage">Coverage: {escape(text)}.</p>'


def _short(s: dict, name: str) -> str:
    c = s["coverage"][name]
    return (f"{c['calls_measured']:,} of {c['calls_in_scope']:,} calls measured"
            + (f", {c['calls_excluded']:,} excluded (reasons in Data quality)" if c["calls_excluded"] else ""))


def agency_name(a: str) -> str:
    a = str(a).replace("_", " ")
    return a.upper() if len(a) <= 5 else a.title()


def _h2(num: int, title: str, anchor: str) -> str:
    return f'<h2 id="{anchor}"><span class="num">{num}.</span>{escape(title)}</h2>'


def _section_time(r, mc) -> str:
    s, t = r.summary, r.tables
    cat = t["by_category"]
    row_mask, _ = suppression_masks(cat, mc)
    rows = [(c.category, c.share_calls, c.share_time, bool(row_mask[i])) for i, c in zip(cat.index, cat.itertuples())]
    chart = charts.paired_bars(rows, "Share of calls and of officer time by category",
                               desc=f"Bars compare each category's share of calls with its share of {s['measure_label']}.")
    cols = [("category", "Category", "text"), ("crime_group", "Crime group", "text"), ("demand_type", "Demand type", "text"),
            ("calls", "Calls", "int"), ("share_calls", "% calls", "pct"), ("hours", "Hours", "hours"),
            ("share_time", "% time", "pct"), ("mean_minutes", "Min per call", "min")]
    total = {"category": "Total", "calls": cat["calls"].sum(), "share_calls": 1.0, "hours": cat["hours"].sum(),
             "share_time": 1.0 if cat["hours"].sum() > 0 else None}
    return (
        _h2(1, "Where officer time goes", "time")
        + f"<p>Each pair of bars compares a category's share of calls (light) with its share of officer time "
          f"({escape(s['measure_label'])}, dark), largest share of time first. Where the dark bar is longer, "
          f"the category's calls take longer than the average call.</p>"
        + ("" if s["hours"] > 0 else '<p class="note">No officer time could be measured from this data '
           "(see Data quality), so only the shares of calls are drawn.</p>")
        + f"<figure>{chart}<figcaption>Categories: the Vera Institute's 22 call categories. Time: "
          f"{escape(s['measure_label'])}, {escape(MEASURES[s['measure']].doc.rstrip('.'))}.</figcaption></figure>"
        + table(cat, cols, mc, total=total)
        + _cov(s["notes"][s["measure"]])
    )


def _section_rollups(r, mc) -> str:
    s, t = r.summary, r.tables
    base = [("calls", "Calls", "int"), ("share_calls", "% calls", "pct"), ("hours", "Hours", "hours"),
            ("share_time", "% time", "pct")]
    cg = t["by_crime_group"]
    dt = t["by_demand_type"]
    mcmp = t["measure_comparison"]
    avail = [m for m in MEASURES if m in s["measures_available"]]
    mcols = [("crime_group", "Crime group", "text"), ("share_calls", "% calls", "pct")] + [
        (f"share_time_{m}", f"% {MEASURES[m].label}", "pct") for m in avail]
    return (
        _h2(2, "Crime, non-crime and demand types", "rollups")
        + '<div class="two"><div><h3>Crime groups</h3>'
        + table(cg, [("crime_group", "Crime group", "text")] + base, mc)
        + '</div><div><h3>Demand types (Langton et al.)</h3>'
        + table(dt, [("demand_type", "Demand type", "text")] + base, mc)
        + "</div></div>"
        + "<h3>How the choice of time measure changes the picture</h3>"
        + "<p>Published studies measure officer time differently, and for some kinds of call the share of time "
          "depends on that choice (Langton, Verlaan &amp; Ruiter 2023). The same calls under each measure the "
          "data allows:</p>"
        + table(mcmp, mcols, mc)
        + _cov("; ".join(f"{MEASURES[m].label}: {_short(s, m)}" for m in avail))
    )


def _section_origin(r, mc) -> str:
    s, t = r.summary, r.tables
    og = t["by_origin_group"].set_index("origin_group")
    groups = [k for k in ("resident", "officer", "unknown") if k in og.index]
    labels = [ORIGIN_GROUPS[k] for k in groups]
    colors = {"resident": charts.TEAL, "officer": charts.NAVY, "unknown": "#b8c0cc"}
    tot_c = og["calls"].sum()
    tot_h = og["hours"].sum()
    rows = [("Calls", {ORIGIN_GROUPS[k]: og.at[k, "calls"] / tot_c for k in groups})]
    if tot_h > 0:
        rows.append(("Officer time", {ORIGIN_GROUPS[k]: og.at[k, "hours"] / tot_h for k in groups}))
    chart = charts.stacked_shares(rows, labels, [colors[k] for k in groups], "Who starts the call: share of calls and of officer time",
                                  desc="Stacked bars: resident-initiated, officer-initiated and unknown origin.")
    by_o = t["by_origin"].assign(origin_group=lambda d: d["origin_group"].map(ORIGIN_GROUPS))
    cols = [("origin_group", "Group", "text"), ("origin", "Origin", "text"), ("calls", "Calls", "int"),
            ("share_calls", "% calls", "pct"), ("hours", "Hours", "hours"), ("share_time", "% time", "pct")]
    # Category by origin, side by side.
    co = t["by_category_origin"]
    wide = t["by_category"][["category", "calls"]].rename(columns={"calls": "calls_all"})
    ccols = [("category", "Category", "text")]
    for k in ("resident", "officer"):
        part = co[co["origin_group"] == k][["category", "calls", "share_calls", "share_time"]]
        if part.empty:
            continue
        part = part.rename(columns={"calls": f"calls_{k}", "share_calls": f"sc_{k}", "share_time": f"st_{k}"})
        wide = wide.merge(part, on="category", how="left").fillna({f"calls_{k}": 0, f"sc_{k}": 0.0, f"st_{k}": 0.0})
        hide = wide[f"calls_{k}"].map(lambda v: _is_small(v, mc))  # a share of a small count is a small cell
        wide.loc[hide, [f"sc_{k}", f"st_{k}"]] = float("nan")
        ccols += [(f"calls_{k}", f"{ORIGIN_GROUPS[k]}: calls", "int"), (f"sc_{k}", "% calls", "pct"),
                  (f"st_{k}", "% time", "pct")]
    wide = wide.rename(columns={"calls_all": "calls"})
    cov = t["coverage"]
    cv = cov[cov["duration"] == s["measure"]]
    covtxt = []
    for k in groups:
        c = cv[cv["origin_group"] == k]
        covtxt.append(f"{ORIGIN_GROUPS[k]}: {c.loc[c['reason'] == 'measured', 'calls'].sum():,} of {c['calls'].sum():,} calls timed")
    return (
        _h2(3, "Who starts the call", "origin")
        + "<p>Resident-initiated calls come from the public (911, non-emergency lines, alarm companies, text, "
          "walk-ins). Officer-initiated activity (on-view, self-initiated) is recorded in the same system but is "
          "not a resident's call; a city weighing alternative responders looks at the two apart.</p>"
        + f"<figure>{chart}</figure>"
        + table(by_o, cols, mc)
        + (("<h3>Categories, apart and together</h3><p>Shares within each group: "
            "for example, the share of resident-initiated calls that were traffic.</p>" + table(wide, ccols, mc))
           if len(ccols) > 1 else "")
        + _cov("; ".join(covtxt))
    )


def _section_when(r, mc) -> str:
    t = r.tables
    hw = t["hour_of_week"]
    vals = [[0.0] * 24 for _ in range(7)]
    sup = [[False] * 24 for _ in range(7)]
    for x in hw.itertuples():
        if pd.isna(x.dow) or pd.isna(x.hour):
            continue
        vals[int(x.dow)][int(x.hour)] = float(x.calls)
        sup[int(x.dow)][int(x.hour)] = _is_small(x.calls, mc)
    weeks = max(r.summary["period"]["days"] / 7.0, 1.0)
    chart = charts.heatmap(vals, sup, "Calls by hour of week (local time)", unit="calls",
                           desc="Heat map of calls received by day of week and hour, local wall-clock time.")
    return (
        _h2(4, "When calls come in", "when")
        + f"<p>Calls received in each hour of the week, summed over the {r.summary['period']['days']:,} days "
          f"of data (about {weeks:.0f} weeks), by local wall-clock time.</p>"
        + f"<figure>{chart}</figure>"
    )


def _section_response(r, mc) -> str:
    s, t = r.summary, r.tables
    rt = t["response_times"]
    rows = []
    for x in rt.itertuples():
        ok = x.n_to_arrival >= max(mc, 1) and not _nan(x.median_to_arrival)
        label = f"Priority {x.priority}" if x.priority != "none" else "No priority"
        rows.append((label, float(x.median_to_arrival) if ok else None, float(x.p90_to_arrival) if ok else None,
                     f"{'<' + str(mc) if _is_small(x.n_to_arrival, mc) else f'{x.n_to_arrival:,}'} calls timed"))
    chart = charts.range_bars(rows, "Response time by priority: call received to first unit on scene (minutes)",
                              desc="Median and 90th percentile minutes from call received to arrival, by priority.")
    cols = [("priority", "Priority", "text"), ("calls", "Calls", "int"),
            ("median_to_dispatch", "To dispatch", "min"), ("p90_to_dispatch", "p90", "min"),
            ("median_travel", "Travel", "min"), ("p90_travel", "p90", "min"),
            ("median_to_arrival", "To arrival", "min"), ("p90_to_arrival", "p90", "min")]
    pr = t["by_priority"]
    pcols = [("priority_rank", "Priority", "text"), ("calls", "Calls", "int"), ("share_calls", "% calls", "pct"),
             ("hours", "Hours", "hours"), ("share_time", "% time", "pct"), ("mean_minutes", "Min per call", "min")]
    pr = pr.assign(priority_rank=pr["priority_rank"].map(lambda v: "none" if _nan(v) else str(int(v))))
    return (
        _h2(5, "How fast: response times by priority", "response")
        + "<p>Minutes for calls from the public (officer-initiated calls have no response time to speak of). "
          "Priority 1 is the most urgent level in the source's own scale. Medians and 90th percentiles: one call "
          "in ten took longer than the 90th percentile.</p>"
        + f"<figure>{chart}</figure>"
        + table(rt, cols, mc)
        + '<p class="note">To dispatch: call received to first unit dispatched. Travel: dispatched to first unit '
          'on scene. To arrival: received to on scene. Medians and 90th percentiles (p90), in minutes.</p>'
        + _cov("; ".join(f"{INTERVALS[k][2]}: {_short(s, k)}" for k in INTERVALS))
        + "<h3>Calls and officer time by priority</h3>"
        + table(pr, pcols, mc)
    )


def _section_outcomes(r, mc) -> str:
    oc = r.tables["outcomes"].copy()
    present = [o for o in OUTCOME_ORDER if oc[o].sum() > 0]
    for o in present:
        oc[f"p_{o}"] = oc[o] / oc["calls"]
    cols = [("category", "Category", "text"), ("calls", "Calls", "int")] + [
        (f"p_{o}", o.replace("_", " "), "pct") for o in present]
    # A share of a small count is itself a small cell: withhold it with the count.
    row_mask, cell_mask = suppression_masks(oc, mc)
    for o in present:
        oc.loc[cell_mask[o], f"p_{o}"] = float("nan")
    note = ("Outcome classes come from each source's disposition codes (arrest, report written, no action "
            "needed, unfounded or gone on arrival, cancelled). Shares of each category's calls; "
            f"shares resting on fewer than {mc} calls are withheld (–).")
    return _h2(6, "What happens: outcomes by category", "outcomes") + f"<p>{escape(note)}</p>" + table(oc, cols, mc)


def _section_concentration(r, mc) -> str:
    s, t = r.summary, r.tables
    lz = t["lorenz"]
    ct = t["by_call_type"]
    if not s.get("top80_call_types"):
        return (_h2(7, "Concentration: the call types that take the time", "concentration")
                + '<p class="note">Not measurable: no officer time could be measured from this data.</p>')
    pts = list(zip(lz["share_call_types"], lz["share_time"]))
    gini = float(lz["gini"].iloc[0]) if len(lz) else None
    mark = None
    if s.get("top80_call_types") and s["call_types"]:
        k = s["top80_call_types"]
        n = s["call_types"]
        top_share = float(ct[ct["top80"]]["hours"].sum() / ct["hours"].sum()) if ct["hours"].sum() > 0 else None
        if top_share is not None:
            mark = (1 - k / n, 1 - top_share)
    chart = charts.lorenz_chart(pts, gini, "Concentration of officer time across call types", mark=mark,
                                desc="Lorenz curve: cumulative share of officer time against cumulative share of call types.")
    top = ct[ct["top80"]]
    cols = [("call_type", "Call type (as recorded)", "text"), ("category", "Category", "text"), ("calls", "Calls", "int"),
            ("hours", "Hours", "hours"), ("share_time", "% time", "pct"), ("cum_share_time", "Cumulative", "pct")]
    return (
        _h2(7, "Concentration: the call types that take the time", "concentration")
        + (f"<p>{s['top80_call_types']} of the {s['call_types']:,} call types recorded account for 80% of officer "
           f"time. The further the curve sags below the diagonal, the more time is concentrated in a few call "
           f"types: that is where a change in who responds moves the most hours.</p>" if s.get("top80_call_types") else "")
        + f"<figure>{chart}</figure>"
        + "<h3>Call types that account for 80% of officer time</h3>"
        + table(top, cols, mc, limit=40)
    )


def _section_geo(r, mc) -> str:
    t = r.tables
    parts = []
    for col, label in (("district", "District"), ("beat", "Beat")):
        g = t.get(f"by_{col}")
        if g is None or g.empty or g[col].notna().sum() == 0:
            continue
        cols = [(col, label, "text"), ("calls", "Calls", "int"), ("share_calls", "% calls", "pct"),
                ("hours", "Hours", "hours"), ("share_time", "% time", "pct"), ("mean_minutes", "Min per call", "min")]
        g = g.assign(**{col: g[col].fillna("(not recorded)")})
        parts.append(f"<h3>By {label.lower()}</h3>" + table(g, cols, mc, limit=25))
    if not parts:
        return (_h2(8, "Where: districts and beats", "geo")
                + '<p class="note">The source records no district or beat, so there is no geographic breakdown.</p>')
    return _h2(8, "Where: districts and beats", "geo") + "".join(parts)


def _section_who(r, mc) -> str:
    """Who could respond: each responder policy applied to these calls (rightresponse.policy)."""
    from ..policy import who_could_respond_html

    cmp = r.tables.get("who_could_respond")
    if cmp is None or cmp.empty:
        return ""
    cmp = cmp.copy()
    # A share resting on a handful of moved calls is a small cell: withheld (shown as n/a).
    for end in ("low", "high"):
        hide = cmp[f"calls_moved_{end}"].map(lambda v: _is_small(v, mc))
        for col in ("share_calls_moved", "share_hours_moved", "misroute_risk", "share_calls_changed"):
            cmp.loc[hide, f"{col}_{end}"] = float("nan")
    frag = who_could_respond_html(cmp, heading=None, sample=bool(r.summary.get("sample")), min_cell=mc)
    return (_h2(0, "Who could respond", "who")
            + "<p>The same calls under the responder policies that ship with rightresponse. A policy a city "
              "writes itself can be compared the same way (<code>rightresponse policy diff</code>).</p>"
            + frag)


def _section_dispatch(r, mc) -> str:
    """Dispatch practice from the triage decision log (rightresponse.service.summarize_decisions)."""
    ds = getattr(r, "dispatch", None)
    if ds is None:
        return ""
    frag = ds.to_html(min_cell=mc, heading_level=2)
    frag = frag.replace("<h2>Dispatch practice</h2>", _h2(0, "Dispatch practice", "dispatch"), 1)
    intro = ("<p>From the call-takers' decision log: how often the recommendation of the adopted policy was "
             "overridden, by rule and by call category, and what share of the calls the policy sent to an "
             "alternative responder that responder actually handled (the figure pilot programmes report). "
             "The log covers the calls triaged through the console, which need not be the calls above.</p>")
    return frag.replace("</h2>", "</h2>" + intro, 1)


def _section_compare(r, mc) -> str:
    s, t = r.summary, r.tables
    cmp = t["comparison"]
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
                # calls and time of one group on one line
                pub = f"{pub} / {fmt_pct(nxt.published)}"
                ours = f"{ours} / {'–' if _nan(nxt.ours) else fmt_pct(nxt.ours)}"
                x = x._replace(metric=x.metric.replace(": share of calls", ": share of calls / of time"),
                               our_method=nxt.our_method)
                i += 1
            i += 1
            body.append(f"<tr><td>{escape(x.metric)}</td><td class=\"n\">{escape(pub)}</td>"
                        f"<td class=\"n\"><strong>{escape(ours)}</strong></td><td class=\"note\">{escape(x.our_method)}</td></tr>")
    dt = t["by_demand_type"]
    from .compare import DETROIT_2019

    chart = ""
    if dt["demand_type"].notna().any() and dt["hours"].sum() > 0:
        d = dt.set_index("demand_type")
        rows = [(k, float(d.at[k, "share_time"]) if k in d.index else 0.0, v[1]) for k, v in DETROIT_2019.items()]
        chart = ("<figure>" + charts.compare_bars(rows, "Share of officer time by demand type: this data vs Detroit 2019",
                                                   a_label="this data", b_label="Detroit 2019")
                 + f"<figcaption>Detroit: total deployed time. This data: {escape(s['measure_label'])}."
                   "</figcaption></figure>")
    warn = ("This data is a sample and" if s["sample"] else "Different cities, years and methods:")
    return (
        _h2(9, "Compared with published figures", "compare")
        + f"<p>{warn} the comparison shows whether the pattern is familiar, not whether one city does better. "
          "Differences in how call types are grouped and how time is measured move these shares by several "
          "points.</p>"
        + chart
        + '<div class="table-wrap"><table class="compare"><thead><tr><th>Figure</th><th class="n">Published</th>'
          '<th class="n">This data</th><th>How ours is computed</th></tr></thead><tbody>'
        + "".join(body) + "</tbody></table></div>"
    )


def _section_quality(r, mc) -> str:
    s, t = r.summary, r.tables
    files = t["files"]
    fcols = [("file", "File", "text"), ("adapter", "Layout", "text"), ("rows_read", "Rows read", "int"),
             ("rows_loaded", "Loaded", "int"), ("rows_quarantined", "Quarantined", "int"),
             ("rows_duplicate", "Duplicates", "int")]
    ftot = {"file": "Total", "rows_read": files["rows_read"].sum(), "rows_loaded": files["rows_loaded"].sum(),
            "rows_quarantined": files["rows_quarantined"].sum(), "rows_duplicate": files["rows_duplicate"].sum()}
    q = t["quarantine"]
    if len(q):
        qs = q.groupby(["reason", "explanation"], dropna=False)["rows"].sum().reset_index().sort_values("rows", ascending=False)
        qhtml = table(qs, [("reason", "Reason", "text"), ("explanation", "Meaning", "text"), ("rows", "Rows", "int")], mc, exempt=True)
    else:
        qhtml = "<p>No record was quarantined.</p>"
    cov = t["coverage"]
    crow = []
    for k in (*MEASURES, *INTERVALS):
        c = cov[cov["duration"] == k]
        reasons = c[c["reason"] != "measured"].groupby("reason")["calls"].sum().sort_values(ascending=False)
        label = MEASURES[k].label if k in MEASURES else f"response: {INTERVALS[k][2]}"
        crow.append({"duration": label, "in_scope": c["calls"].sum(),
                     "measured": c.loc[c["reason"] == "measured", "calls"].sum(),
                     "excluded": reasons.sum(),
                     "why": "; ".join(f"{n:,} {reason_text(x, s['max_hours'])}" for x, n in reasons.items()) or "–"})
    cdf = pd.DataFrame(crow)
    ccols = [("duration", "Duration", "text"), ("in_scope", "Calls", "int"), ("measured", "Measured", "int"),
             ("excluded", "Excluded", "int"), ("why", "Why excluded", "text")]
    ti = t["time_issues"]
    scope = t["scope"]
    scols = [("service", "Service", "text"), ("calls", "Calls", "int"), ("analysed", "Analysed", "text")]
    scope = scope.assign(analysed=scope["in_scope"].map(lambda b: "yes" if b else "no"),
                         service=scope["service"].map(lambda v: "EMS" if v == "ems" else v))
    return (
        _h2(10, "Data quality", "quality")
        + "<p>Every input row is either loaded, quarantined with a reason, or skipped as a duplicate of a call "
          "already loaded; per file, rows read = loaded + quarantined + duplicates.</p>"
        + table(files, fcols, mc, total=ftot, exempt=True)
        + "<h3>Quarantined records</h3>" + qhtml
        + "<h3>Services in the data</h3>" + table(scope, scols, mc, exempt=True)
        + "<h3>Coverage of each time measure</h3>"
        + f"<p>A call counts towards a duration only when both timestamps are present, no time issue is flagged "
          f"on it (for example dispatched before received, or cleared before arrival) and the duration is at most "
          f"{s['max_hours']:g} hours. Excluded calls still count as calls.</p>"
        + table(cdf, ccols, mc, exempt=True)
        + ("<h3>Time issues flagged at ingest</h3>"
           + table(ti.assign(time_issue=ti["time_issue"].map(lambda v: v.replace("_", " ").replace(";", "; "))),
                   [("time_issue", "Issue", "text"), ("calls", "Calls", "int")], mc, exempt=True) if len(ti) else "")
    )


def _section_method(r, mc) -> str:
    s, t = r.summary, r.tables
    cm = t["classification_methods"]
    mcols = [("method", "Decided by", "text"), ("call_types", "Call types", "int"), ("calls", "Calls", "int"),
             ("share_calls", "% calls", "pct"), ("mean_confidence", "Mean confidence", "conf"),
             ("min_confidence", "Lowest", "conf")]
    ct = t["by_call_type"]
    # Model decisions: made at run time, or crosswalk rows the model suggested and nobody reviewed.
    unreviewed = (ct["method"] == "crosswalk") & (ct["confidence"] < 1)
    model = ct[(ct["method"] == "model") | unreviewed].sort_values("calls", ascending=False)
    if len(model):
        mdl = ("<h3>Call types categorized by the model</h3><p>These decisions were made by the statistical "
               "classifier (or are crosswalk entries it suggested that nobody has reviewed yet), not by a person or "
               "a keyword rule; the confidence is its calibrated probability of being right. Review the low ones "
               "and override them in the agency's crosswalk.</p>"
               + table(model, [("call_type", "Call type", "text"), ("category", "Category", "text"),
                               ("confidence", "Confidence", "conf"), ("calls", "Calls", "int"),
                               ("share_time", "% time", "pct")], mc, limit=30))
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
          "types of Langton et al. Each distinct call type is decided once, by the agency's crosswalk where one "
          "exists, else by a keyword rule, else by a statistical model; a city can override any mapping.</dd>"
        + f"<dt>Small cells</dt><dd>Counts between 1 and {mc - 1} are shown as &lt;{mc}, and figures resting on "
          "them are withheld. Data-quality counts describe records, not people, and are shown exactly.</dd>"
        + "<dt>Privacy</dt><dd>The report holds aggregates only: no address, coordinate or narrative.</dd>"
        + f"<dt>Software</dt><dd>rightresponse {escape(s['rightresponse'])}, generated {escape(s['generated_at'])}. "
          "Every table in this report is also written as CSV and Parquet in the tables/ folder beside it.</dd>"
        + "</dl>"
        + "<h3>How call types were categorized</h3>"
        + table(cm, mcols, mc, exempt=True)
        + mdl
    )


# ---------------------------------------------------------------- page


def _cards(r, mc) -> str:
    s, t = r.summary, r.tables
    cg = t["by_crime_group"].set_index("crime_group")
    crime = sum(float(cg.at[g, "share_time"]) for g in ("violent crime", "property crime", "other crime")
                if g in cg.index and not _nan(cg.at[g, "share_time"]))
    rt = t["response_times"]
    r1 = rt[rt["priority"] == "1"]
    p1 = (f"{r1.iloc[0]['median_to_arrival']:.1f} min" if len(r1) and not _nan(r1.iloc[0]["median_to_arrival"])
          and r1.iloc[0]["n_to_arrival"] >= max(mc, 1) else "–")
    cards = [
        (f"{s['calls']:,}", f"{s['service'] or 'all'} calls analysed"),
        (f"{s['hours']:,.0f}", f"officer hours ({s['measure_label']})") if s["hours"] > 0
        else ("–", f"officer hours: no {s['measure_label']} in this data"),
        (fmt_pct(s["officer_initiated_share_calls"]), "of calls officer-initiated")
        if s["officer_initiated_share_calls"] is not None else ("–", "origin not recorded"),
        (fmt_pct(crime), "of officer time on crime") if cg.index.notna().any() and s["hours"] > 0
        else (p1, "median response, priority 1"),
    ]
    html = "".join(f'<div class="card"><div class="v">{escape(v)}</div><div class="l">{escape(l)}</div></div>' for v, l in cards)
    return f'<div class="cards">{html}</div>'


def _banner(r) -> str:
    s = r.summary
    if s["sample"]:
        text = SAMPLE_TEXT.get(s["sample"], "a bundled sample.")
        return ('<div class="banner" role="note"><strong>Sample data: not a city\'s true figures</strong>'
                f"This report runs on {escape(text)} Do not quote these figures as any city's workload.</div>")
    return ('<div class="banner soft" role="note"><strong>Figures describe the exports supplied</strong>'
            "If the exports are a sample, a filtered extract or a partial period, these are not the agency's true "
            "totals. Compare like with like: the same measure, scope and categories.</div>")


def render_report(result) -> str:
    """The report as one HTML string."""
    s = result.summary
    mc = s["min_cell"]
    css = (resources.files("rightresponse.report") / "templates" / "report.css").read_text(encoding="utf-8")
    agencies = ", ".join(agency_name(a) for a in s["agencies"]) or "unnamed agency"
    period = f"{_date(s['period']['start'])} – {_date(s['period']['end'])}"
    title = "Calls for service: where police time goes" if s["service"] == "police" else "Calls for service assessment"
    lede = "".join(f"<p>{escape(p)}</p>" for p in narrative(result))
    sections = [
        (_section_time, "time", "Time"), (_section_rollups, "rollups", "Crime groups"),
        (_section_origin, "origin", "Origin"), (_section_when, "when", "When"),
        (_section_response, "response", "Response"), (_section_outcomes, "outcomes", "Outcomes"),
        (_section_concentration, "concentration", "Concentration"), (_section_geo, "geo", "Where"),
        (_section_who, "who", "Who could respond"), (_section_dispatch, "dispatch", "Dispatch practice"),
        (_section_compare, "compare", "Comparison"), (_section_quality, "quality", "Data quality"),
        (_section_method, "method", "Method"),
    ]
    parts = [(f(result, mc), a, n) for f, a, n in sections]
    parts = [p for p in parts if p[0]]  # a section with nothing to show is left out
    # Number the sections in the order shown.
    body = "".join(re.sub(r'<span class="num">\d+\.</span>', f'<span class="num">{i}.</span>', html, count=1)
                   for i, (html, _, _) in enumerate(parts, 1))
    toc = " · ".join(f'<a href="#{a}">{escape(n)}</a>' for _, a, n in parts)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="rightresponse {escape(s['rightresponse'])}">
<title>{escape(title)} – {escape(agencies)}</title>
<style>{css}</style>
</head>
<body>
<div class="page">
<header class="masthead">
<p class="kicker">Calls-for-service assessment</p>
<h1>{escape(title)}</h1>
<p class="sub">{escape(agencies)} · {escape(period)} · {s['calls']:,} {escape(s['service'] or '')} calls</p>
<p class="meta">Generated {escape(s['generated_at'][:10])} by rightresponse {escape(s['rightresponse'])} · time measure: {escape(s['measure_label'])}</p>
</header>
{_banner(result)}
{_cards(result, mc)}
<section class="lede" aria-label="Summary">{lede}</section>
<p class="note">Contents: {toc}</p>
{body}
<footer>Aggregates only: this report contains no addresses, coordinates or call narratives. Counts below {mc} are shown as &lt;{mc}.
Produced with rightresponse, an open-source toolkit; the tables behind every figure are in the tables/ folder beside this file.</footer>
</div>
</body>
</html>
"""


def write_report(result, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(result), encoding="utf-8")
    return path
