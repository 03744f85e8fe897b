"""Figures come from call groups (one GROUP BY, policies decided per distinct key); here they
are checked against the per-call path (``apply_policy``: every call routed, then counted) on
real DECC exports, for every preset and for a policy whose hours cut inside the hour and
differ by weekday. Calls must match exactly; hours up to floating-point summation order.
Also: narratives streamed in batches and slices give the same counts, and the report's
"Who could respond" note about sample data appears only on the bundled sample.
"""

from __future__ import annotations

import csv
import re

import ibis
import pandas as pd
import pytest

import rightresponse as rr
from rightresponse.policy import (apply_policy, compare_policies, list_presets, load_policy, policy_figures,
                                  prepare_history)
from rightresponse.policy import history
from rightresponse.policy.definition import PRESETS_DIR
from rightresponse.report.who_could_respond import who_could_respond_html

from conftest import CFS, need

VIEWS = ("conservative", "optimistic")


@pytest.fixture(scope="module")
def decc(tmp_path_factory):
    files = [need(CFS / "decc_psap_2025" / f"week{w}.csv") for w in (38, 39, 40, 41)]
    ws = tmp_path_factory.mktemp("decc") / "ws"
    rr.ingest(files, workspace=ws)
    return ws, prepare_history(ws)


@pytest.fixture(scope="module")
def odd_hours(tmp_path_factory):
    """Denver STAR with weekday-only hours that start and end inside the hour."""
    text = (PRESETS_DIR / "denver-star.yaml").read_text(encoding="utf-8")
    assert 'hours: "06:00-22:00"' in text
    text = text.replace('hours: "06:00-22:00"', 'hours: "mon-fri 06:30-21:45"').replace(
        "id: denver-star", "id: star-odd-hours")
    path = tmp_path_factory.mktemp("pol") / "star-odd-hours.yaml"
    path.write_text(text, encoding="utf-8")
    pol = load_policy(path)
    cuts, by_day = history._time_cuts(pol)
    assert by_day and any(c % 60 for c in cuts)
    return pol


def _per_call(pol, prep) -> pd.DataFrame:
    cols = ["route_category", "dow", "hour", "adverse", "officer_hours"]
    for v in VIEWS:
        cols += [f"responder_{v}", f"co_responder_{v}"]
    return apply_policy(pol, prep).select(*cols).to_pandas()


def _check(pol, prep):
    got = policy_figures(pol, prep)
    per = _per_call(pol, prep)
    assert len(per) == prep.coverage["calls"] > 2000
    police = {r for r, x in pol.responders.items() if x.police}
    hrs = per.officer_hours.fillna(0.0)
    for view in VIEWS:
        resp, co = per[f"responder_{view}"], per[f"co_responder_{view}"]
        # per responder: calls exactly, hours to the last few bits
        exp = per.assign(h=hrs).groupby(resp).agg(calls=("h", "size"), hours=("h", "sum"))
        s = got.summary[got.summary.view == view].set_index("responder")
        assert s.calls.to_dict() == exp.calls.to_dict()
        for r, h in exp.hours.items():
            assert s.at[r, "hours"] == pytest.approx(h, rel=1e-12, abs=1e-9)
        # moved, misroute, changed
        mv = ~resp.isin(police)
        m = got.moved.set_index("view").loc[view]
        assert m.calls == len(per) and m.calls_moved == mv.sum()
        assert m.hours_moved == pytest.approx(hrs[mv].sum(), rel=1e-12, abs=1e-9)
        assert m.diverted_adverse == (mv & per.adverse).sum()
        assert m.calls_changed == ((resp != "police") | co.notna()).sum()
        assert m.calls_co_response == co.notna().sum()
        # by category and by hour of week
        bc = got.by_category[got.by_category.view == view]
        exp_c = per.assign(category=per.route_category.fillna("(unclassified)"), r=resp).groupby(
            ["category", "r"]).size()
        assert bc.set_index(["category", "responder"]).calls.to_dict() == exp_c.to_dict()
        bh = got.by_hour_of_week[got.by_hour_of_week.view == view]
        exp_h = per.assign(r=resp, h=hrs).groupby(["dow", "hour", "r"]).agg(calls=("h", "size"), hours=("h", "sum"))
        gh = bh.set_index(["dow", "hour", "responder"])
        assert gh.calls.to_dict() == exp_h.calls.to_dict()
        assert gh.hours.to_numpy() == pytest.approx(exp_h.hours.reindex(gh.index).to_numpy(), rel=1e-12, abs=1e-9)
    # by call type: calls per (type, both responders) re-add to the total
    assert got.by_call_type.calls.sum() == len(per)
    return got


@pytest.mark.slow
@pytest.mark.parametrize("name", list_presets())
def test_presets_aggregated_equal_per_call(decc, name):
    _check(load_policy(name), decc[1])


def test_hours_inside_the_hour_and_by_weekday(decc, odd_hours):
    _, prep = decc
    got = _check(odd_hours, prep)
    # Those windows need minute-level groups: a cube cut at :30 and :45 was built for them.
    assert any(c % 60 for key in prep._cubes for c in key)
    # And the cut matters: the weekday-only team moves fewer calls than the 7-day preset.
    star = policy_figures("denver-star", prep).moved.set_index("view")
    assert got.moved.set_index("view").at["optimistic", "calls_moved"] < star.at["optimistic", "calls_moved"]


def test_coverage_matches_sql_over_the_calls(decc):
    ws, prep = decc
    con = ibis.duckdb.connect()
    c = rr.open_dataset(ws, con=con)
    c = c.filter(c.service == "police")
    ok = c.time_issue.isnull() & c.dispatched.notnull() & c.cleared.notnull()
    secs = c.cleared.delta(c.dispatched, unit="millisecond").cast("float64") / 1000.0
    tot = c.aggregate(n=c.count(), timed=ok.cast("int64").sum(), hours=ibis.ifelse(ok, secs, 0.0).sum() / 3600,
                      urgent=(c.priority_rank == 1).fill_null(False).cast("int64").sum()).to_pandas().iloc[0]
    cov = prep.coverage
    assert cov["calls"] == tot.n and cov["calls_with_usable_times"] == tot.timed
    assert cov["urgent_calls"] == tot.urgent
    assert cov["officer_hours"] == pytest.approx(tot.hours, rel=1e-12)
    per = prep.calls.to_pandas()
    assert cov["calls_in_danger_types"] == per.danger_type.sum() > 0
    assert cov["adverse_calls"] == per.adverse.sum()


def test_comparison_keeps_no_per_call_table(decc):
    ws, _ = decc
    prep = prepare_history(ws)
    cmp = compare_policies(prep)
    assert len(cmp) == len(list_presets())
    assert prep._calls is None  # figures never built the per-call table
    # What it keeps instead: call groups, which add back up to every call (on four weeks
    # most groups are single calls; at 10M synthetic calls, 240k groups).
    g = prep.groups
    assert g.calls.sum().execute() == prep.coverage["calls"] and g.count().execute() <= prep.coverage["calls"]


@pytest.mark.slow
def test_narratives_stream_in_batches(tmp_path, monkeypatch):
    """Tiny batches, a tiny memo (cleared many times) and the join in many slices of call ids
    give the same narrative counts as one pass."""
    src = need(CFS / "san_luis_obispo" / "SLOPD_report_2022-03-15.csv")
    part = tmp_path / "SLOPD_report_2022-03-15.csv"
    with open(src, newline="", encoding="utf-8") as fi, open(part, "w", newline="", encoding="utf-8") as fo:
        w = csv.writer(fo)
        for i, row in enumerate(csv.reader(fi)):
            if i > 3000:
                break
            w.writerow(row)
    rr.ingest([part], workspace=tmp_path / "ws")
    whole = prepare_history(tmp_path / "ws").flagged_types
    monkeypatch.setattr(history, "NARRATIVE_BATCH", 97)
    monkeypatch.setattr(history, "NARRATIVE_MEMO", 50)
    monkeypatch.setattr(history, "NARRATIVE_CHUNK", 400)  # about 8 slices
    small = prepare_history(tmp_path / "ws").flagged_types
    assert whole.narrative_danger.sum() > 0
    pd.testing.assert_frame_equal(whole, small)


SAMPLE_NOTE = "Sample data are not a city's true figures."


def test_sample_note_only_for_sample_data(decc):
    cmp = compare_policies(decc[1], ["denver-star"])
    assert SAMPLE_NOTE not in who_could_respond_html(cmp)
    assert SAMPLE_NOTE in who_could_respond_html(cmp, sample=True)


def _who_section(html: str) -> str:
    m = re.search(r'<section class="rr-who-could-respond">.*?</section>', html, re.S)
    assert m, "no Who could respond section"
    return m.group(0)


@pytest.mark.slow
def test_report_says_sample_only_on_the_bundled_sample(decc, tmp_path):
    from rightresponse.assess import assess

    own = assess(workspace=decc[0], out=tmp_path / "own", policies=["denver-star"])
    assert SAMPLE_NOTE not in _who_section(own.report_path.read_text(encoding="utf-8"))
    bundled = assess(out=tmp_path / "bundled", policies=["denver-star"])
    assert bundled.summary["sample"]
    assert SAMPLE_NOTE in _who_section(bundled.report_path.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("measure, max_hours", [("deployed", 24), ("on_scene", 24), ("deployed", 0.5)])
def test_officer_hours_are_the_workload_tables_hours(decc_ws, tmp_path, measure, max_hours):
    """One figure, one definition: the policy history's officer hours are the workload tables'
    hours for the same police calls, under the same measure and the same max_hours exclusion."""
    from rightresponse.assess import assess

    res = assess(workspace=decc_ws, out=tmp_path / "out", policies=["status-quo", "denver-star"], write=False,
                 measure=measure, max_hours=max_hours)
    who = res.tables["who_could_respond"].set_index("policy")
    cov = who.attrs["coverage"]
    assert (cov["measure"], cov["max_hours"]) == (measure, max_hours)
    # Both are exact sums of whole milliseconds; only the division into hours per group differs.
    assert who.at["status-quo", "officer_hours"] == pytest.approx(res.summary["hours"], rel=1e-12)
    assert cov["officer_hours"] == pytest.approx(res.summary["hours"], rel=1e-12)
    measured = res.summary["coverage"][measure]["calls_measured"]
    assert cov["calls_with_usable_times"] == measured
    top = res.tables["who_could_respond_top_types"]
    assert set(top.policy) <= {"denver-star"} and (top.calls > 0).all()
