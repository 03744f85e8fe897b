"""rightresponse: who is best equipped to respond to each kind of 911 call?

The Python API mirrors the command line::

    import rightresponse as rr
    summary = rr.ingest(["week35.csv", "week36.csv"], workspace="ws")
    calls = rr.open_dataset("ws")          # an Ibis table on DuckDB
    calls.group_by("origin").agg(n=calls.count()).to_pandas()
"""

__version__ = "0.1.0"

from .ingest.pipeline import IngestError, IngestSummary, ingest  # noqa: E402
from .ingest.workspace import open_dataset  # noqa: E402

__all__ = ["ingest", "open_dataset", "IngestSummary", "IngestError", "__version__"]
