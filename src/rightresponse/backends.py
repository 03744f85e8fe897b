"""Which engine runs the analysis: DuckDB (default, one machine) or Spark (a cluster, or
Spark local for tests).

The workload measures and the classification join are Ibis expressions, so the engine is
only a connection plus a way to open the workspace's Parquet datasets on it; everything
after that is the same code path. Spark is optional (``pip install pyspark``); it is
imported only when asked for.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path

from .errors import RightResponseError

ENGINES = ("duckdb", "spark")
DEFAULT_ENGINE = "duckdb"
# Where Spark runs when no session exists: RIGHTRESPONSE_SPARK_MASTER (e.g. "yarn",
# "spark://host:7077"), or a Spark Connect URL ("sc://host:15002"); else local on every core.
SPARK_MASTER_ENV = "RIGHTRESPONSE_SPARK_MASTER"


class EngineError(RightResponseError, ValueError):
    """The engine cannot be used as asked (unknown name, Spark not installed, no Java)."""


def spark_session(master: str | None = None, config: dict | None = None):
    """A Spark session for ``master``, else the active one, else a new one.

    With no ``master``, a session that already exists (spark-submit, Databricks, a notebook)
    is used as it is; otherwise $RIGHTRESPONSE_SPARK_MASTER, else ``local[*]``, decides:
    ``sc://...`` connects to Spark Connect; anything else is a classic master URL. A local
    session binds to loopback, has no web UI and few shuffle partitions (the tables are
    small after the first aggregation; Spark's default of 200 is mostly overhead here).
    ``config``: more Spark settings for a new session (e.g. ``{"spark.driver.memory": "8g"}``).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("the Spark engine needs PySpark: pip install 'pyspark>=3.5' (and Java 17)") from None
    if master is None:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        master = os.environ.get(SPARK_MASTER_ENV) or "local[*]"
    if master.startswith("sc://"):
        return SparkSession.builder.remote(master).getOrCreate()
    b = SparkSession.builder.master(master).appName("rightresponse")
    if master.startswith("local"):
        b = (b.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
             .config("spark.sql.shuffle.partitions", "8"))
    for k, v in (config or {}).items():
        b = b.config(k, v)
    try:
        s = b.getOrCreate()
    except Exception as exc:  # typically no Java on PATH / JAVA_HOME
        raise EngineError(f"cannot start Spark ({type(exc).__name__}: {exc}); Spark needs Java 17") from None
    s.sparkContext.setLogLevel("ERROR")
    return s


def connect(engine: str = DEFAULT_ENGINE, session=None, memory_limit: str | None = None):
    """An Ibis connection on ``engine`` ("duckdb" or "spark"; ``session``: a SparkSession to use).

    ``memory_limit`` (DuckDB only, e.g. "2GB"): DuckDB's own default is 80% of the machine's
    memory; a bound makes large aggregations spill to a temporary directory instead, for a
    machine shared with other work. Spark's memory is set when its session starts.
    """
    import ibis

    if engine == "duckdb":
        con = ibis.duckdb.connect()
        con.raw_sql("SET enable_progress_bar = false")  # our own progress goes to stderr
        if memory_limit is not None:
            try:
                con.raw_sql("SET memory_limit = '{}'".format(str(memory_limit).replace("'", "''")))
            except Exception as exc:  # duckdb's parser error, e.g. "2 gigs"
                con.disconnect()
                raise EngineError(f"bad memory limit {memory_limit!r}: {exc}") from None
        return con
    if engine == "spark":
        if memory_limit is not None:
            raise EngineError("memory_limit is for DuckDB; Spark's memory is set when its session starts "
                              "(e.g. spark.driver.memory)")
        # PySpark warns on every toPandas under pandas 3; the results are checked by the parity tests.
        warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
        return ibis.pyspark.connect(session or spark_session())
    raise EngineError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")


def open_table(root, table: str, con):
    """A workspace dataset (calls, sensitive, units, quarantine) as an Ibis table on ``con``:
    the files the workspace's manifest lists (committed), never whatever is in the folder.

    DuckDB goes through the workspace's own reader; Spark reads the listed files with the
    dataset's folder as base path, which gives the hive partitions (agency=/year=), and
    merges the files' schemas by name.
    """
    from .ingest.workspace import TABLES, Workspace, open_dataset, with_defaults

    if con.name == "duckdb":
        return open_dataset(root, table, con=con)
    ws = Workspace(Path(root).resolve())
    if table not in TABLES:
        raise ValueError(f"table must be one of {', '.join(TABLES)}, not {table!r}")
    files = ws.files(table)
    if not files:
        raise FileNotFoundError(f"{ws.dir(table)}: no {table} data")
    # Ibis's read_parquet takes one path; the session reads a list (ibis keeps it as _session).
    df = (con._session.read.option("basePath", str(ws.dir(table))).option("mergeSchema", "true")
          .parquet(*files))
    name = f"rr_{table}_{uuid.uuid4().hex[:8]}"
    df.createOrReplaceTempView(name)
    return with_defaults(con.table(name)) if table == "calls" else con.table(name)


def release(con) -> None:
    """Close a connection made by :func:`connect`. A Spark session is left running: it may be
    the caller's, and starting one costs seconds."""
    if con.name == "duckdb":
        con.disconnect()
