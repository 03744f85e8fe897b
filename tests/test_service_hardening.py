"""The service as an attacker and an auditor try it (issue 14, reproduction 6).

No server error at the edges of the datetime range; request bodies only as JSON (a web page
can POST text/plain to a loopback service without asking first); the triage shortcut as
strict as the route; no answer for a host name nobody allowed (DNS rebinding); IPv4-mapped
loopback is loopback; no password in any message; decision logs, analyst tables and the
workspace's sensitive files readable by their owner only. In process (Starlette's client)
where that suffices, and as a real `serve` process on loopback where the network matters.
"""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from rightresponse.ingest.workspace import Workspace  # noqa: E402
from rightresponse.service.app import create_app  # noqa: E402
from rightresponse.service.security import is_loopback  # noqa: E402
from rightresponse.service.testing import ServerProcess, cached_model, free_port  # noqa: E402
from rightresponse.taxonomy.classify import default_classifier  # noqa: E402

from conftest import CFS, need  # noqa: E402

TOKEN = "hardening-token-31"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WELFARE = {"call_type": "welfare check", "flags": ["no_weapon"], "at": "2025-10-05T14:00:00"}


@pytest.fixture(scope="module")
def classifier(request):
    return default_classifier(cached_model(request.config))


def app(tmp_path, classifier, **kw):
    return create_app(policies=["denver-star"], db_url=f"sqlite:///{tmp_path / 'd.db'}", classifier=classifier,
                      api_token=TOKEN, warm=False, reload_interval=0, **kw)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------- no 5xx at the edges of the range

EDGES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+00:01",
         "9999-12-31T23:59:59.999999-01:00"]


@pytest.mark.parametrize("value", EDGES)
def test_summary_bounds_outside_the_range_are_a_clear_422(tmp_path, classifier, value):
    with TestClient(app(tmp_path, classifier), raise_server_exceptions=False) as c:
        for name in ("since", "until"):
            r = c.get("/v1/decisions/summary", params={name: value})
            assert r.status_code == 422, r.text
            assert r.json()["detail"].startswith(f"{name}: out of range")


def test_summary_bounds_at_the_range_edges_work(tmp_path, classifier):
    with TestClient(app(tmp_path, classifier), raise_server_exceptions=False) as c:
        r = c.get("/v1/decisions/summary", params={"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"})
        assert r.status_code == 200 and r.json()["total"] == 0


def test_recommended_at_at_the_edges(tmp_path, classifier):
    with TestClient(app(tmp_path, classifier), raise_server_exceptions=False) as c:
        rec = c.post("/v1/triage", json=WELFARE).json()
        body = {**WELFARE, "dispatched": rec["responder"], "call_taker": "ct-1"}
        for value in EDGES:
            r = c.post("/v1/decisions", json={**body, "recommended_at": value}, headers=AUTH)
            assert r.status_code == 422 and r.json()["detail"].startswith("recommended_at:"), r.text
        r = c.post("/v1/decisions", json={**body, "recommended_at": "0001-01-01T00:00:00+00:00"}, headers=AUTH)
        assert r.status_code == 201, r.text
    con = sqlite3.connect(tmp_path / "d.db")  # read back without the service's code
    try:
        assert con.execute("SELECT recommended_at FROM decisions").fetchall() == [("0001-01-01 00:00:00.000000",)]
    finally:
        con.close()


# ---------------------------------------------------------------- JSON only, and the shortcut as strict as the route


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_a_body_that_is_not_declared_json_is_refused(tmp_path, classifier, content_type):
    """A page on any site can send these to 127.0.0.1 without a CORS preflight."""
    with TestClient(app(tmp_path, classifier)) as c:
        assert c.post("/v1/triage", json=WELFARE).status_code == 200  # the call type is now cached
        headers = {"Content-Type": content_type} if content_type else {}
        r = c.post("/v1/triage", content=json.dumps(WELFARE), headers=headers)
        if content_type is None:  # httpx adds none: check it really sent none
            assert "content-type" not in r.request.headers
        assert r.status_code == 415 and "application/json" in r.json()["detail"], r.text
        body = {**WELFARE, "dispatched": "crisis_team", "call_taker": "ct-1"}
        assert c.post("/v1/decisions", content=json.dumps(body), headers={**headers, **AUTH}).status_code == 415
        for ok in ("application/json; charset=utf-8", "application/problem+json"):
            assert c.post("/v1/triage", content=json.dumps(WELFARE), headers={"Content-Type": ok}).status_code == 200
        assert c.post("/v1/policies/reload", headers=AUTH).status_code == 200  # no body, no type: fine


BODIES = [
    WELFARE,
    {**WELFARE, "priority": 2},
    {**WELFARE, "priority": "2"},
    {**WELFARE, "priority": 2.0},
    {**WELFARE, "priority": True},
    {**WELFARE, "flags": {"weapon": "true"}},
    {**WELFARE, "flags": {"weapon": 1}},
    {**WELFARE, "at": "14:00"},
    {**WELFARE, "at": 1400},
    {**WELFARE, "origin": "911"},
    {**WELFARE, "origin": None},
    {**WELFARE, "unavailable": ["crisis_team"]},
    {**WELFARE, "policy": "denver-star"},
    {**WELFARE, "policy": "nope"},
    {**WELFARE, "extra": 1},
]
RAW = [b'{"call_type": "welfare check", "call_type": "welfare check", "at": "14:00"}',
       b'{"call_type": "welf\\u0061re check", "at": "14:00"}',
       b'{"call_type": "welfare check", "priority": NaN}',
       b'{"call_type": "welfare check", "priority": 1e400}',
       b'{"call_type": "welfare check"} trailing',
       b'\xef\xbb\xbf{"call_type": "welfare check"}']


@pytest.mark.slow
@pytest.mark.parametrize("raw", [json.dumps(b).encode() for b in BODIES] + RAW)
def test_the_triage_shortcut_answers_as_the_route_does(tmp_path, classifier, raw):
    """The same request twice: first the call type is new (the FastAPI route answers and
    caches it), then it is cached (the shortcut may answer). Same status, same body."""
    application = app(tmp_path, classifier)
    st = application.state.rr
    with TestClient(application) as c:
        slot = st.policies.default
        assert st.policies.categorizer(slot.policy).known("welfare check") is None
        first = c.post("/v1/triage", content=raw, headers={"Content-Type": "application/json"})
        if first.status_code == 200:
            assert st.policies.categorizer(slot.policy).known("welfare check") is not None
        second = c.post("/v1/triage", content=raw, headers={"Content-Type": "application/json"})
        assert (second.status_code, second.json()) == (first.status_code, first.json())


# ---------------------------------------------------------------- hosts (DNS rebinding) and loopback


@pytest.mark.parametrize("host, allowed", [
    ("localhost:8000", True), ("127.0.0.1", True), ("127.0.0.1:8000", True), ("[::1]:8000", True),
    ("console.localhost", True), ("10.20.30.40:8000", True), ("[fe80::1]", True),
    ("evil.example", False), ("evil.example:8000", False), ("localhost.evil.example", False),
    ("127.0.0.1.nip.io", False), ("dispatch.city.example", False), ("", False), ("x:y:z", False),
])
def test_only_allowed_host_names_are_answered(tmp_path, classifier, host, allowed):
    with TestClient(app(tmp_path, classifier)) as c:
        for method, path in (("GET", "/"), ("GET", "/v1/policies"), ("POST", "/v1/triage")):
            r = c.request(method, path, json=WELFARE if method == "POST" else None, headers={"Host": host})
            assert (r.status_code != 421) is allowed, (method, path, r.status_code, r.text)
            if not allowed:
                assert "--allow-host" in r.json()["detail"]


def test_allow_host_adds_names(tmp_path, classifier):
    with TestClient(app(tmp_path, classifier, allow_hosts=["Dispatch.City.Example"])) as c:
        assert c.get("/v1/policies", headers={"Host": "dispatch.city.example:8000"}).status_code == 200
        assert c.get("/v1/policies", headers={"Host": "evil.example"}).status_code == 421
    with TestClient(app(tmp_path, classifier, allow_hosts=["*"])) as c:
        assert c.get("/v1/policies", headers={"Host": "evil.example"}).status_code == 200


@pytest.mark.slow
def test_serve_refuses_unknown_hosts_on_a_real_socket(tmp_path, request):
    model = cached_model(request.config)
    with ServerProcess(["--policy", "status-quo", "--model", model, "--reload-interval", "0",
                        "--db", f"sqlite:///{tmp_path / 'd.db'}", "--allow-host", "dispatch.city.example"],
                       log_path=tmp_path / "server.log") as srv:
        for host, status in (("evil.example", 421), ("dispatch.city.example", 200), (f"localhost:{srv.port}", 200)):
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
            try:
                conn.request("GET", "/v1/policies", headers={"Host": host})
                assert conn.getresponse().status == status, host
            finally:
                conn.close()


def test_ipv4_mapped_loopback_is_loopback(tmp_path, classifier):
    assert is_loopback("::ffff:127.0.0.1") and is_loopback("::ffff:127.8.9.10") and is_loopback("::1")
    assert not is_loopback("::ffff:10.0.0.1") and not is_loopback("::ffff:7f00:1x")
    # a dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d: triage without a token
    with TestClient(app(tmp_path, classifier), client=("::ffff:127.0.0.1", 50000), base_url="http://localhost") as c:
        assert c.post("/v1/triage", json=WELFARE).status_code == 200
    with TestClient(app(tmp_path, classifier), client=("::ffff:192.0.2.7", 50000), base_url="http://localhost") as c:
        assert c.post("/v1/triage", json=WELFARE).status_code == 401


# ---------------------------------------------------------------- no password in any message


def _serve_error(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "rightresponse.cli", "serve", "--port", str(free_port()), *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("url", [
    "postgresql://user:S3cretPW@localhost:notaport/db",
    "postgresql://user:S3cretPW@127.0.0.1:{port}/db",
    "postgresql+nodriver://user:S3cretPW@localhost/db",
    "postgresql://user:S3cret@PW@localhost:{port}/db",
    "postgresql://user:S3cretPW@localhost:{port}/db?sslmode=bogus",
])
@pytest.mark.slow
def test_database_passwords_never_appear_in_messages(url, tmp_path):
    """Issue 14: `serve --db postgresql://user:PASSWORD@...` echoed the password."""
    url = url.format(port=free_port())
    err = _serve_error("--db", url)
    assert "S3cret" not in err and "PW@" not in err, err
    proc = subprocess.run([sys.executable, "-m", "rightresponse.cli", "assess", "--workspace", str(tmp_path),
                           "--decisions", url], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "S3cret" not in proc.stderr, proc.stderr


# ---------------------------------------------------------------- owner-only files


def test_decision_log_is_created_owner_only(tmp_path, classifier):
    db = tmp_path / "new" / "decisions.db"
    with TestClient(create_app(policies=["denver-star"], db_url=f"sqlite:///{db}", classifier=classifier,
                               api_token=TOKEN, warm=False, reload_interval=0)) as c:
        rec = c.post("/v1/triage", json=WELFARE).json()
        body = {**WELFARE, "dispatched": rec["responder"], "call_taker": "ct-1"}
        assert c.post("/v1/decisions", json=body, headers=AUTH).status_code == 201
        files = sorted(p.name for p in db.parent.iterdir())
        assert files[0] == "decisions.db" and set(files) <= {"decisions.db", "decisions.db-wal", "decisions.db-shm"}
        assert {p.name: mode(p) for p in db.parent.iterdir()} == {f: 0o600 for f in files}
    assert mode(db.parent) == 0o700


@pytest.mark.slow
def test_workspace_sensitive_files_and_analyst_tables_are_owner_only(tmp_path):
    os.umask(0o022)
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "rightresponse.cli", "assess", str(need(CFS / "new_orleans" /
                           "nola_cfs_2016_subset_from_diff.csv")), "--workspace", str(tmp_path / "ws"), "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    ws = tmp_path / "ws"
    assert Workspace(ws).files("sensitive")
    for table in ("sensitive", "quarantine"):
        for p in [ws / table, *(ws / table).rglob("*")] if (ws / table).exists() else []:
            assert mode(p) == (0o700 if p.is_dir() else 0o600), p
    assert sorted(p.name for p in (out / "analyst").iterdir())
    for p in [out / "analyst", *(out / "analyst").iterdir()]:
        assert mode(p) == (0o700 if p.is_dir() else 0o600), p
    assert mode(out / "report.html") == 0o644  # the report is meant to be shared
    assert mode(next((ws / "calls").rglob("*.parquet"))) == 0o644
