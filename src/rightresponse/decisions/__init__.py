"""The decision log: every triage recommendation and what the call-taker did, and what it says.

One package opens, writes, migrates and summarises the log (SQLite or PostgreSQL, through
SQLAlchemy); the service writes to it, and assess, evaluate and the practice report read it
through these functions, so "a dispatch decision, not a trainee's practice answer" is
written once (``dispatch_summary.dispatch_only``).

    from rightresponse.decisions import summarize_decisions
    s = summarize_decisions("sqlite:///decisions.db")
    s.by_rule, s.by_category, s.alternative        # pandas DataFrames

``log``: the store (``DecisionStore``), its table, URL handling and migrations;
``dispatch_summary``: overrides, the alternative team's share, a pilot's fallbacks;
``practice_summary``: per trainee, for ``rightresponse practice report``.
"""

from __future__ import annotations

__all__ = ["DecisionStore", "DecisionSummary", "StoreError", "open_existing_log", "summarize_decisions",
           "summarize_practice"]


def __getattr__(name):
    # Lazy: `import rightresponse.decisions` must not pull in SQLAlchemy until a log is used.
    if name in ("DecisionStore", "StoreError", "open_existing_log"):
        from . import log

        return getattr(log, name)
    if name in ("DecisionSummary", "summarize_decisions"):
        from . import dispatch_summary

        return getattr(dispatch_summary, name)
    if name == "summarize_practice":
        from . import practice_summary

        return practice_summary.summarize_practice
    raise AttributeError(name)
