"""Practice mode (issue 18, part 1): the deck, the deal, checking answers, the API's refusals,
the decision log (practice rows apart, older logs migrated, PostgreSQL) and the practice report.

The workspace is the real San Luis Obispo sample, the only one with narratives and addresses.
No narrative or address is printed: tests only check that none reaches an answer.
"""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
import warnings
from collections import Counter
from datetime import datetime, timezone

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from conftest import CFS, need, skip_or_fail  # noqa: E402

from rightresponse import ingest  # noqa: E402
from rightresponse.cli import main as cli  # noqa: E402
from rightresponse.ingest.workspace import Workspace  # noqa: E402
from rightresponse.policy import FLAGS, load_policy, triage_args  # noqa: E402
from rightresponse.policy.vocabulary import DANGER_FLAGS# noqa: E402
from rightresponse.service.app import create_app  # noqa: E402
from rightresponse.service.practice import (DAYS, DEAL_SHARES, NARRATIVE_SETS, Card, PracticeRoom,  # noqa: E402
                                            build_deck, check_answer)
from rightresponse.decisions.log import DecisionStore, decisions  # noqa: E402
from rightresponse.decisions.dispatch_summary import summarize_decisions  # noqa: E402
from rightresponse.service.testing import PostgresUnavailable, cached_model, fresh_database, shared_postgres  # noqa: E402
from rightresponse.taxonomy.classify import default_classifier  # noqa: E402
from rightresponse.taxonomy.narrative import narrative_flags  # noqa: E402
from rightresponse.taxonomy.provider import category_provider  # noqa: E402

pytestmark = pytest.mark.slow  # module fixtures build real workspaces; run by .ci/run and `pytest -q`

SLO = CFS / "san_luis_obispo" / "SLOPD_report_2022-03-15.csv"
TOKEN = "practice-token-77"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCREEN_NO = {f: False for f in DANGER_FLAGS} | {"injury": False}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("practice") / "ws"
    ingest([need(SLO)], workspace=root)
    return root


@pytest.fixture(scope="module")
def classifier(request):
    return default_classifier(cached_model(request.config))


def client(ws, db_url, classifier, seed=7, practice=True):
    app = create_app(policies=["denver-star", "status-quo"], db_url=db_url, classifier=classifier, api_token=TOKEN,
                     warm=False, reload_interval=0, practice=str(ws) if practice else None, practice_seed=seed)
    return TestClient(app)


def call_frame(ws) -> pd.DataFrame:
    """Every call with its narrative, read independently of the deck (pandas, not the deck's SQL)."""
    w = Workspace(ws)
    con = duckdb.connect()
    calls = con.execute("SELECT * FROM read_parquet(?, hive_partitioning=true, union_by_name=true)",
                        [w.files("calls")]).df()
    sens = con.execute("SELECT agency, call_id, location, narrative FROM read_parquet(?, hive_partitioning=true, "
                       "union_by_name=true)", [w.files("sensitive")]).df()
    con.close()
    df = calls.merge(sens, on=["agency", "call_id"], how="left")
    init = df["initial_call_type"].fillna("").str.strip()
    df["ct"] = init.where(init != "", df["call_type"].fillna("").str.strip()).map(lambda s: " ".join(s.split()))
    keep = (df["service"].isna() | (df["service"] == "police")) & (df["origin"] != "officer_initiated") & (df["ct"] != "")
    df = df[keep].copy()
    df["dow"] = df["received_local"].dt.day_of_week
    df["hour"] = df["received_local"].dt.hour
    return df.reset_index(drop=True)


# ---------------------------------------------------------------------------- the deck


def test_the_deck_holds_every_police_call_from_the_public_with_its_narrative_flags(ws):
    deck = build_deck(ws)
    df = call_frame(ws)
    assert deck.calls == len(df) == sum(c.calls for c in deck.cards)
    assert deck.narratives
    # The narrative flags, recomputed per call with the pandas flagger, grouped the deck's way.
    fl = narrative_flags(df["narrative"])
    df["flags"] = [tuple(c for c in fl.columns if row[c]) for _, row in fl.iterrows()]
    df["has"] = df["narrative"].fillna("").str.strip() != ""
    want = Counter()
    for r in df.itertuples():
        pri = None if pd.isna(r.priority_rank) else int(r.priority_rank)
        org = None if pd.isna(r.origin) else r.origin
        want[(r.ct, pri, org, int(r.dow), int(r.hour), r.flags, bool(r.has))] += 1
    got = {(c.call_type, c.priority, c.origin, c.dow, c.hour, c.narrative_flags, c.has_narrative): c.calls for c in deck.cards}
    assert got == dict(want)
    assert any(c.narrative_flags for c in deck.cards) and any("weapon" in c.narrative_flags for c in deck.cards)


def test_the_deal_follows_the_documented_shares_and_kinds(ws, classifier):
    """3,000 deals of a seeded room: each kind's share within 3 points of DEAL_SHARES; every
    dealt card's kind recomputed from `rightresponse triage` (triage_args) on what the card shows."""
    deck = build_deck(ws)
    pol = load_policy("denver-star")
    cats = {v: cat for v, (cat, _conf) in category_provider(taxonomy_path=pol.taxonomy, classifier=classifier)
            .classify(deck.call_types).items()}
    room = PracticeRoom(deck, random.Random(11))
    dealt = [room.deal(pol, lambda vs: {v: cats[v] for v in vs}, "t") for _ in range(3000)]
    share = Counter(d.kind for d in dealt)
    for kind, s in DEAL_SHARES.items():
        assert abs(share[kind] / len(dealt) - s) < 0.03, (kind, share)
    for d in dealt[:120]:
        c = d.card
        at = f"2024-01-{1 + c.dow:02d}T{c.hour:02d}:00"
        yes = [NARRATIVE_SETS[f] for f in c.narrative_flags if f in NARRATIVE_SETS]
        truth = triage_args("denver-star", c.call_type, flags=yes + [f"no_{f}" for f in FLAGS if f not in yes],
                            priority=c.priority, at=at, origin=c.origin, category=d.category)
        unasked = triage_args("denver-star", c.call_type, priority=c.priority, at=at, origin=c.origin, category=d.category)
        kind = ("screen" if unasked.status == "screen_first" or truth.floor else
                "changed" if (truth.responder, truth.co_responder) != ("police", None) else "same")
        assert kind == d.kind, (c, kind, d.kind)
    # Within a kind, call types come up by the square root of their calls: the commonest type
    # of the "same" kind is dealt far less often than its share of calls.
    same = [d.card.call_type for d in dealt if d.kind == "same"]
    top, n = Counter(same).most_common(1)[0]
    calls = Counter()
    for c in deck.cards:
        calls[c.call_type] += c.calls
    assert n / len(same) < calls[top] / deck.calls


# ---------------------------------------------------------------------------- checking answers


def _card(call_type, flags=(), dow=1, hour=14):
    return Card(call_type, None, "911", dow, hour, tuple(flags), True, 1)


def test_check_answer_on_known_cases():
    pol = load_policy("denver-star")
    cat = "Behavioral Health"
    # A welfare check at 14:00, every screening question answered no: STAR, correct and safe.
    c = check_answer(pol, _card("WELFARE CHECK"), cat, dict(SCREEN_NO), "crisis_team")
    assert (c.correct, c.unsafe, c.expected.responder) == (True, False, "crisis_team")
    # The same call with the questions skipped: the right responder, but unsafe.
    c = check_answer(pol, _card("WELFARE CHECK"), cat, {}, "crisis_team")
    assert (c.correct, c.agrees, c.unsafe) == (False, True, True)
    assert c.skipped == ("weapon", "violence", "crime_in_progress", "suicide_risk_with_means", "injury")
    # The notes show a weapon and the trainee answered no: the screen failed; the policy sends the police co-responders.
    c = check_answer(pol, _card("WELFARE CHECK", ["weapon"]), cat, dict(SCREEN_NO), "crisis_team")
    assert (c.unsafe, c.failed, c.expected.responder) == (True, ("weapon",), "co_responder")
    assert "weapon" in c.unsafe_reason("STAR") and "UNSAFE" not in c.unsafe_reason("STAR")
    # A call type that states violence: no question clears it.
    c = check_answer(pol, _card("ASSAULT IN PROGRESS"), "Violent Crime", dict(SCREEN_NO), "community_responder")
    assert c.unsafe and "violence" in c.failed
    # Police is never unsafe; fire/EMS alone into a shown weapon is.
    assert not check_answer(pol, _card("WELFARE CHECK", ["weapon"]), cat, {}, "police").unsafe
    assert check_answer(pol, _card("WELFARE CHECK", ["weapon"]), cat, {}, "fire_ems").unsafe
    # STAR is off duty at 23:00: the fallback (co-responder, then police) is the answer.
    night = check_answer(pol, _card("WELFARE CHECK", hour=23), cat, dict(SCREEN_NO), "crisis_team")
    assert night.expected.responder != "crisis_team" and not night.correct


# ---------------------------------------------------------------------------- the API


def _sensitive_values(df: pd.DataFrame, card: dict) -> set[str]:
    """The narratives and addresses of every past call the dealt card could stand for."""
    day = DAYS.index(card["day"])
    m = (df["ct"] == card["call_type"]) & (df["dow"] == day) & (df["hour"] == card["hour"])
    vals = set()
    for col in ("narrative", "location", "call_id"):
        vals |= {str(v).strip() for v in df.loc[m, col].dropna() if len(str(v).strip()) >= 6}
    return vals


def test_a_deal_shows_no_address_name_or_narrative(ws, tmp_path, classifier):
    df = call_frame(ws)
    assert df["location"].notna().sum() > 1000 and df["narrative"].notna().sum() > 1000
    keys = {"id", "policy", "policy_hash", "trainee", "call_type", "category", "priority", "origin", "day", "hour",
            "time", "call_type_dangers", "narrative", "narrative_flags", "questions", "responders"}
    checked = 0
    with client(ws, f"sqlite:///{tmp_path / 'd.db'}", classifier) as c:
        for _ in range(150):
            r = c.post("/v1/practice/deal", json={"trainee": "tr-a"})
            assert r.status_code == 200
            card = r.json()
            assert set(card) == keys
            uuid.UUID(card["id"])  # a random id: nothing of the city's data in it
            text = r.text
            hidden = _sensitive_values(df, card)
            checked += len(hidden)
            assert not [v for v in hidden if v in text]
            h = card["hour"]
            assert card["time"] == f"{card['day']}, {h:02d}:00–{h:02d}:59"  # the hour, never the minute
    assert checked > 500


def test_the_answer_explains_with_the_console_triage_and_is_recorded_as_practice(ws, tmp_path, classifier):
    db = tmp_path / "d.db"
    with client(ws, f"sqlite:///{db}", classifier) as c:
        for i in range(20):
            card = c.post("/v1/practice/deal", json={"policy": "denver-star", "trainee": "tr-b"}).json()
            day = DAYS.index(card["day"])
            shown = {NARRATIVE_SETS[f] for f in card["narrative_flags"] if f in NARRATIVE_SETS}
            answers = {f: f in shown for f in FLAGS}
            tri = c.post("/v1/triage", json={"call_type": card["call_type"], "flags": answers, "priority": card["priority"],
                                             "origin": card["origin"], "at": f"2024-01-{1 + day:02d}T{card['hour']:02d}:00",
                                             "policy": "denver-star"}).json()
            res = c.post("/v1/practice/answer", json={"id": card["id"], "answers": answers,
                                                      "responder": tri["responder"]})
            assert res.status_code == 200, res.text
            out = res.json()
            assert out["expected"] == tri  # one explanation: the console's
            assert (out["correct"], out["unsafe"], out["reason"]) == (True, False, tri["reason"])
            # the same answer again is a replay; another answer is refused
            again = c.post("/v1/practice/answer", json={"id": card["id"], "answers": answers, "responder": tri["responder"]})
            assert again.json()["replay"] is True and again.json()["correct"] is True
            other = "no_dispatch" if tri["responder"] != "no_dispatch" else "police"
            assert c.post("/v1/practice/answer", json={"id": card["id"], "answers": {}, "responder": other}).status_code == 409
    con = sqlite3.connect(db)
    rows = con.execute("SELECT practice, unsafe, accepted, call_taker, narrative FROM decisions").fetchall()
    con.close()
    assert rows == [(1, 0, 1, "tr-b", None)] * 20


def test_bad_requests_are_refused_with_4xx(ws, tmp_path, classifier):
    with client(ws, f"sqlite:///{tmp_path / 'd.db'}", classifier) as c:
        card = c.post("/v1/practice/deal", json={}).json()
        assert card["trainee"] == "anonymous"
        good = {"id": card["id"], "answers": {}, "responder": "police"}
        cases = [
            ("/v1/practice/deal", {"policy": "no-such-policy"}, 404),
            ("/v1/practice/deal", {"trainee": "bad name!"}, 422),
            ("/v1/practice/deal", {"trainee": ""}, 422),
            ("/v1/practice/deal", {"call_type": "WELFARE CHECK"}, 422),  # a client cannot choose the call
            ("/v1/practice/deal", {"id": str(uuid.uuid4())}, 422),
            ("/v1/practice/deal", [], 422),
            ("/v1/practice/answer", {**good, "id": "not-a-uuid"}, 422),
            ("/v1/practice/answer", {**good, "id": str(uuid.uuid4())}, 404),
            ("/v1/practice/answer", {k: v for k, v in good.items() if k != "id"}, 422),
            ("/v1/practice/answer", {**good, "responder": "swat"}, 422),
            ("/v1/practice/answer", {k: v for k, v in good.items() if k != "responder"}, 422),
            ("/v1/practice/answer", {**good, "answers": {"weapons": False}}, 422),
            ("/v1/practice/answer", {**good, "answers": {"weapon": [1]}}, 422),
            ("/v1/practice/answer", {**good, "answers": ["weapon"]}, 422),
            ("/v1/practice/answer", {**good, "call_type": "X"}, 422),
            ("/v1/practice/answer", {**good, "trainee": "someone-else"}, 422),
            ("/v1/practice/answer", "null", 422),
        ]
        for path, body, want in cases:
            r = c.post(path, json=body)
            assert r.status_code == want, (path, body, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/json")
        assert c.post("/v1/practice/answer", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
        assert c.post("/v1/practice/deal", content=b"policy=x", headers={"content-type": "text/plain"}).status_code == 415
        assert c.post("/v1/practice/deal", json={}, headers={"host": "evil.example"}).status_code == 421
        assert c.post("/v1/practice/answer", content=b"{" + b" " * 70_000 + b"}",
                      headers={"content-type": "application/json"}).status_code == 413
        assert c.post("/v1/practice/answer", json=good).status_code == 200  # the card is still answerable
    with client(ws, f"sqlite:///{tmp_path / 'off.db'}", classifier, practice=False) as c:
        r = c.post("/v1/practice/deal", json={})
        assert r.status_code == 404 and "--practice" in r.json()["detail"]
        assert c.get("/practice").status_code == 404
        assert c.get("/v1/console").json()["practice"] is False


# ---------------------------------------------------------------------------- the decision log


def _practise(c, trainee: str, n: int, unsafe_every: int = 0) -> list[dict]:
    """Answer ``n`` dealt calls as ``trainee``: police with the screen complete, or, every
    ``unsafe_every``-th call, a civilian team with the screen skipped."""
    out = []
    for i in range(n):
        card = c.post("/v1/practice/deal", json={"trainee": trainee}).json()
        bad = unsafe_every and i % unsafe_every == 0
        body = {"id": card["id"], "answers": {} if bad else dict(SCREEN_NO), "responder": "crisis_team" if bad else "police"}
        r = c.post("/v1/practice/answer", json=body).json()
        out.append({"trainee": trainee, "category": r["expected"]["category"] or "(none)", "agrees": r["agrees"],
                    "unsafe": r["unsafe"]})
    return out


def _dispatch(c, n: int) -> None:
    for i in range(n):
        body = {"call_type": "WELFARE CHECK", "flags": dict(SCREEN_NO), "at": "2025-10-07T14:00", "policy": "denver-star",
                "dispatched": "crisis_team", "call_taker": f"ct{i % 2}"}
        assert c.post("/v1/decisions", json=body, headers=AUTH).status_code == 201


def test_practice_rows_never_count_as_dispatch_decisions(ws, tmp_path, classifier):
    from rightresponse.assess import assess

    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    with client(ws, url, classifier) as c:
        _dispatch(c, 7)
        practice = _practise(c, "tr-c", 25, unsafe_every=3)
        api = c.get("/v1/decisions/summary").json()
    assert api["total"] == 7 and api["alternative"]["eligible"] == 7
    s = summarize_decisions(url)
    assert (s.total, s.eligible, s.handled, s.overrides) == (7, 7, 7, 0)
    assert s.by_category["decisions"].sum() == 7 and s.dispatched["decisions"].sum() == 7
    store = DecisionStore(url)
    assert store.count() == 7 + len(practice)
    store.close()
    r = assess(workspace=ws, out=tmp_path / "out", decisions=url, min_cell=0, policies=())
    dp = r.to_json_dict()["dispatch_practice"]
    assert (dp["decisions"], dp["eligible"], dp["handled"]) == (7, 7, 7)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_older_log_gains_the_practice_column_and_keeps_its_rows(backend, tmp_path):
    """A log written before practice mode: read-only it summarizes as before; opened by the
    service it gains the columns, its rows marked as dispatch decisions."""
    from sqlalchemy import Column, MetaData, Table, create_engine, insert, text

    from rightresponse.decisions.log import normalize_url

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        try:
            url = fresh_database(shared_postgres(), "rr_old_" + uuid.uuid4().hex[:8])
        except PostgresUnavailable as exc:
            skip_or_fail(f"PostgreSQL not available: {exc}")
    eng = create_engine(normalize_url(url))
    old = Table("decisions", MetaData(), *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                                           for c in decisions.columns if c.name not in ("practice", "unsafe")])
    old.create(eng)
    row = {"id": str(uuid.uuid4()), "recorded_at": datetime(2026, 1, 5, 12, tzinfo=timezone.utc), "policy": "denver-star",
           "policy_hash": "ab" * 32, "rule": "r", "category": "Behavioral Health", "call_type_known": True, "flags": "{}",
           "recommended": "crisis_team", "intended": "crisis_team", "dispatched": "crisis_team", "accepted": True,
           "eligible": True, "handled": True, "call_taker": "ct1"}
    with eng.begin() as con:
        con.execute(insert(old), row)
    ro = DecisionStore(url, create=False)
    assert not ro.has_column("practice")
    assert summarize_decisions(ro).total == 1
    ro.close()
    store = DecisionStore(url)
    assert store.has_column("practice") and store.has_column("unsafe")
    store.close()
    DecisionStore(url).close()  # a second open finds nothing to add
    with eng.connect() as con:
        assert [tuple(r) for r in con.execute(text("SELECT practice, unsafe FROM decisions"))] == [(False, None)]
    eng.dispose()
    assert summarize_decisions(url).total == 1


# ---------------------------------------------------------------------------- the practice report


def _expected_tables(rows: list[dict], block: int):
    df = pd.DataFrame(rows)
    df["block"] = df.groupby("trainee").cumcount() // block + 1
    per = {t: (len(g), int(g.agrees.sum()), int(g.unsafe.sum())) for t, g in df.groupby("trainee")}
    cat = {(t, k): (len(g), int(g.agrees.sum()), int(g.unsafe.sum())) for (t, k), g in df.groupby(["trainee", "category"])}
    prog = {(t, int(b)): (len(g), int(g.agrees.sum()), int(g.unsafe.sum())) for (t, b), g in df.groupby(["trainee", "block"])}
    return per, cat, prog


def test_practice_report_on_postgresql(ws, tmp_path, classifier):
    """Answers recorded through the API into a real PostgreSQL; `practice report` counts them
    back exactly (--min-cell 0), and withholds the small cells by the report's rules."""
    try:
        base = shared_postgres()
    except PostgresUnavailable as exc:
        skip_or_fail(f"PostgreSQL not available: {exc}")
    url = fresh_database(base, "rr_practice_" + uuid.uuid4().hex[:8])
    with client(ws, url, classifier, seed=3) as c:
        _dispatch(c, 3)
        rows = _practise(c, "tr-d", 45, unsafe_every=4) + _practise(c, "tr-e", 12)
    per, cat, prog = _expected_tables(rows, 20)
    res = CliRunner().invoke(cli, ["practice", "report", "--db", url, "--out", str(tmp_path / "exact"), "--min-cell", "0",
                                   "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["practice_totals"] == [{"answered": 57, "agreed": sum(r["agrees"] for r in rows),
                                     "agreement": pytest.approx(sum(r["agrees"] for r in rows) / 57),
                                     "unsafe": sum(r["unsafe"] for r in rows)}]
    assert {r["trainee"]: (r["answered"], r["agreed"], r["unsafe"]) for r in d["practice_by_trainee"]} == per
    assert {(r["trainee"], r["category"]): (r["answered"], r["agreed"], r["unsafe"]) for r in d["practice_by_category"]} == cat
    assert {(r["trainee"], r["block"]): (r["answered"], r["agreed"], r["unsafe"]) for r in d["practice_progress"]} == prog
    assert per["tr-d"][2] == 12 and per["tr-e"][2] == 0  # every fourth answer of tr-d was unsafe
    # The default --min-cell 10: small counts read "<10", and nothing hidden can be worked back.
    res = CliRunner().invoke(cli, ["practice", "report", "--db", url, "--out", str(tmp_path / "pub")])
    assert res.exit_code == 0, res.output
    tr = pd.read_csv(tmp_path / "pub" / "practice_by_trainee.csv", dtype=str).set_index("trainee")
    assert tr.loc["tr-d", "answered"] == "45" and tr.loc["tr-d", "unsafe"] == "12"
    assert tr.loc["tr-e", "answered"] == "12" and tr.loc["tr-e", "unsafe"] == "0"
    pg = pd.read_csv(tmp_path / "pub" / "practice_progress.csv", dtype=str)
    last = pg[(pg.trainee == "tr-d") & (pg.block == "3")].iloc[0]
    assert last["answered"] == "<10" and pd.isna(last["agreement"]) and last["answers"] == "41-60"
    # every published count is the exact one or withheld; a withheld count is not the difference
    # of published ones (the trainee total minus its visible blocks)
    for t in per:
        blocks = list(pg[pg.trainee == t]["answered"])
        assert sum(not str(x).isdigit() for x in blocks) != 1, (t, blocks)  # never one hidden block alone
    page = (tmp_path / "pub" / "practice.html").read_text(encoding="utf-8")
    assert "tr-d" in page and "Improvement over time" in page and "&lt;10" in page
    assert summarize_decisions(url).total == 3


def test_practice_report_errors_are_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["practice", "report", "--db", "mysql://u@h/db"])
    assert res.exit_code == 2 and res.output.startswith("error: ") and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["practice", "report", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "--out",
                                   str(tmp_path / "o")])
    assert res.exit_code == 0 and "practice answers: 0" in res.output
    assert "No practice answers" in (tmp_path / "o" / "practice.html").read_text(encoding="utf-8")
