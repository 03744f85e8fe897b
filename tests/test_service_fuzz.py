"""Property-based fuzzing of every operation in the OpenAPI document: no input gives a 5xx.

Schemathesis generates valid and invalid requests from the schema the service publishes and
sends them in process (ASGI), with the bearer token so the write paths are exercised too.
Each operation gets its own Hypothesis run per generation mode (schemathesis's own pytest
fixture loader does not work with pytest 9, so the strategies are driven directly). Bounded
examples keep it well under a minute.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from rightresponse.service.app import create_app  # noqa: E402
from rightresponse.service.testing import cached_model  # noqa: E402
from rightresponse.taxonomy.classify import default_classifier  # noqa: E402

TOKEN = "fuzz-token-77"

OPERATIONS = [
    ("POST", "/v1/triage"), ("GET", "/v1/policies"), ("GET", "/v1/policies/{name}"),
    ("POST", "/v1/policies/reload"), ("POST", "/v1/decisions"), ("GET", "/v1/decisions/summary"),
    ("GET", "/v1/call-types"), ("GET", "/v1/console"), ("GET", "/healthz"),
    ("POST", "/v1/practice/deal"), ("POST", "/v1/practice/answer"),
]
WEEK = Path(__file__).resolve().parents[1] / "src" / "rightresponse" / "data" / "sample" / "decc_psap_2025" / "week35.csv.gz"


@pytest.fixture(scope="module")
def practice_ws(tmp_path_factory):
    """One bundled DECC week, for the practice routes."""
    from rightresponse import ingest

    ws = tmp_path_factory.mktemp("fuzz_practice") / "ws"
    ingest([WEEK], workspace=ws)
    return ws


@pytest.fixture(scope="module")
def api_schema(request, tmp_path_factory, practice_ws):
    clf = default_classifier(cached_model(request.config))
    db = tmp_path_factory.mktemp("fuzz") / "decisions.db"
    app = create_app(policies=["denver-star", "nicjr-tiers"], db_url=f"sqlite:///{db}", classifier=clf,
                     api_token=TOKEN, warm=False, reload_interval=0, agency="detroit", practice=str(practice_ws))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.slow
def test_every_operation_is_fuzzed(api_schema):
    published = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert published == set(OPERATIONS)


# /healthz takes no input at all, so there is nothing invalid to generate for it.
CASES = [(m, p, g) for m, p in OPERATIONS for g in GenerationMode
         if not (p == "/healthz" and g is GenerationMode.NEGATIVE)]


@pytest.mark.slow
@pytest.mark.parametrize("method, path, mode", CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_no_input_gives_a_server_error(api_schema, method, path, mode):
    op = api_schema[path][method]

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def check(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error])

    check()


# Datetimes are where a valid-looking input reached a 500: an offset that puts the instant
# outside Python's years 1-9999 once in UTC. Schemathesis rarely draws those; this does.
_offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}")
_edge_days = st.sampled_from(["0001-01-01", "0001-01-02", "9999-12-30", "9999-12-31", "1970-01-01", "2025-11-02"])
_datetimes = st.one_of(
    st.tuples(_edge_days, st.times(), st.one_of(_offsets, st.just("Z"), st.just(""))).map(
        lambda t: f"{t[0]}T{t[1].isoformat()}{t[2]}"),
    st.datetimes().map(lambda d: d.isoformat()),
    st.text(max_size=30),
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(since=_datetimes, until=_datetimes, recommended_at=_datetimes)
def test_datetimes_at_the_range_edges_never_give_a_server_error(fuzz_client, since, until, recommended_at):
    c = fuzz_client
    r = c.get("/v1/decisions/summary", params={"since": since, "until": until})
    assert r.status_code < 500, (since, until, r.text)
    body = {"call_type": "welfare check", "flags": ["no_weapon"], "at": "2025-10-05T14:00:00",
            "dispatched": "crisis_team", "call_taker": "ct-1", "recommended_at": recommended_at}
    r = c.post("/v1/decisions", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code < 500, (recommended_at, r.text)


_answers = st.dictionaries(st.one_of(st.sampled_from(["weapon", "violence", "injury", "juvenile"]), st.text(max_size=12)),
                           st.one_of(st.booleans(), st.none(), st.integers(), st.text(max_size=5)), max_size=8)


@settings(max_examples=120, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(answers=st.one_of(_answers, st.lists(st.text(max_size=8), max_size=4), st.none()),
       responder=st.one_of(st.sampled_from(["police", "crisis_team", "no_dispatch", "fire_ems"]), st.text(max_size=12)),
       trainee=st.one_of(st.none(), st.text(max_size=70)))
def test_practice_answers_to_a_real_deal_never_give_a_server_error(practice_client, answers, responder, trainee):
    """Schemathesis cannot guess a dealt id: here every answer goes to a call really dealt."""
    c = practice_client
    r = c.post("/v1/practice/deal", json={} if trainee is None else {"trainee": trainee})
    assert r.status_code in (200, 422), r.text
    if r.status_code != 200:
        return
    r = c.post("/v1/practice/answer", json={"id": r.json()["id"], "answers": answers, "responder": responder})
    assert r.status_code in (200, 422), (answers, responder, r.text)


@pytest.fixture(scope="module")
def practice_client(request, tmp_path_factory, practice_ws):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    clf = default_classifier(cached_model(request.config))
    db = tmp_path_factory.mktemp("fuzz_practice_db") / "decisions.db"
    app = create_app(policies=["denver-star"], db_url=f"sqlite:///{db}", classifier=clf, warm=False, reload_interval=0,
                     practice=str(practice_ws), practice_seed=5)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def fuzz_client(request, tmp_path_factory):
    with warnings.catch_warnings():  # starlette's note about its httpx-based test client
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    clf = default_classifier(cached_model(request.config))
    db = tmp_path_factory.mktemp("fuzz_dt") / "decisions.db"
    app = create_app(policies=["denver-star"], db_url=f"sqlite:///{db}", classifier=clf, api_token=TOKEN, warm=False,
                     reload_interval=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
