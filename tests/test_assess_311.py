"""assess with 311 requests: a DECC week with the NYC 311 samples (CAD and 311 in one
workspace), and the three 311 samples alone. Every figure of the channel tables is recomputed
from the raw files (Python's csv, gzip and json modules, the crosswalk files read as CSV); the
sections present or absent are checked on the report; the combined report is screenshotted
in headless Chromium."""

from __future__ import annotations

import csv
import gzip
import re
import tempfile
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from rightresponse.assess import assess

from conftest import DATA, REPO, need, skip_or_fail
from test_adapters_311 import BALTIMORE, BOSTON, NYC_CSV, NYC_JSON, raw_records
from test_assess import NULLS, TS, _instant, _issue, decc_run
from test_report import ARGS, CHROMIUM

pytestmark = pytest.mark.slow  # module fixtures build real workspaces; run by .ci/run and `pytest -q`

WEEK = REPO / "src/rightresponse/data/sample/decc_psap_2025/week39.csv.gz"
CROSSWALKS = REPO / "src/rightresponse/taxonomy/crosswalks"


def crosswalk(agency: str) -> dict:
    with open(CROSSWALKS / f"{agency}.csv", newline="", encoding="utf-8") as fh:
        return {r["value"].strip().upper(): r["category"] for r in csv.DictReader(fh)}


def raw_nypd_311() -> list[tuple[str, str]]:
    """(request type, category) of every NYC 311 request the NYPD took, from the raw files."""
    cw = crosswalk("nyc_311")
    out = []
    for r in raw_records(need(NYC_CSV)):
        if r["Agency"] == "NYPD":
            out.append((r["Complaint Type"], cw[r["Complaint Type"].upper()]))
    for r in raw_records(need(NYC_JSON)):
        if r["agency"] == "NYPD":
            out.append((r["complaint_type"], cw[r["complaint_type"].upper()]))
    return out


def raw_decc_week():
    """DECC police calls of one week as the adapter documents them (see test_assess.raw_decc):
    calls and deployed hours per category (the DECC crosswalk), and the calls timed."""
    cw = crosswalk("decc")
    calls, hours, seen = Counter(), defaultdict(float), set()
    with gzip.open(WEEK, "rt", newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            r = {k: (None if (v or "").strip() in NULLS else v.strip()) for k, v in rec.items() if k}
            if r["Master_Incident_Number"] is None or r["Master_Incident_Number"] in seen:
                continue
            if re.search(r"^(TEST|TST)-", r["Disposition"] or "", re.I) or re.search(r"\bTEST CALL\b", r["Problem"] or "", re.I):
                continue
            seen.add(r["Master_Incident_Number"])
            if r["Agency"] != "POLICE":
                continue
            cat = cw[r["Problem"].upper()]
            calls[cat] += 1
            t = {k: _instant(r[c]) for k, c in TS.items()}
            if t["dispatched"] and t["cleared"] and not _issue(t) and \
                    timedelta(0) <= t["cleared"] - t["dispatched"] <= timedelta(hours=24):
                hours[cat] += (t["cleared"] - t["dispatched"]).total_seconds() / 3600
    return calls, hours


@pytest.fixture(scope="module")
def both():
    root = Path(tempfile.mkdtemp(prefix="rr-test-911-311-"))
    res = assess(paths=[str(WEEK), str(need(DATA / "311" / "nyc"))], workspace=root / "ws", out=root / "out")
    return res


@pytest.fixture(scope="module")
def only311():
    root = Path(tempfile.mkdtemp(prefix="rr-test-311-"))
    return assess(paths=[str(need(p)) for p in (NYC_CSV, NYC_JSON, BOSTON, BALTIMORE)], workspace=root / "ws",
                  out=root / "out", min_cell=0)


def _sections(res) -> list[str]:
    return re.findall(r'<h2 id="(\w+)">', res.report_path.read_text(encoding="utf-8"))


def test_calls_by_channel_and_category_equal_the_raw_files(both):
    nypd = raw_nypd_311()
    cad_calls, cad_hours = raw_decc_week()
    bc = both["by_channel"].set_index("channel")
    assert dict(bc["calls"]) == {"cad": sum(cad_calls.values()), "311": len(nypd)} == {"cad": 750, "311": 1554}
    assert bc.at["311", "calls_timed"] == 0 and bc.at["311", "hours"] == 0.0  # no dispatch or arrival in 311
    assert bc.at["cad", "hours"] == pytest.approx(sum(cad_hours.values()), rel=1e-12)
    cc = both["by_category_channel"]
    got = {(r.channel, r.category): r.calls for r in cc.itertuples() if r.calls}
    want = {("cad", c): n for c, n in cad_calls.items()}
    want.update({("311", c): n for c, n in Counter(cat for _, cat in nypd).items()})
    want.update({("all", c): n for c, n in (cad_calls + Counter(cat for _, cat in nypd)).items()})
    assert got == want
    for r in cc[cc["channel"] == "cad"].itertuples():
        assert r.hours == pytest.approx(cad_hours.get(r.category, 0.0), rel=1e-9, abs=1e-9), r.category
    # shares within each channel
    for ch in ("cad", "311"):
        sub = cc[cc["channel"] == ch]
        assert sub["share_calls"].sum() == pytest.approx(1.0)
        assert (sub["share_calls"] == sub["calls"] / bc.at[ch, "calls"]).all()


def test_police_work_that_arrives_by_311(both):
    """The request types the NYPD took through 311, with their counts, as the raw files give them."""
    rq = both["by_311_request_type"]
    want = Counter(t for t, _ in raw_nypd_311())
    assert dict(zip(rq["call_type"], rq["calls"])) == dict(want)
    assert set(rq["agency"]) == {"nyc_311"}
    assert list(rq["call_type"][:4]) == ["Noise - Residential", "Noise - Street/Sidewalk", "Illegal Parking",
                                         "Blocked Driveway"]
    assert list(rq["calls"][:4]) == [620, 278, 190, 155]
    html = both.report_path.read_text(encoding="utf-8")
    assert "Police work that arrives by 311" in html and "Noise - Residential" in html


def test_policies_apply_to_311_requests(both):
    """A noise complaint by 311 is routed like one by 911: NICJR's tier 1 sends it to a
    community responder (optimistic view: screened), and the who-could-respond totals
    count the 311 requests among the police calls."""
    top = both["who_could_respond_top_types"]
    noise = top[(top["policy"] == "nicjr-tiers") & (top["agency"] == "nyc_311") & (top["call_type"] == "Noise - Residential")]
    assert len(noise) == 1 and noise.iloc[0]["responder"] == "community_responder" and noise.iloc[0]["calls"] == 620
    who = both["who_could_respond"].set_index("policy")
    assert who.at["nicjr-tiers", "calls"] == 750 + 1554
    sq = who.at["status-quo", "calls_moved_high"]
    assert sq == 0  # the status quo moves nothing, 311 or not


def test_cad_only_has_no_channel_tables_or_section():
    res = decc_run()
    assert not {"by_channel", "by_category_channel", "by_311_request_type"} & set(res.tables)
    assert "channel" not in _sections(res)


def test_combined_report_sections(both):
    secs = _sections(both)
    assert secs.index("origin") < secs.index("channel") < secs.index("when")
    assert "concentration" in secs  # CAD calls have officer time
    assert both.summary["hours"] > 0


def test_311_only_report_makes_sense(only311):
    res = only311
    s = res.summary
    nypd = raw_nypd_311()
    # police scope: the NYPD's 311 requests; the rest is stated as out of scope
    assert s["calls"] == len(nypd) == 1554 and s["calls_all_services"] == 15854
    assert {r.service: r.calls for r in res["scope"].itertuples()} == {"police": 1554, "other": 14300}
    assert s["hours"] == 0 and s["measures_available"] == []
    assert dict(zip(res["by_category"]["category"], res["by_category"]["calls"])) == dict(Counter(c for _, c in nypd))
    assert dict(zip(res["by_channel"]["channel"], res["by_channel"]["calls"])) == {"311": 1554}
    secs = _sections(res)
    assert "channel" in secs and "concentration" not in secs  # no officer time: no officer-time section
    html = res.report_path.read_text(encoding="utf-8")
    assert "<title>Calls for service: what the police are asked to do" in html
    assert "Police work that arrives by 311" in html
    assert ">Hours<" not in html.split('id="channel"')[1].split('id="when"')[0]  # no hours column in the 311 section


def test_combined_report_screenshot(both):
    if not CHROMIUM.exists():
        skip_or_fail("chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
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
            page.goto(both.report_path.resolve().as_uri(), wait_until="load")
            section = page.locator("#channel")
            assert section.is_visible() and section.text_content().endswith("Calls and 311 requests")
            assert page.get_by_role("heading", name="Police work that arrives by 311").is_visible()
            rows = page.locator("h3:has-text('Police work that arrives by 311') + p + .table-wrap tbody tr")
            assert rows.count() == 22
            assert rows.first.locator("td").nth(1).text_content() == "Noise - Residential"
            page.screenshot(path=str(artifacts / "report_911_311.png"), full_page=True)
            top = page.evaluate("document.getElementById('channel').getBoundingClientRect().top + window.scrollY")
            end = page.evaluate("document.getElementById('when').getBoundingClientRect().top + window.scrollY")
            page.screenshot(path=str(artifacts / "report_911_311_section.png"), full_page=True,
                            clip={"x": 0, "y": top - 10, "width": 1100, "height": end - top})
        finally:
            browser.close()
    assert errors == []
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests
    assert (artifacts / "report_911_311.png").stat().st_size > 50_000
