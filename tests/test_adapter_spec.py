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
        (_with(timezone="Central"), "timezone: 'Central' is not an IANA zone name"),
        (_with(colour="blue"), "colour: unknown key 'colour'; keys: name, title"),
        (_with(fields={"call_type": "x"}), "fields.call_id: missing: it is how calls are de-duplicated"),
        (_with(fields={"call_id": "id", "addres": "a"}), "fields.addres: unknown key 'addres'"),
        (_with(fields={"call_id": "id", "call_typ": "a"}), "unknown key 'call_typ' (did you mean 'call_type'?)"),
        (_with(timestamps={"received": "when", "closed": "c"}), "timestamps.closed: unknown key 'closed' (did you mean 'cleared'?)"),
        (_with(timestamps={"dispatched": "d"}), "timestamps.received: missing"),
        (_with(origin={"column": "src", "map": {"P": "phone"}}), "origin.map.P: unknown value 'phone'; one of: 911,"),
        (_with(origin={"column": "src", "map": {"P": "alarms"}}), "unknown value 'alarms' (did you mean 'alarm'?)"),
        (_with(disposition={"column": "d", "default": "arrested"}), "disposition.default: unknown value 'arrested' (did you mean 'arrest'?)"),
        (_with(priority={"column": "p", "map": {"HIGH": 0}}), "priority.map.HIGH: must be >= 1, got 0"),
        (_with(priority={"column": "p", "map": {"HIGH": "1"}}), "priority.map.HIGH: expected a whole number, got '1'"),
        (_with(origin={"column": "p", "patterns": [["x"]]}), "origin.patterns[0]"),
        (_with(grain="unit"), "unit: grain: unit needs unit.unit_id"),
        (_with(grain="units"), "grain: unknown value 'units' (did you mean 'unit'?)"),
        (_with(detect="id"), "detect: a list of column names"),
        (_with(detect=[]), "detect: expected at least 1 item(s), got 0"),
        (_with(agency=None), "agency: missing"),
        (_with(exclude=[{"column": "d", "pattern": "(?<=x)TEST"}]), "exclude[0].pattern: '(?<=x)TEST' is not a regular"),
        (_with(exclude=[{"pattern": "TEST"}]), "exclude[0].column: missing"),
        (_with(lookups={"t": {"file": "x.csv", "key": "k"}}), "lookups.t.value: missing"),
        (_with(fields={"call_id": {"sql": "random()"}}), "fields.call_id.sql: function 'random' is not allowed"),
        (_with(fields={"call_id": {"coalesce": ["a", {"sql": "(SELECT 1)"}]}}), "fields.call_id.coalesce[1].sql: a subquery"),
        (_with(timestamps={"received": {"sql": "now()"}}), "timestamps.received.sql: function 'now' is not allowed"),
    ],
)
def test_invalid_adapters_name_the_problem(doc, message):
    with pytest.raises(AdapterError) as exc:
        parse_adapter(doc, "my_city.yaml")
    assert str(exc.value).startswith("adapter my_city.yaml: ")
    assert message in str(exc.value)


def test_every_problem_of_an_adapter_is_reported_at_once():
    doc = _with(timezone="Central", colour="blue", grain="units", fields={"call_typ": "x"},
                exclude=[{"column": "d", "pattern": "(?<=x)"}])
    with pytest.raises(AdapterError) as exc:
        parse_adapter(doc, "my_city.yaml")
    lines = str(exc.value).splitlines()
    assert lines == [
        "adapter my_city.yaml: timezone: 'Central' is not an IANA zone name (e.g. America/Chicago)",
        "adapter my_city.yaml: fields.call_typ: unknown key 'call_typ' (did you mean 'call_type'?); keys: call_id, "
        "call_type_code, call_type, initial_call_type_code, initial_call_type, district, beat, units_assigned, "
        "location, latitude, longitude, narrative",
        "adapter my_city.yaml: fields.call_id: missing: it is how calls are de-duplicated",
        "adapter my_city.yaml: colour: unknown key 'colour'; keys: name, title, source, notes, agency, timezone, "
        "grain, detect, read, null_values, fields, timestamps, exclude, unit, lookups, priority, origin, "
        "disposition, service, channel",
        "adapter my_city.yaml: grain: unknown value 'units' (did you mean 'unit'?); one of: incident, unit",
        lines[5],
    ]  # in the order they are written
    assert lines[5].startswith("adapter my_city.yaml: exclude[0].pattern: '(?<=x)' is not a regular expression")


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


def test_a_lookup_feeding_the_call_id_and_an_exclusion_pattern_are_applied_in_the_pass(tmp_path):
    """A value map that a key depends on is joined before the checks (the rare path)."""
    import duckdb

    import rightresponse as rr

    (tmp_path / "calls.csv").write_text(
        "id,code,when,disp\n1,A,2024-01-01 10:00:00,Test\n2,B,2024-01-01 11:00:00,OK\n"
        "3,,2024-01-01 12:00:00,OK\n4,C,2024-07-01 12:00:00, test \n", encoding="utf-8")
    (tmp_path / "ids.csv").write_text("k,v\n1,ONE\n2,TWO\n4,FOUR\n", encoding="utf-8")
    doc = _with(detect=["id", "code", "when", "disp"],
                lookups={"ids": {"file": str(tmp_path / "ids.csv"), "key": "k", "value": "v"}},
                fields={"call_id": {"lookup": "ids", "column": "id"}, "call_type": "code"},
                exclude=[{"column": "disp", "pattern": "^test$", "reason": "test call"}])
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    s = rr.ingest([tmp_path / "calls.csv"], workspace=tmp_path / "ws", adapter=str(tmp_path / "t.yaml"))
    f = s.files[0]
    # rows 1 and 4 are tests (case-insensitive; values are trimmed first), row 3 has no id in the lookup
    assert (f.rows_read, f.rows_loaded, f.quarantine_reasons) == (4, 1, {"excluded_by_adapter": 2, "missing_call_id": 1})
    assert duckdb.sql(f"SELECT call_id, call_type FROM read_parquet('{tmp_path}/ws/calls/**/*.parquet')").fetchall() \
        == [("TWO", "B")]
    q = duckdb.sql(f"SELECT source_row, reason, column_name, record FROM read_parquet('{tmp_path}/ws/quarantine/*.parquet') "
                   "ORDER BY source_row").fetchall()
    assert q == [(1, "excluded_by_adapter", "disp", '{"id":"1","code":"A","when":"2024-01-01 10:00:00","disp":"Test"}'),
                 (3, "missing_call_id", "id", '{"id":"3","code":null,"when":"2024-01-01 12:00:00","disp":"OK"}'),
                 (4, "excluded_by_adapter", "disp", '{"id":"4","code":"C","when":"2024-07-01 12:00:00","disp":" test "}')]
