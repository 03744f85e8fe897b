"""Adapter files are validated on load, with errors that name the file and the key."""

from __future__ import annotations

import pytest
import yaml

from rightresponse.ingest.adapter import AdapterError, builtin_adapters, detect_adapter, load_adapter, parse_adapter

BASE = {
    "name": "t",
    "agency": "t",
    "timezone": "America/Chicago",
    "detect": ["id", "when"],
    "fields": {"call_id": "id"},
    "timestamps": {"formats": ["%Y-%m-%d %H:%M:%S"], "received": "when"},
}


def _with(**kw):
    d = {**BASE, **kw}
    return {k: v for k, v in d.items() if v is not None}


@pytest.mark.parametrize(
    "doc, message",
    [
        (_with(timezone="Central"), "timezone 'Central' is not an IANA zone name"),
        (_with(colour="blue"), "unknown top-level keys: colour"),
        (_with(fields={"call_type": "x"}), "fields.call_id is required"),
        (_with(fields={"call_id": "id", "addres": "a"}), "unknown field(s) ['addres']"),
        (_with(timestamps={"received": "when", "closed": "c"}), "unknown timestamp(s) ['closed']"),
        (_with(timestamps={"dispatched": "d"}), "timestamps.received is required"),
        (_with(origin={"column": "src", "map": {"P": "phone"}}), "'origin' maps to unknown value(s) ['phone']"),
        (_with(disposition={"column": "d", "default": "arrested"}), "'disposition' maps to unknown value(s) ['arrested']"),
        (_with(priority={"column": "p", "map": {"HIGH": 0}}), "ranks must be integers >= 1"),
        (_with(grain="unit"), "grain: unit needs unit.unit_id"),
        (_with(detect="id"), "detect must be a non-empty list"),
        (_with(agency=None), "missing required key 'agency'"),
    ],
)
def test_invalid_adapters_name_the_problem(doc, message):
    with pytest.raises(AdapterError) as exc:
        parse_adapter(doc, "my_city.yaml")
    assert str(exc.value).startswith("adapter my_city.yaml: ")
    assert message in str(exc.value)


def test_load_adapter_reports_yaml_errors_with_the_path(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("name: x\nfields: [unclosed\n")
    with pytest.raises(AdapterError, match=r"broken.yaml: invalid YAML"):
        load_adapter(p)


def test_every_builtin_adapter_loads_and_has_a_unique_name():
    ads = builtin_adapters()
    assert "new_orleans" in ads
    for name, ad in ads.items():
        assert ad.name == name
        assert ad.sha256 and len(ad.sha256) == 64
        assert "call_id" in ad.fields and "received" in ad.timestamps


def test_detection_needs_every_detect_column_and_prefers_the_most_specific():
    general = parse_adapter({**BASE, "name": "general", "detect": ["id", "when"]})
    specific = parse_adapter({**BASE, "name": "specific", "detect": ["id", "when", "unit"]})
    ads = {"general": general, "specific": specific}
    assert detect_adapter(["ID", "When", "unit", "x"], ads).name == "specific"  # case-insensitive
    assert detect_adapter(["id", "when"], ads).name == "general"
    assert detect_adapter(["id"], ads) is None


def test_user_adapter_file_round_trips(tmp_path):
    p = tmp_path / "city.yaml"
    p.write_text(yaml.safe_dump(BASE))
    ad = load_adapter(p)
    assert ad.timezone == "America/Chicago" and ad.formats == ["%Y-%m-%d %H:%M:%S"]
