"""engine.connect's DuckDB memory bound (assess(memory_limit=...)), and which Spark session is used."""

from __future__ import annotations

import duckdb
import pytest
from conftest import skip_or_fail

from rightresponse import backends
from rightresponse.assess import AssessError, assess



def test_connect_sets_duckdb_memory_limit():
    con = backends.connect("duckdb", memory_limit="300MB")
    assert con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0] == "286.1 MiB"
    backends.release(con)
    with pytest.raises(backends.EngineError, match="bad memory limit '2 gigs'"):
        backends.connect("duckdb", memory_limit="2 gigs")
    with pytest.raises(backends.EngineError, match="bad memory limit"):
        backends.connect("duckdb", memory_limit="1GB'; SET threads = 1; --")


@pytest.mark.slow
def test_assess_runs_under_the_bound_and_fails_below_it(small_ws):
    free = assess(workspace=small_ws, policies=(), write=False).to_json_dict()
    bounded = assess(workspace=small_ws, policies=(), write=False, memory_limit="1GB").to_json_dict()
    assert bounded == free
    assert free["calls"] > 0
    # The bound reaches the analysis's own connection: far too little memory is an error, not ignored.
    with pytest.raises(duckdb.OutOfMemoryException):
        assess(workspace=small_ws, policies=(), write=False, memory_limit="1MB")


def test_memory_limit_is_for_duckdb_only(small_ws):
    with pytest.raises(AssessError, match="memory_limit is for DuckDB"):
        assess(workspace=small_ws, policies=(), write=False, engine="spark", memory_limit="1GB")
    with pytest.raises(AssessError, match="bad memory limit '2 gigs'"):
        assess(workspace=small_ws, policies=(), write=False, memory_limit="2 gigs")


@pytest.mark.spark
def test_active_spark_session_is_used_before_the_env(monkeypatch):
    """spark-submit, notebooks, Databricks: the session already running wins over the env."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        skip_or_fail("pyspark is not installed (pip install -e '.[spark]')")
    s = backends.spark_session("local[2]")
    # before: the env won, and a Connect URL beside a running session was an error
    monkeypatch.setenv(backends.SPARK_MASTER_ENV, "sc://127.0.0.1:1")
    assert backends.spark_session() is s
