"""DuckDB and Spark give the same tables from the same Parquet workspace.

Every workload table (and the analyst-only repeat locations) is computed through the same
code path (rightresponse.workload.compute on an Ibis table) on both engines, for the
bundled real sample (DECC) and a synthetic New Orleans export with injected dirt, and
compared cell by cell: counts and labels exactly, floats to 1e-12 relative (sums of officer
time are integer milliseconds, so they are exact on both). The assessment's --json output
must be identical, through the library and through the CLI.

Spark runs in local mode (needs pyspark and Java 17); without pyspark these tests skip (and fail in CI, where it is installed).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import skip_or_fail

import rightresponse as rr
from rightresponse import backends
from rightresponse import workload as wl
from rightresponse.assess import AssessError, assess
from rightresponse.synthetic_cad import Dirt, generate
from rightresponse.taxonomy import categorize

SYNTH_CALLS = 20_000


@pytest.fixture(scope="module")
def spark():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        skip_or_fail("pyspark is not installed (pip install -e '.[spark]')")
    return backends.spark_session("local[2]")


@pytest.fixture(scope="module")
def synth_ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    res = generate(SYNTH_CALLS, root / "nola.csv", seed=7,
                   dirt=Dirt(duplicate_rate=2e-3, cleared_before_arrival_rate=1e-3, over_24h_rate=1e-3))
    rr.ingest([str(res.path)], workspace=root / "ws")
    return root / "ws"


def _tables(root, con, model_path):
    calls = backends.open_table(root, "calls", con)
    sens = backends.open_table(root, "sensitive", con)
    res = wl.compute(calls, sensitive=sens, categorize=lambda t: categorize(t, model_path=model_path))
    return res


def _same(name: str, a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns), name
    assert len(a) == len(b), name
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=True,
                                  check_exact=False, rtol=1e-12, atol=0, obj=name)


def _parity(root, spark, tmp_path):
    model = tmp_path / "classifier.pkl"  # trained once, then the same classifier on both engines
    duck = backends.connect("duckdb")
    d = _tables(root, duck, model)
    s = _tables(root, backends.connect("spark", session=spark), model)
    assert set(d.tables) == set(s.tables) and len(d.tables) >= 17
    for name in d.tables:
        _same(name, d.tables[name], s.tables[name])
    assert set(d.analyst) == set(s.analyst) == {"repeat_locations"}
    _same("repeat_locations", d.analyst["repeat_locations"], s.analyst["repeat_locations"])
    assert d.notes == s.notes
    duck.disconnect()
    return d


@pytest.mark.spark
def test_real_sample_tables_identical_on_duckdb_and_spark(decc_ws, spark, tmp_path):
    d = _parity(decc_ws, spark, tmp_path)
    # Known answer: the police calls in scope are the police rows of the workspace.
    police = int(d["scope"].set_index("service").at["police", "calls"])
    assert int(d["by_category"]["calls"].sum()) == police == 14570


@pytest.mark.spark
def test_synthetic_tables_identical_on_duckdb_and_spark(synth_ws, spark, tmp_path):
    d = _parity(synth_ws, spark, tmp_path)
    assert int(d["scope"]["calls"].sum()) == SYNTH_CALLS
    # the injected dirt shows up in the coverage on both engines (compared above)
    issues = ";".join(d["time_issues"]["time_issue"])
    assert "over_24h" in issues and "cleared_before_arrival" in issues


@pytest.mark.spark
def test_assess_json_identical_on_both_engines(decc_ws, spark):
    d = assess(workspace=decc_ws, write=False)
    s = assess(workspace=decc_ws, write=False, engine="spark", spark=spark)
    assert json.dumps(d.to_json_dict(), sort_keys=True) == json.dumps(s.to_json_dict(), sort_keys=True)
    assert d.to_json_dict()["calls"] == 14570
    for name in ("by_category", "by_call_type", "response_times", "coverage", "quarantine", "who_could_respond"):
        _same(name, d[name], s[name])


def _cli_json(ws, out, *extra) -> dict:
    proc = subprocess.run([sys.executable, "-m", "rightresponse.cli", "assess", "--workspace", str(ws), "--out",
                           str(out), "--min-cell", "0", "--json", *extra], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    d = json.loads(proc.stdout.strip().splitlines()[-1])
    d["report"] = d["report"] and d["report"].replace(str(out), "OUT")
    d["files"] = [f.replace(str(out), "OUT") for f in d["files"]]
    return d


@pytest.mark.spark
def test_cli_engine_flag_same_json(decc_ws, spark, tmp_path):
    duck = _cli_json(decc_ws, tmp_path / "duck")  # the default engine
    spk = _cli_json(decc_ws, tmp_path / "spark", "--engine", "spark")
    assert json.dumps(duck, sort_keys=True) == json.dumps(spk, sort_keys=True)
    assert duck["calls"] == 14570 and duck["report"] == "OUT/report.html"
    assert (tmp_path / "spark" / "report.html").is_file()


@pytest.mark.slow
def test_unknown_engine_is_a_clear_error(decc_ws):
    with pytest.raises(AssessError, match="unknown engine 'presto'; choose one of: duckdb, spark"):
        assess(workspace=decc_ws, write=False, engine="presto")
    proc = subprocess.run([sys.executable, "-m", "rightresponse.cli", "assess", "--workspace", str(decc_ws),
                           "--engine", "presto"], capture_output=True, text=True)
    assert proc.returncode == 2 and "'presto' is not one of 'duckdb', 'spark'" in proc.stderr
