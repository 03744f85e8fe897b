"""Disclosure control: what rightresponse may publish, decided in one place.

Every published output goes through this module: the report, ``tables/*.csv`` and
Parquet, ``--json`` and the terminal summary, ``summary.json``, the decision-log section
and the scenario comparison. Other modules render what it returns; none decides on its own
what to hide.

What is protected: a *count* (calls, calls timed, decisions, calls moved by a policy ...)
from 1 to ``min_cell - 1`` can point at a person, so it is never published, and it cannot
be worked out from what is published either. Zero discloses nothing and is shown.

1. **Primary**: a count from 1 to ``min_cell - 1`` is hidden. It reads ``<min_cell``.
2. **Withheld with it**: every statistic computed over a hidden count (a share, hours, a
   mean, a median, a rate) is withheld, including statistics whose *denominator* is hidden
   (a share of a hidden total gives the total back).
3. **Complementary**: the same count appears in several tables, and tables add up (call types
   to categories, categories to crime groups and demand types, origins to origin groups,
   every partition to the total, the response-time table to the calls from the public).
   These relations are declared here, once. Wherever a relation would leave a single hidden
   count, another count in it is hidden too (the finest and smallest, so the totals a reader
   needs stay), repeatedly until no relation has one.
4. **Audit**: a linear program then plays the attacker: for each hidden count, the smallest
   and largest value consistent with everything published (every relation, every visible
   count, "<10" means 1..9, a blank count is at least ``min_cell``, a count timed never
   exceeds its count). Where only one whole number fits, another count is hidden and the
   audit runs again.

Display: a hidden count from 1 to ``min_cell - 1`` reads ``<min_cell``; every other withheld
number is blank in CSV, null in Parquet and JSON, and ``·`` on the page. Tables that describe
records rather than people (files, quarantine, coverage by reason, time issues, services,
the Lorenz curve of hours) are published exactly; none of them splits calls by anything
another table hides.

The declarations (which columns are counts, which rest on which counts, which tables add up
to which) are data at the top of the relevant section below; a new published table declares
its columns here or is treated cautiously (integer ``calls``/``n_`` columns as counts and
every other number as resting on them).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from ..evaluation_design import CONTRASTS, DID_OUTCOMES, OUTCOMES
from ..measures import INTERVALS

NodeId = tuple  # (dimension, conditions): conditions is a sorted tuple of (attribute, value)


def cond(**kv) -> tuple:
    """Conditions of a count as a hashable key: NaN/NA become None, numpy scalars plain."""
    return tuple(sorted((k, _plain(v)) for k, v in kv.items()))


def _plain(v):
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    if hasattr(v, "item"):
        try:
            return _plain(v.item())
        except (ValueError, AttributeError):
            return v
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


# ---------------------------------------------------------------------------- the ledger


@dataclass
class Ledger:
    """Every count that may be published, the relations between them, and what is hidden."""

    min_cell: int
    integral: bool = True  # counts are whole numbers (False: means over simulation replications)
    values: dict = field(default_factory=dict)  # NodeId -> value
    rank: dict = field(default_factory=dict)  # NodeId -> how fine (higher: finer, hidden first)
    fixed: set = field(default_factory=set)  # totals shown everywhere: never chosen as a complement
    relations: list = field(default_factory=list)  # (lhs nodes, rhs nodes): sum(lhs) == sum(rhs)
    below: list = field(default_factory=list)  # (a, b): a <= b (calls timed <= calls)
    hidden: set = field(default_factory=set)
    why: dict = field(default_factory=dict)  # NodeId -> why it is hidden ("small", complement, audit)

    def add(self, node: NodeId, value, rank: int | None = None, fixed: bool = False) -> None:
        v = 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        old = self.values.get(node)
        if old is not None and abs(old - v) > 1e-6 * max(1.0, abs(v)):
            raise AssertionError(f"one count, two values: {node}: {old} and {v}")
        self.values[node] = v
        self.rank[node] = _rank(node[1]) if rank is None else rank
        if fixed:
            self.fixed.add(node)

    def relate(self, lhs, rhs) -> None:
        """sum(lhs) == sum(rhs), over the counts that are published (absent ones are zero)."""
        lhs = tuple(n for n in lhs if n in self.values)
        rhs = tuple(n for n in rhs if n in self.values)
        if lhs and rhs:
            self.relations.append((lhs, rhs))

    def partition(self, whole: NodeId, parts: Iterable[NodeId]) -> None:
        self.relate((whole,), tuple(parts))

    def at_most(self, a: NodeId, b: NodeId) -> None:
        if a in self.values and b in self.values:
            self.below.append((a, b))

    # ---- the protection

    def protect(self) -> set:
        """Primary suppression, then complementary suppression until the audit finds no
        hidden count with a single possible value. Returns the hidden counts."""
        if self.min_cell <= 1:
            self.hidden = set()
            return self.hidden
        self.hidden = {n for n, v in self.values.items() if 0 < v < self.min_cell}
        self.why = {n: "small" for n in self.hidden}
        self._index()
        for _ in range(10_000):  # each round hides at least one more count; bounded by their number
            self._complete()
            more = self._audit()
            if not more:
                return self.hidden
            for n, why in more.items():
                self._hide(n, why)
        raise RuntimeError("disclosure audit did not converge")  # pragma: no cover

    def _index(self) -> None:
        self._rels_of = defaultdict(list)
        for i, (lhs, rhs) in enumerate(self.relations):
            for n in lhs + rhs:
                self._rels_of[n].append(i)
        self._k = [len(self._protecting(r)) for r in self.relations]

    def _hide(self, n, why) -> None:
        if n in self.hidden:
            return
        self.hidden.add(n)
        self.why[n] = why
        if self.values[n] != 0:
            for i in self._rels_of[n]:
                self._k[i] += 1

    def _protecting(self, rel) -> list:
        """Hidden members that are not zero (a hidden zero protects nothing: it may be guessed)."""
        lhs, rhs = rel
        return [n for n in lhs + rhs if n in self.hidden and self.values[n] != 0]

    def _candidates(self, rel, allow_fixed: bool = False) -> list:
        lhs, rhs = rel
        return [n for n in lhs + rhs
                if n not in self.hidden and self.values[n] != 0 and (allow_fixed or n not in self.fixed)]

    def _weight(self, n) -> float:
        """What hiding a count costs the reader: a cell of a cross-table little, a category
        more, a crime group or origin group much more, a headline total most."""
        return 10000.0 if n in self.fixed else _WEIGHT[min(self.rank.get(n, 3), 3)]

    def _cheapest(self, i: int, but) -> float:
        return min((self._weight(n) for n in self._candidates(self.relations[i], True) if n != but), default=10000.0)

    def _score(self, n, i: int) -> tuple:
        """Which count of relation ``i`` to hide as a complement: the one whose hiding costs
        least, counting the complements it will need in the other relations it is part of
        (one more where it would be the first hidden count) and those it saves (where it
        protects a count that is alone)."""
        cost = self._weight(n)
        for j in self._rels_of[n]:
            if j == i:
                continue
            if self._k[j] == 0:
                cost += self._cheapest(j, n)
            elif self._k[j] == 1:
                cost -= self._cheapest(j, n)
        # A complement near min_cell leaves the attacker little room ("at least 10" and a sum
        # of 11 pin both counts); among equal costs, one with room to spare goes first.
        return (cost, n in self.relations[i][0], self.values[n] < 2 * self.min_cell, self.values[n], repr(n))

    def _complement(self, i: int, allow_fixed: bool = True) -> NodeId | None:
        rel = self.relations[i]
        cands = self._candidates(rel) or (self._candidates(rel, allow_fixed=True) if allow_fixed else [])
        if not cands:
            return None
        return min(cands, key=lambda n: self._score(n, i))

    def _complete(self) -> None:
        """Until no relation has exactly one protecting hidden count: hide a complement."""
        todo = [i for i, k in enumerate(self._k) if k == 1]
        while todo:
            i = todo.pop()
            if self._k[i] != 1:
                continue
            n = self._complement(i)
            if n is None:
                continue  # the only other members are zero: the audit decides
            self._hide(n, ("complement", i))
            todo.extend(j for j in self._rels_of[n] if self._k[j] == 1)

    # ---- the audit: the attacker's linear program

    def bounds(self, n) -> tuple[float, float | None]:
        v = self.values[n]
        if 0 < v < self.min_cell:
            return (1.0 if self.integral else 0.0, float(self.min_cell - 1) if self.integral else float(self.min_cell))
        return (float(self.min_cell), None)

    def _audit(self) -> dict:
        """Counts to hide so that no hidden count is determined by what is published. A
        component (hidden counts linked by relations) that passed once is not solved again:
        hiding a count adds it to its component, so an unchanged set means unchanged equations."""
        variables = sorted((n for n in self.hidden if self.values[n] != 0), key=repr)
        more = {}
        clean = self.__dict__.setdefault("_clean", set())
        for comp in _components(variables, self.relations, self.below):
            key = frozenset(comp)
            if key in clean:
                continue
            found = False
            for n, binding in self.determined(comp):
                found = True
                c = self._fix(n, binding)
                if c is not None and c not in more:
                    more[c] = ("audit", n)
            if not found:
                clean.add(key)
        return more

    def _system(self, comp: list) -> tuple:
        """The attacker's equations over the hidden counts ``comp``: relations as equalities,
        "timed <= calls" as inequalities, and the bounds the display gives away."""
        idx = {n: i for i, n in enumerate(comp)}

        def row(terms):  # sum(sign * count) over the terms, with the visible counts moved right
            r, b = np.zeros(len(comp)), 0.0
            for n, sign in terms:
                if n in idx:
                    r[idx[n]] += sign
                else:
                    b -= sign * self.values[n]
            return r, b

        a_eq, b_eq, a_ub, b_ub, rel_rows = [], [], [], [], []
        for k, (lhs, rhs) in enumerate(self.relations):
            if any(n in idx for n in lhs + rhs):
                r, b = row([(x, 1.0) for x in lhs] + [(x, -1.0) for x in rhs])
                a_eq.append(r)
                b_eq.append(b)
                rel_rows.append(k)
        for lo, hi in self.below:
            if lo in idx or hi in idx:
                r, b = row([(lo, 1.0), (hi, -1.0)])
                a_ub.append(r)
                b_ub.append(b)
        return a_eq, b_eq, a_ub, b_ub, [self.bounds(n) for n in comp], rel_rows

    def determined(self, comp: list) -> list:
        """Hidden counts of one component whose value the published figures fix, each with the
        relations that fix it (those with a non-zero multiplier in the linear programs)."""
        a_eq, b_eq, a_ub, b_ub, bounds, rel_rows = self._system(comp)
        return [(comp[i], {rel_rows[j]: w for j, w in rows.items()})
                for i, rows in _fixed_by(len(comp), a_eq, b_eq, a_ub, b_ub, bounds, self.integral)
                if not _bounds_alone(bounds[i], self.integral)]

    def _component_of(self, n, hidden) -> list:
        seen, todo = {n}, [n]
        below_of = self.__dict__.get("_below_of")
        if below_of is None:
            below_of = defaultdict(list)
            for a, b in self.below:
                below_of[a].append(b)
                below_of[b].append(a)
            self._below_of = below_of
        done = set()  # each relation is walked once
        while todo:
            x = todo.pop()
            rels = [i for i in self._rels_of[x] if i not in done]
            done.update(rels)
            nbrs = [m for i in rels for m in self.relations[i][0] + self.relations[i][1]] + below_of[x]
            for m in nbrs:
                if m not in seen and m in hidden and self.values[m] != 0:
                    seen.add(m)
                    todo.append(m)
        return sorted(seen, key=repr)

    def _still_fixed(self, n, trial) -> bool:
        """Is ``n`` still determined when ``trial`` is hidden too?"""
        saved = self.hidden
        self.hidden = saved | {trial}
        try:
            comp = self._component_of(n, self.hidden)
            a_eq, b_eq, a_ub, b_ub, bounds, _ = self._system(comp)
        finally:
            self.hidden = saved
        return bool(_fixed_by(len(comp), a_eq, b_eq, a_ub, b_ub, bounds, self.integral, only=comp.index(n)))

    def _fix(self, n, binding=None) -> NodeId | None:
        """A complement for a count the audit found determined. ``binding``: the relations that
        pin it, with their multipliers (the attacker's combination of published figures). A
        visible count whose net weight in that combination is not zero breaks it once hidden;
        those come first, cheapest first (see _score), then the other counts of those
        relations and of n's own; each is checked by the linear program, a headline total last."""
        binding = binding or {}
        net = defaultdict(float)
        for i, w in binding.items():
            lhs, rhs = self.relations[i]
            for c in lhs:
                net[c] += w
            for c in rhs:
                net[c] -= w
        ranked, seen = [], set()
        for group, rels in enumerate((list(binding), self._rels_of[n])):
            for i in rels:
                for c in self._candidates(self.relations[i], allow_fixed=True):
                    if c not in seen:
                        seen.add(c)
                        breaks = abs(net.get(c, 0.0)) > 1e-9
                        ranked.append(((c in self.fixed, not breaks, group, self._score(c, i)), c))
        ranked.sort(key=lambda t: t[0])
        for _, c in ranked[:4]:  # beyond a few, no single count frees it: hide the first, audit again
            if not self._still_fixed(n, c):
                return c
        return ranked[0][1] if ranked else None


_WEIGHT = {0: 10000.0, 1: 100.0, 2: 20.0, 3: 1.0}  # by rank: see Ledger._weight


def _bounds_alone(b, integral: bool) -> bool:
    """The display alone fixes the value ("<2" is 1): no complement can help."""
    lo, hi = b
    return hi is not None and ((hi - lo < 1) if integral else hi - lo <= 0)


def _components(variables, relations, below) -> list[list]:
    parent = {n: n for n in variables}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    links = [lhs + rhs for lhs, rhs in relations] + [(a, b) for a, b in below]
    for members in links:
        vs = [n for n in members if n in parent]
        for a, b in zip(vs, vs[1:]):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
    groups = defaultdict(list)
    for n in variables:
        groups[find(n)].append(n)
    return sorted(groups.values(), key=lambda g: repr(g[0]))


def _fixed_by(k, a_eq, b_eq, a_ub, b_ub, bounds, integral: bool, only: int | None = None) -> list[tuple[int, dict]]:
    """Variables with a single feasible (whole-number) value, each with the equality rows that
    pin it and their multipliers {row: weight}: min and max of each by linear programming. Every solution found is kept, and a
    variable two solutions already disagree on by a whole unit is not solved for again (most
    are settled that way)."""
    from scipy.optimize import linprog

    if not a_eq and not a_ub:
        return [(i, []) for i in range(k) if _bounds_alone(bounds[i], integral)]
    lo_seen = np.full(k, np.inf)
    hi_seen = np.full(k, -np.inf)
    kw = dict(A_eq=np.array(a_eq) if a_eq else None, b_eq=np.array(b_eq) if a_eq else None,
              A_ub=np.array(a_ub) if a_ub else None, b_ub=np.array(b_ub) if a_ub else None,
              bounds=bounds, method="highs")
    gap = 1.0 if integral else 0.5
    # A few random directions first: each solution moves many variables at once, so most are
    # shown free (two solutions a whole unit apart) before any is solved for on its own.
    rng = np.random.default_rng(k)
    for _ in range(min(8, k) if only is None else 0):
        c = rng.standard_normal(k)
        for sign in (1.0, -1.0):
            res = linprog(sign * c, **kw)
            if res.status == 0:
                np.minimum(lo_seen, res.x, out=lo_seen)
                np.maximum(hi_seen, res.x, out=hi_seen)
    out = []
    for i in range(k) if only is None else [only]:
        if hi_seen[i] - lo_seen[i] >= gap - 1e-9:
            continue
        ext, pins = [], {}
        for sign in (1.0, -1.0):
            c = np.zeros(k)
            c[i] = sign
            res = linprog(c, **kw)
            if res.status == 3:  # unbounded: this direction is open
                ext.append(-np.inf * sign)
                continue
            if res.status != 0:  # pragma: no cover - the true values are always feasible
                raise RuntimeError(f"disclosure audit: {res.message}")
            np.minimum(lo_seen, res.x, out=lo_seen)
            np.maximum(hi_seen, res.x, out=hi_seen)
            ext.append(res.x[i])
            if a_eq and not pins:  # the multipliers of one bound: the relations that pin it, with weights
                marg = np.asarray(res.eqlin.marginals)
                pins = {int(j): float(marg[j]) for j in np.flatnonzero(np.abs(marg) > 1e-9)}
        lo, hi = min(ext), max(ext)
        fixed = (math.floor(hi + 1e-6) - math.ceil(lo - 1e-6) < 1) if integral else (hi - lo < gap)
        if fixed:
            out.append((i, pins))
    return out


# ---------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Cell:
    """One count column of a table: its dimension and the conditions of each row's count."""

    column: str
    dim: str
    conditions: Callable[[dict], tuple]


@dataclass(frozen=True)
class Stat:
    """A published figure computed over counts: withheld when any of them is hidden."""

    column: str
    rests_on: Callable[[dict], list]  # row -> NodeIds


@dataclass(frozen=True)
class Declared:
    cells: tuple[Cell, ...] = ()
    stats: tuple[Stat, ...] = ()
    exempt: bool = False
    # Counts no column shows but published figures give away (a misroute rate times the calls
    # moved is a number of misroutes): row -> [(NodeId, value)]. Protected like any count.
    implicit: Callable[[dict], list] | None = None


# ---------------------------------------------------------------------------- published tables


@dataclass
class Disclosed:
    """A table as published: ``values`` with withheld cells set to missing, ``hidden`` (True
    where withheld) and ``small`` (True where the withheld value is a count from 1 to
    ``min_cell - 1``, which reads ``<min_cell``)."""

    name: str
    values: pd.DataFrame
    hidden: pd.DataFrame
    small: pd.DataFrame
    min_cell: int
    attrs: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def empty(self) -> bool:
        return self.values.empty

    @property
    def columns(self):
        return self.values.columns

    def __getitem__(self, col) -> pd.Series:
        return self.values[col]

    def value(self, i: int, col: str):
        """The published value at row position ``i`` (None when withheld or missing)."""
        if col not in self.values.columns or bool(self.hidden[col].iat[i]):
            return None
        v = self.values[col].iat[i]
        return None if _missing(v) else v

    def text(self, i: int, col: str) -> str | None:
        """How a withheld cell reads: "<min_cell" for a small count, else None (not withheld)."""
        if col not in self.hidden.columns or not bool(self.hidden[col].iat[i]):
            return None
        return f"<{self.min_cell}" if bool(self.small[col].iat[i]) else ""

    def row_hidden(self) -> pd.Series:
        return self.hidden.any(axis=1)

    def subset(self, mask) -> "Disclosed":
        m = np.asarray(mask, dtype=bool)
        return Disclosed(self.name, self.values[m].reset_index(drop=True), self.hidden[m].reset_index(drop=True),
                         self.small[m].reset_index(drop=True), self.min_cell, dict(self.attrs))

    def head(self, n: int) -> "Disclosed":
        return self.subset(np.arange(len(self)) < n)

    def csv_frame(self) -> pd.DataFrame:
        """Small counts read "<min_cell"; other withheld numbers are empty."""
        out = self.values.astype(object).copy()
        for c in out.columns:
            h = self.hidden[c].to_numpy()
            if h.any():
                s = self.small[c].to_numpy()
                out.loc[h, c] = ""
                out.loc[h & s, c] = f"<{self.min_cell}"
        return out

    def parquet_frame(self) -> pd.DataFrame:
        """Withheld numbers are null; ``suppressed`` is true on a row with any withheld cell."""
        out = self.values.copy()
        if self.min_cell > 1 and not self.attrs.get("exempt"):
            out["suppressed"] = self.row_hidden().to_numpy()
        return out

    def records(self) -> list[dict]:
        """Rows for JSON: withheld values are null."""
        cols = list(self.values.columns)
        out = []
        for i in range(len(self)):
            out.append({c: _json_value(self.value(i, c)) for c in cols})
        return out


def _missing(v) -> bool:
    if v is None or v is pd.NA:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _json_value(v):
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def exact(name: str, df: pd.DataFrame, min_cell: int = 0) -> Disclosed:
    """A table published as it is (data-quality tables, or ``min_cell`` 0)."""
    none = pd.DataFrame(False, index=df.index, columns=df.columns)
    d = Disclosed(name, df.reset_index(drop=True), none.reset_index(drop=True), none.reset_index(drop=True),
                  min_cell, dict(df.attrs))
    d.attrs["exempt"] = True
    return d


def _publish_table(name: str, df: pd.DataFrame, decl: Declared, ledger: Ledger) -> Disclosed:
    df = df.reset_index(drop=True)
    hidden = pd.DataFrame(False, index=df.index, columns=df.columns)
    small = pd.DataFrame(False, index=df.index, columns=df.columns)
    rows = df.to_dict("records")
    hid = ledger.hidden
    for cell in decl.cells:
        if cell.column not in df.columns:
            continue
        h = np.zeros(len(df), bool)
        s = np.zeros(len(df), bool)
        for i, r in enumerate(rows):
            node = (cell.dim, cell.conditions(r))
            if node in hid:
                h[i] = True
                s[i] = 0 < ledger.values[node] < ledger.min_cell
        hidden[cell.column] = h
        small[cell.column] = s
    for st in decl.stats:
        if st.column not in df.columns:
            continue
        h = hidden[st.column].to_numpy().copy()
        for i, r in enumerate(rows):
            if any(n in hid for n in st.rests_on(r)):
                h[i] = True
        hidden[st.column] = h
    # A number nobody declared (a column added to a table later) is withheld wherever a count
    # of its row is: cautious until it is declared.
    declared = {c.column for c in decl.cells} | {st.column for st in decl.stats} | ATTRIBUTES
    counts = [c.column for c in decl.cells if c.column in df.columns]
    if counts:
        any_hidden = hidden[counts].any(axis=1).to_numpy()
        for c in df.columns:
            if c not in declared and pd.api.types.is_numeric_dtype(df[c]) and any_hidden.any():
                hidden[c] = hidden[c].to_numpy() | any_hidden
    return Disclosed(name, _withheld(df, hidden), hidden, small, ledger.min_cell, dict(df.attrs))


def _withheld(df: pd.DataFrame, hidden: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the hidden cells set to missing (nullable dtypes, so counts stay whole)."""
    values = df.copy()
    for c in values.columns:
        m = hidden[c].to_numpy()
        if not m.any():
            continue
        if pd.api.types.is_bool_dtype(values[c]):
            values[c] = values[c].astype("boolean")
        elif pd.api.types.is_integer_dtype(values[c]):
            values[c] = values[c].astype("Int64")
        elif pd.api.types.is_float_dtype(values[c]):
            values[c] = values[c].astype("Float64")
        else:
            values[c] = values[c].astype(object)
        values.loc[m, c] = pd.NA
    return values


def _fallback(name: str, df: pd.DataFrame) -> Declared:
    """A table nobody declared: integer columns named like counts are counts of the table's
    own (no relations known), and every other number rests on all of them."""
    counts = [c for c in df.columns if (c.startswith(("calls", "n_")) and pd.api.types.is_integer_dtype(df[c]))]
    keys = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])]

    def conds(r, col):
        return cond(table=name, column=col, **{k: r.get(k) for k in keys})

    cells = tuple(Cell(c, "count", (lambda r, c=c: conds(r, c))) for c in counts)
    stats = tuple(Stat(c, (lambda r: [("count", conds(r, x)) for x in counts]))
                  for c in df.columns if c not in counts and c not in keys)
    return Declared(cells, stats)


def publish(tables: dict[str, pd.DataFrame], ledger: Ledger, declarations: dict[str, Declared]) -> dict[str, Disclosed]:
    """Every table as published, after ``ledger.protect()``."""
    out = {}
    for name, df in tables.items():
        if df is None:
            continue
        decl = declarations.get(name)
        if ledger.min_cell <= 1 or (decl is not None and decl.exempt):
            out[name] = exact(name, df, ledger.min_cell)
            continue
        out[name] = _publish_table(name, df, decl or _fallback(name, df), ledger)
    return out


def register(ledger: Ledger, tables: dict[str, pd.DataFrame], declarations: dict[str, Declared]) -> None:
    """Put every count cell of every table in the ledger (undeclared tables: cautiously)."""
    for name, df in tables.items():
        if df is None or df.empty:
            continue
        decl = declarations.get(name) or _fallback(name, df)
        if decl.exempt:
            continue
        rows = df.to_dict("records")
        for cell in decl.cells:
            if cell.column not in df.columns:
                continue
            for r in rows:
                ledger.add((cell.dim, cell.conditions(r)), r[cell.column])
        if decl.implicit is not None:
            for r in rows:
                for node, v in decl.implicit(r):
                    ledger.add(node, v)


# ---------------------------------------------------------------------------- sentences


def count_text(v, min_cell: int, hidden: bool = False) -> str:
    """A count in a sentence: "<min_cell" when small, "·" when withheld otherwise."""
    if v is None or _missing(v):
        return "·" if hidden else "–"
    v = float(v)
    if min_cell > 1 and 0 < v < min_cell:
        return f"<{min_cell}"
    if hidden:
        return "·"
    return f"{v:,.0f}"


# ---------------------------------------------------------------------------- the assessment

# How fine each attribute is: complements are taken at the finest level first, so the totals
# and roll-ups a reader needs most stay visible.
_RANK = {"crime_group": 1, "demand_type": 1, "origin_group": 1, "channel": 1, "method": 1, "category": 2, "origin": 2,
         "priority": 2, "how": 2, "district": 2, "beat": 2, "call_type": 3}
TOTAL = ()  # the conditions of the total: every police call in scope

# Numbers that describe a row rather than count its calls: published as they are.
ATTRIBUTES = frozenset({"dow", "hour", "priority_rank", "confidence", "call_types", "min_confidence", "block",
                        "zero_to_dispatch", "zero_travel", "zero_to_arrival"})

# Tables that describe records, not people, or data already published elsewhere: exact.
EXEMPT = frozenset({"scope", "files", "quarantine", "time_issues", "lorenz", "coverage", "comparison"})


def _rank(c: tuple) -> int:
    return max((_RANK.get(k, 2) for k, _ in c), default=0) + max(len(c) - 1, 0)


def _one(attr: str, col: str | None = None):
    col = col or attr
    return lambda r: cond(**{attr: r.get(col)})


def _call_type(r) -> tuple:
    return cond(call_type=(_plain(r.get("agency")), _plain(r.get("call_type")), _plain(r.get("category")),
                           _plain(r.get("method"))))


def _how(r) -> tuple:
    return cond(how=(_plain(r.get("dow")), _plain(r.get("hour"))))


def _category_origin(r) -> tuple:
    og = r.get("origin_group")
    return cond(category=r.get("category")) if og == "all" else cond(category=r.get("category"), origin_group=og)


def _category_origin_whole(r) -> tuple:
    og = r.get("origin_group")
    return TOTAL if og == "all" else cond(origin_group=og)


def _category_channel(r) -> tuple:
    ch = r.get("channel")
    return cond(category=r.get("category")) if ch == "all" else cond(category=r.get("category"), channel=ch)


def _category_channel_whole(r) -> tuple:
    ch = r.get("channel")
    return TOTAL if ch == "all" else cond(channel=ch)


def _request_type_311(r) -> tuple:
    """A 311 request type in scope: its own count (an agency could take the same call type
    by CAD too, so it is not by_call_type's count), within the 311 channel."""
    return cond(call_type=(_plain(r.get("agency")), _plain(r.get("call_type")), _plain(r.get("category")),
                           _plain(r.get("method"))), channel="311")


def _workload(conds: Callable[[dict], tuple], measure: str, measures,
              whole: Callable[[dict], tuple] = lambda r: TOTAL, extra: tuple = ()) -> Declared:
    """A workload table (rightresponse.workload._finish): calls, calls timed under each
    measure, and the shares, hours and means resting on them. ``whole``: the conditions of
    the denominator of the row's shares (the total, or the row's origin group)."""
    timed = f"timed:{measure}"
    cells = [Cell("calls", "calls", conds), Cell("calls_timed", timed, conds)]
    cells += [Cell(f"calls_timed_{m}", f"timed:{m}", conds) for m in measures]
    stats = [
        Stat("share_calls", lambda r: [("calls", conds(r)), ("calls", whole(r))]),
        Stat("hours", lambda r: [(timed, conds(r))]),
        Stat("mean_minutes", lambda r: [(timed, conds(r))]),
        Stat("share_time", lambda r: [(timed, conds(r)), (timed, whole(r))]),
    ]
    stats += [Stat(f"hours_{m}", (lambda r, m=m: [(f"timed:{m}", conds(r))])) for m in measures]
    stats += [Stat(c, lambda r: [(timed, conds(r))]) for c in extra]
    return Declared(tuple(cells), tuple(stats))


def assessment_declarations(measure: str, measures, outcomes) -> dict[str, Declared]:
    """Which columns of each assessment table are counts, and what every other figure rests on."""
    d: dict[str, Declared] = {name: Declared(exempt=True) for name in EXEMPT}
    for name, attr, col in (("by_category", "category", None), ("by_crime_group", "crime_group", None),
                            ("by_demand_type", "demand_type", None), ("by_origin_group", "origin_group", None),
                            ("by_origin", "origin", None), ("by_priority", "priority", "priority_rank"),
                            ("by_district", "district", None), ("by_beat", "beat", None)):
        d[name] = _workload(_one(attr, col), measure, measures)
    d["hour_of_week"] = _workload(_how, measure, measures)
    d["by_call_type"] = _workload(_call_type, measure, measures, extra=("cum_share_time", "top80"))
    d["by_category_origin"] = _workload(_category_origin, measure, measures, whole=_category_origin_whole)
    d["by_channel"] = _workload(_one("channel"), measure, measures)
    d["by_category_channel"] = _workload(_category_channel, measure, measures, whole=_category_channel_whole)
    d["by_311_request_type"] = _workload(_request_type_311, measure, measures, whole=lambda r: cond(channel="311"))
    cg = _one("crime_group")
    d["measure_comparison"] = Declared(
        (Cell("calls", "calls", cg),),
        (Stat("share_calls", lambda r: [("calls", cg(r)), ("calls", TOTAL)]),)
        + tuple(Stat(f"share_time_{m}", (lambda r, m=m: [(f"timed:{m}", cg(r)), (f"timed:{m}", TOTAL)]))
                for m in measures))
    cat = _one("category")
    d["outcomes"] = Declared(
        (Cell("calls", "calls", cat),)
        + tuple(Cell(o, "calls", (lambda r, o=o: cond(category=r.get("category"), outcome=o))) for o in outcomes))
    method = _one("method")
    d["classification_methods"] = Declared(
        (Cell("calls", "calls", method),),
        tuple(Stat(c, lambda r: [("calls", method(r))]) for c in ("hours", "mean_confidence"))
        + (Stat("share_calls", lambda r: [("calls", method(r)), ("calls", TOTAL)]),))

    def public(r):
        return cond(priority=r.get("priority_rank"), public=True)


    d["response_times"] = Declared(
        (Cell("calls", "calls", public),) + tuple(Cell(f"n_{k}", f"n:{k}", public) for k in INTERVALS),
        tuple(Stat(f"{q}_{k}", (lambda r, k=k: [(f"n:{k}", public(r))])) for k in INTERVALS for q in ("median", "p90")))
    d["who_could_respond"] = _who_declared()
    d["who_could_respond_top_types"] = _who_top_types_declared()
    d.update(_dispatch_declared())
    return d


def assessment_ledger(tables: dict, measure: str, measures, min_cell: int, totals: dict) -> Ledger:
    """The counts of an assessment and how they add up. ``totals``: the calls in scope and the
    calls timed under each measure (published in the headline and the coverage table)."""
    led = Ledger(min_cell)
    led.add(("calls", TOTAL), totals["calls"], fixed=True)
    for m in measures:
        led.add((f"timed:{m}", TOTAL), totals[f"timed:{m}"], fixed=True)
    return led


def assessment_relations(led: Ledger, tables: dict, measures) -> None:
    """Every way the assessment's counts add up, as a reader could work them out."""
    dims = ["calls"] + [f"timed:{m}" for m in measures]

    def keys(name, fn):
        df = tables.get(name)
        return [] if df is None or df.empty else [fn(r) for r in df.to_dict("records")]

    parts = {
        "category": keys("by_category", _one("category")), "crime_group": keys("by_crime_group", _one("crime_group")),
        "demand_type": keys("by_demand_type", _one("demand_type")),
        "origin_group": keys("by_origin_group", _one("origin_group")), "origin": keys("by_origin", _one("origin")),
        "priority": keys("by_priority", _one("priority", "priority_rank")), "how": keys("hour_of_week", _how),
        "district": keys("by_district", _one("district")), "beat": keys("by_beat", _one("beat")),
        "call_type": keys("by_call_type", _call_type), "channel": keys("by_channel", _one("channel")),
    }
    for dim in dims:
        for key_list in parts.values():  # every partition adds up to the total
            led.partition((dim, TOTAL), [(dim, c) for c in key_list])
    led.partition(("calls", TOTAL), [("calls", c) for c in keys("classification_methods", _one("method"))])

    def groups(df, fn_child, fn_parent) -> dict:
        out = defaultdict(list)
        if df is not None:
            for r in df.to_dict("records"):
                out[fn_parent(r)].append(fn_child(r))
        return out

    def roll_up(df, child, parent, dims_here):
        for whole, kids in groups(df, child, parent).items():
            for dim in dims_here:
                led.partition((dim, whole), [(dim, c) for c in kids])

    cat, ct = tables.get("by_category"), tables.get("by_call_type")
    roll_up(cat, _one("category"), _one("crime_group"), dims)  # categories to crime groups
    roll_up(cat, _one("category"), _one("demand_type"), dims)  # ... and to demand types
    roll_up(ct, _call_type, _one("category"), dims)  # call types to categories
    roll_up(ct, _call_type, _one("method"), ["calls"])  # ... and to how they were decided
    roll_up(tables.get("by_origin"), _one("origin"), _one("origin_group"), dims)
    co = tables.get("by_category_origin")
    if co is not None and not co.empty:  # the category-by-origin cells, to both
        sub = co[co["origin_group"] != "all"]
        roll_up(sub, _category_origin, _one("category"), dims)
        roll_up(sub, _category_origin, _one("origin_group"), dims)
    cc = tables.get("by_category_channel")
    if cc is not None and not cc.empty:  # the category-by-channel cells, to both
        sub = cc[cc["channel"] != "all"]
        roll_up(sub, _category_channel, _one("category"), dims)
        roll_up(sub, _category_channel, _one("channel"), dims)
    rq = tables.get("by_311_request_type")
    if rq is not None and not rq.empty:  # every 311 request type in scope: to the channel, to its category
        roll_up(rq, _request_type_311, lambda r: cond(channel="311"), dims)
        roll_up(rq, _request_type_311, lambda r: cond(category=r.get("category"), channel="311"), dims)
        for r in rq.to_dict("records"):  # ... and never more than the call type's count over every channel
            for dim in dims:
                led.at_most((dim, _request_type_311(r)), (dim, _call_type(r)))
    oc = tables.get("outcomes")
    if oc is not None and not oc.empty:
        outs = [c for c in oc.columns if c not in ("category", "calls")]
        for r in oc.to_dict("records"):
            led.partition(("calls", cond(category=r["category"])),
                          [("calls", cond(category=r["category"], outcome=o)) for o in outs])
    rt = tables.get("response_times")
    if rt is not None and not rt.empty:  # calls from the public: every origin but officer-initiated
        pub = [("calls", cond(priority=r.get("priority_rank"), public=True)) for r in rt.to_dict("records")]
        og = [("calls", c) for c in parts["origin_group"] if dict(c).get("origin_group") != "officer"]
        led.relate(tuple(pub), tuple(og))
        for r in rt.to_dict("records"):
            led.at_most(("calls", cond(priority=r.get("priority_rank"), public=True)),
                        ("calls", cond(priority=r.get("priority_rank"))))
    for node in list(led.values):  # a count of calls timed never exceeds the count of calls
        dim, c = node
        if dim.startswith("timed:"):
            led.at_most(node, ("calls", c))


# ---------------------------------------------------------------------------- who could respond

_VIEWS = {"low": "conservative", "high": "optimistic"}


def _who_declared() -> Declared:
    """rightresponse.policy.compare_policies: one row per policy, each figure a conservative
    (``_low``) to optimistic (``_high``) range. The misroute rate and the share of changed
    calls give counts back (times the calls moved, times the calls), so those counts are
    protected too."""

    def calls(r):
        return ("calls", cond(policy=r.get("policy"), who="calls"))

    def node(r, what, end):
        return ("calls", cond(policy=r.get("policy"), view=_VIEWS[end], who=what))

    cells = [Cell("calls", "calls", lambda r: calls(r)[1])]
    stats = [Stat("officer_hours", lambda r: [calls(r)])]
    for end in _VIEWS:
        cells.append(Cell(f"calls_moved_{end}", "calls", (lambda r, e=end: node(r, "moved", e)[1])))
        stats += [
            Stat(f"share_calls_moved_{end}", (lambda r, e=end: [node(r, "moved", e), calls(r)])),
            Stat(f"hours_moved_{end}", (lambda r, e=end: [node(r, "moved", e)])),
            Stat(f"share_hours_moved_{end}", (lambda r, e=end: [node(r, "moved", e)])),
            Stat(f"misroute_risk_{end}", (lambda r, e=end: [node(r, "moved", e), node(r, "misrouted", e)])),
            Stat(f"share_calls_changed_{end}", (lambda r, e=end: [calls(r), node(r, "changed", e)])),
        ]

    def implicit(r):
        out = []
        for end in _VIEWS:
            moved, rate = r.get(f"calls_moved_{end}"), r.get(f"misroute_risk_{end}")
            if not _missing(moved) and not _missing(rate):
                out.append((node(r, "misrouted", end), round(float(rate) * float(moved))))
            share, total = r.get(f"share_calls_changed_{end}"), r.get("calls")
            if not _missing(share) and not _missing(total):
                out.append((node(r, "changed", end), round(float(share) * float(total))))
        return out

    return Declared(tuple(cells), tuple(stats), implicit=implicit)


def _who_top_types_declared() -> Declared:
    """compare_policies' ``top_call_types``: per policy the call types (as routed, so the
    initial type where recorded) that move the most calls; calls moved in each view are
    counts, the officer hours rest on the optimistic count. Rank, category and responder are
    labels."""

    def moved(view):
        return lambda r: cond(policy=r.get("policy"), view=view,
                              routed_type=(_plain(r.get("agency")), _plain(r.get("call_type"))))

    return Declared((Cell("calls", "calls", moved("optimistic")), Cell("calls_conservative", "calls", moved("conservative"))),
                    (Stat("hours", lambda r: [("calls", moved("optimistic")(r))]),))


# ---------------------------------------------------------------------------- the decision log

_DISPATCH_DIMS = ("decisions", "overrides", "eligible", "handled")


def _dispatch_declared() -> dict[str, Declared]:
    """The decision-log tables (rightresponse.decisions.summarize_decisions)."""
    def by(attr, col):
        return lambda r: cond(**{attr: r.get(col)})

    rule = lambda r: cond(policy=r.get("policy"), rule=r.get("rule"))  # noqa: E731
    cat, reason, resp = by("category", "category"), by("reason", "override_reason"), by("responder", "responder")
    return {
        "dispatch_by_rule": Declared(
            (Cell("decisions", "decisions", rule), Cell("overrides", "overrides", rule)),
            (Stat("override_rate", lambda r: [("decisions", rule(r)), ("overrides", rule(r))]),)),
        "dispatch_by_category": Declared(
            tuple(Cell(c, c, cat) for c in _DISPATCH_DIMS),
            (Stat("override_rate", lambda r: [("decisions", cat(r)), ("overrides", cat(r))]),
             Stat("alternative_share", lambda r: [("eligible", cat(r)), ("handled", cat(r))]))),
        "dispatch_override_reasons": Declared(
            (Cell("overrides", "overrides", reason),),
            (Stat("share", lambda r: [("overrides", reason(r)), ("overrides", TOTAL)]),)),
        "dispatch_alternative": Declared(
            (Cell("eligible", "eligible", resp), Cell("handled", "handled", resp)),
            (Stat("share", lambda r: [("eligible", resp(r)), ("handled", resp(r))]),)),
        "dispatch_totals": Declared(
            tuple(Cell(c, c, lambda r: TOTAL) for c in _DISPATCH_DIMS),
            (Stat("override_rate", lambda r: [("decisions", TOTAL), ("overrides", TOTAL)]),
             Stat("alternative_share", lambda r: [("eligible", TOTAL), ("handled", TOTAL)]))),
    }


def _dispatch_totals(led: Ledger, tables: dict) -> None:
    """The log's totals: the headline of the section, never hidden as a complement."""
    t = tables.get("dispatch_totals")
    if t is not None and len(t):
        for dim in _DISPATCH_DIMS:
            led.add((dim, TOTAL), t.iloc[0][dim], fixed=True)


def dispatch_relations(led: Ledger, tables: dict) -> None:
    """Each decision-log table adds up to the log's totals."""
    for name, key, dims in (("dispatch_by_rule", lambda r: cond(policy=r.get("policy"), rule=r.get("rule")),
                             ("decisions", "overrides")),
                            ("dispatch_by_category", lambda r: cond(category=r.get("category")), _DISPATCH_DIMS),
                            ("dispatch_override_reasons", lambda r: cond(reason=r.get("override_reason")),
                             ("overrides",)),
                            ("dispatch_alternative", lambda r: cond(responder=r.get("responder")),
                             ("eligible", "handled"))):
        df = tables.get(name)
        if df is None or df.empty:
            continue
        rows = df.to_dict("records")
        for dim in dims:
            led.partition((dim, TOTAL), [(dim, key(r)) for r in rows])
        for r in rows:
            led.at_most(("overrides", key(r)), ("decisions", key(r)))
            led.at_most(("handled", key(r)), ("eligible", key(r)))
    led.at_most(("overrides", TOTAL), ("decisions", TOTAL))
    led.at_most(("handled", TOTAL), ("eligible", TOTAL))


# ---------------------------------------------------------------------------- one publication


@dataclass
class Publication:
    """Everything one assessment publishes, after disclosure control."""

    tables: dict[str, Disclosed]
    min_cell: int
    ledger: Ledger

    def __getitem__(self, name: str) -> Disclosed:
        return self.tables[name]

    def get(self, name: str) -> Disclosed | None:
        return self.tables.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    @property
    def hidden_counts(self) -> int:
        return len(self.ledger.hidden)


def publish_assessment(tables: dict[str, pd.DataFrame], totals: dict, min_cell: int, measure: str,
                       measures, outcomes) -> Publication:
    """The assessment's tables as published (``tables``: exact, as computed).

    The coverage table is published by duration and reason only: split by origin group it
    would be one more way to add up to the origin groups, and the origin-group tables carry
    the calls timed per group already."""
    tables = dict(tables)
    cov = tables.get("coverage")
    if cov is not None and "origin_group" in cov.columns:
        tables["coverage"] = (cov.groupby(["duration", "kind", "reason"], sort=False, as_index=False)["calls"].sum())
    decl = assessment_declarations(measure, measures, outcomes)
    led = assessment_ledger(tables, measure, measures, min_cell, totals)
    _dispatch_totals(led, tables)
    register(led, tables, decl)
    assessment_relations(led, tables, measures)
    dispatch_relations(led, tables)
    led.protect()
    return Publication(publish(tables, led, decl), min_cell, led)


def publish_decisions(tables: dict[str, pd.DataFrame], min_cell: int) -> Publication:
    """The decision-log tables (rightresponse.service.DecisionSummary.tables) as published."""
    decl = _dispatch_declared()
    led = Ledger(min_cell)
    _dispatch_totals(led, tables)
    register(led, tables, decl)
    dispatch_relations(led, tables)
    led.protect()
    return Publication(publish(tables, led, decl), min_cell, led)


# ---------------------------------------------------------------------------- practice answers

_PRACTICE_DIMS = ("answered", "agreed", "unsafe")
_PRACTICE_KEYS = {"practice_totals": (), "practice_by_trainee": ("trainee",),
                  "practice_by_category": ("trainee", "category"), "practice_progress": ("trainee", "block")}


def _practice_declared() -> dict[str, Declared]:
    """The practice-report tables (rightresponse.decisions.practice_summary): answered, agreed and
    unsafe are counts; agreement rests on answered and agreed."""
    out = {}
    for name, keys in _PRACTICE_KEYS.items():
        key = (lambda r, keys=keys: cond(**{k: r.get(k) for k in keys}))
        out[name] = Declared(tuple(Cell(c, c, key) for c in _PRACTICE_DIMS),
                             (Stat("agreement", lambda r, key=key: [("answered", key(r)), ("agreed", key(r))]),))
    return out


def practice_relations(led: Ledger, tables: dict) -> None:
    """Trainees add up to the total; each trainee's categories and blocks add up to the trainee;
    agreed and unsafe never exceed answered."""
    def keyed(name):
        df = tables.get(name)
        keys = _PRACTICE_KEYS[name]
        return [] if df is None or df.empty else [cond(**{k: r.get(k) for k in keys}) for r in df.to_dict("records")]

    trainees = keyed("practice_by_trainee")
    for dim in _PRACTICE_DIMS:
        led.partition((dim, TOTAL), [(dim, c) for c in trainees])
        for part in ("practice_by_category", "practice_progress"):
            by: dict = defaultdict(list)
            for c in keyed(part):
                by[cond(trainee=dict(c)["trainee"])].append((dim, c))
            for t, nodes in by.items():
                led.partition((dim, t), nodes)
    for name in _PRACTICE_KEYS:
        for c in keyed(name) if name != "practice_totals" else [TOTAL]:
            led.at_most(("agreed", c), ("answered", c))
            led.at_most(("unsafe", c), ("answered", c))


def publish_practice(tables: dict[str, pd.DataFrame], min_cell: int) -> Publication:
    """The practice-report tables as published: the report's rules (small counts read
    "<min_cell", complements, the audit), the overall totals never hidden as complements."""
    decl = _practice_declared()
    led = Ledger(min_cell)
    t = tables.get("practice_totals")
    if t is not None and len(t):
        for dim in _PRACTICE_DIMS:
            led.add((dim, TOTAL), t.iloc[0][dim], fixed=True)
    register(led, tables, decl)
    practice_relations(led, tables)
    led.protect()
    return Publication(publish(tables, led, decl), min_cell, led)


# ---------------------------------------------------------------------------- scenarios


def publish_simulation(totals: pd.DataFrame, pools: pd.DataFrame, priorities: pd.DataFrame, police: str | None,
                       pool_counts, total_counts, min_cell: int) -> dict[str, Disclosed]:
    """A simulation's tables (rightresponse.simulate.SimulationResult: ``totals`` metric x
    mean/low/high, ``pools`` pool x metric, ``priorities`` pool x priority x metric) as
    published. In replay mode the calls a team handles are real calls, so a team that gets a
    handful is a small count like any other: hidden with every figure resting on it (its
    waits, response times, utilization, and the hours freed by diverting them), with
    complements so that the other teams' calls and the total do not give it back.

    Values are means over replications (not whole numbers): "small" is 0 < mean < min_cell.
    """
    led = Ledger(min_cell, integral=False)
    tot = {r.metric: float(r.mean) for r in totals.itertuples()}
    pool_ids = list(dict.fromkeys(pools["pool"]))
    pv = {(r.pool, r.metric): float(r.mean) for r in pools.itertuples()}

    def T(k):  # noqa: N802 - a total
        return ("sim", cond(total=k))

    def P(pid, k):  # noqa: N802 - a pool figure
        return ("sim", cond(pool=pid, metric=k))

    for k in total_counts:
        if k in tot:
            led.add(T(k), tot[k], rank=0 if k == "calls" else 1, fixed=k in ("calls", "calls_simulated"))
    for pid in pool_ids:
        for k in pool_counts:
            if (pid, k) in pv:
                led.add(P(pid, k), pv[(pid, k)], rank=3)
        served = sum(pv.get((pid, k), 0.0) for k in ("calls_handled", "follow_ups_handled", "backups_handled"))
        led.add(P(pid, "jobs_served"), served, rank=3)
    diverted = sum(pv.get((pid, "calls_handled"), 0.0) for pid in pool_ids if pid != police)
    led.add(T("calls_diverted"), diverted, rank=1)
    prio_rows = priorities[priorities["metric"] == "calls"]
    for r in prio_rows.itertuples():
        led.add(("sim", cond(pool=r.pool, priority=r.priority)), float(r.mean), rank=3)
    # how the counts add up (means of sums are sums of means)
    led.relate((T("calls"),), (T("calls_simulated"), T("calls_to_unmodelled_responders")))
    led.partition(T("calls_simulated"), [P(pid, "calls_assigned") for pid in pool_ids])
    if tot.get("never_served", 0) == 0:
        led.partition(T("calls_simulated"), [P(pid, "calls_handled") for pid in pool_ids])
    led.partition(T("calls_fell_back"), [P(pid, "calls_fell_back") for pid in pool_ids])
    led.partition(T("backups_requested"), [P(pid, "backups_requested") for pid in pool_ids])
    led.partition(T("calls_diverted"), [P(pid, "calls_handled") for pid in pool_ids if pid != police])
    for pid in pool_ids:
        led.partition(P(pid, "jobs_served"), [P(pid, k) for k in ("calls_handled", "follow_ups_handled",
                                                                   "backups_handled")])
        led.partition(P(pid, "jobs_served"), [("sim", cond(pool=r.pool, priority=r.priority))
                                              for r in prio_rows.itertuples() if r.pool == pid])
    led.protect()
    hid = led.hidden

    def hidden_total(k):
        if k in total_counts:
            return T(k) in hid
        if k in ("officer_hours", "patrol_hours", "officer_hours_freed", "patrol_hours_freed"):
            return T("calls_diverted") in hid  # the time of the diverted calls
        return False

    def hidden_pool(pid, k):
        if k in pool_counts:
            return P(pid, k) in hid
        if k == "share_taken_within_target":
            return P(pid, "calls_assigned") in hid
        if k in ("busy_hours", "officer_hours", "utilization") and pid == police:
            return T("calls_diverted") in hid or P(pid, "jobs_served") in hid
        if k in ("cost", "staffed_unit_hours", "peak_units"):
            return False  # the roster, not the calls
        return P(pid, "jobs_served") in hid

    def frame(df, is_hidden, node):
        cols = [c for c in ("mean", "low", "high") if c in df.columns]
        h = pd.DataFrame(False, index=df.index, columns=df.columns)
        sm = pd.DataFrame(False, index=df.index, columns=df.columns)
        for i, r in enumerate(df.itertuples()):
            if is_hidden(r):
                for c in cols:
                    h.iat[i, df.columns.get_loc(c)] = True
                n = node(r)
                if n is not None and n in led.values and 0 < led.values[n] < min_cell:
                    sm.iat[i, df.columns.get_loc("mean")] = True
        d = df.reset_index(drop=True)
        return Disclosed("", _withheld(d, h.reset_index(drop=True)), h.reset_index(drop=True),
                         sm.reset_index(drop=True), min_cell)

    out = {
        "totals": frame(totals, lambda r: hidden_total(r.metric),
                        lambda r: T(r.metric) if r.metric in total_counts else None),
        "pools": frame(pools, lambda r: hidden_pool(r.pool, r.metric),
                       lambda r: P(r.pool, r.metric) if r.metric in pool_counts else None),
        "priorities": frame(priorities, lambda r: ("sim", cond(pool=r.pool, priority=r.priority)) in hid,
                            lambda r: ("sim", cond(pool=r.pool, priority=r.priority)) if r.metric == "calls" else None),
    }
    for k, d in out.items():
        d.name = k
    return out


# ---------------------------------------------------------------------------- pilot evaluation

_EVAL_DIMS = {"calls": "calls", "calls_timed": "timed:eval", "calls_public": "public:eval", "n_response": "n:response"}
_EVAL_RANK = {"all": 0, "eligible": 1, "comparison": 1, "eligible_treated": 2, "eligible_other": 2}


def _eval_node(dim: str, r: dict, **extra) -> NodeId:
    return (dim, cond(group=r.get("group"), period=r.get("period"), **extra))


def _evaluation_declared(tables: dict) -> dict[str, Declared]:
    """rightresponse.evaluate's tables. ``evaluation_periods``: per group and period the calls,
    calls timed, calls from the public, calls with a response time and the outcome counts,
    with the rates, hours, quantiles and shares resting on them; ``evaluation_weeks``: the
    same per week (calls and calls timed); the difference in differences and the event study
    rest on every full week of the two series they compare (a hidden week withholds them);
    ``evaluation_repeat``: rates resting on calls with an address and repeat calls."""

    def node(dim, **extra):
        return lambda r: _eval_node(dim, r, **extra)[1]

    cells = [Cell(col, dim, node(dim)) for col, dim in _EVAL_DIMS.items()]
    cells += [Cell(o, "calls", node("calls", outcome=o)) for o in OUTCOMES]
    stats = [Stat("calls_per_week", lambda r: [_eval_node("calls", r)]),
             Stat("officer_hours", lambda r: [_eval_node("timed:eval", r)]),
             Stat("officer_hours_per_week", lambda r: [_eval_node("timed:eval", r)]),
             Stat("response_median_minutes", lambda r: [_eval_node("n:response", r)]),
             Stat("response_p90_minutes", lambda r: [_eval_node("n:response", r)])]
    stats += [Stat(f"share_{o}", (lambda r, o=o: [_eval_node("calls", r, outcome=o), _eval_node("calls", r)]))
              for o in OUTCOMES]

    def week(dim):
        return lambda r: _eval_node(dim, r, week=_plain(r.get("week")))[1]

    weeks = tables.get("evaluation_weeks")
    full = [] if weeks is None or weeks.empty else weeks[weeks["full"]].to_dict("records")

    def series_nodes(r) -> list:
        a, b = CONTRASTS[r.get("contrast")]
        dim = "calls" if DID_OUTCOMES.get(r.get("measure")) == "calls" else "timed:eval"
        return [_eval_node(dim, w, week=_plain(w.get("week"))) for w in full if w.get("group") in (a, b)]

    def label(*cols):  # numbers that describe the row (its days, its week), not its calls
        return tuple(Stat(c, lambda r: []) for c in cols)

    did_cols = ("estimate", "low", "high", "se", "pre_difference", "post_difference")
    return {
        "evaluation_periods": Declared(tuple(cells), tuple(stats) + label("days")),
        "evaluation_weeks": Declared((Cell("calls", "calls", week("calls")), Cell("calls_timed", "timed:eval", week("timed:eval"))),
                                     (Stat("officer_hours", lambda r: [_eval_node("timed:eval", r, week=_plain(r.get("week")))]),)
                                     + label("week", "days", "full")),
        "evaluation_did": Declared((), tuple(Stat(c, series_nodes) for c in did_cols)
                                   + label("weeks_before", "weeks_after", "lag")),
        "evaluation_event_study": Declared((), tuple(Stat(c, series_nodes) for c in ("estimate", "low", "high"))
                                           + label("week")),
        "evaluation_repeat": Declared((Cell("calls_located", "located", node("located")),
                                       Cell("repeat_calls", "repeats", node("repeats"))),
                                      (Stat("repeat_rate", lambda r: [_eval_node("located", r), _eval_node("repeats", r)]),)),
        "dispatch_fallbacks": Declared(tuple(Cell(c, "fallback", (lambda r, c=c: cond(kind=c)))
                                             for c in ("recommendation_fell_back", "overridden_unavailable", "fallbacks"))
                                       + (Cell("eligible", "eligible", lambda r: TOTAL),)),
        **_dispatch_declared(),
    }


def _evaluation_relations(led: Ledger, tables: dict) -> None:
    """How the evaluation's counts add up: the two groups to the calls in scope, the treated and
    other areas to the eligible calls, the weeks of a group to its period, and every sub-count
    (timed, from the public, with a response time, by outcome, with an address) below its calls."""

    per = tables.get("evaluation_periods")
    if per is not None and not per.empty:
        groups = set(per["group"])
        for p in set(per["period"]):
            r = {"period": p}
            for dim in list(_EVAL_DIMS.values()) + [f"outcome:{o}" for o in OUTCOMES]:
                kw = {"outcome": dim.split(":")[1]} if dim.startswith("outcome:") else {}
                d = "calls" if kw else dim
                n = lambda g: _eval_node(d, {**r, "group": g}, **kw)  # noqa: E731
                led.partition(n("all"), [n("eligible"), n("comparison")])
                if "eligible_treated" in groups:
                    led.partition(n("eligible"), [n("eligible_treated"), n("eligible_other")])
            for g in groups:
                rg = {"group": g, "period": p}
                calls = _eval_node("calls", rg)
                led.at_most(_eval_node("timed:eval", rg), calls)
                led.at_most(_eval_node("public:eval", rg), calls)
                led.at_most(_eval_node("n:response", rg), _eval_node("public:eval", rg))
                for o in OUTCOMES:
                    led.at_most(_eval_node("calls", rg, outcome=o), calls)
                led.at_most(_eval_node("located", rg), calls)
                led.at_most(_eval_node("repeats", rg), _eval_node("located", rg))
    weeks = tables.get("evaluation_weeks")
    if weeks is not None and not weeks.empty:
        for (g, p), wk in weeks.groupby(["group", "period"]):
            for dim in ("calls", "timed:eval"):
                led.partition(_eval_node(dim, {"group": g, "period": p}),
                              [_eval_node(dim, w, week=_plain(w["week"])) for w in wk.to_dict("records")])
                for w in wk.to_dict("records"):
                    led.at_most(_eval_node("timed:eval", w, week=_plain(w["week"])),
                                _eval_node("calls", w, week=_plain(w["week"])))
        if "eligible_treated" in set(weeks["group"]):  # each week's eligible calls, split by area
            for (p, k), _ in weeks.groupby(["period", "week"]):
                for dim in ("calls", "timed:eval"):
                    n = lambda g: _eval_node(dim, {"group": g, "period": p}, week=_plain(k))  # noqa: E731
                    led.partition(n("eligible"), [n("eligible_treated"), n("eligible_other")])
    rep = tables.get("evaluation_repeat")
    if rep is not None and not rep.empty:
        for p in set(rep["period"]):
            for dim in ("located", "repeats"):
                n = lambda g: _eval_node(dim, {"group": g, "period": p})  # noqa: E731
                led.partition(n("all"), [n("eligible"), n("comparison")])
    fb = tables.get("dispatch_fallbacks")
    if fb is not None and not fb.empty:
        total = ("fallback", cond(kind="fallbacks"))
        led.at_most(total, ("eligible", TOTAL))
        led.at_most(("fallback", cond(kind="recommendation_fell_back")), total)
        led.at_most(("fallback", cond(kind="overridden_unavailable")), total)


def publish_evaluation(tables: dict[str, pd.DataFrame], min_cell: int) -> Publication:
    """A pilot evaluation's tables (rightresponse.evaluate) as published. The repeat-call table
    is published as rates only: its counts are protected in the ledger, then dropped."""
    decl = _evaluation_declared(tables)
    led = Ledger(min_cell)
    _dispatch_totals(led, tables)
    register(led, tables, decl)
    # Ranks: the calls in scope are the headline (never a complement); the weeks are hidden
    # first, then the treated-area split, then the two groups.
    for r in _records_of(tables.get("evaluation_periods")):
        node = _eval_node("calls", r)
        led.rank[node] = _EVAL_RANK.get(r["group"], 2)
        if r["group"] == "all":
            led.fixed.add(node)
    for r in _records_of(tables.get("evaluation_weeks")):
        for dim in ("calls", "timed:eval"):
            led.rank[_eval_node(dim, r, week=_plain(r["week"]))] = 3
    _evaluation_relations(led, tables)
    dispatch_relations(led, tables)
    led.protect()
    out = publish(tables, led, decl)
    rep = out.get("evaluation_repeat")
    if rep is not None:
        keep = [c for c in rep.columns if c not in ("calls_located", "repeat_calls")]
        out["evaluation_repeat"] = Disclosed(rep.name, rep.values[keep], rep.hidden[keep], rep.small[keep], rep.min_cell,
                                             dict(rep.attrs))
    return Publication(out, min_cell, led)


def _records_of(df) -> list[dict]:
    return [] if df is None or df.empty else df.to_dict("records")
