"""assess(): CAD exports (or a workspace) in; workload tables and a council-ready report out.

Ingest -> classify call types -> workload measures -> report, as one library call that the
CLI wraps. With no inputs it runs on the bundled real sample (the DECC exports: the only
bundled layout with every timestamp from call start to final close, so all three time
measures and all three response intervals can be computed).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import RightResponseError
from . import __version__
from .measures import DEFAULT_MEASURE, INTERVALS, MEASURES
from .report.charts import pct
from .schema import MAX_CALL_HOURS, QUARANTINE_REASONS
from .workload import (ORIGIN_GROUPS, OUTCOME_ORDER, UNCATEGORIZED, WorkloadError, compute, coverage_summary,
                       scope_table)


class AssessError(RightResponseError, ValueError):
    """The assessment cannot run as asked; the message says why and what to do."""


# Tables written beside the report, in this order. Analyst-only tables (addresses) go to
# a separate folder and never into the report.
PUBLIC_TABLES = (
    "by_category", "by_crime_group", "by_demand_type", "by_origin_group", "by_origin", "by_category_origin",
    "by_channel", "by_category_channel", "by_311_request_type",
    "by_priority", "response_times", "hour_of_week", "by_district", "by_beat", "outcomes", "by_call_type",
    "lorenz", "measure_comparison", "comparison", "coverage", "time_issues", "scope", "files", "quarantine",
    "classification_methods", "who_could_respond", "who_could_respond_top_types", "dispatch_totals", "dispatch_by_rule",
    "dispatch_by_category",
    "dispatch_alternative", "dispatch_override_reasons",
)
DEFAULT_OUT = "rr-report"


@dataclass
class AssessResult:
    """Everything the assessment produced. ``tables`` are exact (unsuppressed) DataFrames for
    analysis in Python; everything written or printed (report, tables, ``summary.json``,
    ``--json``, the terminal summary) is what :meth:`publish` lets out."""

    tables: dict[str, pd.DataFrame]
    summary: dict
    report_path: Path | None = None
    out: Path | None = None
    analyst_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    dispatch: object | None = None  # rightresponse.service.DecisionSummary, when a decision log was given
    _published: dict = field(default_factory=dict, repr=False)  # min_cell -> Publication (a pure function of both)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def publish(self, min_cell: int | None = None):
        """The tables as published at ``min_cell`` (default: the run's), after disclosure
        control (rightresponse.report.disclosure): small counts hidden, complements hidden
        so that none can be worked out, and every figure resting on a hidden count withheld."""
        mc = self.summary["min_cell"] if min_cell is None else int(min_cell)
        if mc not in self._published:
            self._published[mc] = publication(self.tables, self.summary, mc)
        return self._published[mc]

    def public_summary(self, min_cell: int | None = None) -> dict:
        """``summary`` with every figure that rests on counts taken from the published tables."""
        return public_summary(self.summary, self.publish(min_cell))

    def write(self, out, min_cell: int | None = None) -> "AssessResult":
        """Write the report and tables to ``out`` (e.g. again, with another ``min_cell``),
        without recomputing anything. Returns the result as written."""
        mc = self.summary["min_cell"] if min_cell is None else int(min_cell)
        res = AssessResult(tables=self.tables, summary={**self.summary, "min_cell": mc},
                           analyst_tables=self.analyst_tables, dispatch=self.dispatch)
        _write(res, Path(out), mc)
        return res

    def to_json_dict(self) -> dict:
        """What ``--json`` prints: published figures (a withheld figure is null)."""
        pub = self.publish()
        s = self.public_summary()
        return {
            "calls": s["calls"],
            "measure": s["measure"],
            "measure_label": s["measure_label"],
            "service": s["service"],
            "calls_all_services": s["calls_all_services"],
            "hours": s["hours"],
            "period": s["period"],
            "agencies": s["agencies"],
            "sample": s["sample"],
            "officer_initiated_share_calls": s["officer_initiated_share_calls"],
            "officer_initiated_share_time": s["officer_initiated_share_time"],
            "coverage": s["coverage"],
            "classification": s["classification"],
            "min_cell": s["min_cell"],
            "excluded": s.get("excluded"),
            "low_confidence": s.get("low_confidence"),
            "by_category": _records(pub["by_category"], "category"),
            "by_crime_group": _records(pub["by_crime_group"], "crime_group"),
            "by_demand_type": _records(pub["by_demand_type"], "demand_type"),
            "who_could_respond": _who_records(pub.get("who_could_respond")),
            "dispatch_practice": s.get("dispatch"),
            "report": str(self.report_path) if self.report_path else None,
            "files": self.files,
        }

    def summary_text(self) -> str:
        """One screen for the terminal (published figures)."""
        from .report.disclosure import count_text

        s = self.public_summary()
        pub = self.publish()
        mc = s["min_cell"]
        lines = [
            f"rightresponse assessment: {s['calls']:,} {s['service'] or 'all'} calls"
            + (f" (of {s['calls_all_services']:,} in the data)" if s["calls_all_services"] != s["calls"] else "")
            + f", {s['period']['start']} to {s['period']['end']}",
        ]
        if s["sample"]:
            lines.append("SAMPLE DATA: these figures are not any city's true workload.")
        for x in (s.get("excluded") or {}).get("values", []):
            lines.append(f"left out (--exclude-{x['kind'].replace('_', '-')}): {x['value']}: "
                         + (f"{x['calls']:,} calls, {x['hours']:,.0f} h" if x["calls"] is not None
                            else f"{x['calls_text']} calls"))
        lc = s.get("low_confidence")
        if lc:
            lines.append(f"CHECK CATEGORIES: {100 * lc['share_calls']:.1f}% of calls are in call types categorized "
                         f"with confidence below {lc['threshold']:g} (see the report's first notice)")
        cov = s["coverage"][s["measure"]]
        if cov["calls_measured"]:
            lines.append(
                f"time measure: {s['measure_label']} = {s['hours']:,.0f} h over {cov['calls_measured']:,} calls "
                f"({cov['calls_excluded']:,} excluded)"
            )
        else:
            lines.append(f"time measure: {s['measure_label']}: no call has the timestamps it needs; calls only")
        cl = s["classification"]
        if cl["needs_review_calls"] is None:
            lines.append(f"left for review: fewer than {mc} calls or withheld, under '{UNCATEGORIZED}' (crosswalk export)")
        elif cl["needs_review_calls"]:
            lines.append(f"left for review: {cl['needs_review_call_types']:,} call types, {cl['needs_review_calls']:,} calls "
                         f"({100 * cl['share_calls_needs_review']:.1f}%), under '{UNCATEGORIZED}' (crosswalk export)")
        lines.append("")
        lines.append(f"{'category':<36} {'calls':>8} {'% calls':>8} {'hours':>9} {'% time':>7}")
        cat = pub["by_category"]
        for i in range(min(len(cat), 12)):
            name = str(cat.value(i, "category"))
            calls = cat.value(i, "calls")
            if calls is None:
                lines.append(f"{name[:36]:<36} {count_text(cat.values['calls'].iat[i], mc, True):>8}"
                             + ("" if cat.text(i, "calls") else "   (withheld: protects a small count)"))
                continue
            lines.append(f"{name[:36]:<36} {int(calls):>8,} {_shown(cat, i, 'share_calls', pct):>8} "
                         f"{_shown(cat, i, 'hours', lambda h: f'{h:,.0f}'):>9} {_shown(cat, i, 'share_time', pct):>7}")
        if len(cat) > 12:
            lines.append(f"... {len(cat) - 12} more categories in by_category")
        lines.append("")
        oi = s["officer_initiated_share_calls"]
        lines.append(f"officer-initiated: {100 * oi:.1f}% of calls" if oi is not None
                     else "officer-initiated: not recorded by the source" if s.get("origin_recorded") is False
                     else "officer-initiated: withheld (small count)")
        if s.get("top80_call_types") is not None:
            lines.append(f"{s['top80_call_types']} of {s['call_types']} call types account for 80% of officer time")
        who = pub.get("who_could_respond")
        if who is not None and len(who):
            w = who.values
            best = w[w["share_hours_moved_high"].notna()].sort_values("share_hours_moved_high", ascending=False)
            if len(best) and best.iloc[0]["share_hours_moved_high"] > 0 and pd.notna(best.iloc[0]["share_calls_moved_low"]):
                b = best.iloc[0]
                lines.append(f"who could respond: {b['policy']} moves "
                             f"{_range_text(b['share_calls_moved_low'], b['share_calls_moved_high'])} of calls "
                             f"from police (most of {len(who)} policies)")
        d = s.get("dispatch")
        if d:
            alt = ("" if d["share_eligible_handled"] is None
                   else f"; alternative team handled {100 * d['share_eligible_handled']:.1f}% of eligible calls")
            rate = "–" if d["override_rate"] is None else f"{100 * d['override_rate']:.1f}%"
            lines.append(f"dispatch practice: {count_text(d['decisions'], mc)} decisions, {rate} overridden{alt}")
        if self.report_path:
            lines.append(f"report: {self.report_path}")
        if self.out:
            lines.append(f"tables: {self.out / 'tables'} (CSV and Parquet)")
        return "\n".join(lines)


def publication(tables: dict, summary: dict, min_cell: int):
    """The assessment's tables after disclosure control, with the comparison panel computed
    from the published shares only."""
    from .report.published_figures import comparison_rows
    from .report.disclosure import exact, publish_assessment

    totals = {"calls": summary["calls"],
              **{f"timed:{m}": summary["coverage"][m]["calls_measured"] for m in MEASURES}}
    pub = publish_assessment(tables, totals, min_cell, summary["measure"], list(MEASURES), OUTCOME_ORDER)
    if "comparison" in tables:
        shown = {k: pub[k].values for k in ("by_category", "by_crime_group", "by_demand_type") if k in pub}
        pub.tables["comparison"] = exact("comparison", pd.DataFrame(comparison_rows(shown, summary["measure_label"])),
                                         min_cell)
    return pub


def public_summary(summary: dict, pub) -> dict:
    """The summary with each figure that rests on counts read from the published tables."""
    s = dict(summary)
    og = pub["by_origin_group"]
    groups = {og.values["origin_group"].iat[i]: i for i in range(len(og))}
    s["origin_groups"] = {ORIGIN_GROUPS.get(k, k): _int(og.value(i, "calls")) for k, i in groups.items()}
    if summary["officer_initiated_share_calls"] is None:
        s["origin_recorded"] = False
    elif "officer" in groups:
        s["officer_initiated_share_calls"] = _f(og.value(groups["officer"], "share_calls"))
        s["officer_initiated_share_time"] = _f(og.value(groups["officer"], "share_time"))
    cat = pub["by_category"]  # in order of time, largest first: withheld, the top is not named
    s["top_category_by_time"] = cat.value(0, "category") if len(cat) and cat.value(0, "hours") is not None else None
    s["excluded"] = _public_excluded(summary.get("excluded"), pub.min_cell)
    s["classification"] = _public_classification(summary["classification"], pub["classification_methods"])
    from .report.html import low_confidence

    lc = low_confidence(pub)
    s["low_confidence"] = None if lc is None else {
        "threshold": lc["threshold"], "share_calls": lc["share_calls"], "more_call_types": lc["more"],
        "call_types": [{"call_type": r.call_type, "category": r.category, "method": r.method,
                        "confidence": _f(r.confidence), "calls": _int(r.calls)} for r in lc["call_types"].itertuples()]}
    d = pub.get("dispatch_totals")
    if d is not None and len(d):
        s["dispatch"] = {
            "decisions": _int(d.value(0, "decisions")), "overrides": _int(d.value(0, "overrides")),
            "override_rate": _f(d.value(0, "override_rate")), "eligible": _int(d.value(0, "eligible")),
            "handled": _int(d.value(0, "handled")), "share_eligible_handled": _f(d.value(0, "alternative_share")),
            "first": summary.get("dispatch", {}).get("first"), "last": summary.get("dispatch", {}).get("last"),
        }
    return s


def _public_classification(cl: dict, cm) -> dict:
    """The calls left for review as the classification table publishes them: withheld (None)
    where its ``needs_review`` row is, and the categorized calls with it (the total minus them
    would give the count back)."""
    methods = list(cm.values["method"])
    if "needs_review" not in methods:
        return dict(cl)
    i = methods.index("needs_review")
    calls = cm.value(i, "calls")
    if calls is not None:
        return dict(cl)
    return {**cl, "categorized_calls": None, "needs_review_calls": None,
            "needs_review_call_types": None, "share_calls_needs_review": None}


def _public_excluded(ex: dict | None, mc: int) -> dict | None:
    """What --exclude-* left out, as published: a value with fewer than ``mc`` calls reads
    "<mc" with its hours and shares withheld, and then the totals with them are withheld too
    (with minus without would give the small count back)."""
    if not ex:
        return ex
    vals, small_any = [], False
    for x in ex["values"]:
        small = mc > 1 and 0 < x["calls"] < mc
        small_any |= small
        vals.append({**x, "calls": None if small else x["calls"], "calls_text": f"<{mc}" if small else None,
                     "hours": None if small else x["hours"],
                     "share_calls_before": None if small else x["share_calls_before"],
                     "share_time_before": None if small else x["share_time_before"]})
    total = sum(x["calls"] for x in ex["values"])
    hide = small_any or (mc > 1 and 0 < total < mc)
    before = {"calls": None, "hours": None} if hide else ex["before"]
    return {"values": vals, "before": before}


def _int(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else int(x)


def _shown(d, i: int, col: str, fmt) -> str:
    """A published cell for the terminal: "<N" or "·" when withheld, "–" when there is no figure."""
    t = d.text(i, col)
    if t is not None:
        return t or "·"
    v = d.value(i, col)
    return "–" if v is None else fmt(v)


def _f(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _records(d, key: str) -> list[dict]:
    """Rows of a published table for --json: a withheld figure is null."""
    return [{key: d.value(i, key), "calls": _int(d.value(i, "calls")), "share_calls": _f(d.value(i, "share_calls")),
             "hours": _f(d.value(i, "hours")), "share_time": _f(d.value(i, "share_time"))} for i in range(len(d))]


def _who_records(d):
    if d is None or not len(d):
        return []
    return [{"policy": d.value(i, "policy"), "calls": _int(d.value(i, "calls")),
             "share_calls_moved": [_f(d.value(i, "share_calls_moved_low")), _f(d.value(i, "share_calls_moved_high"))],
             "share_hours_moved": [_f(d.value(i, "share_hours_moved_low")), _f(d.value(i, "share_hours_moved_high"))],
             "misroute_risk": [_f(d.value(i, "misroute_risk_low")), _f(d.value(i, "misroute_risk_high"))]}
            for i in range(len(d))]


def _range_text(lo, hi) -> str:
    return f"{100 * lo:.1f}%" if abs(hi - lo) < 5e-4 else f"{100 * lo:.1f}% to {100 * hi:.1f}%"


def _categorize(calls, overrides=None, model_path=None):
    """The taxonomy's classifier: categories and roll-ups joined onto the calls."""
    from .taxonomy import categorize

    return categorize(calls, overrides, model_path=model_path)


class _Steps:
    def __init__(self, enabled: bool, total: int):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="assess", unit="step", leave=False, file=sys.stderr)

    def __call__(self, name: str):
        if self.bar is not None:
            self.bar.set_postfix_str(name)
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.n = self.bar.total  # a step that does not apply (no sensitive table) was skipped
            self.bar.close()


@dataclass(frozen=True)
class AssessOptions:
    """Everything that shapes an assessment besides its data, validated when it is made: a bad
    value is an AssessError naming the option, before any work starts.

    ``measure``: on_scene, deployed (default) or unit_weighted. ``service``: which
    discipline's time to measure (police by default; None for all). ``min_cell``: counts
    below it are shown as "<min_cell" in the report and the written tables. ``overrides``:
    the city's own call-type -> category decisions (see rightresponse.taxonomy);
    ``model_path``: a call-type model file to use (default: the shipped model, built once
    into the user's cache; assess never trains one). ``adapter``: force an
    ingest adapter for ``paths`` instead of detecting the layout. ``decisions``: a triage
    decision log (SQLAlchemy URL such as ``sqlite:///decisions.db``, or a SQLite file path),
    read only, for the "Dispatch practice" section. ``policies``: responder policies
    (preset names, files or Policy objects) for the "Who could respond" section; default
    every preset; ``()`` leaves the section out. ``engine``: "duckdb" (default) or "spark"
    (ingest stays on DuckDB; the workload tables, classification join and policies run on
    Spark, from the same Parquet workspace; ``assess(..., spark=session)`` gives the session,
    else the active one or a new one is used, see rightresponse.backends.spark_session). The tables are the same on
    both engines to floating-point tolerance. ``memory_limit`` (DuckDB, e.g. "2GB"): bound the
    analysis's memory (beyond it DuckDB spills to disk); default DuckDB's, 80% of the machine.
    ``exclude_categories`` / ``exclude_call_types``: leave calls of these categories (Vera
    names) or call types (as recorded, any case) out of every figure, for work that is not a
    service to the public (off-duty details, administrative statuses); the report and the
    summary state what was left out and the figures before (``summary["excluded"]``).
    ``overrides`` defaults to the workspace's own decisions (``crosswalk import``) when a
    workspace is named. ``write``: write the report and tables to ``out`` (default True);
    ``progress``: a progress bar on stderr.
    """

    out: str | os.PathLike = DEFAULT_OUT
    min_cell: int = 10
    measure: str = DEFAULT_MEASURE
    service: str | None = "police"
    max_hours: float = MAX_CALL_HOURS
    overrides: Any = None
    model_path: str | os.PathLike | None = None
    write: bool = True
    adapter: str | None = None
    decisions: str | None = None
    policies: tuple | None = None
    engine: str = "duckdb"
    memory_limit: str | None = None
    exclude_categories: tuple[str, ...] = ()
    exclude_call_types: tuple[str, ...] = ()
    progress: bool = False

    def __post_init__(self):
        from .backends import ENGINES

        if self.engine not in ENGINES:
            raise AssessError(f"engine: unknown engine {self.engine!r}; choose one of: {', '.join(ENGINES)}")
        if self.measure not in MEASURES:
            raise AssessError(f"measure: unknown time measure {self.measure!r}; choose one of: {', '.join(MEASURES)}")
        if isinstance(self.min_cell, bool) or not isinstance(self.min_cell, int) or self.min_cell < 0:
            raise AssessError(f"min_cell: a whole number, 0 or more, not {self.min_cell!r}")
        if isinstance(self.max_hours, bool) or not isinstance(self.max_hours, (int, float)) or not self.max_hours > 0:
            raise AssessError(f"max_hours: a number of hours above 0, not {self.max_hours!r}")
        if self.service is not None and not isinstance(self.service, str):
            raise AssessError(f"service: a service name such as 'police', or None for all, not {self.service!r}")
        for name in ("exclude_categories", "exclude_call_types"):
            v = getattr(self, name) or ()
            object.__setattr__(self, name, tuple(str(x).strip() for x in ((v,) if isinstance(v, str) else v)
                                                 if str(x).strip()))
        if self.policies is not None and not isinstance(self.policies, tuple):
            object.__setattr__(self, "policies", (self.policies,) if isinstance(self.policies, str)
                               else tuple(self.policies))
        object.__setattr__(self, "exclude_categories", _valid_categories(self.exclude_categories))

    def replace(self, **changes) -> "AssessOptions":
        """These options with ``changes`` (names checked, with did-you-mean)."""
        known = [f.name for f in fields(self)]
        for k in changes:
            if k not in known:
                near = difflib.get_close_matches(k, known, n=1)
                raise AssessError(f"unknown option {k!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                                  + f"; options: {', '.join(known)}")
        return dataclasses.replace(self, **changes)


def assess(paths=None, workspace=None, options: AssessOptions | None = None, *, spark=None,
           **option_values) -> AssessResult:
    """Assess calls for service: tables plus OUT/report.html.

    * no ``paths`` and no ``workspace``: the bundled real sample (DECC exports);
    * ``paths``: ingest them (into ``workspace`` if given, else a temporary one), classify, assess;
    * ``workspace`` only: reuse an existing workspace.

    ``options``: an :class:`AssessOptions`; keyword arguments change single options
    (``assess(workspace="ws", min_cell=5)`` is ``assess(workspace="ws",
    options=AssessOptions(min_cell=5))``). ``spark``: a SparkSession for ``engine="spark"``.

        >>> import rightresponse as rr
        >>> res = rr.assess(options=rr.AssessOptions(write=False, policies=()))  # the bundled sample
        >>> res.summary["calls"] > 10_000
        True
    """
    o = options or AssessOptions()
    if option_values:
        o = o.replace(**option_values)
    out, min_cell, measure, progress, service, max_hours = o.out, o.min_cell, o.measure, o.progress, o.service, o.max_hours
    overrides, model_path, write, adapter, decisions, policies = (o.overrides, o.model_path, o.write, o.adapter,
                                                                   o.decisions, o.policies)
    engine, memory_limit, exclude_categories, exclude_call_types = (o.engine, o.memory_limit, o.exclude_categories,
                                                                     o.exclude_call_types)
    from . import backends
    from .ingest.pipeline import IngestError, ingest
    from .ingest.workspace import Workspace

    sample = None
    if paths is None and workspace is None:
        from .samples import DEFAULT_SAMPLE, sample_paths

        paths, sample = [str(p) for p in sample_paths()], DEFAULT_SAMPLE
    if isinstance(paths, (str, Path)):
        paths = [paths]
    tmp = None
    if workspace is None:
        tmp = tempfile.mkdtemp(prefix="rightresponse-assess-")
        workspace = Path(tmp) / "ws"
    elif overrides is None:
        from .taxonomy.review import workspace_overrides

        overrides = workspace_overrides(workspace)  # what `crosswalk import` decided
    ws = Workspace(workspace)
    want_who = policies is None or len(policies) > 0
    # ingest, 5 or 6 engine passes (see workload.compute), data quality, policies, decisions, report
    steps = _Steps(progress, (1 if paths else 0) + 6 + 1 + (1 if want_who else 0)
                   + (1 if decisions is not None else 0) + (1 if write else 0))
    dispatch_store = None
    try:
        if decisions is not None:
            dispatch_store = _open_decisions(decisions)  # fail before the long work
        ingested = None
        if paths:
            steps("ingest")
            try:
                ingested = ingest(list(paths), ws.root, adapter=adapter, progress=progress)
            except IngestError as exc:
                raise AssessError(str(exc)) from None
        if not ws.has("calls"):
            if ingested is not None:
                raise AssessError(nothing_loaded(ingested))
            raise AssessError(f"{ws.root}: no calls in this workspace; ingest exports first or pass PATHs")
        try:
            con = backends.connect(engine, session=spark, memory_limit=memory_limit)
        except backends.EngineError as exc:
            raise AssessError(str(exc)) from None
        calls = backends.open_table(ws.root, "calls", con)
        sensitive = backends.open_table(ws.root, "sensitive", con) if ws.has("sensitive") else None
        excluded = None
        if exclude_categories or exclude_call_types:
            calls, excluded = _exclude(calls, service, measure, max_hours, exclude_categories, exclude_call_types,
                                       lambda t: _categorize(t, overrides, model_path))
        present = scope_table(calls)
        if service and service not in set(present["service"]):
            have = ", ".join(f"{r.service} ({r.calls:,})" for r in present.itertuples())
            raise AssessError(f"no calls with service={service!r} in {ws.root}; services present: {have}. "
                              "Pass service=None to measure every service.")
        if MEASURES[measure].unit_weighted and not present["units"].sum():
            raise AssessError("unit-weighted time needs the number of units per call, and this data has none; "
                              "use measure='deployed' or 'on_scene'")
        try:
            wl = compute(calls, measure=measure, service=service, max_hours=max_hours, sensitive=sensitive,
                         step=steps, categorize=lambda t: _categorize(t, overrides, model_path), scope=present)
        except WorkloadError as exc:
            raise AssessError(str(exc)) from None
        steps("data quality")
        tables = dict(wl.tables)
        tables.update(_quality_tables(ws, con, ingested))
        tables["classification_methods"] = _classification_methods(tables["by_call_type"])
        tables["measure_comparison"] = _measure_comparison(tables)
        summary = _summary(tables, wl, sample, ws, measure, service, max_hours, min_cell, paths)
        summary["excluded"] = excluded
        summary["ingested_this_run"] = [Path(f.path).name for f in ingested.files] if ingested else []
        from .report.published_figures import comparison_rows

        tables["comparison"] = pd.DataFrame(comparison_rows(tables, summary["measure_label"]))
        if want_who:
            steps("who could respond")
            who = _who_could_respond(calls, sensitive, policies, overrides, model_path, measure, max_hours)
            if who is not None:
                tables["who_could_respond"] = who
                tables["who_could_respond_top_types"] = pd.DataFrame(
                    who.attrs.get("top_call_types") or [],
                    columns=["policy", "rank", "agency", "call_type", "category", "calls", "hours", "calls_conservative",
                             "responder"])
        backends.release(con)
        dispatch = None
        if dispatch_store is not None:
            steps("dispatch practice")
            dispatch = _dispatch_practice(dispatch_store, tables, summary)
        result = AssessResult(tables=tables, summary=summary, analyst_tables=dict(wl.analyst), dispatch=dispatch)
        if write:
            steps("report")
            _write(result, Path(out), min_cell)
        return result
    finally:
        steps.close()
        if dispatch_store is not None:
            dispatch_store.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def nothing_loaded(summary) -> str:
    """Why an ingest stored no call, file by file: all duplicates of calls stored before,
    every row quarantined (and the commonest reason), or no adapter matched."""
    why = []
    for f in summary.files:
        name = Path(f.path).name
        if not f.rows_read:
            why.append(f"{name}: no data rows")
        elif f.rows_duplicate and not f.rows_loaded:
            why.append(f"{name}: all {f.rows_duplicate:,} of its calls were loaded before (duplicates)"
                       + (f", {f.rows_quarantined:,} rows quarantined" if f.rows_quarantined else ""))
        elif f.rows_quarantined == f.rows_read:
            top = max(f.quarantine_reasons.items(), key=lambda kv: kv[1]) if f.quarantine_reasons else ("?", 0)
            why.append(f"{name}: every row quarantined ({top[0]}: {top[1]:,}; adapter {f.adapter})")
        else:
            why.append(f"{name}: {f.rows_quarantined:,} quarantined, {f.rows_duplicate:,} duplicates")
    why += list(summary.skipped)
    return "no call was loaded: " + "; ".join(why or ["no file matched an adapter"])


def _valid_categories(names) -> tuple[str, ...]:
    """Category names as the taxonomy spells them (any case); an unknown one is an error."""
    if not names:
        return ()
    from .taxonomy import load_taxonomy

    tax = load_taxonomy()
    known = {c.lower(): c for c in tax.names}
    out = []
    for n in names:
        c = known.get(str(n).strip().lower())
        if c is None:
            raise AssessError(f"--exclude-category: unknown category {n!r}; categories: {', '.join(sorted(known.values()))}")
        out.append(c)
    return tuple(dict.fromkeys(out))


def _exclude(calls, service, measure, max_hours, categories, call_types, categorize):
    """``calls`` without the excluded categories and call types (of the service in scope), and
    what was left out: per category or call type its calls and hours under ``measure``, and
    the figures before the exclusion."""
    import ibis

    from .workload import prepare

    t = categorize(calls) if categories else calls
    norm = t.call_type.strip().upper()
    branches = []
    if call_types:
        branches.append((norm.isin([c.upper() for c in call_types]).fill_null(False), "call_type:" + norm))
    if categories:
        branches.append((t.category.isin(list(categories)).fill_null(False), "category:" + t.category))
    in_scope = (t.service == service) if service else ibis.literal(True)
    why = ibis.cases(*branches, else_=ibis.null("string"))
    t = t.mutate(_rr_excluded=ibis.ifelse(in_scope.fill_null(False), why, ibis.null("string")))
    p = prepare(t, service=service, max_hours=max_hours)
    agg = (p.group_by("_rr_excluded").agg(calls=p.count(), ms=p[f"ms_{measure}"].sum()).to_pandas())
    agg["ms"] = agg["ms"].fillna(0.0)
    before = {"calls": int(agg["calls"].sum()), "hours": float(agg["ms"].sum()) / 3_600_000.0}
    rows = {k: (int(n), float(ms)) for k, n, ms in zip(agg["_rr_excluded"], agg["calls"], agg["ms"])
            if isinstance(k, str)}
    out = []
    for kind, values in (("call_type", call_types), ("category", categories)):
        for v in values:
            key = f"{kind}:{v.upper() if kind == 'call_type' else v}"
            r = rows.get(key)
            if r is None and kind == "call_type":
                raise AssessError(f"--exclude-call-type: no {service or ''} call of type {v!r} in the data".replace("  ", " "))
            n, h = (r[0], r[1] / 3_600_000.0) if r is not None else (0, 0.0)
            out.append({"kind": kind, "value": v, "calls": n, "hours": h,
                        "share_calls_before": n / before["calls"] if before["calls"] else None,
                        "share_time_before": h / before["hours"] if before["hours"] else None})
    return t.filter(t._rr_excluded.isnull()).drop("_rr_excluded"), {"values": out, "before": before}


def _who_could_respond(calls, sensitive, policies, overrides, model_path, measure, max_hours) -> pd.DataFrame | None:
    """Each responder policy applied to the police calls (rightresponse.policy.compare_policies):
    the share of calls and officer hours it would move away from officers, as a range, with
    the officer time measured as the workload tables measure it."""
    from .policy import PolicyError, compare_policies

    try:
        cmp = compare_policies(calls, policies=list(policies) if policies else None, sensitive=sensitive,
                               model_path=model_path, overrides=overrides, measure=measure, max_hours=max_hours)
    except PolicyError as exc:
        raise AssessError(str(exc)) from None
    if cmp.empty or not cmp.attrs.get("coverage", {}).get("calls"):
        return None  # no police calls to route
    return cmp


def _open_decisions(url):
    """The decision log, opened read-only (``decisions.open_existing_log``)."""
    from .decisions.log import StoreError, open_existing_log

    try:
        return open_existing_log(url)
    except StoreError as exc:
        raise AssessError(str(exc)) from None


def _dispatch_practice(store, tables, summary):
    """The decision log's override rates and the alternative team's share (decisions.summarize_decisions)."""
    from .decisions.dispatch_summary import summarize_decisions

    try:
        ds = summarize_decisions(store)
    except Exception as exc:
        raise AssessError(f"cannot read the decision log: {type(exc).__name__}: {exc}") from None
    tables.update(ds.tables())
    summary["dispatch"] = {
        "decisions": ds.total, "overrides": ds.overrides, "override_rate": _f(ds.override_rate),
        "eligible": ds.eligible, "handled": ds.handled, "share_eligible_handled": _f(ds.alternative_share),
        "first": ds.first.isoformat() if ds.first else None, "last": ds.last.isoformat() if ds.last else None,
    }
    return ds


def _quality_tables(ws, con, ingested=None) -> dict[str, pd.DataFrame]:
    """Files (each with the counts of its latest ingest, whether that ingest was this run,
    and the calls the workspace holds from it, whichever run stored them) and quarantine."""
    from .backends import open_table

    m = ws.manifest()
    this_run = {f.sha256 for f in ingested.files} if ingested is not None else set()
    calls = open_table(ws.root, "calls", con)
    held = calls.group_by("source_file").agg(calls=calls.count()).to_pandas()
    held = dict(zip(held["source_file"], held["calls"].astype("int64")))
    files = pd.DataFrame([
        {"file": Path(f["path"]).name, "adapter": f.get("adapter"), "agency": f.get("agency"),
         "this_run": f.get("sha256") in this_run,
         "first_ingested": str(f.get("first_ingested_at", f.get("ingested_at", "")))[:10],
         "rows_read": f.get("rows_read", 0), "rows_loaded": f.get("rows_loaded", 0),
         "rows_quarantined": f.get("rows_quarantined", 0), "rows_duplicate": f.get("rows_duplicate", 0),
         "calls_loaded": f.get("calls_loaded", 0), "calls_held": int(held.get(Path(f["path"]).name, 0)),
         "sha256": f.get("sha256", "")[:16]}
        for f in m.get("files", [])
    ], columns=["file", "adapter", "agency", "this_run", "first_ingested", "rows_read", "rows_loaded",
                "rows_quarantined", "rows_duplicate", "calls_loaded", "calls_held", "sha256"])
    if ws.has("quarantine"):
        q = open_table(ws.root, "quarantine", con)
        quar = (q.group_by(["source_file", "reason", "column_name"]).agg(rows=q.count())
                .order_by(["source_file", "reason", "column_name"]).to_pandas())
        quar["explanation"] = quar["reason"].map(lambda r: QUARANTINE_REASONS.get(r, ""))
    else:
        quar = pd.DataFrame(columns=["source_file", "reason", "column_name", "rows", "explanation"])
    return {"files": files, "quarantine": quar}


def _classification_methods(ct: pd.DataFrame) -> pd.DataFrame:
    g = ct.assign(method=ct["method"].fillna("none"), w=ct["confidence"] * ct["calls"])
    out = g.groupby("method", dropna=False).agg(call_types=("call_type", "size"), calls=("calls", "sum"),
                                                 hours=("hours", "sum"), w=("w", "sum"),
                                                 min_confidence=("confidence", "min")).reset_index()
    out["mean_confidence"] = out.pop("w") / out["calls"]  # call-weighted
    out["share_calls"] = out["calls"] / out["calls"].sum()
    return out.sort_values("calls", ascending=False, ignore_index=True)


def classification_coverage(cm: pd.DataFrame) -> dict:
    """How many calls got a category, and how many the classifier left for a person to
    review (method ``needs_review``: category empty, counted here, never dropped)."""
    rev = cm[cm["method"] == "needs_review"]
    calls = int(cm["calls"].sum())
    review = int(rev["calls"].sum())
    return {"calls": calls, "categorized_calls": calls - review - int(cm.loc[cm["method"] == "missing", "calls"].sum()),
            "needs_review_calls": review, "needs_review_call_types": int(rev["call_types"].sum()),
            "share_calls_needs_review": review / calls if calls else 0.0}


def _measure_comparison(tables) -> pd.DataFrame:
    """Share of time by crime group under each measure: the choice of measure matters."""
    cg = tables["by_crime_group"]
    out = cg[["crime_group", "calls", "share_calls"]].copy()
    for mm in MEASURES:
        h = cg[f"hours_{mm}"]
        out[f"share_time_{mm}"] = h / h.sum() if h.sum() > 0 else float("nan")
    return out


def _summary(tables, wl, sample, ws, measure, service, max_hours, min_cell, paths) -> dict:
    scope = tables["scope"]
    cat = tables["by_category"]
    cov = {k: coverage_summary(tables["coverage"], k) for k in (*MEASURES, *INTERVALS)}
    ins = scope[scope["in_scope"]]
    og = tables["by_origin_group"].set_index("origin_group")
    calls = int(cat["calls"].sum())
    start = ins["first_received"].min()
    end = ins["last_received"].max()
    ct = tables["by_call_type"]
    agencies = sorted(set(tables["files"]["agency"].dropna())) or sorted(set(ct["agency"].dropna()))
    by_time = cat.sort_values("hours", ascending=False)
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rightresponse": __version__,
        "calls": calls,
        "calls_all_services": int(scope["calls"].sum()),
        "services": {str(r.service): int(r.calls) for r in scope.itertuples()},
        "service": service,
        "measure": measure,
        "measure_label": MEASURES[measure].label,
        "measure_doc": MEASURES[measure].doc,
        "measures_available": [k for k in MEASURES if cov[k]["calls_measured"] > 0],
        "hours": float(cat["hours"].sum()),
        "period": {"start": str(pd.Timestamp(start).date()) if pd.notna(start) else None,
                   "end": str(pd.Timestamp(end).date()) if pd.notna(end) else None,
                   "days": int((pd.Timestamp(end) - pd.Timestamp(start)).days) + 1 if pd.notna(start) else 0,
                   "weeks_with_calls": int(ins["weeks_with_calls"].max()) if len(ins) else 0},
        "agencies": agencies,
        "sample": sample,
        "sources": [Path(p).name for p in paths] if paths else [],
        "workspace": None if sample else str(ws.root),
        "coverage": cov,
        "classification": classification_coverage(tables["classification_methods"]),
        "notes": wl.notes,
        # None when the source records no origin at all (every call "unknown")
        "officer_initiated_share_calls": (float(og.loc["officer", "calls"] / calls) if "officer" in og.index and calls
                                          else (None if set(og.index) <= {"unknown"} else 0.0)),
        "officer_initiated_share_time": (float(og.loc["officer", "hours"] / og["hours"].sum())
                                         if "officer" in og.index and og["hours"].sum() > 0 else None),
        "origin_groups": {ORIGIN_GROUPS.get(k, k): int(v) for k, v in og["calls"].items()},
        "top_category_by_time": by_time.iloc[0]["category"] if len(by_time) else None,
        "call_types": int(len(ct)),
        "top80_call_types": int(ct["top80"].sum()) if len(ct) and ct["top80"].any() else None,
        "gini": _f(float(tables["lorenz"]["gini"].iloc[0])) if len(tables["lorenz"]) else None,
        "min_cell": int(min_cell),
        "max_hours": float(max_hours),
    }


def _write(result: AssessResult, out: Path, min_cell: int) -> None:
    from .report import write_report
    from .report.output_folder import write_analyst_tables, write_published_tables

    out.mkdir(parents=True, exist_ok=True)
    pub = result.publish(min_cell)
    written = write_published_tables({name: pub[name] for name in PUBLIC_TABLES if pub.get(name) is not None}, out)
    written += write_analyst_tables(result.analyst_tables, out)
    (out / "summary.json").write_text(json.dumps(_jsonable(result.public_summary(min_cell)), indent=2),
                                      encoding="utf-8")
    written.append(str(out / "summary.json"))
    result.out = out
    result.files = written
    result.report_path = write_report(result, out / "report.html")


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return None
    if hasattr(x, "item"):
        return x.item()
    return x
