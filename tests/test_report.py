"""The report: renders in a real browser, is self-contained, never carries addresses, and
suppresses small cells both on the page and in the tables written beside it."""

from __future__ import annotations

import csv
import re
import tempfile
from html import escape
from pathlib import Path

import pandas as pd
import pytest

from rightresponse.assess import assess

from conftest import CFS, REPO, need, skip_or_fail
from test_assess import decc_run

NOLA = CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv"
CHROMIUM = Path("/usr/bin/chromium")
# The call-type classifier, trained once per machine and reused (it checks its own fingerprint).
MODEL = Path(tempfile.gettempdir()) / "rightresponse-tests" / "classifier.pkl"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def nola(tmp_path_factory):
    out = tmp_path_factory.mktemp("nola") / "out"
    return assess(paths=[need(NOLA)], out=out)


@pytest.fixture(scope="module")
def nola_exact(nola, tmp_path_factory):
    return nola.write(tmp_path_factory.mktemp("nola0") / "out", min_cell=0)


@pytest.mark.browser
def test_report_renders_in_headless_chromium():
    if not CHROMIUM.exists():
        skip_or_fail("chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    result = decc_run()
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    errors, requests = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(result.report_path.resolve().as_uri(), wait_until="load")
            assert page.title().startswith("Calls for service")
            charts = page.locator("figure svg[role=img]")
            assert charts.count() >= 6  # time by category, origin, heat map, response, Lorenz, comparison
            titles = [charts.nth(i).locator("title").first.text_content() for i in range(charts.count())]
            for want in ("by category", "hour of week", "priority", "Who starts the call", "Concentration"):
                assert any(want.lower() in t.lower() for t in titles), (want, titles)
            for i in range(charts.count()):  # every chart has drawn size
                box = charts.nth(i).bounding_box()
                assert box and box["width"] > 300 and box["height"] > 100
            assert page.get_by_text("Sample data: not a city's true figures").is_visible()
            assert page.locator("#compare").is_visible() and page.locator("#quality").is_visible()
            who = page.locator("section.rr-who-could-respond")  # rightresponse.policy's fragment
            assert page.locator("#who").is_visible() and who.locator("tbody tr").count() >= 5
            assert who.locator("svg[role=img]").count() >= 10  # range bars drawn
            page.screenshot(path=str(artifacts / "report.png"), full_page=True)
            page.emulate_media(media="print")
            page.pdf(path=str(artifacts / "report.pdf"), format="A4", print_background=True)
        finally:
            browser.close()
    assert errors == []
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests
    assert (artifacts / "report.png").stat().st_size > 50_000
    assert (artifacts / "report.pdf").read_bytes()[:5] == b"%PDF-"


def test_report_is_self_contained():
    html = decc_run().report_path.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, re.I)
    assert "@import" not in html and "url(http" not in html
    assert html.count("<svg") >= 6


def test_report_states_scope_measure_and_sample():
    r = decc_run()
    html = r.report_path.read_text(encoding="utf-8")
    s = r.summary
    assert "Sample data: not a city's true figures" in html
    assert f"{s['calls_all_services']:,} calls in the data" in html and f"{s['calls']:,} were police calls" in html
    assert "total deployed time" in html and "first unit dispatched to call cleared" in html
    # the narrative's headline share is the published table's largest figure (Statuses is
    # withheld: it protects Officer Needs Help, one call, in their crime group)
    cat = r.publish()["by_category"].values
    top = cat[cat["share_time"].notna()].sort_values("share_time", ascending=False).iloc[0]
    assert f"{escape(top['category'])} ({100 * top['share_time']:.1f}%)" in html
    assert "Statuses and Officer Needs Help) hold together 29.2% of officer time" in html
    assert "Why this sample" in html
    for src in ("New York Times", "Detroit 2019", "NICJR", "risk-managed", "Baltimore"):
        assert src in html


@pytest.mark.slow
def test_no_addresses_or_narratives_leave_the_analyst_folder(nola):
    with open(need(NOLA), newline="", encoding="utf-8") as fh:
        locations = {r["BLOCK_ADDRESS"].strip() for r in csv.DictReader(fh)} - {""}
    html = nola.report_path.read_text(encoding="utf-8")
    public = [html] + [p.read_text(encoding="utf-8") for p in (nola.out / "tables").glob("*.csv")]
    public += [(nola.out / "summary.json").read_text(encoding="utf-8")]
    for text in public:
        hits = [loc for loc in locations if loc in text]
        assert hits == []
    analyst = pd.read_csv(nola.out / "analyst" / "repeat_locations.csv")
    assert set(analyst["location"]) <= locations and len(analyst) > 0
    assert "repeat_locations" not in nola.tables


@pytest.mark.slow
def test_small_cells_are_suppressed_in_report_and_files(nola, nola_exact):
    cat = nola["by_category"]
    small = cat[(cat["calls"] > 0) & (cat["calls"] < 10)]
    assert len(small) > 0  # the NOLA sample has rare categories
    html = nola.report_path.read_text(encoding="utf-8")
    for c in small["category"]:
        row = re.search(r"<tr><td>" + re.escape(escape(c)) + r"</td>.*?</tr>", html)
        assert row and "&lt;10" in row.group(0), c
        assert not re.search(r'<td class="n">\d</td>', row.group(0)), c
    written = pd.read_csv(nola.out / "tables" / "by_category.csv", dtype=str, keep_default_na=False)
    assert set(written.loc[written["category"].isin(small["category"]), "calls"]) == {"<10"}
    nums = pd.to_numeric(written["calls"], errors="coerce").dropna()
    assert ((nums == 0) | (nums >= 10)).all()
    pq = pd.read_parquet(nola.out / "tables" / "by_category.parquet")
    assert pq.loc[pq["category"].isin(small["category"]), "calls"].isna().all()
    assert pq.loc[pq["category"].isin(small["category"]), "suppressed"].all()
    # the other withheld rows are complements: blank (not "<10"), at least 10 calls, flagged
    comp = written[(written["calls"] == "") & ~written["category"].isin(small["category"])]
    assert len(comp) > 0
    exact_calls = cat.set_index("category")["calls"]
    assert (exact_calls[comp["category"]] >= 10).all()
    assert pq.loc[pq["category"].isin(comp["category"]), "suppressed"].all()
    shown = pq[pq["calls"].notna()]
    assert dict(zip(shown["category"], shown["calls"])) == {c: exact_calls[c] for c in shown["category"]}
    # min_cell=0 writes exact figures
    exact = pd.read_csv(nola_exact.out / "tables" / "by_category.csv")
    assert dict(zip(exact["category"], exact["calls"])) == dict(zip(cat["category"], cat["calls"]))
    assert "&lt;10" not in nola_exact.report_path.read_text(encoding="utf-8")


def test_report_without_district_or_dispatch_data_still_builds(nola):
    html = nola.report_path.read_text(encoding="utf-8")
    assert "By district" in html and "By beat" in html  # NOLA has geography
    # New Orleans has no units: unit-weighted time is not offered in the measure comparison
    assert "% unit-weighted deployed time" not in html


@pytest.mark.slow
def test_report_for_data_without_officer_time_or_origin(tmp_path):
    """Dallas publishes one time per call and no origin: the report says so instead of
    drawing zeros, and every category (all under 10 calls but one) is suppressed."""
    src = need(CFS / "dallas" / "dallas_active_calls_are8-xahz_2018-01-09.csv")
    r = assess(paths=[src], out=tmp_path / "out", model_path=MODEL)
    html = r.report_path.read_text(encoding="utf-8")
    assert r.summary["coverage"]["deployed"]["calls_measured"] == 0
    assert "officer time cannot be measured from this data" in html
    assert "does not record who started each call" in html
    assert not re.search(r'="(?:nan|inf)"|>(?:nan|inf)%?<', html, re.I)
    assert r.summary["officer_initiated_share_calls"] is None
    assert r.to_json_dict()["by_category"][0]["share_time"] is None
    cat = r["by_category"]
    small = cat[cat["calls"] < 10]
    written = pd.read_csv(r.out / "tables" / "by_category.csv", dtype=str, keep_default_na=False)
    assert set(written.loc[written["category"].isin(small["category"]), "calls"]) == {"<10"}


def test_who_could_respond_shows_anchors_and_the_call_types_behind_each_figure(nola):
    """Each preset's range sits beside its published figures (with why the sample differs), and
    the call types that move the most calls are listed, none with fewer than min_cell calls."""
    html = nola.report_path.read_text(encoding="utf-8")
    sec = html[html.index('<section class="rr-who-could-respond">'):]
    sec = " ".join(sec[:sec.index("</section>")].split())
    for text in ("published figures", "Why this sample differs", "NICJR: up to 49% of Seattle", "12.0% to 49.0%",
                 "26.0% to 48.9%", "22.0% to 57.0%", "17.0%", "CAHOOTS answered about 17%",
                 "What \"moved\" means", "no call whose type is dangerous in itself counts as movable",
                 "measured as in the workload tables"):
        assert text in sec, text
    top = nola.tables["who_could_respond_top_types"]
    shown = top[top.calls >= 10]
    assert len(shown) and (top.groupby("policy").size() <= 10).all()
    for r in shown.itertuples():
        assert f"<b>{escape(r.call_type)}</b>" in sec
    for r in top[top.calls < 10].itertuples():
        assert f"<b>{escape(r.call_type)}</b> <small>" not in sec.split(f"{r.policy}: the")[-1].split("</details>")[0]
    # The table written beside the report withholds the same small rows.
    files = pd.read_csv(nola.out / "tables" / "who_could_respond_top_types.csv", dtype=str, keep_default_na=False)
    small = files[files["calls"] == "<10"]
    assert len(small) == int((top.calls < 10).sum()) and (small["hours"] == "").all()
