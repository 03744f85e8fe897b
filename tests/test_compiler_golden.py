"""The SQL each adapter feature compiles to, against the text committed under tests/golden/.

A change to the compiler that changes its SQL shows here as a diff to read; when the change
is meant, regenerate the files and commit them with it:

    pytest tests/test_compiler_golden.py --regen-golden

Each case is a small adapter and a small CSV, so the expected SQL is short enough to review,
and the rows it gives are checked too (a golden file alone would bless a wrong query).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from rightresponse.ingest.adapter import parse_adapter
from rightresponse.ingest.adapter_compiler import Source, normalize
from rightresponse.ingest.readers import csv_scan
from rightresponse.sqltext import ident
from conftest import run_cli

GOLDEN = Path(__file__).parent / "golden"

BASE = {"name": "t", "agency": "T", "timezone": "America/Chicago", "detect": ["id"],
        "fields": {"call_id": "id"}, "timestamps": {"received": "rec", "formats": ["%Y-%m-%d %H:%M:%S"]}}

# name -> (adapter overrides, CSV text, {call_id: expected quarantine reason or None}, extra files)
CASES = {
    "columns_and_value_maps": (
        {"fields": {"call_id": "id", "call_type": "type", "district": "dist"},
         "priority": {"column": "prio", "pattern": "^P(\\d)", "offset": 0},
         "origin": {"column": "src", "map": {"911": "911", "SELF": "officer_initiated"}, "default": "other"},
         "disposition": {"column": "disp", "map": {"RPT": "report"}, "patterns": [["^CAN", "cancelled"]]},
         "service": {"value": "police"}},
        "id,rec,type,prio,src,disp,dist\n"
        "1,2024-03-01 10:00:00,THEFT ,P2,911,RPT,D1\n"
        "2,2024-03-01 11:00:00,NOISE,P3,SELF,CANX,\n"
        ",2024-03-01 12:00:00,NOISE,P3,SELF,CANX,D2\n",
        {"1": None, "2": None, None: "missing_call_id"}, {}),
    "field_forms": (
        {"fields": {"call_id": "id", "call_type": {"coalesce": ["type", "type2"]},
                    "location": {"concat": ["blk", "street"], "sep": " "},
                    "units_assigned": {"count_list": "units", "sep": ","},
                    "call_type_code": {"lookup": "codes", "column": "code"},
                    "beat": {"sql": "upper({beat})"}, "district": {"value": "north"}},
         "lookups": {"codes": {"file": "codes.csv", "key": "code", "value": "label"}}},
        "id,rec,type,type2,blk,street,units,code,beat\n"
        "1,2024-03-01 10:00:00,,ALARM,100,MAIN ST,\"A1,B2\",X,b7\n"
        "2,2024-03-01 11:00:00,FIRE,,,ELM ST,,Y,\n",
        {"1": None, "2": None}, {"codes.csv": "code,label\nX,Alarm code\nY,Fire code\n"}),
    "timestamp_forms": (
        {"timestamps": {"received": {"date": "d", "time": "t", "format": "%Y-%m-%d %H:%M"},
                        "dispatched": {"time": "dt", "after": "received", "format": "%H:%M", "tolerance_minutes": 5},
                        "arrived": {"epoch_ms": "arr_ms"},
                        "cleared": {"base": "arrived", "add_minutes": "mins"},
                        "enroute": {"sql": "strptime({enr}, '%Y%m%d%H%M')"}}},
        "id,d,t,dt,arr_ms,mins,enr\n"
        "1,2024-03-01,23:50,00:10,1709359200000,12.5,202403020005\n"
        "2,2024-03-01,10:00,09:58,x,1,202403011001\n"
        "3,2024-03-01,,10:00,,,\n",
        {"1": None, "2": "unparseable_number", "3": "missing_received"}, {}),
    "offset_format_and_sentinel": (
        {"timestamps": {"received": {"column": "rec", "format": "%Y-%m-%d %H:%M:%S%z"},
                        "cleared": "clr", "formats": ["%Y-%m-%d %H:%M:%S"]},
         "null_values": ["", "1900-01-01 00:00:00"]},
        "id,rec,clr\n"
        "1,2024-03-10 01:30:00-06,1900-01-01 00:00:00\n"
        "2,2024-03-10 03:30:00-05,2024-03-10 04:00:00\n",
        {"1": None, "2": None}, {}),
    "exclusions_and_early_map": (
        {"fields": {"call_id": "id", "call_type": {"lookup": "codes", "column": "code"}},
         "lookups": {"codes": {"file": "codes.csv", "key": "code", "value": "label"}},
         "exclude": [{"column": "code", "pattern": "^TEST", "reason": "test call"},
                     {"column": {"lookup": "codes", "column": "code"}, "pattern": "drill"}]},
        "id,rec,code\n1,2024-03-01 10:00:00,TEST1\n2,2024-03-01 10:00:00,D\n3,2024-03-01 10:00:00,A\n",
        {"1": "excluded_by_adapter", "2": "excluded_by_adapter", "3": None},
        {"codes.csv": "code,label\nD,Fire drill\nA,Alarm\n"}),
    "unit_grain": (
        {"grain": "unit", "unit": {"unit_id": "unit", "status": "st"}},
        "id,rec,unit,st\n1,2024-03-01 10:00:00,U1,AV\n1,2024-03-01 10:00:00,U2,\n",
        {"1": None}, {}),
}


@pytest.fixture
def regen(request) -> bool:
    return request.config.getoption("--regen-golden")


def _compile(tmp_path: Path, case: str, con, numbered: bool):
    overrides, text, _, files = CASES[case]
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    doc = {**BASE, **overrides}
    adapter_path = tmp_path / "adapter.yaml"
    adapter_path.write_text(yaml.safe_dump(doc))
    ad = parse_adapter(doc, str(adapter_path))
    (tmp_path / "in.csv").write_text(text)
    scan = csv_scan(Path("in.csv"))  # relative: the SQL names the file as given
    if numbered:  # a raw table of strings, as the other readers make
        con.execute(f"CREATE TABLE raw AS SELECT row_number() OVER () AS __row, * FROM {scan[0]}")
        source = Source(ident("raw"), scan[1], True)
    else:
        source = Source(scan[0], scan[1], numbered=False)
    return normalize(con, ad, source, source_file="in.csv", name="norm")


@pytest.mark.parametrize("numbered", [False, True], ids=["scan", "table"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_sql_matches_golden(case, numbered, tmp_path, monkeypatch, regen):
    monkeypatch.chdir(tmp_path)
    con = duckdb.connect()
    comp = _compile(tmp_path, case, con, numbered)
    got = ";\n\n".join(comp.statements) + ";\n"
    golden = GOLDEN / f"{case}{'_table' if numbered else ''}.sql"
    if regen:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(got)
    assert golden.exists(), f"no golden file {golden.name}: run pytest {__file__} --regen-golden"
    assert got == golden.read_text(), f"{golden.name} differs: read the diff, regenerate with --regen-golden"

    # and the rows are the ones the adapter describes
    expected = CASES[case][2]
    rows = dict(con.execute(f"SELECT call_id, __reason FROM {comp.name} "
                            f"QUALIFY row_number() OVER (PARTITION BY call_id ORDER BY __row) = 1").fetchall())
    assert rows == expected
    out = con.execute(f"SELECT * FROM {comp.out} WHERE __ri IS NULL ORDER BY __row").fetchdf()
    assert len(out) == sum(1 for r in con.execute(f"SELECT __ri FROM {comp.name}").fetchall() if r[0] is None)
    comp.drop(con)


def _values(tmp_path: Path, monkeypatch, case: str, columns: str, where: str = "true") -> list[tuple]:
    """``columns`` of the output view for ``case``, compiled in a folder of its own."""
    folder = tmp_path / case
    folder.mkdir()
    monkeypatch.chdir(folder)
    con = duckdb.connect()
    comp = _compile(folder, case, con, False)
    return con.execute(f"SELECT {columns} FROM {comp.out} WHERE {where} ORDER BY call_id").fetchall()


def test_compiled_values(tmp_path, monkeypatch):
    """A few values the golden cases must give (the SQL above is only right if these are)."""
    assert _values(tmp_path, monkeypatch, "field_forms",
                   "call_id, call_type, location, units_assigned, call_type_code, beat, district") == [
        ("1", "ALARM", "100 MAIN ST", 2, "Alarm code", "B7", "north"),
        ("2", "FIRE", "ELM ST", None, "Fire code", None, "north")]
    utc = "CAST(timezone('UTC', {}) AS VARCHAR)"
    # 00:10 after 23:50 is the next day; Chicago is UTC-6 in March before the change
    assert _values(tmp_path, monkeypatch, "timestamp_forms",
                   f"CAST(received_local AS VARCHAR), {utc.format('dispatched')}, CAST(cleared - arrived AS VARCHAR), "
                   f"{utc.format('enroute')}", "call_id = '1'") == [
        ("2024-03-01 23:50:00", "2024-03-02 06:10:00", "00:12:30", "2024-03-02 06:05:00")]
    assert _values(tmp_path, monkeypatch, "columns_and_value_maps",
                   "call_id, call_type, priority_rank, origin, outcome, service, district", "__ri IS NULL") == [
        ("1", "THEFT", 2, "911", "report", "police", "D1"),
        ("2", "NOISE", 3, "officer_initiated", "cancelled", "police", None)]


def test_inspect_sql_prints_what_the_adapter_compiles_to(tmp_path, monkeypatch):
    """`rightresponse inspect FILE --sql`: the statements above, for a user's file and adapter."""
    monkeypatch.chdir(tmp_path)
    con = duckdb.connect()
    expected = ";\n\n".join(_compile(tmp_path, "columns_and_value_maps", con, False).statements) + ";\n"
    proc = run_cli("inspect", "in.csv", "--sql", "--adapter", str(tmp_path / "adapter.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected  # the same file, named as given, so the same SQL
    proc = run_cli("inspect", "in.csv", "--adapter", "adapter.yaml")
    assert proc.returncode == 2 and proc.stderr.startswith("error: --adapter goes with --sql")
    proc = run_cli("inspect", "nothing.csv", "--sql")
    assert proc.returncode == 2 and "nothing.csv: no such file" in proc.stderr
