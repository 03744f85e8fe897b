"""Workload measures on the real New Orleans sample, recomputed independently with pandas
from the raw CSV (wall clock -> instants with zoneinfo), plus the parts no real export
exercises (unit-weighted time, outliers) on hand-built calls with known answers."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import ibis
import pandas as pd
import pytest

import rightresponse as rr
from rightresponse import measures
from rightresponse import workload as wl

from conftest import CFS, need
from conftest import nola_instant as _instant, nola_local as _local

NOLA = CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv"


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The raw export as an analyst would load it, with the adapter's documented rules."""
    with open(need(NOLA), newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        if r["DispositionText"].strip().upper().startswith("TEST"):
            continue  # test incidents are excluded by the adapter
        loc = {k: _local(r[c]) for k, c in (("received", "TimeCreate"), ("dispatched", "TimeDispatch"),
                                             ("arrived", "TimeArrive"), ("cleared", "TimeClosed"))}
        inst = {k: _instant(v) for k, v in loc.items()}
        r_, d, a, c = inst["received"], inst["dispatched"], inst["arrived"], inst["cleared"]
        issue = bool((d and d < r_) or (a and d and a < d) or (c and a and c < a)
                     or (c and (c < r_ or (d and c < d))) or (c and c - r_ > timedelta(hours=24)))
        out.append({
            "self": r["SelfInitiated"].strip(), "priority": r["Priority"].strip(), "local": loc["received"],
            "issue": issue, **inst, "location": r["BLOCK_ADDRESS"].strip(),
        })
    return pd.DataFrame(out)


@pytest.fixture(scope="module")
def nola(tmp_path_factory):
    ws = tmp_path_factory.mktemp("nola") / "ws"
    rr.ingest([need(NOLA)], workspace=ws)
    con = ibis.duckdb.connect()
    calls = rr.open_dataset(ws, con=con)
    return ws, calls, rr.open_dataset(ws, "sensitive", con=con)


@pytest.fixture(scope="module")
def tables(nola):
    _, calls, sensitive = nola
    return wl.compute(calls, sensitive=sensitive)


@pytest.mark.slow
def test_officer_initiated_share_matches_selfinitiated(raw, tables):
    expected = (raw["self"] == "Y").sum() / len(raw)
    og = tables["by_origin_group"].set_index("origin_group")
    assert og["calls"].sum() == len(raw) == 3213
    assert og.at["officer", "calls"] / og["calls"].sum() == pytest.approx(expected, rel=1e-12)
    assert og.at["officer", "share_calls"] == pytest.approx(expected, rel=1e-12)


def test_hour_of_week_uses_local_wall_clock(raw, tables):
    exp = raw.groupby([raw["local"].map(lambda d: d.weekday()), raw["local"].map(lambda d: d.hour)]).size()
    got = tables["hour_of_week"].set_index(["dow", "hour"])["calls"]
    assert {k: int(v) for k, v in got.items()} == {k: int(v) for k, v in exp.items()}


def test_deployed_and_on_scene_hours_match_pandas(raw, tables):
    for name, a, b in (("deployed", "dispatched", "cleared"), ("on_scene", "arrived", "cleared")):
        ok = raw[a].notna() & raw[b].notna() & ~raw["issue"]
        dur = (raw.loc[ok, b] - raw.loc[ok, a]).dt.total_seconds()
        dur = dur[(dur >= 0) & (dur <= 24 * 3600)]
        cov = wl.coverage_summary(tables["coverage"], name)
        assert cov["calls_measured"] == len(dur), name
        assert cov["calls_in_scope"] == len(raw)
        assert tables["by_category"][f"hours_{name}"].sum() == pytest.approx(dur.sum() / 3600, rel=1e-12), name
    # the exclusion reasons add up and name the first reason that applies
    cov = wl.coverage_summary(tables["coverage"], "deployed")
    assert cov["excluded_by_reason"]["missing_dispatched"] == int(raw["dispatched"].isna().sum())


def test_response_times_by_priority_match_pandas(raw, tables):
    # Adapter: NOPD level 3 (highest) -> rank 1 ... level 0 -> rank 4.
    pub = raw[raw["self"] != "Y"].assign(rank=lambda d: 4 - d["priority"].str[0].astype(int))
    ok = pub["arrived"].notna() & ~pub["issue"]
    mins = ((pub.loc[ok, "arrived"] - pub.loc[ok, "received"]).dt.total_seconds() / 60).rename("m")
    exp = pd.concat([pub.loc[ok, "rank"], mins], axis=1).groupby("rank")["m"]
    rt = tables["response_times"]
    rt = rt[rt["priority"] != "all"].set_index("priority_rank")
    for rank, grp in exp:
        assert rt.at[rank, "n_to_arrival"] == len(grp)
        assert rt.at[rank, "median_to_arrival"] == pytest.approx(grp.quantile(0.5), rel=1e-9)
        assert rt.at[rank, "p90_to_arrival"] == pytest.approx(grp.quantile(0.9), rel=1e-9)
    assert dict(rt["calls"]) == {k: int(v) for k, v in pub.groupby("rank").size().items()}


def test_outliers_are_counted_and_excluded(raw, nola):
    _, calls, _ = nola
    t = wl.compute(calls, max_hours=1)
    ok = raw["dispatched"].notna() & raw["cleared"].notna() & ~raw["issue"]
    dur = (raw.loc[ok, "cleared"] - raw.loc[ok, "dispatched"]).dt.total_seconds()
    cov = wl.coverage_summary(t["coverage"], "deployed")
    assert cov["excluded_by_reason"]["outlier"] == int((dur > 3600).sum()) > 0
    assert t["by_category"]["hours_deployed"].sum() == pytest.approx(dur[dur <= 3600].sum() / 3600, rel=1e-12)
    assert measures.reason_text("outlier", 1) == "outlier: longer than 1 h"


def test_repeat_locations_are_analyst_only_and_exact(raw, tables, nola):
    rl = tables.analyst["repeat_locations"]
    exp = raw[raw["location"] != ""].groupby("location").size().reset_index(name="n")
    exp = exp.sort_values(["n", "location"], ascending=[False, True]).head(10)
    assert list(rl["location"].head(10)) == list(exp["location"])
    assert list(rl["calls"].head(10)) == list(exp["n"])
    for name, df in tables.tables.items():
        assert "location" not in df.columns, name
    # the shortcut taken when every call is in scope ranks exactly as the full join does
    _, calls, sensitive = nola
    t = wl.prepare(calls)
    pd.testing.assert_frame_equal(wl._repeat_locations(t, sensitive, "deployed", 20, all_in_scope=True),
                                  wl._repeat_locations(t, sensitive, "deployed", 20, all_in_scope=False))


def test_categories_and_rollups_are_taken_from_the_categorized_table(nola):
    _, calls, _ = nola
    tagged = calls.mutate(
        category=ibis.ifelse(calls.call_type.contains("ACCIDENT"), "Accidents/Traffic Safety", "Other (Not Crime)"),
        crime_group=ibis.literal("non-criminal"),
        demand_type=ibis.ifelse(calls.call_type.contains("ACCIDENT"), "traffic", "unclassified"),
        category_confidence=ibis.literal(0.5), method=ibis.literal("rule"),
    )
    t = wl.compute(tagged)
    cat = t["by_category"].set_index("category")
    n_acc = calls.filter(calls.call_type.contains("ACCIDENT")).count().to_pandas()
    assert cat.at["Accidents/Traffic Safety", "calls"] == n_acc
    assert t["by_demand_type"].set_index("demand_type").at["traffic", "calls"] == n_acc
    assert set(t["by_call_type"]["confidence"]) == {0.5}


def _hand_built():
    base = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
    m = timedelta(minutes=1)
    rows = [
        # call, units, dispatched+, arrived+, cleared+, origin, issue
        ("a", 2, 1, 5, 35, "911", None),           # deployed 34 min, 2 units -> 68 unit-min
        ("b", 1, 2, 4, 62, "officer_initiated", None),  # 60 min
        ("c", None, 1, 3, 20, "911", None),        # no unit count: excluded from unit-weighted only
        ("d", 3, 1, None, 31, "alarm", None),       # no arrival: on-scene excluded
        ("e", 1, 1, 2, 3, "911", "arrived_before_dispatched"),  # flagged: excluded everywhere
    ]
    recs = []
    for cid, units, d, a, c, origin, issue in rows:
        recs.append({
            "agency": "x", "call_id": cid, "service": "police", "received": base, "dispatched": base + d * m,
            "arrived": base + a * m if a is not None else None, "cleared": base + c * m,
            "received_local": base.replace(tzinfo=None), "call_type": "T", "priority_raw": "1", "priority_rank": 1,
            "origin": origin, "outcome": "report", "units_assigned": units, "district": None, "beat": None,
            "time_issue": issue,
        })
    df = pd.DataFrame(recs)
    df["units_assigned"] = df["units_assigned"].astype("Int32")
    df["priority_rank"] = df["priority_rank"].astype("Int16")
    df[["district", "beat", "time_issue"]] = df[["district", "beat", "time_issue"]].astype("string")
    for c in ("received", "dispatched", "arrived", "cleared"):
        df[c] = pd.to_datetime(df[c], utc=True)
    return ibis.memtable(df)


def test_unit_weighted_time_multiplies_by_units():
    t = wl.compute(_hand_built(), measure="unit_weighted")
    cat = t["by_category"].iloc[0]
    assert cat["hours_unit_weighted"] * 60 == pytest.approx(34 * 2 + 60 * 1 + 30 * 3)
    assert cat["hours_deployed"] * 60 == pytest.approx(34 + 60 + 19 + 30)
    assert cat["hours_on_scene"] * 60 == pytest.approx(30 + 58 + 17)
    assert cat["hours"] == cat["hours_unit_weighted"]
    cov = wl.coverage_summary(t["coverage"], "unit_weighted")
    assert cov == {"calls_in_scope": 5, "calls_measured": 3, "calls_excluded": 2,
                   "excluded_by_reason": {"missing_units": 1, "time_issue:arrived_before_dispatched": 1}}
    og = t["by_origin_group"].set_index("origin_group")
    assert og.at["resident", "calls"] == 4 and og.at["officer", "calls"] == 1


def test_unit_weighted_without_units_is_refused(nola):
    _, calls, _ = nola
    with pytest.raises(wl.WorkloadError, match="needs the number of units"):
        wl.compute(calls, measure="unit_weighted")
    with pytest.raises(wl.WorkloadError, match="unknown time measure"):
        wl.compute(calls, measure="wall_clock")


def test_lorenz_and_gini():
    lz = wl.lorenz([1, 1, 1, 1])
    assert lz["gini"].iloc[0] == pytest.approx(0.0)
    assert list(lz["share_time"]) == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    lz = wl.lorenz([0, 0, 0, 10])
    assert lz["gini"].iloc[0] == pytest.approx(0.75)


def test_expressions_compile_for_other_backends(nola):
    """Written once in Ibis: the same expressions compile to Spark SQL and PostgreSQL."""
    from ibis.config import Config

    _, calls, _ = nola
    ex = wl.expressions(wl.prepare(calls, portable=True))
    for name, expr in ex.items():
        sql = ibis.to_sql(expr, dialect="postgres")
        assert "SELECT" in sql and "EPOCH(" not in sql.upper(), name
    if getattr(ibis.options, "pyspark", None) is None:  # options register only when pyspark is installed
        class _PySparkOptions(Config):
            treat_nan_as_null: bool = False

        ibis.options.pyspark = _PySparkOptions()
    for name, expr in ex.items():
        sql = ibis.to_sql(expr, dialect="pyspark")
        assert "DATEDIFF(MILLISECOND" in sql, name  # durations, portably
        assert "EPOCH(" not in sql and "LIST_EXTRACT" not in sql, name


def test_duckdb_fast_durations_equal_the_portable_ones(nola):
    """On DuckDB durations are epoch differences (fast); elsewhere millisecond differences."""
    _, calls, _ = nola
    cols = [f"sec_{k}" for k in (*measures.MEASURES, *measures.INTERVALS)] + [f"excl_{k}" for k in (*measures.MEASURES, *measures.INTERVALS)]
    fast = wl.prepare(calls, portable=False).select("call_id", *cols).order_by("call_id").to_pandas()
    slow = wl.prepare(calls, portable=True).select("call_id", *cols).order_by("call_id").to_pandas()
    assert "EPOCH_US(" in ibis.to_sql(wl.prepare(calls).select("sec_deployed")).upper()
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-12)
