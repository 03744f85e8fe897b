"""An attacker on the published assessment: reads only what `assess` wrote (tables/*.csv and
summary.json) and tries to work out every withheld count.

Written without the disclosure module (nothing here imports rightresponse.report): the
relations are rebuilt from the published files the way a journalist with a spreadsheet
would, and then pushed further with linear programming:

* totals minus parts: every table that splits the calls adds up to the published total;
* differences between roll-ups: call types add up to categories (and to how they were
  decided), categories to crime groups and demand types, origins to origin groups, the
  category-by-origin and category-by-channel cells to both, the 311 request types to the 311
  channel and to their category's 311 cell (and none exceeds its call type), the outcomes of a category to its calls, the calls from
  the public by priority to the resident and unknown-origin groups; a count timed never
  exceeds its count;
* share x total: a visible share of a withheld count, times its (visible) denominator;
* hours x 60 / mean: a withheld count timed from its visible hours and mean minutes;
* counts hidden behind rates (misroutes, changed calls, overrides), which must not be small.

"<N" means 1..N-1; a blank count means the count was withheld to protect another, so (the
attacker knows the rule) at least N. For every withheld count the attacker solves the
smallest and largest value the published figures allow; one whole number in between is a
recovered cell.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

MEASURES = ("on_scene", "deployed", "unit_weighted")
OUTCOMES = ("arrest", "report", "no_action", "unfounded", "cancelled", "other", "unknown")
INTERVALS = ("to_dispatch", "travel", "to_arrival")


class Cell:
    """What the attacker sees of one count: a number, "<N" or blank."""

    def __init__(self, text: str, mc: int, blank_at_least: int | None = None):
        t = (text or "").strip()
        self.small = t.startswith("<")
        self.blank = t == ""
        self.value = None if (self.small or self.blank) else float(t)
        self.mc = mc
        self.blank_at_least = mc if blank_at_least is None else blank_at_least

    @property
    def hidden(self) -> bool:
        return self.value is None

    def bounds(self):
        return (1.0, self.mc - 1.0) if self.small else (float(self.blank_at_least), None)


class Attacker:
    """``blank_at_least``: what a blank count may be (default min_cell: the published rule; 0 for
    outputs of a version that blanked whole rows, zeros included)."""

    def __init__(self, out: Path, blank_at_least: int | None = None):
        self.out = Path(out)
        self.blank_at_least = blank_at_least
        self.summary = json.loads((self.out / "summary.json").read_text())
        self.mc = int(self.summary["min_cell"])
        self.cells: dict = {}  # quantity -> Cell
        self.where: dict = defaultdict(list)  # quantity -> [(table, row, column)]
        self.relations: list = []  # (lhs quantities, rhs quantities, constant): sum(lhs) - sum(rhs) == constant
        self.below: list = []  # (a, b): a <= b
        self.recovered: list = []  # (quantity, value, how)
        self.implicit_small: list = []

    # ---- reading

    def table(self, name: str) -> pd.DataFrame | None:
        p = self.out / "tables" / f"{name}.csv"
        if not p.exists():
            return None
        return pd.read_csv(p, dtype=str, keep_default_na=False)

    def see(self, q, text, table, row, col):
        c = Cell(text, self.mc, self.blank_at_least)
        old = self.cells.get(q)
        if old is not None and old.hidden != c.hidden:
            # the same count shown in one table and withheld in another
            v = old.value if c.hidden else c.value
            self.recovered.append((q, v, f"shown in {self.where[q][0][0]}, withheld in {table}"))
        if old is None or old.hidden:
            self.cells[q] = c
        self.where[q].append((table, row, col))
        return q

    def read(self):
        s = self.summary
        total = ("calls", ())
        self.cells[total] = Cell(str(s["calls"]), self.mc)
        for m in MEASURES:
            self.cells[(f"timed_{m}", ())] = Cell(str(s["coverage"][m]["calls_measured"]), self.mc)
        measure = s["measure"]
        partitions = defaultdict(lambda: defaultdict(list))  # dim -> partition name -> quantities

        def workload(name, key_fn, part):
            df = self.table(name)
            if df is None:
                return df
            for i, r in df.iterrows():
                key = key_fn(r)
                q = self.see(("calls", key), r["calls"], name, i, "calls")
                partitions["calls"][part].append(q)
                for m in MEASURES:
                    col = f"calls_timed_{m}"
                    if col in df.columns:
                        qt = self.see((f"timed_{m}", key), r[col], name, i, col)
                        partitions[f"timed_{m}"][part].append(qt)
                        self.below.append((qt, q))
                if "calls_timed" in df.columns:
                    self.see((f"timed_{measure}", key), r["calls_timed"], name, i, "calls_timed")
                self.derive(name, i, r, key)
            return df

        cat = workload("by_category", lambda r: (("category", r["category"]),), "category")
        workload("by_crime_group", lambda r: (("crime_group", r["crime_group"]),), "crime_group")
        workload("by_demand_type", lambda r: (("demand_type", r["demand_type"]),), "demand_type")
        og = workload("by_origin_group", lambda r: (("origin_group", r["origin_group"]),), "origin_group")
        org = workload("by_origin", lambda r: (("origin", r["origin"]),), "origin")
        workload("by_priority", lambda r: (("priority", _num(r["priority_rank"])),), "priority")
        workload("hour_of_week", lambda r: (("how", r["dow"], r["hour"]),), "how")
        workload("by_district", lambda r: (("district", r["district"]),), "district")
        workload("by_beat", lambda r: (("beat", r["beat"]),), "beat")
        ct = workload("by_call_type", lambda r: (("call_type", r["agency"], r["call_type"], r["category"], r["method"]),),
                      "call_type")
        co = self.table("by_category_origin")
        if co is not None:
            for i, r in co.iterrows():
                key = (("category", r["category"]),) if r["origin_group"] == "all" else (
                    ("category", r["category"]), ("origin_group", r["origin_group"]))
                q = self.see(("calls", key), r["calls"], "by_category_origin", i, "calls")
                for m in MEASURES:
                    col = f"calls_timed_{m}"
                    if col in co.columns:
                        qt = self.see((f"timed_{m}", key), r[col], "by_category_origin", i, col)
                        self.below.append((qt, q))
                self.derive("by_category_origin", i, r, key,
                            whole=() if r["origin_group"] == "all" else (("origin_group", r["origin_group"]),))
        workload("by_channel", lambda r: (("channel", r["channel"]),), "channel")
        cc = self.table("by_category_channel")
        if cc is not None:
            for i, r in cc.iterrows():
                key = (("category", r["category"]),) if r["channel"] == "all" else (
                    ("category", r["category"]), ("channel", r["channel"]))
                q = self.see(("calls", key), r["calls"], "by_category_channel", i, "calls")
                for m in MEASURES:
                    col = f"calls_timed_{m}"
                    if col in cc.columns:
                        self.below.append((self.see((f"timed_{m}", key), r[col], "by_category_channel", i, col), q))
                self.derive("by_category_channel", i, r, key,
                            whole=() if r["channel"] == "all" else (("channel", r["channel"]),))
        rq = self.table("by_311_request_type")
        if rq is not None:
            for i, r in rq.iterrows():
                key = (("call_type", r["agency"], r["call_type"], r["category"], r["method"]), ("channel", "311"))
                q = self.see(("calls", key), r["calls"], "by_311_request_type", i, "calls")
                for m in MEASURES:
                    col = f"calls_timed_{m}"
                    if col in rq.columns:
                        self.below.append((self.see((f"timed_{m}", key), r[col], "by_311_request_type", i, col), q))
                self.below.append((q, ("calls", key[:1])))
                self.derive("by_311_request_type", i, r, key, whole=(("channel", "311"),))
        mcmp = self.table("measure_comparison")
        if mcmp is not None:
            for i, r in mcmp.iterrows():
                key = (("crime_group", r["crime_group"]),)
                self.see(("calls", key), r["calls"], "measure_comparison", i, "calls")
                self.share("measure_comparison", ("calls", key), r["share_calls"], ("calls", ()))
        cm = self.table("classification_methods")
        if cm is not None:
            for i, r in cm.iterrows():
                q = self.see(("calls", (("method", r["method"]),)), r["calls"], "classification_methods", i, "calls")
                partitions["calls"]["method"].append(q)
                self.share("classification_methods", q, r["share_calls"], ("calls", ()))
        oc = self.table("outcomes")
        if oc is not None:
            for i, r in oc.iterrows():
                key = (("category", r["category"]),)
                whole = self.see(("calls", key), r["calls"], "outcomes", i, "calls")
                parts = [self.see(("calls", key + (("outcome", o),)), r[o], "outcomes", i, o) for o in OUTCOMES if o in oc]
                self.relations.append(([whole], parts, 0.0))
        rt = self.table("response_times")
        if rt is not None:
            pub = []
            for i, r in rt.iterrows():
                key = (("priority", _num(r["priority_rank"])), ("public", True))
                q = self.see(("calls", key), r["calls"], "response_times", i, "calls")
                pub.append(q)
                self.below.append((q, ("calls", (("priority", _num(r["priority_rank"])),))))
                for k in INTERVALS:
                    self.see((f"n_{k}", key), r[f"n_{k}"], "response_times", i, f"n_{k}")
            if og is not None:
                self.relations.append((pub, [("calls", (("origin_group", g),)) for g in og["origin_group"]
                                             if g != "officer"], 0.0))
        # every partition adds up to its total
        for dim, parts in partitions.items():
            for _, qs in parts.items():
                self.relations.append(([(dim, ())], qs, 0.0))
        # roll-ups
        dims = ["calls"] + [f"timed_{m}" for m in MEASURES]
        if cat is not None:
            for by in ("crime_group", "demand_type"):
                for g, grp in cat.groupby(by):
                    for d in dims:
                        self.relations.append(([(d, ((by, g),))], [(d, (("category", c),)) for c in grp["category"]], 0.0))
        if ct is not None:
            for by, dd in (("category", dims), ("method", ["calls"])):
                for g, grp in ct.groupby(by):
                    kids = [(("call_type", r["agency"], r["call_type"], r["category"], r["method"]),) for _, r in grp.iterrows()]
                    for d in dd:
                        self.relations.append(([(d, ((by, g),))], [(d, k) for k in kids], 0.0))
        if org is not None:
            for g, grp in org.groupby("origin_group"):
                for d in dims:
                    self.relations.append(([(d, (("origin_group", g),))], [(d, (("origin", o),)) for o in grp["origin"]], 0.0))
        if co is not None:
            sub = co[co["origin_group"] != "all"]
            for by in ("category", "origin_group"):
                for g, grp in sub.groupby(by):
                    kids = [(("category", r["category"]), ("origin_group", r["origin_group"])) for _, r in grp.iterrows()]
                    for d in dims:
                        self.relations.append(([(d, ((by, g),))], [(d, k) for k in kids], 0.0))
        if cc is not None:  # the category-by-channel cells, to both
            sub = cc[cc["channel"] != "all"]
            for by in ("category", "channel"):
                for g, grp in sub.groupby(by):
                    kids = [(("category", r["category"]), ("channel", r["channel"])) for _, r in grp.iterrows()]
                    for d in dims:
                        self.relations.append(([(d, ((by, g),))], [(d, k) for k in kids], 0.0))
        if rq is not None:  # the 311 request types, to the 311 channel and to each category's 311 cell
            def kid(r):
                return (("call_type", r["agency"], r["call_type"], r["category"], r["method"]), ("channel", "311"))
            for d in dims:
                self.relations.append(([(d, (("channel", "311"),))], [(d, kid(r)) for _, r in rq.iterrows()], 0.0))
                for g, grp in rq.groupby("category"):
                    self.relations.append(([(d, (("category", g), ("channel", "311")))],
                                           [(d, kid(r)) for _, r in grp.iterrows()], 0.0))
        self.who()
        self.dispatch()

    def derive(self, name, i, r, key, whole=()):
        """share x total and hours x 60 / mean."""
        if "share_calls" in r:
            self.share(name, ("calls", key), r["share_calls"], ("calls", whole))
        measure = self.summary["measure"]
        q = (f"timed_{measure}", key)
        hours, mean = _num(r.get("hours", "")), _num(r.get("mean_minutes", ""))
        cell = self.cells.get(q)
        if cell is not None and cell.hidden and hours is not None and mean:
            self.recovered.append((q, hours * 60 / mean, f"{name}: hours x 60 / mean"))
        for m in MEASURES:
            qm = (f"timed_{m}", key)
            c = self.cells.get(qm)
            h = _num(r.get(f"hours_{m}", ""))
            if c is not None and c.hidden and h is not None and mean and m == measure:
                self.recovered.append((qm, h * 60 / mean, f"{name}: hours_{m} x 60 / mean"))

    def share(self, name, q, share_text, denom):
        share = _num(share_text)
        cell, d = self.cells.get(q), self.cells.get(denom)
        if share is None or cell is None:
            return
        if cell.hidden and d is not None and not d.hidden:
            self.recovered.append((q, share * d.value, f"{name}: share x total"))
        if not cell.hidden and d is not None and d.hidden and share > 0:
            self.recovered.append((denom, cell.value / share, f"{name}: count / share"))

    def implicit(self, what, value):
        if value is not None and 0.5 <= value < self.mc - 0.5 and abs(value - round(value)) < 1e-6:
            self.implicit_small.append((what, round(value)))

    def who(self):
        w = self.table("who_could_respond")
        if w is None:
            return
        for i, r in w.iterrows():
            calls = self.see(("who", r["policy"]), r["calls"], "who_could_respond", i, "calls")
            for end in ("low", "high"):
                moved = self.see(("who_moved", r["policy"], end), r[f"calls_moved_{end}"], "who_could_respond", i,
                                 f"calls_moved_{end}")
                self.share("who_could_respond", moved, r[f"share_calls_moved_{end}"], calls)
                mv, rate = _num(r[f"calls_moved_{end}"]), _num(r[f"misroute_risk_{end}"])
                if mv is not None and rate is not None:
                    self.implicit((r["policy"], end, "misrouted calls"), mv * rate)
                tot, ch = _num(r["calls"]), _num(r[f"share_calls_changed_{end}"])
                if tot is not None and ch is not None:
                    self.implicit((r["policy"], end, "changed calls"), tot * ch)

    def dispatch(self):
        tot = self.table("dispatch_totals")
        if tot is None:
            return
        r = tot.iloc[0]
        for c in ("decisions", "overrides", "eligible", "handled"):
            self.see((c, ()), r[c], "dispatch_totals", 0, c)
        for name, key, dims in (("dispatch_by_rule", ("policy", "rule"), ("decisions", "overrides")),
                                ("dispatch_by_category", ("category",), ("decisions", "overrides", "eligible", "handled")),
                                ("dispatch_override_reasons", ("override_reason",), ("overrides",)),
                                ("dispatch_alternative", ("responder",), ("eligible", "handled"))):
            df = self.table(name)
            if df is None:
                continue
            parts = defaultdict(list)
            for i, row in df.iterrows():
                k = (name,) + tuple(row[x] for x in key)
                for d in dims:
                    parts[d].append(self.see((d, k), row[d], name, i, d))
                for a, b, rate in (("decisions", "overrides", "override_rate"), ("eligible", "handled", "alternative_share"),
                                   ("eligible", "handled", "share")):
                    if a in df.columns and b in df.columns and rate in df.columns:
                        n, x = _num(row[a]), _num(row[rate])
                        if n is not None and x is not None:
                            self.implicit((name, k, b), n * x)
                            qb = (b, k)
                            if self.cells[qb].hidden:
                                self.recovered.append((qb, n * x, f"{name}: {rate} x {a}"))
                if "overrides" in df.columns and "decisions" in df.columns:
                    self.below.append((("overrides", k), ("decisions", k)))
            for d, qs in parts.items():
                self.relations.append(([(d, ())], qs, 0.0))

    # ---- the linear programs

    def solve(self) -> list:
        from scipy.optimize import linprog

        hidden = sorted((q for q, c in self.cells.items() if c.hidden), key=repr)
        idx = {q: i for i, q in enumerate(hidden)}
        a_eq, b_eq = [], []
        for lhs, rhs, const in self.relations:
            row, b, ok = np.zeros(len(hidden)), const, True
            for q, sgn in [(x, 1.0) for x in lhs] + [(x, -1.0) for x in rhs]:
                c = self.cells.get(q)
                if c is None:
                    ok = False  # a quantity nobody published: the relation is not usable
                    break
                if c.hidden:
                    row[idx[q]] += sgn
                else:
                    b -= sgn * c.value
            if ok and row.any():
                a_eq.append(row)
                b_eq.append(b)
        a_ub, b_ub = [], []
        for lo, hi in self.below:
            cl, ch = self.cells.get(lo), self.cells.get(hi)
            if cl is None or ch is None or not (cl.hidden or ch.hidden):
                continue
            row, b = np.zeros(len(hidden)), 0.0
            for q, sgn, c in ((lo, 1.0, cl), (hi, -1.0, ch)):
                if c.hidden:
                    row[idx[q]] += sgn
                else:
                    b -= sgn * c.value
            a_ub.append(row)
            b_ub.append(b)
        bounds = [self.cells[q].bounds() for q in hidden]
        kw = dict(A_eq=np.array(a_eq) if a_eq else None, b_eq=np.array(b_eq) if a_eq else None,
                  A_ub=np.array(a_ub) if a_ub else None, b_ub=np.array(b_ub) if a_ub else None,
                  bounds=bounds, method="highs")
        # only variables that appear in some equation can be pinned (bounds alone never do for N > 2)
        involved = set()
        for row in a_eq + a_ub:
            involved.update(np.flatnonzero(row).tolist())
        for i in sorted(involved):
            ext = []
            for sign in (1.0, -1.0):
                c = np.zeros(len(hidden))
                c[i] = sign
                res = linprog(c, **kw)
                if res.status == 3:
                    ext.append(math.inf * -sign)
                    continue
                assert res.status == 0, res.message  # the truth is always feasible
                ext.append(res.x[i])
            lo, hi = min(ext), max(ext)
            if math.floor(hi + 1e-6) - math.ceil(lo - 1e-6) < 1:
                self.recovered.append((hidden[i], round(lo), "linear program"))
        return self.recovered

    @property
    def hidden_count(self) -> int:
        return sum(1 for c in self.cells.values() if c.hidden)


def attack(out: Path, blank_at_least: int | None = None) -> Attacker:
    a = Attacker(out, blank_at_least)
    a.read()
    a.solve()
    return a


def _num(text):
    if text is None:
        return None
    t = str(text).strip()
    if t == "" or t.startswith("<") or t.lower() in ("nan", "none"):
        return None
    try:
        v = float(t)
    except ValueError:
        return None
    return None if math.isnan(v) else v


def truth(exact_out: Path) -> dict:
    """Exact figures of the same assessment (min_cell 0), to check what the attacker claims."""
    a = Attacker(exact_out)
    a.read()
    return {q: c.value for q, c in a.cells.items()}


__all__ = ["attack", "truth", "Attacker"]
