"""The worked example: the co-responder pilot on the bundled DECC sample, with real figures.

Counts are cross-checked by DuckDB SQL straight on the workspace's Parquet files and on the
policy's own routing table, not by the simulation's code.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from rightresponse.policy import apply_policy, prepare_history
from rightresponse.simulate import compare_scenarios, load_scenario, simulate

from conftest import raw_duckdb

REPS = 4


@pytest.fixture(scope="module")
def ws(decc_ws):
    return decc_ws


@pytest.fixture(scope="module")
def pilot(ws):
    return simulate("decc-co-responder-pilot", replications=REPS, workspace=ws)


@pytest.fixture(scope="module")
def baseline(ws):
    return simulate("decc-status-quo", replications=REPS, workspace=ws)


def _sql(ws, where: str):
    return raw_duckdb(f"SELECT count(*), sum(CASE WHEN {where} THEN 1 ELSE 0 END) FROM read_parquet('{ws}/calls/**/*.parquet', "
                      "hive_partitioning = true) WHERE (service = 'police' OR service IS NULL) "
                      "AND origin IS DISTINCT FROM 'officer_initiated'")[0]


@pytest.mark.slow
def test_every_police_call_from_the_public_is_simulated(ws, pilot, baseline):
    n, usable = _sql(ws, "time_issue IS NULL AND dispatched IS NOT NULL AND cleared IS NOT NULL")
    n_all = raw_duckdb(f"SELECT count(*) FROM read_parquet('{ws}/calls/**/*.parquet', hive_partitioning = true) "
                       "WHERE service = 'police'")[0][0]
    assert (n, usable, n_all) == (12_076, 11_889, 14_570)
    for res in (pilot, baseline):
        assert res.total("calls")[0] == res.total("calls_simulated")[0] == n
        assert res.coverage["calls_with_usable_times"] == usable
        assert res.coverage["officer_initiated_left_out"] == n_all - n
        assert res.weeks == pytest.approx(14.0, abs=0.05)  # 2025-08-24 .. 2025-11-29


@pytest.mark.slow
def test_status_quo_patrol_takes_every_call_with_the_historical_times(ws, baseline):
    rows = baseline.per_replication
    assert (rows.calls_simulated == 12_076).all()
    for pid_metric in ("calls_handled", "calls_assigned"):
        assert baseline.pool("police", pid_metric)[0] == 12_076
    # All the unit time is the calls' own (dispatched -> cleared) plus borrowed times for the unusable ones.
    usable_h = raw_duckdb(
        f"SELECT sum(epoch(cleared) - epoch(dispatched)) / 3600, min(epoch(cleared) - epoch(dispatched)) / 3600, "
        f"max(epoch(cleared) - epoch(dispatched)) / 3600 FROM read_parquet('{ws}/calls/**/*.parquet', hive_partitioning = true) "
        "WHERE service = 'police' AND origin IS DISTINCT FROM 'officer_initiated' AND time_issue IS NULL "
        "AND dispatched IS NOT NULL AND cleared IS NOT NULL")[0]
    borrowed = 12_076 - 11_889
    for r in rows.itertuples():
        assert r.patrol_hours == pytest.approx(r.status_quo_patrol_hours, rel=1e-9)  # nothing moved
        extra = r.status_quo_patrol_hours - usable_h[0]
        assert borrowed * usable_h[1] <= extra <= borrowed * usable_h[2]
        assert r.officer_hours_freed == pytest.approx(0, abs=1e-6)
    assert baseline.total("cost_of_new_pools")[0] == 0


@pytest.mark.slow
def test_pilot_routing_matches_the_policy(ws, pilot):
    routed = apply_policy("co-responder-pilot", prepare_history(ws)).to_pandas()
    routed = routed[routed.origin != "officer_initiated"]
    to_team = int((routed.responder_optimistic == "co_responder").sum())
    dv_follow = int((routed.co_responder_optimistic == "community_responder").sum())
    assert (to_team, dv_follow) == (349, 360)
    rows = pilot.per_replication
    assert pilot.pool("co_responder", "calls_assigned")[0] == to_team
    assert pilot.pool("police", "calls_assigned")[0] == 12_076 - to_team
    assert pilot.pool("advocates", "follow_ups_handled")[0] == dv_follow
    # Conservation in each replication: every call the team could not take went to patrol.
    stats = pilot.pools.pivot(index="pool", columns="metric", values="mean")
    assert stats.loc["co_responder", "calls_handled"] + stats.loc["co_responder", "calls_fell_back"] == to_team
    assert stats.loc["police", "calls_handled"] == 12_076 - to_team + stats.loc["co_responder", "calls_fell_back"]
    assert (rows.calls_fell_back > 0).all() and (rows.never_served == 0).all()


def test_pilot_real_figures(pilot):
    # One car 07:00-23:00 is not enough for these calls: many fall back to patrol while it is busy.
    handled, fell = pilot.pool("co_responder", "calls_handled")[0], pilot.pool("co_responder", "calls_fell_back")[0]
    assert 0.25 < fell / (handled + fell) < 0.6
    assert 0.3 < pilot.pool("co_responder", "utilization")[0] < 0.7
    # Patrol time is freed, but sworn time is not: the car carries an officer and stays 20% longer.
    freed, lo, hi = pilot.total("patrol_hours_freed")
    assert 300 < lo <= freed <= hi < 1000
    assert pilot.total("officer_hours_freed")[2] < 0
    # Shifts: one car and one advocate 16 hours a day over the replayed horizon, at $140 and $45.
    tz = pilot.coverage["timezone"]
    assert tz == "America/New_York"
    first = pd.Timestamp(pilot.coverage["first_local"]).floor("h").tz_localize(tz)
    last = pd.Timestamp(pilot.coverage["last_local"]).tz_localize(tz)
    hours = pd.date_range(first.tz_convert("UTC"), last.tz_convert("UTC"), freq="h").tz_convert(tz)
    on = int(((hours.hour >= 7) & (hours.hour < 23)).sum())
    assert pilot.pool("co_responder", "staffed_unit_hours")[0] == on
    assert pilot.pool("advocates", "staffed_unit_hours")[0] == on
    assert pilot.total("cost_of_new_pools")[0] == pytest.approx(on * (140 + 45))
    # Erlang C sizes patrol per hour of week; the simulation reports how that roster does.
    an = pilot.analytic.set_index("pool")
    assert an.loc["police", "units_rostered_peak"] >= an.loc["police", "units_needed_peak"]
    assert "coefficient of variation" in an.loc["police", "reasons"]
    assert an.loc["co_responder", "units_needed_peak"] >= 2


def test_pilot_report_section_in_words(pilot, ws):
    text = pilot.summary_text()
    handled = pilot.pool("co_responder", "calls_handled")[0]
    assert f"handled {handled:,.0f}" in text
    assert f"{pilot.total('patrol_hours_freed')[0]:,.0f}" in text
    assert "calls moved there free patrol time but still take officer time" in text
    assert "Sworn officer hours on these calls rise by" in text
    html = pilot.html()
    assert html.startswith("<section") and html.endswith("</section>")
    assert "<svg" in html and "<script" not in html and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "Co-responder car" in html and "Assumptions stated in the scenario" in html
    assert "a clinician-paired response stays about 20% longer on scene" in html  # the stated assumption, repeated
    ids = raw_duckdb(f"SELECT call_id FROM read_parquet('{ws}/calls/**/*.parquet', hive_partitioning = true) "
                     "USING SAMPLE 200 ROWS")
    assert not any(str(i[0]) in html for i in ids)  # aggregates only
    json.dumps(pilot.to_dict())  # the --json contract is plain JSON


def test_compare_baseline_and_pilot(baseline, pilot, tmp_path):
    c = compare_scenarios(baseline, pilot)
    t = c.table.set_index(["section", "metric"])
    freed = t.loc[("hours per week", "patrol hours freed vs all-police")]
    assert freed.a == pytest.approx(0, abs=1e-9) and freed.b > 0
    assert freed.difference_low <= freed.difference <= freed.difference_high and freed.difference_low > 0
    assert freed.b == pytest.approx(pilot.total("patrol_hours_freed")[0] / pilot.weeks)
    cost = t.loc[("cost per week", "new teams' shifts")]
    assert cost.a == 0 and cost.b == pytest.approx(pilot.total("cost_of_new_pools")[0] / pilot.weeks)
    team = t.loc[("pool: Co-responder car", "team size needed at peak (Erlang C)")]
    assert math.isnan(team.a) and team.b >= 2
    patrol = t.loc[("pool: Patrol", "unit-hours needed a week (Erlang C)")]
    assert patrol.b < patrol.a  # diverted calls need fewer patrol unit-hours
    p = c.to_csv(tmp_path / "cmp.csv")
    back = pd.read_csv(p)
    assert list(back.columns) == list(c.table.columns) and len(back) == len(c.table)
    assert np.allclose(back.b.to_numpy(float), c.table.b.to_numpy(float), equal_nan=True)
    html = c.html()
    assert html.startswith("<section") and "decc-co-responder-pilot" in html
    assert "Patrol hours freed" in html


def test_bootstrap_crisis_team_runs_and_requests_backup(ws):
    s = load_scenario("decc-crisis-team")
    res = simulate(s.with_overrides(weeks=4), replications=3, workspace=ws, seed=1)
    assert res.weeks == pytest.approx(4 - 24 / 168)
    assert res.pool("crisis_team", "calls_assigned")[0] > 0
    rows = res.per_replication
    assert len(set(rows.calls_simulated)) > 1  # resampled weeks differ between replications
    # Backups requested by the team are handled by patrol.
    assert res.pool("crisis_team", "backups_requested")[0] == res.pool("police", "backups_handled")[0]
