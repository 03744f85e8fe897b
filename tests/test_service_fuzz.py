"""Property-based fuzzing of every operation in the OpenAPI document: no input gives a 5xx.

Schemathesis generates valid and invalid requests from the schema the service publishes and
sends them in process (ASGI), with the bearer token so the write paths are exercised too.
Each operation gets its own Hypothesis run per generation mode (schemathesis's own pytest
fixture loader does not work with pytest 9, so the strategies are driven directly). Bounded
examples keep it well under a minute.
"""

from __future__ import annotations

import warnings

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
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
]


@pytest.fixture(scope="module")
def api_schema(request, tmp_path_factory):
    clf = default_classifier(cached_model(request.config))
    db = tmp_path_factory.mktemp("fuzz") / "decisions.db"
    app = create_app(policies=["denver-star", "nicjr-tiers"], db_url=f"sqlite:///{db}", classifier=clf,
                     api_token=TOKEN, warm=False, reload_interval=0, agency="detroit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_is_fuzzed(api_schema):
    published = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert published == set(OPERATIONS)


# /healthz takes no input at all, so there is nothing invalid to generate for it.
CASES = [(m, p, g) for m, p in OPERATIONS for g in GenerationMode
         if not (p == "/healthz" and g is GenerationMode.NEGATIVE)]


@pytest.mark.parametrize("method, path, mode", CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_no_input_gives_a_server_error(api_schema, method, path, mode):
    op = api_schema[path][method]

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def check(case):
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error])

    check()
