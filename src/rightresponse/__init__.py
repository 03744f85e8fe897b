"""rightresponse: who is best equipped to respond to each kind of 911 call?

The Python API mirrors the command line::

    import rightresponse as rr
    summary = rr.ingest(["week35.csv", "week36.csv"], workspace="ws")
    calls = rr.open_dataset("ws")          # an Ibis table on DuckDB
    calls.group_by("origin").agg(n=calls.count()).to_pandas()
"""

import sys
import types

__version__ = "0.1.0"

__all__ = ["ingest", "open_dataset", "IngestSummary", "IngestError", "__version__"]

_LAZY = {"ingest": "ingest.pipeline", "IngestSummary": "ingest.pipeline", "IngestError": "ingest.pipeline",
         "open_dataset": "ingest.workspace"}


class _Package(types.ModuleType):
    """The package, with ``ingest()`` and friends imported on first use (as PEP 562 allows): the
    command line starts without loading DuckDB, NumPy and Arrow, so ``--help`` is quick and a
    Ctrl-C just after start is handled by the command rather than lost in an import."""

    def __getattr__(self, name: str):
        if name in _LAZY:
            import importlib

            value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
            super().__setattr__(name, value)
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value) -> None:
        # Importing the subpackage rightresponse.ingest sets this attribute to it; rr.ingest
        # stays the function, as it was when this file imported it eagerly.
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
