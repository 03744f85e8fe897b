"""The HTTP API in process: the triage contract, validation, tokens, decisions, limits, reloads, logs."""

from __future__ import annotations

import csv
import json
import logging
import shutil
import sqlite3
import time
import uuid
import warnings
from pathlib import Path

import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # starlette's note about its httpx-based test client
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from rightresponse.policy import FLAGS, make_call, triage  # noqa: E402
from rightresponse.policy.definition import PRESETS_DIR, parse_policy# noqa: E402
from rightresponse.service.app import create_app  # noqa: E402
from rightresponse.service.testing import cached_model  # noqa: E402
from rightresponse.taxonomy.classify import default_classifier  # noqa: E402
from rightresponse.taxonomy.crosswalk import CROSSWALK_DIR  # noqa: E402
from rightresponse.taxonomy.call_type_text import match_key  # noqa: E402
from rightresponse.taxonomy.provider import category_provider  # noqa: E402

TOKEN = "test-token-5f2c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def classifier(request):
    path = cached_model(request.config)
    return default_classifier(path)


def fresh_policy(name: str, classifier):
    """The preset parsed anew (not the shared cached object)."""
    path = str(PRESETS_DIR / f"{name}.yaml")
    findings: list = []
    return parse_policy(yaml.safe_load(Path(path).read_text(encoding="utf-8")), path, findings)


@pytest.fixture(scope="module")
def served(tmp_path_factory, classifier):
    db = tmp_path_factory.mktemp("api") / "decisions.db"
    app = create_app(policies=["denver-star", "status-quo"], db_url=f"sqlite:///{db}", classifier=classifier,
                     api_token=TOKEN, warm=False, reload_interval=0)
    with TestClient(app) as client:
        yield client, db


def rows(db: Path) -> list[dict]:
    """Read the decision log with the sqlite3 module: independent of the service's SQLAlchemy code."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM decisions ORDER BY recorded_at")]
    finally:
        con.close()


NO = [f"no_{f}" for f in FLAGS]  # every screening question answered "no"

CALLS = [
    {"call_type": "welfare check", "flags": ["weapon"], "priority": "2", "at": "2025-10-05T03:00:00"},
    {"call_type": "welfare check", "flags": NO, "at": "2025-10-05T14:00:00"},
    {"call_type": "DWI - DRUNK/INTOX DRIVER", "flags": NO, "at": "2025-10-05T14:00:00"},
    {"call_type": "welfare check", "flags": ["no_weapon"], "at": "2025-10-05T14:00:00"},
    {"call_type": "WELF CHK", "flags": {"injury": True}, "at": "12:00"},
    {"call_type": "armed robbery", "priority": 1, "at": "2025-10-05T12:00:00"},
    {"call_type": "trespassing", "flags": ["violence"], "at": "2025-10-06T12:00:00"},
    {"call_type": "intoxicated person", "at": "2025-10-05T21:59:00"},
    {"call_type": "mental health distress", "at": "2025-10-05T22:00:00"},
]


@pytest.mark.parametrize("call", CALLS, ids=[c["call_type"] + "-" + str(i) for i, c in enumerate(CALLS)])
def test_triage_returns_the_cli_json_contract(served, classifier, call):
    client, _ = served
    r = client.post("/v1/triage", json=call)
    assert r.status_code == 200, r.text
    got = r.json()
    pol = fresh_policy("denver-star", classifier)
    flags = call.get("flags")
    want = triage(pol, make_call(call["call_type"], priority=call.get("priority"), at=call.get("at"),
                                 flags=flags if isinstance(flags, dict) else list(flags or [])),
                  category_provider(classifier=classifier)).to_dict()
    assert {k: got[k] for k in want} == want
    assert set(want) == {"responder", "co_responder", "fallback", "rule", "reason", "questions", "policy_hash", "status",
                         "if_screened", "screen", "call_type_flags", "call_type_dangers", "floor"}
    # Each question carries the flag it establishes, so a console can send the answer back.
    assert [q["text"] for q in got["ask"]] == got["questions"]
    for q in got["ask"]:
        if q["flag"]:
            assert q["flag"] not in (flags or {}) and f"no_{q['flag']}" not in (flags or [])


def test_triage_example_from_the_issue(served):
    client, _ = served
    r = client.post("/v1/triage", json={"call_type": "welfare check", "flags": ["weapon"], "priority": "2",
                                        "at": "2025-10-05T03:00:00"})
    got = r.json()
    # Denver sends its co-responder team to a STAR-type call that fails the safety screen, but
    # the team works 07:00-23:00: at 03:00 the call goes to police, and the reason says so.
    assert (got["rule"], got["intended"], got["responder"]) == ("star_screened_out", "co_responder", "police")
    assert "off duty at 03:00" in got["reason"]
    assert got["policy_hash"] == fresh_policy("denver-star", None).hash


def test_triage_screen_first_until_every_screening_question_is_no(served):
    client, _ = served
    got = client.post("/v1/triage", json={"call_type": "welfare check", "at": "2025-10-05T14:00:00"}).json()
    assert (got["responder"], got["status"], got["if_screened"]["responder"]) == ("co_responder", "screen_first", "crisis_team")
    assert got["screen"] == ["weapon", "violence", "crime_in_progress", "suicide_risk_with_means", "injury"]
    assert [q["flag"] for q in got["ask"]][:5] == got["screen"]
    got = client.post("/v1/triage", json={"call_type": "ARMED PERSON", "flags": NO, "at": "2025-10-05T14:00:00"}).json()
    assert (got["responder"], got["status"], got["call_type_flags"]) == ("police", "final", ["weapon"])
    assert got["call_type_dangers"] == ["weapon"] and "does not override it" in got["reason"]


def test_triage_can_name_another_loaded_policy(served):
    client, _ = served
    got = client.post("/v1/triage", json={"call_type": "welfare check", "policy": "status-quo", "at": "14:00"}).json()
    assert got["responder"] == "police" and got["policy"] == "status-quo"
    r = client.post("/v1/triage", json={"call_type": "welfare check", "policy": "nope"})
    assert r.status_code == 404 and "status-quo" in r.json()["detail"]


@pytest.mark.parametrize("body, status, words", [
    ({"call_type": "welfare check", "flags": ["bogus"]}, 422, "unknown flag 'bogus'"),
    ({"call_type": ""}, 422, "call_type"),
    ({"flags": ["weapon"]}, 422, "call_type: Field required"),
    ({"call_type": "x", "priority": "urgent"}, 422, "priority 'urgent'"),
    ({"call_type": "x", "at": "yesterday"}, 422, "at='yesterday'"),
    ({"call_type": "x", "at": "2025-10-05"}, 422, "not only a date"),
    ({"call_type": "x", "colour": "red"}, 422, "colour"),
    ({"call_type": "a\x00b"}, 422, "control characters"),
    ({"call_type": "x" * 201}, 422, "at most 200"),
    ({"call_type": "x", "unavailable": ["batman"]}, 422, "unavailable"),
    ({"call_type": "x", "flags": {"weapon": "maybe"}}, 422, "flags"),
], ids=lambda v: v if isinstance(v, int) else None)
def test_triage_rejects_bad_input_with_a_clear_4xx(served, body, status, words):
    client, _ = served
    r = client.post("/v1/triage", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_triage_rejects_non_json(served):
    client, _ = served
    r = client.post("/v1/triage", content=b"not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    r = client.post("/v1/triage", json=["welfare check"])
    assert r.status_code == 422


def decision(**kw):
    body = {"call_type": "welfare check", "flags": NO, "at": "2025-10-05T14:00:00",
            "dispatched": "crisis_team", "call_taker": "ct-0101"}
    body.update(kw)
    return body


def test_decisions_need_the_bearer_token(served):
    client, db = served
    before = len(rows(db))
    assert client.post("/v1/decisions", json=decision()).status_code == 401
    assert client.post("/v1/decisions", json=decision(), headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/v1/decisions", json=decision(), headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    r = client.post("/v1/decisions", json=decision(), headers={"Authorization": TOKEN})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert len(rows(db)) == before


def test_writes_are_refused_when_no_token_is_configured(tmp_path, classifier, monkeypatch):
    monkeypatch.delenv("RIGHTRESPONSE_API_TOKEN", raising=False)
    app = create_app(policies=["status-quo"], db_url=f"sqlite:///{tmp_path / 'd.db'}", classifier=classifier,
                     warm=False, reload_interval=0, agency="detroit")
    with TestClient(app) as c:
        r = c.post("/v1/decisions", json=decision(dispatched="police"), headers={"Authorization": "Bearer "})
        assert r.status_code == 401 and "RIGHTRESPONSE_API_TOKEN" in r.json()["detail"]
        assert c.post("/v1/triage", json={"call_type": "x"}).status_code == 200


def test_an_acknowledged_decision_is_in_the_database(served):
    client, db = served
    before = len(rows(db))
    rec = client.post("/v1/triage", json={"call_type": "welfare check", "flags": NO,
                                          "at": "2025-10-05T14:00:00"}).json()
    assert (rec["responder"], rec["status"]) == ("crisis_team", "final")
    did = str(uuid.uuid4())
    r = client.post("/v1/decisions", headers=AUTH, json=decision(
        id=did, dispatched="police", override_reason="safety_concern", override_note="caller mentioned a dog",
        policy_hash=rec["policy_hash"][:16], recommended_at="2025-10-05T14:00:05+02:00"))
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["id"], out["accepted"], out["responder"], out["dispatched"]) == (did, False, "crisis_team", "police")
    got = rows(db)
    assert len(got) == before + 1
    row = [x for x in got if x["id"] == did][0]
    assert row["policy"] == "denver-star" and row["policy_hash"] == rec["policy_hash"]
    assert (row["rule"], row["recommended"], row["fallback"], row["intended"]) == ("star_call_types", "crisis_team", "police", "crisis_team")
    assert (row["dispatched"], row["accepted"], row["override_reason"]) == ("police", 0, "safety_concern")
    assert row["override_note"] == "caller mentioned a dog"
    assert (row["eligible"], row["handled"]) == (1, 0)
    assert row["call_taker"] == "ct-0101"
    assert json.loads(row["flags"]) == {f: False for f in FLAGS}
    assert row["recommended_at"].startswith("2025-10-05 12:00:05")  # stored in UTC
    assert row["call_type"] == "welfare check" and row["call_type_known"] == 1  # a listed call type


def test_free_text_and_narratives_are_not_stored_unless_configured(served):
    client, db = served
    did = str(uuid.uuid4())
    # a call type the classifier is sure of (a vaguer one is left for review, with no category)
    r = client.post("/v1/decisions", headers=AUTH, json=decision(
        id=did, call_type="loud party outside 1200 Elm St", dispatched="police",
        narrative="Caller Jane Roe says her neighbour is yelling", at="2025-10-05T14:00:00"))
    assert r.status_code == 201, r.text
    assert r.json()["narrative_stored"] is False
    row = [x for x in rows(db) if x["id"] == did][0]
    assert row["call_type"] is None and row["call_type_known"] == 0 and row["narrative"] is None
    assert row["category"]  # the category is kept: it is what the summary needs


def test_narratives_are_stored_when_configured(tmp_path, classifier):
    db = tmp_path / "n.db"
    app = create_app(policies=["denver-star"], db_url=f"sqlite:///{db}", classifier=classifier, api_token=TOKEN,
                     warm=False, reload_interval=0, store_narrative=True)
    with TestClient(app) as c:
        assert c.get("/v1/console").json()["store_narrative"] is True
        r = c.post("/v1/decisions", headers=AUTH, json=decision(
            call_type="guy yelling outside", dispatched="no_dispatch", override_reason="other",
            narrative="Caller reports shouting"))
        assert r.status_code == 201 and r.json()["narrative_stored"] is True
    (row,) = rows(db)
    assert (row["call_type"], row["call_type_known"], row["narrative"]) == ("guy yelling outside", 0, "Caller reports shouting")


def test_replaying_a_decision_records_it_once(served):
    client, db = served
    did = str(uuid.uuid4())
    body = decision(id=did)
    first = client.post("/v1/decisions", headers=AUTH, json=body)
    again = client.post("/v1/decisions", headers=AUTH, json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["replay"] is True and again.json()["recorded_at"] == first.json()["recorded_at"]
    assert sum(1 for x in rows(db) if x["id"] == did) == 1
    other = client.post("/v1/decisions", headers=AUTH, json={**body, "call_taker": "ct-0202"})
    assert other.status_code == 409


def test_override_rules(served):
    client, _ = served
    r = client.post("/v1/decisions", headers=AUTH, json=decision(dispatched="police"))
    assert r.status_code == 422 and "override_reason: required" in r.json()["detail"]
    assert "recommended crisis_team" in r.json()["detail"]
    r = client.post("/v1/decisions", headers=AUTH, json=decision(override_reason="other"))
    assert r.status_code == 422 and "follows the recommendation" in r.json()["detail"]
    r = client.post("/v1/decisions", headers=AUTH, json=decision(override_reason="because"))
    assert r.status_code == 422 and "override_reason" in r.json()["detail"]
    r = client.post("/v1/decisions", headers=AUTH, json=decision(call_taker="Jane Roe"))
    assert r.status_code == 422 and "call_taker" in r.json()["detail"]
    r = client.post("/v1/decisions", headers=AUTH, json=decision(policy_hash="0" * 64))
    assert r.status_code == 409 and "triage the call again" in r.json()["detail"]


def test_summary_matches_an_independent_count(tmp_path, classifier):
    app = create_app(policies=["denver-star"], db_url=f"sqlite:///{tmp_path / 's.db'}", classifier=classifier,
                     api_token=TOKEN, warm=False, reload_interval=0, agency="detroit")
    plan = [("welfare check", NO, "14:00", None), ("welfare check", NO, "14:00", "police"),
            ("welfare check", ["weapon"], "14:00", None), ("trespassing", NO, "10:00", None),
            ("trespassing", NO, "10:00", "police"), ("trespassing", NO, "03:00", None),
            ("armed robbery", [], "12:00", None), ("armed robbery", [], "12:00", "co_responder"),
            ("welfare check", ["injury"], "12:00", None), ("intoxicated person", NO, "11:00", None),
            ("intoxicated person", [], "11:00", None)]  # screen not done: the co-responder team goes
    expected = []
    with TestClient(app) as c:
        for ct, flags, at, override in plan:
            rec = c.post("/v1/triage", json={"call_type": ct, "flags": flags, "at": at}).json()
            body = {"call_type": ct, "flags": flags, "at": at, "call_taker": "ct-7",
                    "dispatched": override or rec["responder"], "dispatched_co": None if override else rec["co_responder"]}
            if override:
                body["override_reason"] = "caller_information"
            assert c.post("/v1/decisions", headers=AUTH, json=body).status_code == 201
            expected.append({**rec, "dispatched": body["dispatched"], "override": override is not None})
        s = c.get("/v1/decisions/summary").json()
    alt = ("crisis_team", "community_responder", "non_emergency")
    assert s["total"] == len(plan) and s["overrides"] == sum(e["override"] for e in expected)
    by_rule: dict = {}
    for e in expected:
        d = by_rule.setdefault(e["rule"], [0, 0])
        d[0] += 1
        d[1] += e["override"]
    assert {r["rule"]: [r["decisions"], r["overrides"]] for r in s["by_rule"]} == by_rule
    by_cat: dict = {}
    for e in expected:
        d = by_cat.setdefault(e["category"] or "(none)", [0, 0])
        d[0] += 1
        d[1] += e["override"]
    assert {r["category"]: [r["decisions"], r["overrides"]] for r in s["by_category"]} == by_cat
    eligible = [e for e in expected if e["intended"] in alt]
    handled = [e for e in eligible if e["dispatched"] == e["intended"]]
    assert (s["alternative"]["eligible"], s["alternative"]["handled"]) == (len(eligible), len(handled))
    assert s["alternative"]["share"] == round(len(handled) / len(eligible), 4)
    # trespassing at 03:00: STAR is off duty, so it is eligible but police went (the fallback).
    assert len(eligible) > len(handled) >= 1


def test_body_size_limit(served):
    client, _ = served
    big = {"call_type": "x", "padding": "y" * 70_000}
    r = client.post("/v1/triage", json=big)
    assert r.status_code == 413 and "limit 65536" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit still applies
        for _ in range(70):
            yield b"x" * 1024

    r = client.post("/v1/triage", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


@pytest.mark.slow
def test_rate_limit_is_a_token_bucket_per_client(tmp_path, classifier):
    app = create_app(policies=["status-quo"], db_url=f"sqlite:///{tmp_path / 'r.db'}", classifier=classifier,
                     warm=False, reload_interval=0, rate=1, burst=5, agency="detroit")
    with TestClient(app) as c:
        codes = [c.post("/v1/triage", json={"call_type": "ALARM"}).status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
        r = c.get("/v1/policies")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        time.sleep(1.1)
        assert c.get("/v1/policies").status_code == 200


def test_access_log_carries_no_personal_data(served, caplog):
    client, _ = served
    secret_taker, secret_text = "ct-zz-4711", "Jane Roe at 1200 Elm St"
    with caplog.at_level(logging.DEBUG):
        client.post("/v1/triage", json={"call_type": secret_text, "at": "14:00"})
        client.post("/v1/decisions?who=" + secret_taker, headers=AUTH, json=decision(
            call_taker=secret_taker, call_type=secret_text, dispatched="no_dispatch", override_reason="other",
            override_note=secret_text, narrative=secret_text))
        client.post("/v1/decisions", json=decision(call_taker=secret_taker))  # 401
        client.post("/v1/triage", json={"call_type": secret_text, "flags": ["nope"]})  # 422
    # What the server logged (the test client's own httpx log line shows the URL it called).
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("rightresponse", "uvicorn")))
    assert "POST /v1/triage 200" in text and "POST /v1/decisions 201" in text and "POST /v1/decisions 401" in text
    for s in (secret_taker, "Jane", "Elm", "who="):
        assert s not in text


def test_policy_reload_is_atomic_and_keeps_the_old_policy_on_error(tmp_path, classifier):
    path = tmp_path / "city.yaml"
    shutil.copy(PRESETS_DIR / "denver-star.yaml", path)
    app = create_app(policies=[str(path)], db_url=f"sqlite:///{tmp_path / 'p.db'}", classifier=classifier,
                     api_token=TOKEN, warm=False, reload_interval=0.05, agency="detroit")
    call = {"call_type": "armed robbery", "at": "12:00"}

    def wait_for(pred, what):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            info = c.get("/v1/policies").json()["policies"][0]
            if pred(info):
                return info
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {info}")

    with TestClient(app) as c:
        old = c.get("/v1/policies").json()["policies"][0]
        first = c.post("/v1/triage", json=call).json()
        assert first["policy_hash"] == old["hash"]

        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("reason: Not a STAR call type; the usual police response.",
                                     "reason: Not a STAR call type; police respond."), encoding="utf-8")
        new = wait_for(lambda i: i["hash"] != old["hash"], "the edited policy")
        assert new["reloads"] == 1 and new["reload_error"] is None
        rec = c.post("/v1/triage", json={"call_type": "noise complaint", "at": "12:00"}).json()
        assert rec["policy_hash"] == new["hash"] and rec["reason"] == "Not a STAR call type; police respond."

        # A decision on the recommendation shown before the reload is still checked against that version.
        r = c.post("/v1/decisions", headers=AUTH, json={**call, "policy_hash": old["hash"], "dispatched": "police",
                                                         "call_taker": "ct-1"})
        assert r.status_code == 201 and r.json()["policy_hash"] == old["hash"]

        path.write_text(text.replace("responder: crisis_team", "responder: crisis_teem"), encoding="utf-8")
        bad = wait_for(lambda i: i["reload_error"], "the rejected policy")
        assert bad["hash"] == new["hash"] and "crisis_teem" in bad["reload_error"]
        assert c.post("/v1/triage", json=call).json()["policy_hash"] == new["hash"]

        path.write_text("rules: [unclosed", encoding="utf-8")
        bad = wait_for(lambda i: "not valid YAML" in (i["reload_error"] or ""), "the broken YAML")
        assert bad["hash"] == new["hash"]

        assert c.post("/v1/policies/reload").status_code == 401
        r = c.post("/v1/policies/reload", headers=AUTH)
        assert r.status_code == 422 and r.json()["policies"][0]["hash"] == new["hash"]
        path.write_text(text, encoding="utf-8")
        r = c.post("/v1/policies/reload", headers=AUTH)
        assert r.status_code == 200 and r.json()["policies"][0]["hash"] == old["hash"]


def test_call_types_of_one_agency_come_from_its_crosswalk(tmp_path, classifier):
    app = create_app(policies=["status-quo"], db_url=f"sqlite:///{tmp_path / 'c.db'}", classifier=classifier,
                     warm=True, reload_interval=0, agency="detroit")
    with open(CROSSWALK_DIR / "detroit.csv", encoding="utf-8-sig", newline="") as f:
        want: dict = {}
        for row in csv.DictReader(f):
            if row["category"].strip():
                want.setdefault(match_key(row["value"]), row["category"].strip())
    with TestClient(app) as c:
        deadline = time.monotonic() + 60
        while not c.get("/healthz").json()["ready"] and time.monotonic() < deadline:
            time.sleep(0.1)
        got = c.get("/v1/call-types").json()
        assert got["source"] == "crosswalk:detroit" and got["agency"] == "detroit"
        assert {match_key(it["value"]): it["category"] for it in got["call_types"]} == want
        # The agency's crosswalk decides the category in triage too.
        disturbance = next(it for it in got["call_types"] if match_key(it["value"]) == "DISTURBANCE")
        assert c.post("/v1/triage", json={"call_type": disturbance["value"]}).json()["category"] == want["DISTURBANCE"]


def test_call_types_from_a_workspace_with_counts(tmp_path, classifier, cfs):
    import duckdb

    from rightresponse import ingest

    src = cfs / "detroit" / "detroit_911_sample_2016.csv"
    summary = ingest([str(src)], workspace=tmp_path / "ws")
    assert summary.rows_loaded == 500
    app = create_app(policies=["status-quo"], db_url=f"sqlite:///{tmp_path / 'w.db'}", classifier=classifier,
                     warm=False, reload_interval=0, workspace=str(tmp_path / "ws"))
    raw = duckdb.connect().execute(
        "SELECT calldescription, count(*) FROM read_csv(?, all_varchar=true) "
        "WHERE coalesce(officerinitiated, '') <> 'Yes' AND trim(coalesce(calldescription, '')) <> '' "
        "GROUP BY 1", [str(src)]).fetchall()
    want: dict = {}
    for value, n in raw:
        k = " ".join(value.split()).upper()
        want[k] = want.get(k, 0) + n
    with TestClient(app) as c:
        got = c.get("/v1/call-types").json()
    assert got["source"] == "workspace" and got["agency"] == "detroit"
    assert {it["value"].upper(): it["count"] for it in got["call_types"]} == want
    counts = [it["count"] for it in got["call_types"]]
    assert counts == sorted(counts, reverse=True)  # most frequent first


def test_openapi_document_and_health(served):
    client, _ = served
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for p in ("/v1/triage", "/v1/policies", "/v1/policies/{name}", "/v1/decisions", "/v1/decisions/summary",
              "/v1/call-types", "/healthz"):
        assert p in paths
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
    assert set(doc["components"]["schemas"]["TriageOut"]["required"]) >= {
        "responder", "co_responder", "fallback", "rule", "reason", "questions", "policy_hash"}
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["db"] is True
    assert set(h["policies"]) == {"denver-star", "status-quo"}
    pols = client.get("/v1/policies").json()
    assert pols["default"] == "denver-star" and [p["id"] for p in pols["policies"]] == ["denver-star", "status-quo"]
    one = client.get("/v1/policies/denver-star").json()
    assert one["hash"] == pols["policies"][0]["hash"] and one["path"] == "denver-star.yaml"
    assert one["responders"]["crisis_team"]["name"].startswith("STAR van")
    assert client.get("/v1/policies/nope").status_code == 404
