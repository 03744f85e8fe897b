"""The call-taker service: triage over HTTP, a console page, practice mode; it records each
decision in the decision log (``rightresponse.decisions``).

    from rightresponse.service import serve, create_app
    serve("denver-star", host="127.0.0.1", port=8000, db_url="sqlite:///decisions.db")
    app = create_app(policies=["denver-star"], db_url="sqlite:///decisions.db")   # ASGI app

Also ``python -m rightresponse.service --policy denver-star``. See docs/console.md.
"""

from __future__ import annotations

__all__ = ["ServiceConfig", "create_app", "serve"]


def __getattr__(name):
    # Lazy: importing the package must not pull in the web framework.
    if name in ("ServiceConfig", "create_app"):
        from . import app

        return getattr(app, name)
    if name == "serve":
        from .server import serve

        return serve
    raise AttributeError(name)
