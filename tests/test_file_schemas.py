"""One validation layer: the JSON Schemas editors use agree with the loaders, and the CLI
prints any RightResponseError one line per problem."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from rightresponse.cli import main as cli
from rightresponse.errors import RightResponseError
from rightresponse.ingest.adapter import builtin_adapter_dir
from rightresponse.validation import FORMATS, file_schema

jsonschema = pytest.importorskip("jsonschema")


def _shipped(kind):
    from rightresponse.policy.definition import PRESETS_DIR
    from rightresponse.simulate.scenario import SCENARIOS_DIR

    folder = {"adapter": builtin_adapter_dir(), "policy": PRESETS_DIR, "scenario": SCENARIOS_DIR}[kind]
    return sorted(folder.glob("*.yaml"))


@pytest.mark.parametrize("kind", list(FORMATS))
def test_the_schema_accepts_every_shipped_file_and_rejects_a_misspelt_key(kind):
    schema = file_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = _shipped(kind)
    assert files
    for path in files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, (path.name, errors[:3])
        doc["titel"] = "x"  # the editor flags what the loader refuses
        assert any("titel" in e.message for e in validator.iter_errors(doc)), path.name


@pytest.mark.parametrize("kind", list(FORMATS))
def test_schema_command_prints_the_schema(kind, tmp_path):
    res = CliRunner().invoke(cli, ["schema", kind])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == file_schema(kind)
    out = tmp_path / f"{kind}.schema.json"
    res = CliRunner().invoke(cli, ["schema", kind, "-o", str(out)])
    assert res.exit_code == 0 and json.loads(out.read_text()) == file_schema(kind)


def test_every_package_error_has_the_common_base():
    from rightresponse.assess import AssessError
    from rightresponse.backends import EngineError
    from rightresponse.ingest.adapter import AdapterError
    from rightresponse.ingest.pipeline import IngestError
    from rightresponse.ingest.raw_records import ReadError
    from rightresponse.ingest.workspace import WorkspaceBusy
    from rightresponse.policy.findings import PolicyError
    from rightresponse.service.server import ServeError
    from rightresponse.decisions.log import ConflictError, StoreError
    from rightresponse.service.testing import PostgresUnavailable
    from rightresponse.simulate.scenario import ScenarioError
    from rightresponse.simulate.stream import DataError
    from rightresponse.taxonomy.taxonomy import TaxonomyError
    from rightresponse.workload import WorkloadError

    for cls in (AssessError, EngineError, AdapterError, IngestError, ReadError, WorkspaceBusy, PolicyError,
                ServeError, ConflictError, StoreError, PostgresUnavailable, ScenarioError, DataError,
                TaxonomyError, WorkloadError):
        assert issubclass(cls, RightResponseError), cls


def test_the_cli_prints_every_problem_of_a_bad_file_one_line_each(tmp_path):
    bad = tmp_path / "city.yaml"
    bad.write_text(yaml.safe_dump({"name": "city", "agency": "city", "timezone": "Central", "detect": ["id"],
                                   "fields": {"call_id": "id", "call_typ": "t"}, "timestamps": {"received": "at"},
                                   "grain": "units"}), encoding="utf-8")
    (tmp_path / "calls.csv").write_text("id,t,at\n1,x,2025-01-01 00:00:00\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["ingest", str(tmp_path / "calls.csv"), "--adapter", str(bad),
                                   "--workspace", str(tmp_path / "ws")])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 3 and all(ln.startswith(f"error: adapter {bad}: ") for ln in lines), res.output
    # in the order they are written (safe_dump sorts the keys)
    assert "fields.call_typ: unknown key 'call_typ' (did you mean 'call_type'?)" in lines[0]
    assert "grain: unknown value 'units' (did you mean 'unit'?)" in lines[1]
    assert "timezone: 'Central' is not an IANA zone name" in lines[2]
    assert "Traceback" not in res.output and not (tmp_path / "ws").exists()


def test_every_preset_passes_the_policy_model():
    """Loading a preset only builds it (package data); this is where it is checked."""
    from rightresponse.policy.file_format import check_policy
    from rightresponse.policy.definition import _taxonomy_vocab

    for path in _shipped("policy"):
        findings: list = []
        assert check_policy(yaml.safe_load(path.read_text(encoding="utf-8")), str(path), findings,
                            _taxonomy_vocab(None)), findings
        assert not findings
