"""evaluate(): what a pilot did, as Dee and Pyne evaluated Denver's STAR (Science Advances, 2022).

Named after its command, as assess.py is; no other module has the name.

The design: the calls a responder policy moves from police (the *eligible* calls) against the
calls it does not (the *comparison* calls), before and after the pilot started. If the two
groups would have moved in parallel without the pilot, the change in the eligible calls beyond
the change in the comparison calls (the difference in differences) is what the pilot did.

Everything here reuses a decision or a measure made elsewhere, so a figure means one thing:

* eligibility is rightresponse.policy.history's conservative view (``apply_policy``): the
  calls whose conservative responder is not police. Nothing here decides who could respond;
* officer hours are the workload tables' time measure (``workload.prepare``: ``ms_<measure>``,
  with its exclusions); response time is its ``to_arrival`` interval (received to first unit
  on scene) for calls from the public, the interval the assessment's response-time table
  shows; outcomes are its outcome classes;
* the decision log's adherence and override reasons are ``decisions.summarize_decisions``;
* every published number passes rightresponse.report.disclosure (``publish_evaluation``).

The engine does the per-call work in two passes grouped by distinct values (day x group x
area, and period x group for the quantiles); weeks, periods and the estimates are computed
on those few hundred rows in pandas. Repeat calls to one address need the sensitive table:
the per-address table goes to the analyst's private folder only, the report gets rates.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from .schema import MAX_CALL_HOURS
from .evaluation_design import (GROUPS, PERIODS, OUTCOMES, RESPONSE_INTERVAL, REPEAT_DAYS, TOP_REPEAT_LOCATIONS, DID_OUTCOMES,
                                CONTRASTS, CI_LEVEL, SCALES, CI_METHOD, LIMITS, PLACEBO_NOTE)
from .measures import DEFAULT_MEASURE, INTERVALS, MEASURES

class EvaluateError(ValueError):
    """The evaluation cannot run as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Window:
    """The pilot's dates (local, inclusive end) and the days the data cover."""

    start: date
    end: date | None
    data_first: date
    data_last: date

    @property
    def after_end(self) -> date:
        """The first day after the evaluated pilot period (exclusive bound)."""
        last = self.data_last if self.end is None else min(self.end, self.data_last)
        return last + timedelta(days=1)

    @property
    def days_before(self) -> int:
        return max((self.start - self.data_first).days, 0)

    @property
    def days_after(self) -> int:
        return max((self.after_end - self.start).days, 0)

    def period(self, day: date) -> str | None:
        if day < self.start:
            return "before"
        return "after" if day < self.after_end else None

    def to_dict(self) -> dict:
        return {"start": str(self.start), "end": None if self.end is None else str(self.end),
                "data_first": str(self.data_first), "data_last": str(self.data_last),
                "days_before": self.days_before, "days_after": self.days_after,
                "weeks_before": round(self.days_before / 7, 2), "weeks_after": round(self.days_after / 7, 2)}


@dataclass
class EvaluationResult:
    """Exact tables (pandas) for analysis in Python, and what :meth:`publish` lets out for
    everything written or printed (report, tables, ``summary.json``, ``--json``)."""

    tables: dict[str, pd.DataFrame]
    summary: dict
    analyst_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    report_path: Path | None = None
    out: Path | None = None
    files: list[str] = field(default_factory=list)
    _published: dict = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def publish(self, min_cell: int | None = None):
        """The tables after disclosure control (rightresponse.report.disclosure.publish_evaluation)."""
        from .report.disclosure import publish_evaluation

        mc = self.summary["min_cell"] if min_cell is None else int(min_cell)
        if mc not in self._published:
            self._published[mc] = publish_evaluation(self.tables, mc)
        return self._published[mc]

    def to_json_dict(self) -> dict:
        """What ``--json`` prints and ``summary.json`` holds: published figures only (null: withheld)."""
        pub = self.publish()
        s = self.summary
        per = pub["evaluation_periods"]
        rows = {(per.values["group"].iat[i], per.values["period"].iat[i]): i for i in range(len(per))}

        def block(group):
            return {p: _block(per, rows[(group, p)]) if (group, p) in rows else None for p in PERIODS}

        out = {
            "policy": s["policy"], "policy_title": s["policy_title"], "policy_hash": s["policy_hash"],
            "eligibility": s["eligibility"], "measure": s["measure"], "measure_label": s["measure_label"],
            "response_time": s["response_time"], "pilot": s["window"], "min_cell": s["min_cell"],
            "sample_note": s["placebo_note"],
            "scope": {p: {"calls": _v(per, rows.get(("all", p)), "calls")} for p in PERIODS}
            | {"calls_outside_window": s["calls_outside_window"]},
            "eligible": block("eligible"), "comparison": block("comparison"),
            "did": _did_json(pub["evaluation_did"], "groups"),
            "areas": None, "repeat_calls": _repeat_json(pub.get("evaluation_repeat"), s),
            "decisions": _decisions_json(pub, s), "limits": list(LIMITS),
            "report": str(self.report_path) if self.report_path else None, "files": self.files,
        }
        if s.get("areas"):
            out["areas"] = {"treated": s["areas"], "eligible_treated": block("eligible_treated"),
                            "eligible_other": block("eligible_other"), "did": _did_json(pub["evaluation_did"], "areas")}
        return out

    def summary_text(self) -> str:
        """One screen for the terminal, from the published figures."""
        j = self.to_json_dict()
        w = j["pilot"]
        lines = [f"rightresponse evaluate: policy {j['policy']}, pilot from {w['start']}"
                 + (f" to {w['end']}" if w["end"] else "")
                 + f"; data {w['data_first']} to {w['data_last']} ({w['weeks_before']:g} weeks before, "
                   f"{w['weeks_after']:g} after)", ""]
        lines.append(f"{'':<12}{'period':<8}{'calls':>8}{'per week':>10}{'officer h':>11}{'h/week':>9}"
                     f"{'resp. med':>10}{'p90':>7}")
        for g in GROUPS:
            for p in PERIODS:
                b = j[g][p] or {}
                rt = b.get("response_time") or {}
                lines.append(f"{g:<12}{p:<8}{_t(b.get('calls'), '{:,.0f}'):>8}{_t(b.get('calls_per_week'), '{:,.1f}'):>10}"
                             f"{_t(b.get('officer_hours'), '{:,.0f}'):>11}{_t(b.get('officer_hours_per_week'), '{:,.1f}'):>9}"
                             f"{_t(rt.get('median_minutes'), '{:.1f}'):>10}{_t(rt.get('p90_minutes'), '{:.1f}'):>7}")
        lines.append("")
        for k, d in j["did"].items():
            rel = d.get("relative") or {}
            lines.append(f"difference in differences, {k.replace('_', ' ')}: {_t(d['estimate'], '{:+,.1f}')} "
                         f"(95% CI {_t(d['low'], '{:+,.1f}')} to {_t(d['high'], '{:+,.1f}')}; "
                         f"{d['weeks_before']} + {d['weeks_after']} full weeks); proportional "
                         f"{_t(rel.get('estimate'), '{:+.1%}')} ({_t(rel.get('low'), '{:+.1%}')} to "
                         f"{_t(rel.get('high'), '{:+.1%}')})")
        if j["areas"]:
            for k, d in j["areas"]["did"].items():
                lines.append(f"treated areas vs others, {k.replace('_', ' ')}: {_t(d['estimate'], '{:+,.1f}')} "
                             f"(95% CI {_t(d['low'], '{:+,.1f}')} to {_t(d['high'], '{:+,.1f}')})")
        rc = j["repeat_calls"]
        if rc and rc.get("eligible"):
            lines.append("repeat calls within 30 days (eligible): "
                         f"{_t(rc['eligible']['before'], '{:.1%}')} before, {_t(rc['eligible']['after'], '{:.1%}')} after")
        d = j["decisions"]
        if d:
            lines.append(f"decision log: adherence {_t(d['adherence'], '{:.1%}')} of {_t(d['decisions'], '{:,.0f}')} "
                         f"decisions; fell back (team busy/off duty): {_t(d['fallbacks']['total'], '{:,.0f}')}")
        if j["sample_note"]:
            lines += ["", "PLACEBO: " + j["sample_note"]]
        if self.report_path:
            lines.append(f"report: {self.report_path}")
        return "\n".join(lines)

    def write(self, out) -> "EvaluationResult":
        """report.html, tables/ (CSV and Parquet, as published), summary.json, and analyst/
        (per-address repeat calls: 0600 files in a 0700 folder) in ``out``."""
        from .report.evaluation import write_evaluation_report
        from .report.output_folder import write_analyst_tables, write_published_tables

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        pub = self.publish()
        written = write_published_tables({name: d for name, d in pub.tables.items()
                                          if name.startswith(("evaluation_", "dispatch_"))}, out)
        written += write_analyst_tables(self.analyst_tables, out)
        self.out = out
        self.report_path = write_evaluation_report(self, out / "report.html")
        written.append(str(self.report_path))
        self.files = written + [str(out / "summary.json")]
        (out / "summary.json").write_text(json.dumps(self.to_json_dict(), indent=2, default=str), encoding="utf-8")
        return self


# ---------------------------------------------------------------------------- the library call


def evaluate(workspace, policy, pilot_start, pilot_end=None, areas=(), decisions=None, out=None,
             min_cell: int = 10, measure: str = DEFAULT_MEASURE, max_hours: float = MAX_CALL_HOURS,
             overrides=None, model_path=None, placebo: bool | None = None) -> EvaluationResult:
    """Evaluate a pilot: eligible against comparison calls, before and after ``pilot_start``.

    ``workspace``: an ingested workspace. ``policy``: the policy the pilot ran (preset name or
    file): its conservative view decides which calls are eligible. ``pilot_start`` /
    ``pilot_end``: local dates (ISO text or ``date``), the end inclusive (default: the end of
    the data). ``areas``: districts where the pilot ran; adds treated areas against the others
    (eligible calls only) as a second contrast. ``decisions``: the triage decision log (URL or
    SQLite path), read only, for adherence, override reasons and fallbacks during the pilot.
    ``out``: write the report and tables there. ``min_cell``: counts below it are withheld
    with every figure resting on them. ``placebo``: say that no pilot ran in these data (default:
    true when the workspace holds the bundled DECC sample, where none did).
    """
    import ibis

    from .ingest.workspace import Workspace, open_dataset
    from .policy import PolicyError, load_policy
    from .policy.vocabulary import RESPONDERS

    if measure not in MEASURES:
        raise EvaluateError(f"unknown time measure {measure!r}; choose one of: {', '.join(MEASURES)}")
    if min_cell < 0:
        raise EvaluateError("min_cell must be 0 or more")
    start, end = _date(pilot_start, "--pilot-start"), (None if pilot_end is None else _date(pilot_end, "--pilot-end"))
    if end is not None and end < start:
        raise EvaluateError(f"--pilot-end {end} is before --pilot-start {start}")
    ws = Workspace(workspace)
    if not ws.has("calls"):
        raise EvaluateError(f"{ws.root}: no calls in this workspace; run `rightresponse ingest ... --workspace "
                            f"{ws.root}` first")
    try:
        pol = load_policy(policy)
    except (PolicyError, FileNotFoundError, ValueError) as exc:
        raise EvaluateError(f"--policy: {exc}") from None
    if overrides is None:
        from .taxonomy.review import workspace_overrides

        overrides = workspace_overrides(ws.root)
    store = _open_decisions(decisions) if decisions is not None else None  # fail before the long work
    try:
        con = ibis.duckdb.connect()
        calls = open_dataset(ws.root, con=con)
        sensitive = open_dataset(ws.root, "sensitive", con=con) if ws.has("sensitive") else None
        try:
            scoped = _per_call(calls, sensitive, pol, {r for r in RESPONDERS if pol.responders[r].police},
                               measure, max_hours, overrides, model_path)
        except ValueError as exc:  # e.g. unit-weighted time without unit counts; a bad overrides file
            raise EvaluateError(str(exc)) from None
        span = scoped.aggregate(first=scoped.received_local.min(), last=scoped.received_local.max()).to_pandas()
        if span["first"].isna().all():
            raise EvaluateError(f"{ws.root}: no police calls to evaluate")
        window = Window(start, end, pd.Timestamp(span["first"].iat[0]).date(), pd.Timestamp(span["last"].iat[0]).date())
        if not window.data_first < start <= window.data_last:
            raise EvaluateError(f"--pilot-start {start} must fall after the first day of the data and on or before "
                                f"its last ({window.data_first} to {window.data_last}): the design needs calls on "
                                "both sides of the start")
        areas = _check_areas(scoped, areas)
        days = _day_cube(scoped, areas, measure)
        if MEASURES[measure].unit_weighted and not days["calls_timed"].sum():
            raise EvaluateError("unit-weighted time needs the number of units per call, and this data has none; "
                                "use --measure deployed or on_scene")
        if not days.loc[days["eligible"].astype(bool), "calls"].sum():
            raise EvaluateError(f"policy {pol.id} moves no police call in {ws.root} from police in its conservative "
                                "view (a co-responder keeps an officer on the call), so there are no eligible calls "
                                "to evaluate; name the policy whose responders the pilot added")
        quant = _quantiles(scoped, window, areas)
        tables = {"evaluation_periods": _periods(days, quant, window, bool(areas)),
                  "evaluation_weeks": _weeks(days, window, bool(areas))}
        did, events = _estimates(tables["evaluation_weeks"], bool(areas))
        tables["evaluation_did"], tables["evaluation_event_study"] = did, events
        analyst = {}
        if sensitive is not None and "location" in sensitive.columns:
            rep, by_location = _repeat_calls(scoped, sensitive, window)
            if rep is not None:
                tables["evaluation_repeat"] = rep
                analyst["repeat_locations"] = by_location
        outside = int(sum(n for d, n in zip(days["day"], days["calls"]) if window.period(d) is None))
        summary = {
            "policy": pol.id, "policy_title": pol.title, "policy_hash": pol.hash,
            "eligibility": "conservative: calls whose responder under the policy's conservative view is not police "
                           "(rightresponse.policy.apply_policy)",
            "measure": measure, "measure_label": MEASURES[measure].label, "measure_doc": MEASURES[measure].doc,
            "response_time": {"interval": RESPONSE_INTERVAL, "label": INTERVALS[RESPONSE_INTERVAL][2],
                              "calls": "from the public (officer-initiated calls have no response time)"},
            "window": window.to_dict(), "min_cell": int(min_cell), "areas": list(areas),
            "calls_outside_window": outside, "ci_method": CI_METHOD, "ci_level": CI_LEVEL,
            "placebo_note": PLACEBO_NOTE if (_is_sample(ws) if placebo is None else placebo) else None,
            "repeat_note": None if "evaluation_repeat" in tables else
            "The workspace has no addresses (no sensitive table with locations), so repeat calls cannot be counted.",
            "generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "workspace": str(ws.root),
        }
        if store is not None:
            tables.update(_decision_tables(store, pol.id, window))
            summary["decisions_period"] = {"since": str(window.start), "until": str(window.after_end)}
        con.disconnect()
    finally:
        if store is not None:
            store.close()
    res = EvaluationResult(tables=tables, summary=summary, analyst_tables=analyst)
    if out is not None:
        res.write(out)
    return res


def _date(v, name: str) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    try:
        return date.fromisoformat(str(v).strip())
    except ValueError:
        raise EvaluateError(f"{name}: {v!r} is not a date (YYYY-MM-DD)") from None


def _is_sample(ws) -> bool:
    """The workspace holds only the bundled DECC sample, where no pilot ran."""
    from .samples import DEFAULT_SAMPLE

    agencies = {f.get("agency") for f in ws.manifest().get("files", [])}
    return agencies == {DEFAULT_SAMPLE}


def _open_decisions(url):
    from .decisions.log import StoreError, open_existing_log

    try:
        return open_existing_log(url)
    except StoreError as exc:
        raise EvaluateError(str(exc)) from None


# ---------------------------------------------------------------------------- per call, then distinct values


def _per_call(calls, sensitive, pol, police: set, measure, max_hours, overrides, model_path):
    """Police calls with the policy's conservative decision (eligible or not) and the workload
    measures of each call: one Ibis expression, run by the passes below."""
    from .policy.history import apply_policy, prepare_history
    from .workload import prepare

    prep = prepare_history(calls, sensitive, overrides=overrides, model_path=model_path, measure=measure,
                           max_hours=max_hours)
    dec = apply_policy(pol, prep)
    dec = dec.select(_a="agency", _id="call_id", eligible=~dec.responder_conservative.isin(sorted(police)))
    p = prepare(calls, service=None, max_hours=max_hours)
    j = p.join(dec, [p.agency == dec._a, p.call_id == dec._id])
    return j.select("agency", "call_id", "received", "received_local", "district", "outcome", "origin_group",
                    "eligible", ms=j[f"ms_{measure}"], response=j[f"sec_{RESPONSE_INTERVAL}"])


def _check_areas(t, areas) -> tuple[str, ...]:
    areas = tuple(dict.fromkeys(str(a).strip() for a in (areas or ()) if str(a).strip()))
    if not areas:
        return ()
    have = t.filter(t.district.notnull()).district.value_counts().to_pandas()
    if have.empty:
        raise EvaluateError("--area: the calls record no district, so there are no areas to compare")
    known = {str(d).strip().upper(): str(d) for d in have["district"]}
    out = []
    for a in areas:
        if a.upper() not in known:
            raise EvaluateError(f"--area: no district {a!r} in the calls; districts: {', '.join(sorted(known.values()))}")
        out.append(known[a.upper()])
    if len(set(out)) == len(known):
        raise EvaluateError("--area: every district is treated, so there is no comparison area")
    return tuple(dict.fromkeys(out))


def _day_cube(t, areas, measure) -> pd.DataFrame:
    """Calls, timed calls, officer hours, outcomes and response-time counts per local day x
    group (x treated area): one pass; the periods and weeks are re-aggregations of it."""
    import ibis

    treated = t.district.isin(list(areas)).fill_null(False) if areas else ibis.literal(False)
    public = t.origin_group != "officer"
    g = t.mutate(day=t.received_local.date(), treated=treated)
    aggs = {"calls": g.count(), "calls_timed": g.ms.count(), "ms": g.ms.sum(),
            "calls_public": public.sum(), "n_response": g.response.count(where=public)}
    for o in OUTCOMES:
        aggs[o] = (g.outcome == o).sum()
    df = g.group_by(["day", "eligible", "treated"]).agg(**aggs).order_by(["day", "eligible", "treated"]).to_pandas()
    for c in ("calls", "calls_timed", "calls_public", "n_response", *OUTCOMES):
        df[c] = df[c].fillna(0).astype("int64")
    df["ms"] = df["ms"].fillna(0.0).astype("float64")  # whole milliseconds: exact sums (workload.prepare)
    df["day"] = pd.to_datetime(df["day"]).dt.date
    return df


def _period_expr(t, window: Window):
    import ibis

    s = ibis.timestamp(datetime.combine(window.start, datetime.min.time()))
    e = ibis.timestamp(datetime.combine(window.after_end, datetime.min.time()))
    return ibis.cases((t.received_local < s, "before"), (t.received_local < e, "after"), else_=ibis.null("string"))


def _quantiles(t, window: Window, areas) -> pd.DataFrame:
    """Median and 90th percentile response time (minutes) per group x period (x treated area):
    quantiles do not roll up, so one pass of their own, over the calls from the public, with
    the same Ibis quantile as the workload's response-time table (continuous: DuckDB quantile_cont)."""
    import ibis

    pub = t.filter((t.origin_group != "officer") & t.response.notnull())
    pub = pub.mutate(period=_period_expr(pub, window),
                     treated=pub.district.isin(list(areas)).fill_null(False) if areas else ibis.literal(False))
    pub = pub.filter(pub.period.notnull())
    parts = [pub.group_by(["eligible", "period"]).agg(q=pub.response.quantile([0.5, 0.9])).mutate(
        treated=ibis.null("boolean"))]
    if areas:
        e = pub.filter(pub.eligible)
        parts.append(e.group_by(["eligible", "period", "treated"]).agg(q=e.response.quantile([0.5, 0.9])))
    rows = []
    for part in parts:
        for r in part.to_pandas().itertuples(index=False):
            q = list(r.q) if r.q is not None else [None, None]
            rows.append({"eligible": bool(r.eligible), "period": r.period,
                         "treated": None if pd.isna(r.treated) else bool(r.treated),
                         "median": None if q[0] is None else q[0] / 60.0, "p90": None if q[1] is None else q[1] / 60.0})
    pub_all = pub.group_by("period").agg(q=pub.response.quantile([0.5, 0.9])).to_pandas()
    for r in pub_all.itertuples(index=False):
        q = list(r.q) if r.q is not None else [None, None]
        rows.append({"eligible": None, "period": r.period, "treated": None,
                     "median": None if q[0] is None else q[0] / 60.0, "p90": None if q[1] is None else q[1] / 60.0})
    return pd.DataFrame(rows, columns=["eligible", "period", "treated", "median", "p90"])


def _group_rows(days: pd.DataFrame, areas: bool) -> list[tuple[str, pd.Series]]:
    """(group name, row mask) of the groups published: all calls in scope, the two groups
    (which partition them), and with areas the eligible calls split by treated area."""
    e = days["eligible"].astype(bool)
    out = [("all", pd.Series(True, index=days.index)), ("eligible", e), ("comparison", ~e)]
    if areas:
        tr = days["treated"].astype(bool)
        out += [("eligible_treated", e & tr), ("eligible_other", e & ~tr)]
    return out


_SUMS = ["calls", "calls_timed", "ms", "calls_public", "n_response", *OUTCOMES]


def _periods(days: pd.DataFrame, quant: pd.DataFrame, window: Window, areas: bool) -> pd.DataFrame:
    """One row per group x period: the figures of the JSON's before and after blocks."""
    days = days.assign(period=[window.period(d) for d in days["day"]])
    rows = []
    for name, mask in _group_rows(days, areas):
        for p in PERIODS:
            sub = days[mask & (days["period"] == p)]
            s = {c: sub[c].sum() for c in _SUMS}
            n_days = window.days_before if p == "before" else window.days_after
            weeks = n_days / 7.0
            q = _q(quant, name, p)
            calls = int(s["calls"])
            row = {"group": name, "period": p, "days": n_days, "calls": calls,
                   "calls_per_week": calls / weeks if weeks else float("nan"),
                   "calls_timed": int(s["calls_timed"]), "officer_hours": float(s["ms"]) / 3_600_000.0,
                   "calls_public": int(s["calls_public"]), "n_response": int(s["n_response"]),
                   "response_median_minutes": q[0], "response_p90_minutes": q[1]}
            row["officer_hours_per_week"] = row["officer_hours"] / weeks if weeks else float("nan")
            for o in OUTCOMES:
                row[o] = int(s[o])
                row[f"share_{o}"] = s[o] / calls if calls else float("nan")
            rows.append(row)
    cols = ["group", "period", "days", "calls", "calls_per_week", "calls_timed", "officer_hours",
            "officer_hours_per_week", "calls_public", "n_response", "response_median_minutes",
            "response_p90_minutes", *OUTCOMES, *[f"share_{o}" for o in OUTCOMES]]
    out = pd.DataFrame(rows, columns=cols)
    return out.astype({c: "float64" for c in cols if c.startswith(("share_", "response_")) or c.endswith("_week")})


def _q(quant: pd.DataFrame, group: str, period: str) -> tuple[float, float]:
    q = quant[quant["period"] == period]
    if group == "all":
        q = q[q["eligible"].isna()]
    elif group in GROUPS:
        q = q[(q["eligible"] == (group == "eligible")) & q["treated"].isna()]
    else:
        q = q[(q["eligible"] == True) & (q["treated"] == (group == "eligible_treated"))]  # noqa: E712
    if q.empty or q["median"].iat[0] is None:
        return float("nan"), float("nan")
    return float(q["median"].iat[0]), float(q["p90"].iat[0])



def _weeks(days: pd.DataFrame, window: Window, areas: bool) -> pd.DataFrame:
    """One row per week x group: weeks of seven days counted from the pilot start (week 0 is its
    first week, -1 the week before), so no week mixes the two periods. ``days``: the days of the
    week the data cover within its period; only full weeks (7) enter the estimates, but every
    week is published, so the weeks of a group add up to its period total."""
    days = days.assign(period=[window.period(d) for d in days["day"]])
    days = days[days["period"].notna()]
    days = days.assign(week=[(d - window.start).days // 7 for d in days["day"]])
    first = (window.data_first - window.start).days // 7
    last = (window.after_end - timedelta(days=1) - window.start).days // 7
    rows = []
    for k in range(first, last + 1):
        ws = window.start + timedelta(days=7 * k)
        covered = sum(1 for i in range(7) if window.data_first <= ws + timedelta(days=i) <= window.data_last
                      and window.period(ws + timedelta(days=i)) == ("before" if k < 0 else "after"))
        if not covered:
            continue
        wk = days[days["week"] == k]
        for name, mask in _group_rows(wk, areas):
            if name == "all":
                continue
            sub = wk[mask]
            rows.append({"week": k, "week_start": str(ws), "period": "before" if k < 0 else "after", "days": covered,
                         "full": covered == 7, "group": name, "calls": int(sub["calls"].sum()),
                         "calls_timed": int(sub["calls_timed"].sum()),
                         "officer_hours": float(sub["ms"].sum()) / 3_600_000.0})
    return pd.DataFrame(rows, columns=["week", "week_start", "period", "days", "full", "group", "calls", "calls_timed",
                                       "officer_hours"])


def _series(weeks: pd.DataFrame, a: str, b: str, col: str, scale: str = "level") -> pd.DataFrame:
    """Full weeks only: week, post (0/1), and the difference ``a - b`` of ``col`` that week; on
    the ``log`` scale the difference of the logarithms (weeks where either is zero left out)."""
    w = weeks[weeks["full"]]
    pa = w[w["group"] == a].set_index("week")[col].astype(float)
    pb = w[w["group"] == b].set_index("week")[col].astype(float)
    if scale == "log":
        ok = (pa > 0) & (pb.reindex(pa.index) > 0)
        pa, pb = np.log(pa[ok]), np.log(pb.reindex(pa.index)[ok])
    d = (pa - pb).dropna().sort_index()
    return pd.DataFrame({"week": d.index.astype(int), "post": (d.index >= 0).astype(int), "d": d.to_numpy(float)})


def newey_west_lag(n: int) -> int:
    """The usual automatic lag for the Bartlett kernel: floor(4 (n/100)^(2/9)) (Newey and West 1994)."""
    return int(math.floor(4 * (n / 100.0) ** (2.0 / 9.0))) if n > 0 else 0


def did_estimate(d: np.ndarray, post: np.ndarray, level: float = CI_LEVEL, lag: int | None = None) -> dict:
    """Difference in differences on a weekly difference series: OLS of ``d`` on a constant and
    ``post``; the coefficient of ``post`` is the estimate (post mean minus pre mean of the
    difference, i.e. the two-way fixed-effects estimate with week and group effects).

    Why Newey-West: weekly call counts are autocorrelated (a busy week follows a busy week),
    and an ordinary standard error would be too small; Newey-West corrects it for serial
    correlation and unequal variance up to the Bartlett lag. A block bootstrap over weeks does
    the same job but needs many more weeks than a pilot sample has (with 7 weeks a side it
    resamples a handful of blocks). The t distribution with n - 2 degrees of freedom widens the
    interval for the few weeks there are. Deterministic: no random numbers. ``lag``: the
    Bartlett lag (default: newey_west_lag of the number of weeks; 0 gives White's standard error)."""
    from scipy import stats

    d = np.asarray(d, float)
    post = np.asarray(post, float)
    n_post = int(post.sum())
    n_pre = len(d) - n_post
    out = {"estimate": float("nan"), "low": float("nan"), "high": float("nan"), "se": float("nan"),
           "weeks_before": n_pre, "weeks_after": n_post, "lag": None}
    if n_pre < 1 or n_post < 1:
        return out
    pre_mean, post_mean = float(d[post == 0].mean()), float(d[post == 1].mean())
    out.update(estimate=post_mean - pre_mean, pre_difference=pre_mean, post_difference=post_mean)
    n = len(d)
    if n_pre < 2 or n_post < 2:
        return out  # no variance to estimate on one side
    x = np.column_stack([np.ones(n), post])
    resid = d - np.where(post == 1, post_mean, pre_mean)
    xe = x * resid[:, None]
    lag = newey_west_lag(n) if lag is None else int(lag)
    s = xe.T @ xe
    for k in range(1, lag + 1):
        w = 1.0 - k / (lag + 1.0)
        g = xe[k:].T @ xe[:-k]
        s += w * (g + g.T)
    bread = np.linalg.inv(x.T @ x)
    v = bread @ s @ bread
    se = float(math.sqrt(max(v[1, 1], 0.0)))
    t = float(stats.t.ppf(0.5 + level / 2.0, n - 2))
    out.update(se=se, low=out["estimate"] - t * se, high=out["estimate"] + t * se, lag=lag)
    return out


def _estimates(weeks: pd.DataFrame, areas: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The difference in differences of each contrast and measure, and the event study: per
    full week, the difference between the two series minus its pre-pilot mean, with the band a
    pre-pilot week would fall in (mean +/- t s sqrt(1 + 1/n_pre)) if nothing changed."""
    from scipy import stats

    did, events = [], []
    for contrast, (a, b) in CONTRASTS.items():
        if contrast == "areas" and not areas:
            continue
        for name, col in DID_OUTCOMES.items():
            for scale in SCALES:
                ser = _series(weeks, a, b, col, scale)
                e = did_estimate(ser["d"].to_numpy(), ser["post"].to_numpy())
                did.append({"contrast": contrast, "measure": name, "scale": scale, "group": a, "versus": b,
                            **{k: e.get(k) for k in ("estimate", "low", "high", "se", "weeks_before", "weeks_after",
                                                     "lag", "pre_difference", "post_difference")}})
                pre = ser.loc[ser["post"] == 0, "d"]
                base = float(pre.mean()) if len(pre) else float("nan")
                half = (float(stats.t.ppf(0.5 + CI_LEVEL / 2.0, len(pre) - 1)) * float(pre.std(ddof=1))
                        * math.sqrt(1 + 1 / len(pre))) if len(pre) >= 2 else float("nan")
                for r in ser.itertuples(index=False):
                    est = r.d - base
                    events.append({"contrast": contrast, "measure": name, "scale": scale, "week": int(r.week),
                                   "estimate": est, "low": est - half, "high": est + half})
    cols = ["contrast", "measure", "scale", "group", "versus", "estimate", "low", "high", "se", "weeks_before",
            "weeks_after", "lag", "pre_difference", "post_difference"]
    did_df = pd.DataFrame(did, columns=cols).astype(
        {c: "float64" for c in ("estimate", "low", "high", "se", "pre_difference", "post_difference")})
    ev = pd.DataFrame(events, columns=["contrast", "measure", "scale", "week", "estimate", "low", "high"])
    starts = weeks.drop_duplicates("week").set_index("week")["week_start"] if len(weeks) else pd.Series(dtype=object)
    ev.insert(4, "week_start", ev["week"].map(starts) if len(ev) else pd.Series(dtype=object))
    return did_df, ev


# ---------------------------------------------------------------------------- repeat calls


def _repeat_calls(t, sensitive, window: Window):
    """Calls to a block address that had another police call in the 30 days before, per group
    and period: rates for the report, and per address (analyst folder only). A call counts only
    with 30 days of data before it (a full look-back); earlier calls would look new."""
    import ibis

    s = sensitive.filter(sensitive.location.notnull() & (sensitive.location.strip() != "")).select(
        _a=sensitive.agency, _id=sensitive.call_id, location=sensitive.location)
    j = t.join(s, [t.agency == s._a, t.call_id == s._id])
    if int(j.count().execute()) == 0:
        return None, None
    w = ibis.window(group_by=[j.agency, j.location], order_by=[j.received, j.call_id])
    j = j.mutate(_prev=j.received.lag().over(w))
    gap = j.received.epoch_seconds() - j._prev.epoch_seconds()
    j = j.mutate(repeat=(j._prev.notnull() & (gap <= REPEAT_DAYS * 86400)).fill_null(False),
                 period=_period_expr(j, window),
                 lookback=j.received_local >= ibis.timestamp(datetime.combine(
                     window.data_first + timedelta(days=REPEAT_DAYS), datetime.min.time())))
    j = j.filter(j.period.notnull())
    counted = j.filter(j.lookback)
    agg = counted.group_by(["eligible", "period"]).agg(calls_located=counted.count(),
                                                       repeat_calls=counted.repeat.sum()).to_pandas()
    rows = []
    for name in ("all", *GROUPS):
        for p in PERIODS:
            sub = agg[agg["period"] == p]
            if name != "all":
                sub = sub[sub["eligible"] == (name == "eligible")]
            n, r = int(sub["calls_located"].sum()), int(sub["repeat_calls"].fillna(0).sum())
            rows.append({"group": name, "period": p, "calls_located": n, "repeat_calls": r,
                         "repeat_rate": r / n if n else float("nan")})
    rep = pd.DataFrame(rows, columns=["group", "period", "calls_located", "repeat_calls", "repeat_rate"])
    by = j.group_by(["agency", "location"]).agg(
        calls_before=(j.period == "before").sum(), calls_after=(j.period == "after").sum(),
        eligible_calls=j.eligible.sum(), repeats_before=(j.repeat & j.lookback & (j.period == "before")).sum(),
        repeats_after=(j.repeat & j.lookback & (j.period == "after")).sum())
    by = by.mutate(calls=by.calls_before + by.calls_after).order_by(
        [ibis.desc("calls"), "agency", "location"]).limit(TOP_REPEAT_LOCATIONS).to_pandas()
    return rep, by


# ---------------------------------------------------------------------------- the decision log


def _decision_tables(store, policy_id: str, window: Window) -> dict[str, pd.DataFrame]:
    """The decision log over the pilot's days (``decisions.dispatch_summary.pilot_decision_tables``)."""
    from .decisions.dispatch_summary import pilot_decision_tables

    return pilot_decision_tables(store, policy_id, datetime.combine(window.start, datetime.min.time()),
                                 datetime.combine(window.after_end, datetime.min.time()))


# ---------------------------------------------------------------------------- JSON


def _v(d, i, col):
    """A published cell for JSON: whole counts as int, other numbers as float, withheld as None."""
    if i is None:
        return None
    v = d.value(i, col)
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    f = float(v)
    return None if math.isnan(f) else f


def _block(per, i) -> dict:
    return {"calls": _v(per, i, "calls"), "calls_per_week": _v(per, i, "calls_per_week"),
            "officer_hours": _v(per, i, "officer_hours"), "officer_hours_per_week": _v(per, i, "officer_hours_per_week"),
            "calls_timed": _v(per, i, "calls_timed"), "days": int(per.values["days"].iat[i]),
            "response_time": {"median_minutes": _v(per, i, "response_median_minutes"),
                              "p90_minutes": _v(per, i, "response_p90_minutes"),
                              "calls_measured": _v(per, i, "n_response")},
            "outcome_shares": {o: _v(per, i, f"share_{o}") for o in OUTCOMES}}


def _did_json(did, contrast: str) -> dict:
    """Per measure the estimate in levels (per week) with its interval, and ``relative``: the
    proportional change from the log scale (exp(x) - 1)."""
    out = {}
    for i in range(len(did)):
        if did.values["contrast"].iat[i] != contrast:
            continue
        m, scale = did.values["measure"].iat[i], did.values["scale"].iat[i]
        e = {"estimate": _v(did, i, "estimate"), "low": _v(did, i, "low"), "high": _v(did, i, "high")}
        if scale == "log":
            out.setdefault(m, {})["relative"] = {k: None if v is None else math.expm1(v) for k, v in e.items()}
            continue
        out.setdefault(m, {}).update({**e, "se": _v(did, i, "se"), "weeks_before": int(did.values["weeks_before"].iat[i]),
                                      "weeks_after": int(did.values["weeks_after"].iat[i]), "level": CI_LEVEL,
                                      "method": CI_METHOD})
    return out


def _repeat_json(rep, s) -> dict | None:
    if rep is None:
        return {"note": s.get("repeat_note")}
    out = {"within_days": REPEAT_DAYS}
    for i in range(len(rep)):
        out.setdefault(rep.values["group"].iat[i], {})[rep.values["period"].iat[i]] = _v(rep, i, "repeat_rate")
    return out


def _decisions_json(pub, s) -> dict | None:
    tot, fb = pub.get("dispatch_totals"), pub.get("dispatch_fallbacks")
    if tot is None:
        return None
    rate = _v(tot, 0, "override_rate")
    reasons = pub["dispatch_override_reasons"]
    return {"period": s.get("decisions_period"), "decisions": _v(tot, 0, "decisions"), "overrides": _v(tot, 0, "overrides"),
            "adherence": None if rate is None else 1.0 - rate,
            "overrides_by_reason": [{"reason": reasons.values["override_reason"].iat[i],
                                     "overrides": _v(reasons, i, "overrides"), "share": _v(reasons, i, "share")}
                                    for i in range(len(reasons))],
            "fallbacks": {"eligible": _v(fb, 0, "eligible"), "recommendation_fell_back": _v(fb, 0, "recommendation_fell_back"),
                          "overridden_unavailable": _v(fb, 0, "overridden_unavailable"), "total": _v(fb, 0, "fallbacks")}}


def _t(v, fmt: str) -> str:
    return "–" if v is None else fmt.format(v)
