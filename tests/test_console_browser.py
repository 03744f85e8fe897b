"""The console in a real browser, keyboard only, against a real server process.

Debian's chromium (never a downloaded browser) is driven by Playwright. The server is started
the way a user starts it (``rightresponse serve``) on a free loopback port. The
call-taker signs in, types part of a call type, picks it from the fuzzy list, answers the
policy's questions with Y/N, reads the recommendation and records an override with a reason.
The decision is then read back from the database with the sqlite3 module.

Unknown is never no: no answer is preselected, the console says "Screen first" and keeps the
civilian Accept disabled until every screening question is answered, and the recommendation
changes as the answers come in.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import skip_or_fail

sync_api = pytest.importorskip("playwright.sync_api")

from rightresponse.service.testing import ServerProcess, cached_model  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "console-token-31"
TAKER = "ct-4711"
NOTE = "Shouting heard in the background"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
STATIC = Path(__file__).resolve().parents[1] / "src" / "rightresponse" / "service" / "static"

# WCAG 2.1 contrast (1.4.3) for every element that renders text, against its effective background.
CONTRAST_JS = """() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.5) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none' || el.offsetParent === null && s.position !== 'fixed') continue;
    const r = el.getBoundingClientRect(); if (!r.width || !r.height) continue;
    let fg = parse(s.color); const b = bg(el);
    if (fg.a < 1) fg = {r: fg.r * fg.a + b.r * (1 - fg.a), g: fg.g * fg.a + b.g * (1 - fg.a), b: fg.b * fg.a + b.b * (1 - fg.a)};
    const L1 = lum(fg), L2 = lum(b); const ratio = (Math.max(L1, L2) + 0.05) / (Math.min(L1, L2) + 0.05);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) out.push(`${el.tagName}#${el.id}.${el.className}: ${ratio.toFixed(2)} < ${need} (${el.textContent.trim().slice(0, 30)})`);
  }
  return out;
}"""

# Every form control has an accessible name (a <label for>, a wrapping label, or aria-label).
LABELS_JS = """() => [...document.querySelectorAll('input, select, textarea, button')].filter((el) => {
  if (el.type === 'hidden') return false;
  const named = (el.labels && el.labels.length && [...el.labels].some((l) => l.textContent.trim()))
    || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || (el.tagName === 'BUTTON' && el.textContent.trim());
  return !named;
}).map((el) => el.tagName + '#' + el.id)"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    if not Path(CHROMIUM).exists():
        skip_or_fail("Debian's chromium is not installed (apt-get install -y chromium)")
    tmp = tmp_path_factory.mktemp("console")
    db = tmp / "decisions.db"
    srv = ServerProcess(["--policy", "denver-star", "--policy", "status-quo", "--db", f"sqlite:///{db}",
                         "--model", cached_model(request.config), "--reload-interval", "0"],
                        env={"RIGHTRESPONSE_API_TOKEN": TOKEN}, log_path=tmp / "server.log")
    srv.start(timeout=240)
    yield srv, db, tmp / "server.log"
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def test_keyboard_only_triage_and_override(server, browser):
    srv, db, log = server
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("request", lambda r: None if r.url.startswith(srv.url) else failed.append("external: " + r.url))
    page.goto(srv.url + "/")
    expect(page.locator("#calltype-count")).to_contain_text("known call types")
    expect(page.locator("#calltype")).to_be_focused()

    # Sign in: Shift+Tab back to the call-taker id, then the token, then Tab to the call type.
    kb = page.keyboard
    kb.press("Shift+Tab")
    kb.press("Shift+Tab")
    expect(page.locator("#taker")).to_be_focused()
    kb.type(TAKER)
    kb.press("Tab")
    kb.type(TOKEN)
    kb.press("Tab")
    expect(page.locator("#calltype")).to_be_focused()

    # The time of the call (inside STAR's 06:00-22:00) is set first, so the answer does not
    # depend on when the test runs: Tab past priority to the time, replace it, come back.
    kb.press("Tab")
    kb.press("Tab")
    expect(page.locator("#at")).to_be_focused()
    kb.press("Control+a")
    kb.type("2025-10-07 14:00")
    kb.press("Shift+Tab")
    kb.press("Shift+Tab")
    expect(page.locator("#calltype")).to_be_focused()

    kb.type("welf")  # fuzzy search over the shipped call types
    options = page.locator("#calltype-list [role=option]")
    expect(options.first).to_contain_text("WELFARE CHECK")
    expect(page.locator("#calltype")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#calltype")).to_have_attribute("aria-activedescendant", "ct-opt-0")
    kb.press("Enter")
    expect(page.locator("#calltype")).to_have_value("WELFARE CHECK")
    # Nothing answered yet: screen first. The co-responder team is who to send if the
    # call-taker cannot ask; the STAR van only once every screening answer is no.
    expect(page.locator("#rec-screen")).to_be_visible()
    expect(page.locator("#rec-screen")).to_contain_text("Screen first")
    expect(page.locator("#rec-send-label")).to_have_text("If you cannot ask, send")
    expect(page.locator("#rec-responder")).to_have_text(re.compile("co-responder team"))
    expect(page.locator("#rec-then")).to_contain_text("Once every answer is no: STAR van")
    expect(page.locator("#accept")).to_be_disabled()
    expect(page.locator("#accept-who")).to_have_text(re.compile("STAR van"))
    expect(page.locator("#accept-unscreened")).to_be_visible()
    expect(page.locator("#accept-unscreened")).to_be_enabled()
    expect(page.locator("#unscreened-who")).to_have_text(re.compile("co-responder team"))
    questions = page.locator("#questions fieldset")
    expect(questions).to_have_count(5)
    expect(page.locator("#questions fieldset.screen")).to_have_count(5)
    expect(page.locator("#questions input:checked")).to_have_count(0)  # no answer is preselected
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-screen-first.png"), full_page=True)

    # Tab past priority and time into the first question; answer each with N. Until the last
    # answer the screen stays incomplete: the civilian Accept stays disabled.
    kb.press("Tab")
    kb.press("Tab")
    kb.press("Tab")
    order = ("weapon", "violence", "crime_in_progress", "suicide_risk_with_means", "injury")
    for i, flag in enumerate(order):
        expect(page.locator(f"#q-{flag}-yes")).to_be_focused()
        expect(page.locator("#accept")).to_be_disabled()
        expect(page.locator("#script li.ask")).to_have_count(len(order) - i)
        kb.press("n")
        expect(page.locator(f"#q-{flag}-no")).to_be_checked()
    expect(page.locator("#accept")).to_be_enabled()
    expect(page.locator("#accept")).to_be_focused()
    expect(page.locator("#rec-screen")).to_be_hidden()
    expect(page.locator("#accept-unscreened")).to_be_hidden()
    expect(page.locator("#rec-send-label")).to_have_text("Send")
    expect(page.locator("#rec-responder")).to_have_text(re.compile("STAR van"))
    expect(page.locator("#rec-kind")).to_have_text("Civilian")
    expect(page.locator("#rec-rule")).to_have_text("star_call_types")
    expect(page.locator("#rec-fallback")).to_have_text("Police patrol")
    expect(page.locator("#rec-reason")).to_contain_text("low-risk call of a type STAR takes")
    expect(page.locator("#script li").last).to_contain_text("Tell the caller")
    expect(page.locator("#script li.ask")).to_have_count(0)  # everything the policy asks is answered

    # Override: Alt+O opens the form on the first responder (police); Space picks it.
    kb.press("Alt+o")
    expect(page.locator("#override")).to_be_visible()
    expect(page.locator("#dispatch-police")).to_be_focused()
    kb.press("Space")
    kb.press("Tab")
    expect(page.locator("#reason")).to_be_focused()
    kb.press("s")  # type-ahead: "Safety concern ..."
    expect(page.locator("#reason")).to_have_value("safety_concern")
    kb.press("Tab")
    kb.type(NOTE)
    kb.press("Tab")
    expect(page.locator("#record-override")).to_be_focused()
    page.screenshot(path=str(ARTIFACTS / "console-override.png"), full_page=True)
    kb.press("Enter")
    expect(page.locator("#status")).to_contain_text("Override recorded: Police patrol dispatched")
    expect(page.locator("#status")).to_contain_text("instead of STAR van")
    expect(page.locator("#newcall")).to_be_focused()
    page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)

    # Accessibility: names for every control, text contrast, a page language and a heading.
    assert page.evaluate(LABELS_JS) == []
    assert page.evaluate(CONTRAST_JS) == []
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.locator("h1")).to_have_count(1)
    assert failed == []

    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM decisions")]
    con.close()
    assert len(rows) == 1
    r = rows[0]
    assert (r["policy"], r["rule"], r["recommended"], r["intended"]) == ("denver-star", "star_call_types", "crisis_team", "crisis_team")
    assert (r["dispatched"], r["accepted"], r["override_reason"], r["override_note"]) == ("police", 0, "safety_concern", NOTE)
    assert (r["eligible"], r["handled"]) == (1, 0)
    assert r["call_taker"] == TAKER and r["call_type"] == "WELFARE CHECK" and r["call_at"] == "2025-10-07 14:00"
    assert json.loads(r["flags"]) == {f: False for f in order}
    health = json.loads(page.request.get(srv.url + "/healthz").text())
    assert r["policy_hash"].startswith(health["policies"]["denver-star"])

    # New call (Alt+N) clears the form and returns to the call type.
    kb.press("Alt+n")
    expect(page.locator("#calltype")).to_be_focused()
    expect(page.locator("#calltype")).to_have_value("")
    expect(page.locator("#questions fieldset")).to_have_count(0)
    page.close()

    # The server's own log has requests, but neither the call-taker nor the note.
    text = log.read_text(errors="replace")
    assert "POST /v1/decisions 201" in text
    assert TAKER not in text and NOTE not in text and TOKEN not in text


def test_a_yes_or_a_dangerous_call_type_never_lets_the_civilian_accept_through(server, browser):
    """The recommendation changes as answers come in: a yes to a screening question sends the
    co-responder team at once (no screen left); "not known" keeps the screen open; a call type
    that states a danger never shows a civilian Accept, whatever is answered."""
    srv, _, _ = server
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.goto(srv.url + "/")
    expect(page.locator("#calltype-count")).to_contain_text("known call types")
    page.locator("#at").fill("2025-10-07 14:00")
    page.locator("#calltype").fill("WELFARE CHECK")
    page.locator("#calltype").press("Enter")
    expect(page.locator("#rec-screen")).to_be_visible()
    expect(page.locator("#accept")).to_be_disabled()
    # "Not known" is an answer, not a no: the screen stays open.
    page.locator("#q-weapon-unknown + label").click()
    expect(page.locator("#q-weapon-unknown")).to_be_checked()
    expect(page.locator("#rec-screen")).to_be_visible()
    expect(page.locator("#accept")).to_be_disabled()
    for flag in ("violence", "crime_in_progress", "suicide_risk_with_means", "injury"):
        page.locator(f"#q-{flag}-no + label").click()
    expect(page.locator("#rec-screen")).to_be_visible()
    expect(page.locator("#accept")).to_be_disabled()
    expect(page.locator("#script li.ask")).to_have_count(1)  # weapon is still to ask
    # A yes: the co-responder team, final; Accept now dispatches it (officers attend).
    page.locator("#q-weapon-yes + label").click()
    expect(page.locator("#rec-screen")).to_be_hidden()
    expect(page.locator("#rec-rule")).to_have_text("star_screened_out")
    expect(page.locator("#rec-kind")).to_have_text("Police")
    expect(page.locator("#accept")).to_be_enabled()
    expect(page.locator("#accept-who")).to_have_text(re.compile("co-responder team"))
    # A call type that states a danger: police, whatever the answers say.
    page.locator("#newcall").click()
    page.locator("#at").fill("2025-10-07 14:00")
    page.locator("#calltype").fill("DWI - DRUNK/INTOX DRIVER")
    page.locator("#calltype").press("Enter")
    expect(page.locator("#rec-rule")).to_have_text("danger")
    expect(page.locator("#rec-kind")).to_have_text("Police")
    expect(page.locator("#rec-screen")).to_be_hidden()
    expect(page.locator("#accept-who")).to_have_text("Police patrol")
    page.close()


def test_console_loads_nothing_from_outside():
    for f in STATIC.iterdir():
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"(?:src|href)\s*=\s*[\"'](?:https?:)?//", text), f.name
        assert not re.search(r"url\(\s*[\"']?(?:https?:)?//", text), f.name
        assert "@import" not in text, f.name
