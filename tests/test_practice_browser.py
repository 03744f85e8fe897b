"""The practice page in a real browser against a real server (`rightresponse serve --practice`).

Debian's chromium, driven by Playwright, on a free loopback port. A trainee signs in, is dealt a
past call of the San Luis Obispo sample, answers the screening questions as the call shows and
sends the responder `rightresponse triage` computes for what the card shows: "Correct". On the
next call the trainee sends a civilian team without asking: the page flags it, in a red banner
no one can miss. `rightresponse practice report` then reads the decision log, and its page,
opened in the same browser, shows the trainee's answers and the unsafe choice.

The page is scanned for the narratives and addresses of every past call the dealt cards could
stand for (read from the workspace's sensitive table): none is there.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import CFS, need, skip_or_fail

sync_api = pytest.importorskip("playwright.sync_api")

from rightresponse import ingest  # noqa: E402
from rightresponse.ingest.workspace import Workspace  # noqa: E402
from rightresponse.policy import FLAGS, triage_args  # noqa: E402
from rightresponse.service.practice import DAYS, NARRATIVE_SETS  # noqa: E402
from rightresponse.service.testing import ServerProcess, cached_model  # noqa: E402

from test_console_browser import CHROMIUM, CONTRAST_JS, LABELS_JS, browser  # noqa: E402,F401 (a fixture)

pytestmark = pytest.mark.slow  # module fixtures build real workspaces; run by .ci/run and `pytest -q`

SLO = CFS / "san_luis_obispo" / "SLOPD_report_2022-03-15.csv"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TRAINEE = "trainee-17"


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    if not Path(CHROMIUM).exists():
        skip_or_fail("Debian's chromium is not installed (apt-get install -y chromium)")
    tmp = tmp_path_factory.mktemp("practice-browser")
    ws = tmp / "ws"
    ingest([need(SLO)], workspace=ws)
    db = tmp / "training.db"
    srv = ServerProcess(["--policy", "denver-star", "--db", f"sqlite:///{db}", "--practice", str(ws),
                         "--model", cached_model(request.config), "--reload-interval", "0"],
                        log_path=tmp / "server.log")
    srv.start(timeout=240)
    yield srv, db, ws, tmp
    srv.stop()


def sensitive_values(ws: Path, card: dict) -> list[str]:
    """Narratives, addresses and incident numbers of every past call of the card's type, day and hour."""
    w = Workspace(ws)
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT s.narrative, s.location, c.call_id FROM read_parquet(?, hive_partitioning=true, union_by_name=true) c "
            "JOIN read_parquet(?, hive_partitioning=true, union_by_name=true) s USING (agency, call_id) "
            "WHERE coalesce(nullif(trim(c.initial_call_type), ''), trim(c.call_type)) = ? "
            "AND isodow(c.received_local) - 1 = ? AND hour(c.received_local) = ?",
            [w.files("calls"), w.files("sensitive"), card["call_type"], DAYS.index(card["day"]), card["hour"]]).fetchall()
    finally:
        con.close()
    return [str(v).strip() for r in rows for v in r if v is not None and len(str(v).strip()) >= 6]


def deal(page) -> dict:
    with page.expect_response(lambda r: r.url.endswith("/v1/practice/deal")) as resp:
        page.keyboard.press("Alt+d")
    return resp.value.json()


def test_deal_safe_answer_unsafe_answer_and_the_trainee_summary(server, browser, tmp_path):
    srv, db, ws, tmp = server
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1360, "height": 1000})
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("request", lambda r: None if r.url.startswith(srv.url) else failed.append("external: " + r.url))
    page.goto(srv.url + "/practice")
    expect(page.locator("#deal")).to_be_focused()
    page.locator("#trainee").fill(TRAINEE)
    page.locator("#trainee").dispatch_event("change")

    # 1. A deal: the card shows the call type, priority, when (day and hour) and the risks.
    card = deal(page)
    expect(page.locator("#c-type")).to_have_text(card["call_type"])
    expect(page.locator("#c-time")).to_have_text(re.compile(rf"^{card['day']}, {card['hour']:02d}:00"))
    expect(page.locator("#questions fieldset")).to_have_count(len(FLAGS))
    expect(page.locator("#questions input:checked")).to_have_count(0)  # nothing preselected
    shown = card["call_type_dangers"] + card["narrative_flags"]
    expect(page.locator("#c-shows li.risk")).to_have_count(len(shown))
    html = page.content()
    leaked = [v for v in sensitive_values(ws, card) if v in html]
    assert leaked == []

    # 2. A safe answer: every question answered as the call shows (keyboard: Y/N moves on),
    # and the responder the policy's triage gives for what the card shows.
    yes = {NARRATIVE_SETS[f] for f in card["narrative_flags"] if f in NARRATIVE_SETS}
    page.locator(f"#q-{page.locator('#questions fieldset').first.get_attribute('data-flag')}-yes").focus()
    order = [page.locator("#questions fieldset").nth(i).get_attribute("data-flag") for i in range(len(FLAGS))]
    for f in order:
        page.keyboard.press("y" if f in yes else "n")
    at = f"2024-01-{1 + DAYS.index(card['day']):02d}T{card['hour']:02d}:00"
    want = triage_args("denver-star", card["call_type"], flags=[f if f in yes else f"no_{f}" for f in FLAGS],
                       priority=card["priority"], at=at, origin=card["origin"], category=card["category"])
    page.locator(f"#send-{want.responder}").check()
    page.keyboard.press("Alt+Enter")
    expect(page.locator("#verdict")).to_have_text("Correct: you sent who the policy sends.")
    expect(page.locator("#unsafe")).to_be_hidden()
    expect(page.locator("#r-reason")).to_have_text(want.reason)
    expect(page.locator("#r-rule")).to_have_text(want.rule)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "practice-correct.png"), full_page=True)

    # 3. An unsafe answer: the next call, a civilian team sent without asking anything.
    card2 = deal(page)
    expect(page.locator("#result")).to_be_hidden()
    assert [v for v in sensitive_values(ws, card2) if v in page.content()] == []
    page.locator("#send-crisis_team").check()
    with page.expect_response(lambda r: r.url.endswith("/v1/practice/answer")) as resp:
        page.locator("#submit").click()
    second = resp.value.json()
    assert second["unsafe"] is True and second["correct"] is False
    banner = page.locator("#unsafe")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("UNSAFE CHOICE")
    expect(page.locator("#unsafe-reason")).to_contain_text("the screen was skipped")
    expect(page.locator("#unsafe-reason")).to_contain_text("weapon")
    # Unmissable: a full-width red banner, large bold white text, at the top of the answer.
    style = banner.evaluate("e => { const s = getComputedStyle(e); const t = getComputedStyle(e.querySelector('.unsafe-title'));"
                            " return [s.backgroundColor, t.color, parseFloat(t.fontSize), parseInt(t.fontWeight)]; }")
    assert style[0] == "rgb(185, 28, 28)" and style[1] == "rgb(255, 255, 255)" and style[2] >= 28 and style[3] >= 800
    box = banner.bounding_box()
    assert box["width"] > 400 and box["y"] < 1000
    expect(page.locator("#verdict")).not_to_have_text(re.compile("^Correct"))
    expect(page.locator("#tally")).to_have_text("This session: 2 answered, 1 correct, 1 unsafe.")
    page.screenshot(path=str(ARTIFACTS / "practice-unsafe.png"), full_page=True)
    assert page.evaluate(LABELS_JS) == []
    assert page.evaluate(CONTRAST_JS) == []
    assert failed == []
    page.close()

    con = sqlite3.connect(db)
    rows = con.execute("SELECT call_taker, practice, unsafe, dispatched FROM decisions ORDER BY recorded_at").fetchall()
    con.close()
    assert rows == [(TRAINEE, 1, 0, want.responder), (TRAINEE, 1, 1, "crisis_team")]

    # 4. The trainee summary: `rightresponse practice report`, its page in the same browser.
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "rightresponse.cli", "practice", "report", "--db", f"sqlite:///{db}",
                           "--out", str(out), "--min-cell", "0"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "practice answers: 2 by 1 trainee(s); unsafe choices: 1" in proc.stdout
    rep = browser.new_page(viewport={"width": 1200, "height": 900})
    rep.goto((out / "practice.html").as_uri())
    row = rep.locator("table.practice").first.locator("tbody tr").first
    agreed = 1 + second["agrees"]
    expect(row.locator("td")).to_have_text([TRAINEE, "2", str(agreed), f"{50.0 * agreed:.1f}%", "1"])
    expect(rep.locator("h2#progress")).to_have_text("Improvement over time")
    rep.screenshot(path=str(ARTIFACTS / "practice-report.png"), full_page=True)
    rep.close()
