"""rightresponse: who is best equipped to respond to each kind of 911 or 311 call?

The Python API mirrors the command line: each command is one of these functions, and each
returns data (docs/library.md has every example, run by the tests)::

    import rightresponse as rr
    summary = rr.ingest(["week35.csv", "week36.csv"], workspace="ws")     # rightresponse ingest
    calls = rr.open_dataset("ws")                  # an Ibis table on DuckDB
    res = rr.assess(workspace="ws", options=rr.AssessOptions(out="report"))   # rightresponse assess
    rec = rr.triage("denver-star", "WELFARE CHECK", flags=["no_weapon"])     # rightresponse triage
    sim = rr.simulate("decc-co-responder-pilot", replications=5)            # rightresponse simulate
    rr.staffing(arrivals_per_hour=4, minutes_per_call=45, target_minutes=10, service_level_target=0.9)
    ev = rr.evaluate("ws", "denver-star", pilot_start="2025-10-12")         # rightresponse evaluate
"""

import sys
import types

__version__ = "0.1.0"

# name -> (module, attribute): each the function its command calls.
_LAZY = {
    "ingest": ("ingest.pipeline", "ingest"), "IngestSummary": ("ingest.pipeline", "IngestSummary"),
    "IngestError": ("ingest.pipeline", "IngestError"), "open_dataset": ("ingest.workspace", "open_dataset"),
    "assess": ("assess", "assess"), "AssessOptions": ("assess", "AssessOptions"),
    "AssessResult": ("assess", "AssessResult"), "AssessError": ("assess", "AssessError"),
    "triage": ("policy.triage", "triage_args"), "load_policy": ("policy.definition", "load_policy"),
    "simulate": ("simulate.run", "simulate"), "staffing": ("simulate.erlang", "staffing"),
    "evaluate": ("evaluate", "evaluate"), "RightResponseError": ("errors", "RightResponseError"),
}
__all__ = [*_LAZY, "__version__"]


class _Package(types.ModuleType):
    """The package, with ``ingest()`` and friends imported on first use (as PEP 562 allows): the
    command line starts without loading DuckDB, NumPy and Arrow, so ``--help`` is quick and a
    Ctrl-C just after start is handled by the command rather than lost in an import."""

    def __getattr__(self, name: str):
        if name in _LAZY:
            import importlib

            module, attr = _LAZY[name]
            value = getattr(importlib.import_module(f".{module}", __name__), attr)
            super().__setattr__(name, value)
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value) -> None:
        # Importing a submodule (rightresponse.ingest, .assess, .evaluate) sets this attribute
        # to it; rr.ingest, rr.assess and rr.evaluate stay the functions.
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
