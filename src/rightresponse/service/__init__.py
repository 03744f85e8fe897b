"""The call-taker service: triage over HTTP, a console page, and a decision log.

    from rightresponse.service import serve, create_app, summarize_decisions
    serve("denver-star", host="127.0.0.1", port=8000, db_url="sqlite:///decisions.db")
    app = create_app(policies=["denver-star"], db_url="sqlite:///decisions.db")   # ASGI app
    summarize_decisions("sqlite:///decisions.db").by_rule                       # for reports

Also ``python -m rightresponse.service --policy denver-star``. See docs/console.md.
"""

from __future__ import annotations

__all__ = ["DecisionStore", "DecisionSummary", "ServiceConfig", "create_app", "serve", "summarize_decisions"]


def __getattr__(name):
    # Lazy: `summarize_decisions` (used by reports) must not pull in the web framework.
    if name in ("DecisionSummary", "summarize_decisions"):
        from . import summary

        return getattr(summary, name)
    if name == "DecisionStore":
        from .store import DecisionStore

        return DecisionStore
    if name in ("ServiceConfig", "create_app"):
        from . import app

        return getattr(app, name)
    if name == "serve":
        from .server import serve

        return serve
    raise AttributeError(name)
