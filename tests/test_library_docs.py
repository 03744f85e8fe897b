"""docs/library.md runs: its Python blocks, in order, in one empty directory on the bundled
sample, and the functions it names are the ones the commands call."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "library.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.slow
def test_every_python_block_of_the_library_page_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _blocks()
    assert len(blocks) >= 5
    env: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{DOC.name} block {i + 1}", "exec"), env)  # noqa: S102 - our own docs
    # what the blocks left behind is real
    assert (tmp_path / "report" / "report.html").is_file()
    assert env["res"].summary["calls"] > 10_000
    assert env["rec"].responder != "police" and env["rec"].status == "final"
    assert env["team"].units >= 1
    assert env["did"]["low"] < env["did"]["estimate"] < env["did"]["high"]


def test_the_package_face_is_what_the_commands_call():
    import rightresponse as rr
    from rightresponse.assess import assess
    from rightresponse.evaluate import evaluate
    from rightresponse.ingest.pipeline import ingest
    from rightresponse.policy.triage import triage_args
    from rightresponse.simulate.erlang import staffing
    from rightresponse.simulate.run import simulate

    assert (rr.ingest, rr.assess, rr.evaluate, rr.triage, rr.simulate, rr.staffing) == (
        ingest, assess, evaluate, triage_args, simulate, staffing)
    cli = (Path(__file__).resolve().parents[1] / "src" / "rightresponse" / "cli.py").read_text()
    for called in ("assess as run", "evaluate as run", "triage_args", "simulate", "staffing_dict"):
        assert called in cli


def test_assess_options_are_checked_when_made():
    import rightresponse as rr

    for bad, msg in [({"min_cell": -1}, "min_cell"), ({"measure": "hours"}, "measure: unknown time measure"),
                     ({"engine": "polars"}, "engine: unknown engine"), ({"max_hours": 0}, "max_hours"),
                     ({"exclude_categories": ["Nope"]}, "unknown category 'Nope'")]:
        with pytest.raises(rr.AssessError, match=msg):
            rr.AssessOptions(**bad)
    with pytest.raises(rr.AssessError, match=r"unknown option 'mincell' \(did you mean 'min_cell'\?\)"):
        rr.AssessOptions().replace(mincell=3)
    o = rr.AssessOptions(exclude_call_types=["OFF DUTY DETAIL"], policies=["denver-star"])
    assert o.exclude_call_types == ("OFF DUTY DETAIL",) and o.policies == ("denver-star",)
    with pytest.raises(Exception):  # frozen
        o.min_cell = 3
