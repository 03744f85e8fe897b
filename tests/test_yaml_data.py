"""The one YAML reader: data only, libyaml's speed, the pure-Python loader's wording."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rightresponse.yaml_data import SAFE_LOADER, load_yaml

SRC = Path(__file__).resolve().parent.parent / "src" / "rightresponse"


def test_every_shipped_yaml_file_reads_the_same_as_with_the_pure_python_safe_loader():
    files = sorted(SRC.rglob("*.yaml"))
    assert len(files) > 20
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert load_yaml(text) == yaml.load(text, Loader=yaml.SafeLoader), f
    assert SAFE_LOADER is getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def test_a_broken_file_is_worded_by_line_column_and_problem(tmp_path):
    with pytest.raises(yaml.YAMLError) as err:
        load_yaml("rules: [unclosed")
    assert (err.value.problem_mark.line + 1, err.value.problem_mark.column + 1) == (1, 17)
    assert err.value.problem == "expected ',' or ']', but got '<stream end>'"
    p = tmp_path / "p.yaml"
    p.write_text("a: 1\n b: 2\n", encoding="utf-8")
    with open(p, encoding="utf-8") as f, pytest.raises(yaml.YAMLError, match="mapping values are not allowed here"):
        load_yaml(f)


def test_tags_that_would_build_objects_are_refused():
    with pytest.raises(yaml.YAMLError, match="could not determine a constructor"):
        load_yaml('x: !!python/object/apply:os.system ["echo owned"]')
    assert load_yaml(b"a: [1, 2]") == {"a": [1, 2]}
