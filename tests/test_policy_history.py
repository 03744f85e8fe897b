"""Policies applied to the real samples: shares of calls and officer hours moved, as a range.

New Orleans is recomputed independently from the raw CSV (Python csv + zoneinfo, one triage
per row with the screen passed) and must match the library's distinct-value pipeline exactly.
DECC checks the per-call decisions against one triage per stored call; San Luis Obispo checks
that narrative flags feed the conservative view, and that a sample without clear times says
so. On both, no call whose type is dangerous in itself counts as movable under any preset.
"""

from __future__ import annotations

import csv
from datetime import timedelta

import ibis
import pandas as pd
import pytest

import rightresponse as rr
from rightresponse.policy import (apply_policy, compare_policies, diff_policies, list_presets, load_policy,
                                  make_call, policy_figures, prepare_history, triage)
from rightresponse.policy.call import Call, screened_flags
from rightresponse.policy.definition import _taxonomy_vocab
from rightresponse.report.who_could_respond import who_could_respond_html
from rightresponse.schema import MAX_CALL_HOURS
from rightresponse.taxonomy.narrative import load_call_type_flags, text_flags
from rightresponse.taxonomy.provider import category_provider

from conftest import CFS, need
from conftest import nola_instant as _utc, nola_local as _local

NOLA = CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv"


@pytest.fixture(scope="module")
def nola(tmp_path_factory):
    ws = tmp_path_factory.mktemp("nola") / "ws"
    rr.ingest([need(NOLA)], workspace=ws)
    return ws, prepare_history(ws)


@pytest.fixture(scope="module")
def nola_cmp(nola):
    return compare_policies(nola[1])


@pytest.fixture(scope="module")
def nola_raw():
    """The raw export, each row reduced to what a policy decision and officer hours need."""
    with open(need(NOLA), newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if not r["DispositionText"].strip().upper().startswith("TEST")]
    out = []
    for r in rows:
        rec, disp, clo = (_local(r[c]) for c in ("TimeCreate", "TimeDispatch", "TimeClosed"))
        arr = _local(r["TimeArrive"])
        R, D, A, C = map(_utc, (rec, disp, arr, clo))
        issue = bool((D and D < R) or (A and D and A < D) or (C and A and C < A)
                     or (C and (C < R or (D and C < D))) or (C and C - R > timedelta(hours=24)))
        text = r["DispositionText"].strip().upper()
        # Officer time as the workload tables measure it: dispatched to closed, left out when a
        # time is missing, the record has a time issue, or the call ran over MAX_CALL_HOURS.
        long = bool(D and C and C - D > timedelta(hours=MAX_CALL_HOURS))
        out.append({
            "route": (r["InitialTypeText"].strip() or r["TypeText"].strip()), "final": r["TypeText"].strip(),
            # Data dictionary: code 3 is the most urgent (officer needs assistance), 0 the least.
            "priority": 4 - int(r["Priority"].strip()[0]),
            "origin": "officer_initiated" if r["SelfInitiated"].strip() == "Y" else "unknown",
            "dow": rec.weekday(), "minute": rec.hour * 60 + rec.minute,
            "arrest": "ARREST" in text, "report": "REPORT" in text,
            "hours": None if issue or long or D is None or C is None else (C - D).total_seconds() / 3600.0,
        })
    return out


def test_nola_figures_match_an_independent_row_by_row_computation(nola, nola_raw):
    _, prep = nola
    pol = load_policy("nicjr-tiers")
    got = policy_figures(pol, prep)

    nola_categories = category_provider(agency="new_orleans")
    routes = nola_categories.classify({r["route"] for r in nola_raw})
    finals = nola_categories.classify({r["final"] for r in nola_raw})
    _, group, _ = _taxonomy_vocab(None)
    for r in nola_raw:
        r["adverse"] = r["arrest"] or (r["report"] and group.get(finals[r["final"]][0]) == "violent crime")
    danger_types = {r["route"] for r in nola_raw if r["adverse"]}
    police = {"police", "co_responder"}
    exp = {v: {"calls_moved": 0, "hours_moved": 0.0, "diverted_adverse": 0, "per": {}} for v in ("conservative", "optimistic")}
    no = tuple(screened_flags().items())  # optimistic: the call-taker's screen passed
    for r in nola_raw:
        call = Call(call_type=r["route"], category=routes[r["route"]][0] or "", priority=r["priority"], origin=r["origin"],
                    dow=r["dow"], minute=r["minute"], flags=no)
        opt = triage(pol, call).responder
        cons = opt
        if opt not in police and (r["route"] in danger_types or r["priority"] == 1):
            cons = triage(pol, call.with_flag("weapon").with_flag("violence")).responder
        for view, resp in (("optimistic", opt), ("conservative", cons)):
            e = exp[view]
            e["per"][resp] = e["per"].get(resp, 0) + 1
            if resp not in police:
                e["calls_moved"] += 1
                e["hours_moved"] += r["hours"] or 0.0
                e["diverted_adverse"] += r["adverse"]

    total_hours = sum(r["hours"] or 0.0 for r in nola_raw)
    assert prep.coverage["calls"] == len(nola_raw) == 3213
    assert prep.coverage["calls_with_usable_times"] == sum(r["hours"] is not None for r in nola_raw)
    assert prep.coverage["officer_hours"] == pytest.approx(total_hours, rel=1e-9)
    moved = got.moved.set_index("view")
    for view, e in exp.items():
        assert moved.at[view, "calls_moved"] == e["calls_moved"]
        assert moved.at[view, "hours_moved"] == pytest.approx(e["hours_moved"], rel=1e-9)
        assert moved.at[view, "diverted_adverse"] == e["diverted_adverse"]
        assert moved.at[view, "share_calls_moved"] == pytest.approx(e["calls_moved"] / 3213, rel=1e-12)
        assert moved.at[view, "share_hours_moved"] == pytest.approx(e["hours_moved"] / total_hours, rel=1e-9)
        per = got.summary[got.summary.view == view].set_index("responder").calls.to_dict()
        assert per == e["per"]
    # The range is real on this sample: the conservative end moves less, and hindsight-safe.
    lo, hi = got.range("share_calls_moved")
    assert 0 < lo < hi
    assert moved.at["conservative", "misroute_risk"] == 0
    # By category and by hour of week re-add to the totals.
    for view in ("conservative", "optimistic"):
        assert got.by_category[got.by_category.view == view].calls.sum() == 3213
        bh = got.by_hour_of_week[got.by_hour_of_week.view == view]
        assert bh.calls.sum() == 3213 and bh.hours.sum() == pytest.approx(total_hours, rel=1e-9)


def test_nola_compare_every_preset(nola_cmp):
    cmp = nola_cmp
    assert list(cmp.policy) == list_presets()
    row = cmp.set_index("policy")
    assert (row.calls == 3213).all()
    for col in ("share_calls_moved", "share_hours_moved"):
        assert (row[f"{col}_low"] <= row[f"{col}_high"] + 1e-12).all()
    assert row.loc["status-quo", "share_calls_moved_high"] == 0 and row.loc["status-quo", "share_calls_changed_high"] == 0
    # Co-responders change who comes along, not how much police time the calls take.
    assert row.loc["co-responder-pilot", "share_hours_moved_high"] == 0
    assert row.loc["co-responder-pilot", "share_calls_changed_high"] > 0
    assert (row.misroute_risk_low.fillna(0) == 0).all()


def test_nola_per_call_table_and_diff(nola):
    _, prep = nola
    per_call = apply_policy("denver-star", prep)
    assert per_call.count().execute() == 3213
    assert {"responder_optimistic", "responder_conservative", "rule_optimistic", "co_responder_optimistic"} <= set(per_call.columns)
    d = diff_policies("status-quo", "nicjr-tiers", prep)
    nicjr = policy_figures("nicjr-tiers", prep).moved.set_index("view")
    # From an all-police baseline, every change is a move away from police or a co-responder added.
    assert d.totals["share_calls_moved_b_minus_a_optimistic"] == pytest.approx(nicjr.at["optimistic", "share_calls_moved"])
    assert d.totals["share_calls_changed_optimistic"] == pytest.approx(nicjr.at["optimistic", "calls_moved"] / 3213)
    assert d.by_call_type.calls.sum() == nicjr.at["optimistic", "calls_moved"]
    assert "Property Crime" in set(d.by_category.category) and "nicjr-tiers" in d.format()


def test_who_could_respond_section_is_self_contained_and_aggregate(nola, nola_cmp):
    ws, _ = nola
    cmp = nola_cmp
    html = who_could_respond_html(cmp)
    assert html.startswith('<section class="rr-who-could-respond"><h2>Who could respond</h2>')
    for name in list_presets():
        assert f"<td>{name}<br>" in html
    lo, hi = cmp.set_index("policy").loc["nicjr-tiers", ["share_calls_moved_low", "share_calls_moved_high"]]
    assert f"{100 * lo:.1f}% to {100 * hi:.1f}%" in html
    low = html.lower()
    assert "<script" not in low and "http" not in low and "<img" not in low and "<link" not in low
    locations = rr.open_dataset(ws, "sensitive").location.execute().dropna().unique()
    assert len(locations) > 100 and not any(loc in html for loc in locations)
    assert who_could_respond_html(cmp, heading=None).startswith('<section class="rr-who-could-respond">\n<p>')


@pytest.fixture(scope="module")
def decc(tmp_path_factory):
    # Three weekly exports keep the test fast; the figures are the library's on real data.
    files = [need(CFS / "decc_psap_2025" / f"week{w}.csv") for w in (38, 39, 40)]
    ws = tmp_path_factory.mktemp("decc") / "ws"
    rr.ingest(files, workspace=ws)
    return ws, prepare_history(ws)


@pytest.mark.slow
def test_decc_decisions_match_one_triage_per_call(decc):
    ws, prep = decc
    con = ibis.duckdb.connect()
    calls = rr.open_dataset(ws, con=con)
    police = calls.filter(calls.service == "police").count().execute()
    assert prep.coverage["calls"] == police > 2000  # police service only; EMS and fire are not policy calls
    pol = load_policy("denver-star")
    per = apply_policy(pol, prep).select("route_type", "route_category", "priority_rank", "origin", "minute_of_day", "dow",
                                         "responder_optimistic", "rule_optimistic").to_pandas()
    no = tuple(screened_flags().items())
    for r in per.itertuples(index=False):
        rec = triage(pol, Call(call_type=r.route_type, category=r.route_category or "",
                               priority=None if r.priority_rank != r.priority_rank else int(r.priority_rank),
                               origin=r.origin, dow=int(r.dow), minute=int(r.minute_of_day), flags=no))
        assert (rec.responder, rec.rule) == (r.responder_optimistic, r.rule_optimistic)
    f = policy_figures(pol, prep)
    moved = f.moved.set_index("view")
    assert moved.at["optimistic", "calls_moved"] == (~per.responder_optimistic.isin(["police", "co_responder"])).sum() > 0
    assert moved.at["conservative", "calls_moved"] <= moved.at["optimistic", "calls_moved"]
    assert 0 < moved.at["optimistic", "share_hours_moved"] < 1


@pytest.fixture(scope="module")
def slo(tmp_path_factory):
    # The first 6,000 records of the real export (narrative flagging is ~0.4 ms a text).
    d = tmp_path_factory.mktemp("slo")
    src = need(CFS / "san_luis_obispo" / "SLOPD_report_2022-03-15.csv")
    part = d / "SLOPD_report_2022-03-15.csv"
    with open(src, newline="", encoding="utf-8") as fi, open(part, "w", newline="", encoding="utf-8") as fo:
        r, w = csv.reader(fi), csv.writer(fo)
        for i, row in enumerate(r):
            if i > 6000:
                break
            w.writerow(row)
    rr.ingest([part], workspace=d / "ws")
    return d / "ws", prepare_history(d / "ws")


@pytest.mark.slow
def test_slo_narrative_flags_feed_the_conservative_view(slo):
    ws, prep = slo
    from rightresponse.taxonomy import narrative_flags

    assert prep.coverage["narrative_flags"] is True
    # Independent: flags per call from the stored narratives, any weapon/violence per call type.
    con = ibis.duckdb.connect()
    calls = rr.open_dataset(ws, con=con).to_pandas()[["agency", "call_id", "call_type"]]
    sens = rr.open_dataset(ws, "sensitive", con=con).to_pandas()[["agency", "call_id", "narrative"]].dropna()
    j = calls.merge(sens, on=["agency", "call_id"])
    fl = narrative_flags(list(j.narrative))
    j["danger"] = (fl["weapon"].astype(bool) | fl["violence"].astype(bool)).to_numpy()
    exp = j.groupby("call_type").danger.sum()
    exp = exp[exp > 0].to_dict()
    got = prep.flagged_types.set_index("route_type").narrative_danger
    got = got[got > 0].to_dict()
    assert got == exp and len(got) > 0
    # SLO publishes no clear times: hours are unknown, not zero.
    assert prep.coverage["calls_with_usable_times"] == 0 and prep.coverage["officer_hours"] == 0.0
    f = policy_figures("eugene-cahoots", prep)
    m = f.moved.set_index("view")
    assert m.at["optimistic", "calls_moved"] > m.at["conservative", "calls_moved"] > 0
    assert m.at["optimistic", "share_hours_moved"] != m.at["optimistic", "share_hours_moved"]  # NaN
    assert "n/a" in who_could_respond_html(compare_policies(prep, ["eugene-cahoots"]))


def test_triage_of_the_most_common_slo_call_type():
    pol = load_policy("eugene-cahoots")
    rec = triage(pol, make_call("Welfare Check", at="2022-01-05T02:30"))
    assert (rec.responder, rec.status, rec.if_screened["responder"]) == ("police", "screen_first", "crisis_team")
    rec = triage(pol, make_call("Welfare Check", at="2022-01-05T02:30", flags=screened_flags()))
    assert rec.responder == "crisis_team"


def _dangerous_by_type(types) -> set:
    fs = load_call_type_flags()
    return {t for t in types if isinstance(t, str) and text_flags(t, fs)}


@pytest.mark.slow
@pytest.mark.parametrize("sample", ["nola", "decc"])
def test_no_call_whose_type_is_dangerous_counts_as_movable(sample, request):
    """Every preset, per call: a call moved away from police never has a call type that states
    a danger; and the report's top call types are the per-call counts, recomputed."""
    _, prep = request.getfixturevalue(sample)
    cmp = compare_policies(prep)
    top = pd.DataFrame(cmp.attrs["top_call_types"])
    checked = 0
    for name in list_presets():
        pol = load_policy(name)
        police = {r for r, x in pol.responders.items() if x.police}
        per = apply_policy(pol, prep).select("agency", "route_type", "responder_optimistic", "responder_conservative",
                                             "officer_hours").to_pandas()
        danger = _dangerous_by_type(set(per.route_type))
        for view in ("optimistic", "conservative"):
            moved = per[~per[f"responder_{view}"].isin(police)]
            assert not set(moved.route_type) & danger, (name, view, sorted(set(moved.route_type) & danger)[:5])
        checked += int(per.route_type.isin(danger).sum())
        moved = per[~per.responder_optimistic.isin(police)]
        exp = moved.groupby(["agency", "route_type"]).size().sort_values(ascending=False, kind="mergesort")
        got = top[top.policy == name]
        assert len(got) == min(10, len(exp))
        for r in got.itertuples():
            assert r.calls == exp[(r.agency, r.call_type)]
        if len(exp) > 10:
            assert got.calls.min() >= exp.iloc[10]
    assert checked == 7 * prep.coverage["calls_in_dangerous_call_types"] > 0
