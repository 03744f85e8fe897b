"""`policy diff A B`: which kinds of call change responder, and how much history that moves."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

import ibis

from ..report.charts import pct
from .definition import Policy, _taxonomy_vocab, load_policy
from .history import PreparedHistory, apply_policy, prepare_history
from .triage import compiled

_PROBE_TIMES = (("day", 12 * 60), ("night", 3 * 60))


@dataclass
class PolicyDiff:
    a: str
    b: str
    a_hash: str
    b_hash: str
    rules_only_in_a: list[str]
    rules_only_in_b: list[str]
    rules_changed: list[str]
    by_category: pd.DataFrame  # category x time of day where the responder differs (no flags)
    by_call_type: pd.DataFrame | None = None  # historical call types whose responder differs
    totals: dict = field(default_factory=dict)  # share of historical calls/hours that change, per view

    def to_dict(self) -> dict:
        return {
            "a": self.a, "b": self.b, "a_hash": self.a_hash, "b_hash": self.b_hash,
            "rules_only_in_a": self.rules_only_in_a, "rules_only_in_b": self.rules_only_in_b,
            "rules_changed": self.rules_changed,
            "by_category": self.by_category.to_dict(orient="records"),
            "by_call_type": None if self.by_call_type is None else self.by_call_type.to_dict(orient="records"),
            "totals": self.totals,
        }

    def format(self, top: int = 25) -> str:
        lines = [f"{self.a} ({self.a_hash[:12]})  ->  {self.b} ({self.b_hash[:12]})"]
        if self.rules_only_in_a:
            lines.append("rules only in A: " + ", ".join(self.rules_only_in_a))
        if self.rules_only_in_b:
            lines.append("rules only in B: " + ", ".join(self.rules_only_in_b))
        if self.rules_changed:
            lines.append("rules changed: " + ", ".join(self.rules_changed))
        if self.by_category.empty:
            lines.append("\nno category changes responder (calls with no risk flags)")
        else:
            lines.append("\nby category, calls with no risk flags (A -> B):")
            for r in self.by_category.itertuples(index=False):
                lines.append(f"  {r.category:<38} {r.time:<5} {r.responder_a:>20} -> {r.responder_b}")
        if self.by_call_type is not None:
            t = self.totals
            lines.append("\nhistorical calls whose responder changes (conservative to optimistic):")
            lines.append(f"  calls: {pct(t['share_calls_changed_conservative'], missing='n/a')} to {pct(t['share_calls_changed_optimistic'], missing='n/a')}"
                         f" of {t['calls']:,};  officer hours: {pct(t['share_hours_changed_conservative'], missing='n/a')} to "
                         f"{pct(t['share_hours_changed_optimistic'], missing='n/a')} of {t['officer_hours']:,.0f}")
            lines.append(f"  moved away from police by B vs A: calls {pct(t['share_calls_moved_b_minus_a_conservative'], missing='n/a')} to "
                         f"{pct(t['share_calls_moved_b_minus_a_optimistic'], missing='n/a')}, hours "
                         f"{pct(t['share_hours_moved_b_minus_a_conservative'], missing='n/a')} to {pct(t['share_hours_moved_b_minus_a_optimistic'], missing='n/a')}")
            if len(self.by_call_type):
                lines.append(f"\n  top call types that change (optimistic view), of {len(self.by_call_type)}:")
                for r in self.by_call_type.head(top).itertuples(index=False):
                    lines.append(f"  {str(r.call_type)[:40]:<40} {r.calls:>7,} calls {r.hours:>9,.1f} h  "
                                 f"{r.responder_a} -> {r.responder_b}")
        return "\n".join(lines)


def diff_policies(a, b, calls=None, sensitive=None, route_on: str = "initial", **taxonomy) -> PolicyDiff:
    """Compare two policies. ``calls`` (workspace, Ibis table or PreparedHistory) adds history."""
    pa, pb = load_policy(a), load_policy(b)
    ra = {r.id: r.canonical() for r in pa.rules}
    rb = {r.id: r.canonical() for r in pb.rules}
    diff = PolicyDiff(
        pa.id, pb.id, pa.hash, pb.hash,
        [r for r in ra if r not in rb], [r for r in rb if r not in ra],
        [r for r in ra if r in rb and ra[r] != rb[r]],
        _category_diff(pa, pb),
    )
    if calls is not None:
        prep = calls if isinstance(calls, PreparedHistory) else prepare_history(calls, sensitive, route_on, **taxonomy)
        diff.by_call_type, diff.totals = _history_diff(pa, pb, prep)
    return diff


def _category_diff(pa: Policy, pb: Policy) -> pd.DataFrame:
    names, _, _ = _taxonomy_vocab(pa.taxonomy)
    rows = []
    for cat in list(names) + [None]:
        for label, minute in _PROBE_TIMES:
            out = []
            for p in (pa, pb):
                cp = compiled(p)
                rule = cp.match(cat, (), None, None, None, minute, 0)
                resp, co, _, _ = cp.resolve(rule, None, minute)
                out.append((resp + (f" + {co}" if co else ""), rule.id))
            if out[0][0] != out[1][0]:
                rows.append({"category": cat or "(unclassified)", "time": label, "responder_a": out[0][0],
                             "rule_a": out[0][1], "responder_b": out[1][0], "rule_b": out[1][1]})
    return pd.DataFrame(rows, columns=["category", "time", "responder_a", "rule_a", "responder_b", "rule_b"])


def _history_diff(pa: Policy, pb: Policy, prep: PreparedHistory):
    # Compare call by call: each policy cuts the day at its own hours, so their keys differ.
    ta = apply_policy(pa, prep)
    tb = apply_policy(pb, prep)
    cols = ["responder_optimistic", "responder_conservative"]
    ja = ta.select("agency", "call_id", "route_type", "route_category", "officer_hours",
                   **{f"{c}_a": ta[c] for c in cols})
    jb = tb.select(_ag=tb.agency, _id=tb.call_id, **{f"{c}_b": tb[c] for c in cols})
    j = ja.join(jb, [ja.agency == jb._ag, ja.call_id == jb._id])
    police_a = [r for r, x in pa.responders.items() if x.police]
    police_b = [r for r, x in pb.responders.items() if x.police]
    hrs = j.officer_hours.fill_null(0.0)
    aggs = {"calls": j.count(), "hours": hrs.sum()}
    for v in ("conservative", "optimistic"):
        ch = j[f"responder_{v}_a"] != j[f"responder_{v}_b"]
        mv = (~j[f"responder_{v}_b"].isin(police_b)).cast("int64") - (~j[f"responder_{v}_a"].isin(police_a)).cast("int64")
        aggs[f"changed_{v}"] = ch.cast("int64").sum()
        aggs[f"hours_changed_{v}"] = ibis.ifelse(ch, hrs, 0.0).sum()
        aggs[f"moved_{v}"] = mv.sum()
        aggs[f"hours_moved_{v}"] = (mv.cast("float64") * hrs).sum()
    tot = j.aggregate(**aggs).to_pandas().iloc[0]
    calls, hours = int(tot.calls), float(tot.hours)
    totals = {"calls": calls, "officer_hours": hours}
    for v in ("conservative", "optimistic"):
        totals[f"share_calls_changed_{v}"] = tot[f"changed_{v}"] / calls if calls else float("nan")
        totals[f"share_hours_changed_{v}"] = tot[f"hours_changed_{v}"] / hours if hours else float("nan")
        totals[f"share_calls_moved_b_minus_a_{v}"] = tot[f"moved_{v}"] / calls if calls else float("nan")
        totals[f"share_hours_moved_b_minus_a_{v}"] = tot[f"hours_moved_{v}"] / hours if hours else float("nan")
    ch = j.filter(j.responder_optimistic_a != j.responder_optimistic_b)
    by = ch.group_by(["agency", "route_type", "route_category", "responder_optimistic_a", "responder_optimistic_b"]).agg(
        calls=ch.count(), hours=ch.officer_hours.fill_null(0.0).sum()).to_pandas()
    by = by.rename(columns={"route_type": "call_type", "route_category": "category",
                            "responder_optimistic_a": "responder_a", "responder_optimistic_b": "responder_b"})
    by = by.sort_values(["calls", "call_type"], ascending=[False, True], ignore_index=True)
    return by, totals
