"""What the practice answers in a decision log say, per trainee: the tables of `practice report`.

Only rows marked as practice (``serve --practice``), never dispatch decisions; the dispatch
summary (summary.py) reads the complement. Per trainee: calls answered, agreement with the
policy (the responder the policy sends), unsafe choices, by call category, and over time: per
block of ``block`` answers in the order they were given (answers 1-20, 21-40, ...), so
improvement shows whether a trainee practised in one sitting or over weeks.

    from rightresponse.decisions.practice_summary import summarize_practice
    s = summarize_practice("sqlite:///training.db")
    s.tables()["practice_by_trainee"]            # pandas DataFrames, exact (disclose before publishing)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import select

from .log import DecisionStore, decisions


@dataclass
class PracticeSummary:
    answers: pd.DataFrame = field(repr=False)  # one row per practice answer: trainee, recorded_at, category, agrees, unsafe
    block: int
    policies: list

    @property
    def trainees(self) -> int:
        return int(self.answers["trainee"].nunique())

    def tables(self) -> dict[str, pd.DataFrame]:
        a = self.answers

        def agg(df, keys):
            if df.empty:
                return pd.DataFrame(columns=[*keys, "answered", "agreed", "agreement", "unsafe"])
            g = df.groupby(keys, dropna=False, sort=True).agg(answered=("agrees", "size"), agreed=("agrees", "sum"),
                                                              unsafe=("unsafe", "sum")).reset_index()
            g[["answered", "agreed", "unsafe"]] = g[["answered", "agreed", "unsafe"]].astype("int64")
            g["agreement"] = (g["agreed"] / g["answered"]).astype("float64")
            return g[[*keys, "answered", "agreed", "agreement", "unsafe"]]

        totals = pd.DataFrame([{"answered": len(a), "agreed": int(a["agrees"].sum()), "unsafe": int(a["unsafe"].sum())}],
                              columns=["answered", "agreed", "unsafe"]).astype("int64")
        totals["agreement"] = (totals["agreed"] / totals["answered"]).where(totals["answered"] > 0).astype("float64")
        by_trainee = agg(a, ["trainee"])
        by_category = agg(a, ["trainee", "category"])
        progress = agg(a, ["trainee", "block"])
        if not progress.empty:
            first = (progress["block"] - 1) * self.block + 1
            # The block's nominal range (never the answers in it: the last block's count is a count).
            progress.insert(2, "answers", [f"{f}-{f + self.block - 1}" for f in first])
        else:
            progress.insert(2, "answers", pd.Series(dtype=object))
        return {"practice_totals": totals[["answered", "agreed", "agreement", "unsafe"]], "practice_by_trainee": by_trainee,
                "practice_by_category": by_category, "practice_progress": progress}


def summarize_practice(db, block: int = 20, policy: str | None = None) -> PracticeSummary:
    """The practice answers of a decision log (``db``: URL, SQLite path or DecisionStore)."""
    if block < 1:
        raise ValueError("block: at least 1 answer")
    own = not isinstance(db, DecisionStore)
    store = DecisionStore(db) if own else db
    try:
        d = decisions.c
        if not store.has_column("practice"):
            rows = []
        else:
            q = select(d.call_taker, d.recorded_at, d.id, d.category, d.accepted, d.unsafe, d.policy).where(
                d.practice == True)  # noqa: E712
            if policy:
                q = q.where(d.policy == policy)
            with store.engine.connect() as con:
                rows = con.execute(q).all()
    finally:
        if own:
            store.close()
    a = pd.DataFrame([tuple(r) for r in rows],
                     columns=["trainee", "recorded_at", "id", "category", "agrees", "unsafe", "policy"])
    a["category"] = a["category"].fillna("(none)").astype(object)
    a["agrees"] = a["agrees"].astype(bool)
    a["unsafe"] = a["unsafe"].fillna(False).astype(bool)
    # In the order given (the id breaks ties of one clock tick), numbered per trainee.
    a = a.sort_values(["trainee", "recorded_at", "id"], kind="mergesort", ignore_index=True)
    a["block"] = (a.groupby("trainee").cumcount() // block + 1).astype("int64")
    return PracticeSummary(a[["trainee", "recorded_at", "category", "agrees", "unsafe", "block"]], block,
                           sorted(set(a["policy"])))
