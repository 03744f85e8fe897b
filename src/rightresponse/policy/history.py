"""Apply a policy to historical calls: who would have responded, and how much police time moves.

Historical CAD data rarely records the risk flags a call-taker would ask about, so every
figure is a range:

- **optimistic**: the policy as written, with no flags (nobody said "weapon");
- **conservative**: a call type that ever showed a weapon or violence indicator (narrative
  flags, where the data has narratives) or ever ended in an arrest or a violent-crime report
  is treated as if the weapon and violence flags were set, which under any policy that passes
  lint means an officer attends; so does every call at the agency's most urgent priority (rank 1).

Decisions depend only on a handful of values (call type, category, priority, origin, the
time window), so the policy is evaluated once per distinct combination in Python and joined
back in the engine; all counting runs in Ibis. Officer hours are total deployed time
(dispatched to cleared) of police calls with usable times (``time_issue IS NULL``).

The call type used for routing is the *initial* type where the data has one (what the
call-taker knew), else the final type; "violent-crime report" uses the final type's category.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, field

import ibis
import pandas as pd

from .classify import taxonomy_options
from .engine import CompiledPolicy
from .model import FLAG_BIT, RESPONDERS, Policy, _taxonomy_vocab, list_presets, load_policy

VIEWS = ("conservative", "optimistic")
ADVERSE_GROUP = "violent crime"  # crime_group of the taxonomy whose reports count as misroutes
_NULL = "\u2205"  # join-key stand-in for NULL (SQL joins never match NULL = NULL)
WEAPON_OR_VIOLENCE = FLAG_BIT["weapon"] | FLAG_BIT["violence"]


@dataclass
class PreparedHistory:
    """Calls ready for any policy: routing type and category, indicators, hours. Build once."""

    calls: ibis.Table  # one row per police call, cached in the engine
    route_on: str
    coverage: dict = field(default_factory=dict)
    flagged_types: pd.DataFrame = field(default_factory=pd.DataFrame)  # agency, route_type, reasons


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

def prepare_history(calls, sensitive=None, route_on: str = "initial", *, classifier=None, model_path=None,
                    overrides=None) -> PreparedHistory:
    """Police calls with everything a policy decision needs; ``calls`` is a workspace or Ibis table.

    ``sensitive`` (the workspace's sensitive table) adds narrative flags; narratives are read
    in memory only to compute flags and are never stored or returned. ``classifier``,
    ``model_path`` and ``overrides`` go to the taxonomy (a city's category overrides apply).
    A table that already has ``category`` (from ``taxonomy.categorize``) keeps it.
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
    con = calls.get_backend()
    opts = taxonomy_options(classifier, model_path, overrides)
    t = calls
    if "service" in t.columns:
        t = t.filter(t.service.isnull() | (t.service == "police"))

    # Category of the final type (what the call turned out to be) and of the routing type.
    from ..taxonomy import categorize

    if "category" not in t.columns:
        t = categorize(t, **opts)
    if "crime_group" not in t.columns:
        _, cat_group, _ = _taxonomy_vocab(None)
        groups = ibis.memtable(pd.DataFrame({"_fc": list(cat_group), "crime_group": list(cat_group.values())}))
        t = t.left_join(groups, t.category == groups._fc).drop("_fc")
    t = t.rename(final_category="category", final_group="crime_group")
    t = t.drop(*[c for c in ("confidence", "method", "demand_type", "detail") if c in t.columns])
    final = t.call_type.strip()
    if route_on == "initial" and "initial_call_type" in t.columns:
        init = t.initial_call_type.strip()
        use_final = init.isnull() | (init == "")
        t = categorize(t, value_column="initial_call_type", code_column="initial_call_type_code", **opts)
        t = t.mutate(route_type=ibis.ifelse(use_final, final, init),
                     route_category=ibis.ifelse(use_final, t.final_category, t.category))
        t = t.drop("category", "confidence", "method", "crime_group", "demand_type")
    else:
        t = t.mutate(route_type=final, route_category=t.final_category)

    adverse = (t.outcome == "arrest") | ((t.outcome == "report") & (t.final_group == ADVERSE_GROUP))
    ok_time = t.time_issue.isnull() & t.dispatched.notnull() & t.cleared.notnull()
    secs = t.cleared.delta(t.dispatched, unit="millisecond").cast("float64") / 1000.0
    t = t.mutate(
        adverse=adverse.fill_null(False),
        officer_hours=ibis.ifelse(ok_time, secs / 3600.0, ibis.null("float64")),
        minute_of_day=(t.received_local.hour() * 60 + t.received_local.minute()).cast("int32"),
        dow=t.received_local.day_of_week.index().cast("int8"),
        hour=t.received_local.hour().cast("int8"),
        urgent=(t.priority_rank == 1).fill_null(False),
    )
    name = f"rr_policy_history_{uuid.uuid4().hex[:12]}"
    t = con.create_table(name, t.select(
        "agency", "call_id", "route_type", "route_category", "final_category", "priority_rank", "origin",
        "outcome", "adverse", "officer_hours", "minute_of_day", "dow", "hour", "urgent"), temp=True)

    # Call types that ever showed danger: narrative flags, arrests, violent-crime reports.
    flagged = t.group_by(["agency", "route_type"]).agg(
        arrests=(t.outcome == "arrest").cast("int64").sum(),
        violent_reports=((t.outcome == "report") & t.adverse).cast("int64").sum(),
    ).to_pandas()
    flagged["narrative_danger"] = 0
    has_narr = False
    if sensitive is not None and "narrative" in sensitive.columns:
        nf = _narrative_danger(t, sensitive)
        if nf is not None:
            has_narr = True
            flagged = flagged.drop(columns=["narrative_danger"]).merge(nf, on=["agency", "route_type"], how="left")
            flagged["narrative_danger"] = flagged["narrative_danger"].fillna(0).astype("int64")
    flagged = flagged[(flagged.arrests > 0) | (flagged.violent_reports > 0) | (flagged.narrative_danger > 0)]
    flagged = flagged.sort_values(["agency", "route_type"], ignore_index=True)
    fm = ibis.memtable(flagged.assign(_flag=True)[["agency", "route_type", "_flag"]].rename(
        columns={"agency": "_a", "route_type": "_r"}), schema={"_a": "string", "_r": "string", "_flag": "boolean"})
    j = t.left_join(fm, [t.agency == fm._a, t.route_type == fm._r])
    j = j.mutate(danger_type=j._flag.fill_null(False)).drop("_a", "_r", "_flag")
    t = con.create_table(name + "_f", j, temp=True)
    con.raw_sql(f"DROP TABLE IF EXISTS {name}")  # temp tables die with the connection anyway

    stats = t.aggregate(
        calls=t.count(), timed=t.officer_hours.notnull().cast("int64").sum(), hours=t.officer_hours.sum(),
        adverse=t.adverse.cast("int64").sum(), danger_calls=t.danger_type.cast("int64").sum(),
        urgent=t.urgent.cast("int64").sum(),
    ).to_pandas().iloc[0]
    coverage = {
        "calls": int(stats.calls), "calls_with_usable_times": int(stats.timed),
        "officer_hours": float(stats.hours) if int(stats.timed) else 0.0, "adverse_calls": int(stats.adverse),
        "calls_in_danger_types": int(stats.danger_calls), "urgent_calls": int(stats.urgent),
        "danger_types": len(flagged), "narrative_flags": has_narr, "route_on": route_on,
    }
    return PreparedHistory(t, route_on, coverage, flagged)


def _narrative_danger(t, sensitive) -> pd.DataFrame | None:
    """Per (agency, route_type): calls whose narrative shows a weapon or violence. In memory only."""
    from ..taxonomy import narrative_flags

    s = sensitive.filter(sensitive.narrative.notnull()).select(
        _a=sensitive.agency, _id=sensitive.call_id, _n=sensitive.narrative)
    j = t.select("agency", "call_id", "route_type").join(s, [t.agency == s._a, t.call_id == s._id])
    df = j.select("agency", "route_type", "_n").to_pandas()
    if df.empty:
        return None
    texts = df["_n"].astype(str)
    uniq = pd.unique(texts)
    flags = narrative_flags(list(uniq))
    cols = [c for c in ("weapon", "violence") if c in flags.columns]
    if not cols:
        raise RuntimeError("taxonomy.narrative_flags() returned neither 'weapon' nor 'violence'")
    danger = pd.Series(flags[cols].fillna(False).astype(bool).any(axis=1).to_numpy(), index=uniq)
    df["d"] = texts.map(danger).astype("int64")
    del df["_n"], texts
    return df.groupby(["agency", "route_type"], dropna=False, as_index=False)["d"].sum().rename(
        columns={"d": "narrative_danger"})


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
    """Both views' decision for each distinct key (a few hundred rows, not one per call)."""
    cp: CompiledPolicy = policy.compiled
    keys = keys[KEY_COLS].drop_duplicates(ignore_index=True)
    out = []
    for rt, cat, pri, org, a, d, danger in keys.itertuples(index=False):
        rt = None if rt == _NULL else rt
        cat = None if cat == _NULL else cat
        pri = None if pri == -1 else int(pri)
        org = None if org == _NULL else org
        minute = None if a == -1 else cuts[int(a)]
        dow = None if d == -1 else int(d)
        texts = cp.texts(rt)
        rule = cp.match(cat, texts, pri, org, dow, minute, 0)
        resp, co, _, _ = cp.resolve(rule, dow, minute)
        c_rule, c_resp, c_co = rule.id, resp, co
        if danger and not policy.responders[resp].police:
            r2 = cp.match(cat, texts, pri, org, dow, minute, WEAPON_OR_VIOLENCE)
            c_resp, c_co, _, _ = cp.resolve(r2, dow, minute)
            c_rule = r2.id
            if not policy.responders[c_resp].police:  # only a policy that fails lint's safety check
                c_rule, c_resp, c_co = "(kept with police)", "police", None
        out.append((rule.id, resp, co, c_rule, c_resp, c_co))
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

    One engine pass per policy; every figure is a re-aggregation of this small table.
    """
    t, cuts = _keyed(policy, prep.calls)
    dims = KEY_COLS + ["agency", "route_type", "route_category", "danger_type", "adverse", "dow", "hour"]
    cube = t.group_by(dims).agg(calls=t.count(), hours=t.officer_hours.sum().fill_null(0.0)).to_pandas()
    dec = _decide(policy, cube, cuts)
    return cube.merge(dec, on=KEY_COLS, how="left", validate="many_to_one")


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
        c = cube.assign(view=view, responder=cube[f"responder_{view}"], co=cube[f"co_responder_{view}"])
        c["moved"] = ~c.responder.isin(police)
        c["changed"] = (c.responder != "police") | c.co.notna()
        s = c.groupby(["view", "responder"], as_index=False)[["calls", "hours"]].sum()
        parts["summary"].append(s)
        mv = c[c.moved]
        parts["moved"].append(pd.DataFrame([{
            "view": view, "calls": int(c.calls.sum()), "calls_moved": int(mv.calls.sum()),
            "hours": float(c.hours.sum()), "hours_moved": float(mv.hours.sum()),
            "diverted_adverse": int(mv.calls[mv.adverse].sum()),
            "calls_changed": int(c.calls[c.changed].sum()), "calls_co_response": int(c.calls[c.co.notna()].sum()),
        }]))
        parts["by_category"].append(c.groupby(["view", "route_category", "responder"], dropna=False, as_index=False)[["calls", "hours"]].sum())
        parts["by_hour_of_week"].append(c.groupby(["view", "dow", "hour", "responder"], as_index=False)[["calls", "hours"]].sum())

    summary = pd.concat(parts["summary"], ignore_index=True)
    summary["kind"] = summary.responder.map(kinds)
    summary["share_calls"] = summary.calls / total_calls if total_calls else float("nan")
    summary["share_hours"] = summary.hours / total_hours if total_hours else float("nan")
    summary = summary.sort_values(["view", "calls"], ascending=[True, False], ignore_index=True)

    moved = pd.concat(parts["moved"], ignore_index=True)
    moved["share_calls_moved"] = moved.calls_moved / moved.calls.where(moved.calls > 0)
    moved["share_hours_moved"] = moved.hours_moved / moved.hours.where(moved.hours > 0)
    moved["misroute_risk"] = moved.diverted_adverse / moved.calls_moved.where(moved.calls_moved > 0)
    moved["share_calls_changed"] = moved.calls_changed / moved.calls.where(moved.calls > 0)

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


def compare_policies(calls, policies=None, sensitive=None, route_on: str = "initial", **taxonomy) -> pd.DataFrame:
    """One row per policy: share of calls and officer hours moved away from police, as a
    conservative-optimistic range, with the misroute risk. ``calls``: workspace, Ibis table or
    PreparedHistory; ``policies``: names, files or Policy objects (default: every preset)."""
    prep = calls if isinstance(calls, PreparedHistory) else prepare_history(calls, sensitive, route_on, **taxonomy)
    rows = []
    for p in (policies or list_presets()):
        pol = load_policy(p)
        f = policy_figures(pol, prep)
        m = f.moved.set_index("view")
        row = {"policy": pol.id, "title": pol.title, "policy_hash": pol.hash, "calls": int(m.loc["optimistic", "calls"]),
               "officer_hours": float(m.loc["optimistic", "hours"])}
        for col in ("calls_moved", "share_calls_moved", "hours_moved", "share_hours_moved", "misroute_risk",
                    "share_calls_changed"):
            row[f"{col}_low"] = m.loc["conservative", col]
            row[f"{col}_high"] = m.loc["optimistic", col]
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["coverage"] = dict(prep.coverage)
    return out


# ---------------------------------------------------------------------------- report section

def _pct(v) -> str:
    return "n/a" if v is None or v != v else f"{100 * v:.1f}%"


def _range(lo, hi) -> str:
    if lo != lo or hi != hi:
        return "n/a"
    return _pct(lo) if abs(hi - lo) < 5e-4 else f"{_pct(lo)} to {_pct(hi)}"


def _bar(lo, hi, width: int = 160) -> str:
    if lo != lo or hi != hi:
        return ""
    x0, x1 = max(0.0, min(lo, hi)) * width, max(0.0, max(lo, hi)) * width
    return (f'<svg width="{width}" height="12" role="img" aria-label="{_range(lo, hi)}">'
            f'<rect x="0" y="5" width="{width}" height="2" fill="#ddd"/>'
            f'<rect x="0" y="2" width="{x0:.1f}" height="8" fill="#2b6cb0"/>'
            f'<rect x="{x0:.1f}" y="2" width="{max(x1 - x0, 0.0):.1f}" height="8" fill="#90cdf4"/></svg>')


def who_could_respond_html(comparison: pd.DataFrame, heading: str | None = "Who could respond",
                           level: int = 2) -> str:
    """The report's "Who could respond" section: an HTML fragment, inline SVG, no external assets.

    Shows only per-policy aggregates (never call types with few calls, addresses or narratives).
    """
    cov = comparison.attrs.get("coverage", {})
    rows = []
    for r in comparison.itertuples(index=False):
        rows.append(
            "<tr>"
            f"<td>{html.escape(r.policy)}<br><small>{html.escape(r.title)}</small></td>"
            f"<td>{_range(r.share_calls_moved_low, r.share_calls_moved_high)}<br>{_bar(r.share_calls_moved_low, r.share_calls_moved_high)}</td>"
            f"<td>{_range(r.share_hours_moved_low, r.share_hours_moved_high)}<br>{_bar(r.share_hours_moved_low, r.share_hours_moved_high)}</td>"
            f"<td>{_range(r.misroute_risk_low, r.misroute_risk_high)}</td>"
            f"<td>{_range(r.share_calls_changed_low, r.share_calls_changed_high)}</td>"
            "</tr>")
    head = f"<h{level}>{html.escape(heading)}</h{level}>" if heading else ""
    n, timed = cov.get("calls", 0), cov.get("calls_with_usable_times", 0)
    narr = ("Narrative flags (weapon, violence) were available and used."
            if cov.get("narrative_flags") else "The data has no call narratives, so no narrative flags were used.")
    route = ("the initial call type where recorded (what the call-taker knew), else the final type"
             if cov.get("route_on", "initial") == "initial" else "the final call type")
    return f"""<section class="rr-who-could-respond">{head}
<p>What share of police calls and officer time each responder policy would send to someone other than an
officer, applied to {n:,} historical police calls. Each figure is a range: the <b>conservative</b> end keeps with
an officer every call type that ever showed a weapon or violence indicator or ended in an arrest or a
violent-crime report, and every call at the most urgent priority; the <b>optimistic</b> end applies the policy as
written, with no risk flags (historical data rarely records them). Routing uses {route}.</p>
<table class="rr-table">
<thead><tr><th>policy</th><th>calls moved from police</th><th>officer hours moved</th>
<th>misroute risk<br><small>diverted calls that ended in an arrest or violent-crime report</small></th>
<th>calls whose response changes<br><small>incl. co-responders</small></th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<p><small>Officer hours are total deployed time (first unit dispatched to call cleared) of the {timed:,} calls with
usable times. The conservative misroute risk is zero by construction. {narr} Sample data are not a city's true
figures.</small></p>
</section>"""
