"""`scenario compare` and `simulate` never disagree: every figure they both show is the same
number under the same name (rightresponse.simulate.metrics), in the table and in the words.
Plus the comparison page (the report's template and banner, screenshot in artifacts/), no
floating-point noise in compare.csv, and a team that gets about one call.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from assessed import assessed
from conftest import REPO, skip_or_fail, run_cli

from rightresponse.simulate import compare_scenarios, simulate
from rightresponse.simulate.metrics import POOL, TOTAL, metric_text

REPS = 3
CHROMIUM = Path("/usr/bin/chromium")


def rr(*args, timeout=600) -> subprocess.CompletedProcess:
    return run_cli(*args)


@pytest.fixture(scope="module")
def runs(decc_ws):
    """Each scenario simulated on its own, and the comparison run on its own (same seed)."""
    a = simulate("decc-status-quo", replications=REPS, workspace=decc_ws)
    b = simulate("decc-co-responder-pilot", replications=REPS, workspace=decc_ws)
    c = compare_scenarios("decc-status-quo", "decc-co-responder-pilot", replications=REPS, workspace=decc_ws)
    return a, b, c


@pytest.mark.slow
def test_compare_equals_simulate(runs):
    a, b, c = runs
    checked = 0
    for side, res in (("a", a), ("b", b)):
        mine = res.metrics().set_index(["section", "key"])
        sim_json = pd.DataFrame(res.to_dict()["metrics"]).set_index(["section", "key"])
        words = res.summary_text()
        for r in c.table.itertuples():
            if (r.section, r.key) not in mine.index:
                assert getattr(r, side) != getattr(r, side) or r.section.startswith("pool: ")
                continue
            m = mine.loc[(r.section, r.key)]
            for col, suffix in (("mean", ""), ("low", "_low"), ("high", "_high")):
                got, want = getattr(r, side + suffix), m[col]
                assert (got == want) or (math.isnan(got) and math.isnan(want)), (side, r.section, r.metric, col)
            j = sim_json.loc[(r.section, r.key)]
            assert (pd.isna(j["mean"]) and math.isnan(m["mean"])) or j["mean"] == pytest.approx(m["mean"], rel=1e-12)
            assert getattr(r, f"{side}_text") == metric_text(r.unit, (m["mean"], m["low"], m["high"]))
            checked += 1
        # the figures the issue found contradicting each other, in the words of both
        if side == "b":
            reached = c.table.set_index(["section", "key"]).loc[("pool: Co-responder car", "share_taken_within_target")]
            assert f"its units reached {reached.b_text} within 15 minutes" in words
            assert f"reaches {reached.b_text} of the calls sent to it within target" in "\n".join(c.summary_lines())
            assert reached.b == pytest.approx(b.pool("co_responder", "share_taken_within_target")[0])
            assert 0.5 < reached.b < 0.7  # 59%: of the calls sent to it, not 100% of those it served
            served = c.table.set_index(["section", "key"]).loc[("pool: Co-responder car", "share_wait_within_target")]
            assert served.metric == "calls it served: a unit within target" and served.b == 1.0
            fu = c.table.set_index(["section", "key"]).loc[("pool: DV victim advocate", "follow_ups_handled")]
            assert fu.b == b.pool("advocates", "follow_ups_handled")[0] == 360
            assert "handled 0 calls, and 360 follow-ups" in words
            assert "DV victim advocate handles 0 calls, 360 follow-ups" in "\n".join(c.summary_lines())
    assert checked >= 2 * len(TOTAL) + len(POOL)


@pytest.mark.browser
def test_compare_csv_and_json_have_no_float_noise_and_the_page_has_the_report_template(decc_ws, tmp_path):
    out = tmp_path / "cmp"
    proc = rr("scenario", "compare", "decc-status-quo", "decc-co-responder-pilot", "-r", REPS, "-w", decc_ws,
              "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    d = json.loads(proc.stdout)
    csv = pd.read_csv(out / "comparison.csv")
    nums = csv.select_dtypes("number").to_numpy().ravel()
    nums = nums[~pd.isna(nums)]
    assert not ((nums != 0) & (abs(nums) < 1e-6)).any()  # 1.43e-13 "hours freed" in a status quo is 0
    freed = csv[(csv["key"] == "patrol_hours_freed")].iloc[0]
    assert freed["a"] == 0.0 and freed["a_text"] == "0.0"
    assert len(d["table"]) == len(csv)
    html = (out / "comparison.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html and ".masthead" in html
    assert "Sample data: not a city's true figures" in html  # the report's banner
    assert "<script" not in html.lower() and not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    if not CHROMIUM.exists():
        skip_or_fail("chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto((out / "comparison.html").resolve().as_uri(), wait_until="load")
            assert page.get_by_text("Sample data: not a city's true figures").is_visible()
            header = page.locator("header.masthead")
            assert header.is_visible() and header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(31, 58, 95)"
            assert page.locator("table.compare tbody tr").count() > 30
            page.screenshot(path=str(artifacts / "comparison.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert (artifacts / "comparison.png").stat().st_size > 50_000


@pytest.mark.slow
def test_a_team_with_about_one_call_is_withheld_not_a_crash(tmp_path):
    """`simulate decc-crisis-team --workspace <New Orleans>` crashed with a TypeError in the
    words: the crisis team gets about one call. Now its calls read "<10" and every figure
    resting on them is withheld, in the words, the JSON and the HTML alike."""
    _, _, ws = assessed("new_orleans")
    proc = rr("simulate", "decc-crisis-team", "-r", 2, "-w", ws, "--report", tmp_path / "s.html")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert re.search(r"Crisis van \(clinician \+ paramedic\) \([^)]*\) handled <10 calls", proc.stdout)
    assert "Patrol hours freed: withheld" in proc.stdout
    d = json.loads(rr("simulate", "decc-crisis-team", "-r", 2, "-w", ws, "--json").stdout)
    team = {r["metric"]: r for r in d["pools"] if r["pool"] == "crisis_team"}
    assert team["calls_handled"]["mean"] is None and team["response_p90_minutes"]["mean"] is None
    assert d["totals"]["patrol_hours_freed"]["mean"] is None
    assert not any(r["pool"] == "crisis_team" for r in d["utilization_by_hour"])  # when its call came in
    exact = json.loads(rr("simulate", "decc-crisis-team", "-r", 2, "-w", ws, "--json", "--min-cell", "0").stdout)
    ex = {r["metric"]: r for r in exact["pools"] if r["pool"] == "crisis_team"}
    assert 0 < ex["calls_handled"]["mean"] < 10  # it was a small count
    html = (tmp_path / "s.html").read_text(encoding="utf-8")
    assert "handled &lt;10 calls" in html and "Traceback" not in html
    # the banner of a sample scenario run on another city's workspace is not the sample's
    out = tmp_path / "cmp"
    proc = rr("scenario", "compare", "decc-status-quo", "decc-crisis-team", "-r", 2, "-w", ws, "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (out / "comparison.html").read_text(encoding="utf-8")
    assert "Figures describe the exports supplied" in page and "Sample data" not in page
