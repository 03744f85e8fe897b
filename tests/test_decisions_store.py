"""The decision log on SQLite and on a real PostgreSQL: writes, replays, the summary, and crashes.

PostgreSQL is Debian's own package, started in a temporary directory on a free loopback port
(see rightresponse.service.testing); these tests skip only when its binaries are absent.
"""

from __future__ import annotations

import http.client
import json
import random
import sqlite3
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from conftest import skip_or_fail

pytest.importorskip("sqlalchemy")

from rightresponse.decisions.log import COLUMNS, ConflictError, DecisionStore, StoreError, normalize_url  # noqa: E402
from rightresponse.decisions.dispatch_summary import ALTERNATIVE_RESPONDERS, summarize_decisions  # noqa: E402
from rightresponse.service.testing import (PostgresUnavailable, ServerProcess, fresh_database,  # noqa: E402
                                           shared_postgres, cached_model)

TOKEN = "durable-token-9a1"


def _pg(name: str) -> str:
    try:
        base = shared_postgres()
    except PostgresUnavailable as exc:
        skip_or_fail(f"PostgreSQL not available: {exc}")
    return fresh_database(base, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'decisions.db'}"
    return _pg("rr_" + uuid.uuid4().hex[:10])


def independent_ids(url: str) -> list[str]:
    """Read the ids with the database's own driver, not through the service's SQLAlchemy code."""
    if url.startswith("sqlite:///"):
        con = sqlite3.connect(url[len("sqlite:///"):])
        try:
            return [r[0] for r in con.execute("SELECT id FROM decisions")]
        finally:
            con.close()
    import psycopg

    with psycopg.connect(url.replace("postgresql://", "postgresql://", 1)) as con:
        return [r[0] for r in con.execute("SELECT id FROM decisions")]


RESPONDERS = ["police", "crisis_team", "community_responder", "non_emergency", "co_responder", "fire_ems"]
CATEGORIES = ["Behavioral Health", "Assisting the Public", "Violent Crime", None, "Suspicion"]


def synthetic(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        intended = rng.choice(RESPONDERS)
        recommended = intended if rng.random() < 0.8 else "police"
        dispatched = recommended if rng.random() < 0.7 else rng.choice(RESPONDERS)
        accepted = dispatched == recommended
        eligible = intended in ALTERNATIVE_RESPONDERS
        out.append({
            "id": str(uuid.UUID(int=rng.getrandbits(128))), "recorded_at": start + timedelta(minutes=37 * i),
            "recommended_at": None, "call_at": "14:00", "policy": rng.choice(["denver-star", "nicjr-tiers"]),
            "policy_hash": "ab" * 32, "rule": rng.choice(["r1", "r2", "r3", "default"]),
            "category": rng.choice(CATEGORIES), "call_type": None, "call_type_known": False, "priority": None,
            "flags": {"weapon": False}, "recommended": recommended, "recommended_co": None, "fallback": None,
            "intended": intended, "dispatched": dispatched, "dispatched_co": None, "accepted": accepted,
            "override_reason": None if accepted else rng.choice(["safety_concern", "other"]),
            "override_note": None, "eligible": eligible, "handled": eligible and dispatched == intended,
            "call_taker": f"ct-{rng.randint(1, 9)}", "narrative": None,
        })
    return out


def _naive(rows, store):
    if store.dialect == "sqlite":
        for r in rows:
            r["recorded_at"] = r["recorded_at"].replace(tzinfo=None)
    return rows


def test_record_replay_and_conflict(db_url):
    store = DecisionStore(db_url)
    try:
        row = _naive(synthetic(1), store)[0]
        assert store.record(dict(row)).created is True
        again = store.record(dict(row))
        assert again.created is False and again.row["id"] == row["id"]
        with pytest.raises(ConflictError):
            store.record({**row, "dispatched": "fire_ems" if row["dispatched"] != "fire_ems" else "police"})
        assert store.count() == 1 and independent_ids(db_url) == [row["id"]]
        got = store.get(row["id"])
        assert set(got) == set(COLUMNS) and json.loads(got["flags"]) == {"weapon": False}
    finally:
        store.close()


def test_summary_in_sql_equals_pandas(db_url):
    store = DecisionStore(db_url)
    rows = _naive(synthetic(240), store)
    for r in rows:
        store.record(dict(r))
    try:
        s = summarize_decisions(store)
        df = pd.DataFrame(rows)
        df["override"] = ~df["accepted"]
        assert s.total == 240 and s.overrides == int(df["override"].sum())
        want_rule = df.groupby(["policy", "rule"]).agg(decisions=("id", "size"), overrides=("override", "sum"))
        got_rule = s.by_rule.set_index(["policy", "rule"])[["decisions", "overrides"]]
        pd.testing.assert_frame_equal(got_rule.sort_index(), want_rule.sort_index(), check_dtype=False)
        df["category"] = df["category"].fillna("(none)")
        want_cat = df.groupby("category").agg(decisions=("id", "size"), overrides=("override", "sum"))
        got_cat = s.by_category.set_index("category")[["decisions", "overrides"]]
        pd.testing.assert_frame_equal(got_cat.sort_index(), want_cat.sort_index(), check_dtype=False)
        elig = df[df["intended"].isin(ALTERNATIVE_RESPONDERS)]
        assert (s.eligible, s.handled) == (len(elig), int((elig["dispatched"] == elig["intended"]).sum()))
        per = {r["responder"]: (r["eligible"], r["handled"]) for r in s.alternative.to_dict("records")}
        assert per == {k: (len(g), int((g["dispatched"] == k).sum())) for k, g in elig.groupby("intended")}
        assert Counter(s.by_reason.set_index("override_reason")["overrides"].to_dict()) == Counter(
            df[df["override"]]["override_reason"].value_counts().to_dict())

        # A time window: recorded_at in [since, until).
        since, until = datetime(2026, 11, 2, tzinfo=timezone.utc), datetime(2026, 11, 4, tzinfo=timezone.utc)
        w = summarize_decisions(store, since=since.isoformat(), until=until)
        inside = [r for r in rows if since <= r["recorded_at"].replace(tzinfo=timezone.utc) < until]
        assert w.total == len(inside) > 0
        assert w.first == min(r["recorded_at"] for r in inside).replace(tzinfo=timezone.utc)
        assert summarize_decisions(store, policy="denver-star").total == sum(r["policy"] == "denver-star" for r in rows)

        html = s.to_html(min_cell=10)
        assert "Dispatch practice" in html and f"{s.total:,} decisions" in html
        assert "&lt;10" in html  # small cells are suppressed
        assert s.to_dict()["alternative"]["share"] == round(s.handled / s.eligible, 4)
    finally:
        store.close()


def test_database_urls():
    assert normalize_url("some/dir/d.db").startswith("sqlite:////")
    assert normalize_url(None) == "sqlite:///rr-decisions.db"
    assert normalize_url("postgresql://u@h/db").startswith("postgresql+psycopg")
    with pytest.raises(StoreError, match="not supported"):
        normalize_url("mysql://u@h/db")


# ------------------------------------------------------------------------ crashes

def _post(conn_box, port, body) -> int | None:
    """POST a decision on a kept-alive connection; None when the server did not answer."""
    try:
        if conn_box[0] is None:
            conn_box[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c = conn_box[0]
        c.request("POST", "/v1/decisions", body=json.dumps(body),
                  headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
        r = c.getresponse()
        r.read()
        return r.status
    except (OSError, http.client.HTTPException):
        if conn_box[0] is not None:
            conn_box[0].close()
        conn_box[0] = None
        return None


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_no_acknowledged_decision_is_lost_when_the_server_is_killed(backend, tmp_path, request):
    model = cached_model(request.config)
    url = f"sqlite:///{tmp_path / 'kill.db'}" if backend == "sqlite" else _pg("rr_kill_" + uuid.uuid4().hex[:8])
    args = ["--policy", "denver-star", "--db", url, "--model", model, "--agency", "detroit", "--reload-interval", "0"]
    srv = ServerProcess(args, env={"RIGHTRESPONSE_API_TOKEN": TOKEN}, log_path=tmp_path / "server.log")
    srv.start(ready=False)
    n = 400
    # no_dispatch is never what denver-star recommends: every decision is an override.
    bodies = [{"id": str(uuid.uuid4()), "call_type": ct, "at": "14:00", "call_taker": f"ct-{i % 5}",
               "dispatched": "no_dispatch", "override_reason": "other"}
              for i, ct in enumerate(["WELFARE CHECK", "ASSAULT", "TRESPASS", "DISTURBANCE"] * (n // 4))]
    acked_before_kill: set = set()
    acked: set = set()
    lock = threading.Lock()
    killed = threading.Event()
    todo = list(range(n))
    errors: list = []

    def worker():
        box = [None]
        while True:
            with lock:
                if not todo:
                    break
                i = todo.pop(0)
            status = _post(box, srv.port, bodies[i])
            with lock:
                if status in (200, 201):
                    acked.add(bodies[i]["id"])
                    if not killed.is_set():
                        acked_before_kill.add(bodies[i]["id"])
                elif status is None:
                    todo.append(i)  # no answer: retry later with the same id
                else:
                    errors.append(f"decision {i}: HTTP {status}")
            if status is None and killed.is_set():
                threading.Event().wait(0.2)
        if box[0] is not None:
            box[0].close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 120
        while len(acked) < n // 3:
            assert time.monotonic() < deadline and not errors, f"no progress: {len(acked)} acked, {errors[:3]}"
            threading.Event().wait(0.01)
        srv.kill()  # SIGKILL mid-run: in-flight requests get no answer
        killed.set()
        after_kill = set(independent_ids(url))
        assert acked_before_kill <= after_kill, "an acknowledged decision is missing after SIGKILL"
        srv.start(ready=False)
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
    finally:
        srv.stop()
    assert not errors, errors[:5]
    stored = independent_ids(url)
    assert len(stored) == len(set(stored)) == len(acked) == n  # nothing lost, nothing twice
    assert set(stored) == {b["id"] for b in bodies}
    assert len(acked_before_kill) >= n // 3
