"""Files and configs are data, never code; no record is lost, however a file is made.

Each test here is one of the attacks of issue 14, tried as a city's IT department would try
it: a header cell that is SQL, adapter expressions that read or write files, a lookup
outside the adapter's folder, and records larger than any scanner expects. Every one of them
broke the code before; each asserts the real outcome (files not written, secrets not read,
exact counts against the test's own count of the records).
"""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner

import rightresponse as rr
from rightresponse.cli import main as cli
from rightresponse.ingest.adapter import AdapterError, load_adapter
from rightresponse.ingest.inspect import inspect_file

from conftest import CFS, need

W = CFS / "decc_psap_2025" / "week35.csv"


def records_in(data: bytes) -> int:
    """The test's own count of data records: RFC 4180 records after the header, blank lines
    excluded (latin-1 maps each byte to one character, so quotes and newlines stay put).
    Without a limit on a field's size: the count does not share the reader's limits."""
    old = csv.field_size_limit(2**31 - 1)
    try:
        return sum(1 for rec in csv.reader(io.StringIO(data.decode("latin-1"), newline="")) if rec) - 1
    finally:
        csv.field_size_limit(old)


def stored(ws: Path, table: str, cols: str = "count(*)") -> list[tuple]:
    """What a reader of the workspace sees (rr.open_dataset), as rows of ``cols``."""
    import ibis

    con = ibis.duckdb.connect()
    try:
        rr.open_dataset(ws, table, con=con)
    except FileNotFoundError:
        return []
    try:
        return con.raw_sql(f"SELECT {cols} FROM {table}").fetchall()
    finally:
        con.disconnect()


# ---------------------------------------------------------------- 1. a header cell that is SQL

ISSUE_HEADER = """x"), '')) FROM (SELECT '1' AS "x"); COPY (SELECT 'owned' AS msg) TO 'p.csv'; SELECT $$ AS y, (SELECT "x"""


def test_a_header_cell_cannot_run_sql_in_inspect(tmp_path, monkeypatch):
    """Issue 14, reproduction 1: this header made `rightresponse inspect` write p.csv."""
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[ISSUE_HEADER, "call_time"], ["1", "2025-01-01 10:00:00"]])
    (tmp_path / "new_city.csv").write_text(out.getvalue(), encoding="utf-8")
    res = CliRunner().invoke(cli, ["inspect", "new_city.csv"])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "p.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new_city.csv"]
    rep = inspect_file(tmp_path / "new_city.csv")
    assert [c.name for c in rep.columns] == [ISSUE_HEADER, "call_time"]
    assert rep.columns[0].non_null == 1 and rep.columns[1].format == "%Y-%m-%d %H:%M:%S"


# Pieces of SQL and of quoting that break naive string building.
_NASTY = ['"', "'", ";", "$$", "\\", "\x00", "--", "/*", "*/", ")", "(", "{", "}", "?", "$1", "%s", "\n", "\r",
          "__rr_instant(", "s.__s0", "vm_0123456789.v", "`", "\t"]


def _hostile(rnd: random.Random, i: int, canary: Path) -> str:
    """A string full of quotes and SQL, with a COPY that would leave a canary file if it ran."""
    parts = [rnd.choice(_NASTY) for _ in range(rnd.randint(2, 6))]
    parts.insert(rnd.randint(0, len(parts)), f"'); COPY (SELECT 1) TO '{canary / f'c{i}.csv'}'; --")
    return f"h{i}" + "".join(parts)


@pytest.mark.slow
def test_hostile_names_and_values_are_data_in_inspect_ingest_and_assess(tmp_path, monkeypatch):
    """Headers, values and adapter settings full of quotes, semicolons, $$, backslashes and
    NULs: inspect, ingest and assess run, store every value exactly, and run none of it."""
    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "canary"
    canary.mkdir()
    rnd = random.Random(14)
    names = [_hostile(rnd, i, canary) for i in range(9)]
    id_col, time_col, type_col, beat_col, loc_col = names[:5]
    rows = []
    for r in range(60):
        rows.append([f"C{r:03d}{_hostile(rnd, 100 + r, canary)}", f"2025-03-{1 + r % 28:02d} {r % 24:02d}:15:00",
                     _hostile(rnd, 200 + r % 7, canary), _hostile(rnd, 300 + r % 3, canary),
                     _hostile(rnd, 400 + r, canary), *(_hostile(rnd, 500 + r * 3 + k, canary) for k in range(3)), ""])
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(names)
    w.writerows(rows)
    data = out.getvalue().encode("utf-8")
    (tmp_path / "hostile.csv").write_bytes(data)
    assert records_in(data) == 60
    adapter = {
        "name": "hostile", "agency": "hostile_city", "timezone": "America/Chicago",
        "detect": [id_col, time_col],
        "null_values": ["", names[5], "x'); SELECT 1; --"],
        "fields": {"call_id": id_col, "call_type": type_col, "beat": beat_col, "location": loc_col,
                   "district": {"value": _hostile(rnd, 900, canary)},
                   "narrative": {"concat": [names[6], names[7]], "sep": _hostile(rnd, 901, canary)}},
        "timestamps": {"formats": ["%Y-%m-%d %H:%M:%S"], "received": time_col,
                       "cleared": {"column": names[8], "format": "%Y'); --"}},  # an empty column
        "exclude": [{"column": names[7], "pattern": "^never'; DROP TABLE calls; --$", "reason": "x'); --"}],
    }
    (tmp_path / "hostile.yaml").write_text(yaml.safe_dump(adapter, allow_unicode=False), encoding="utf-8")

    rep = inspect_file(tmp_path / "hostile.csv")
    assert [c.name for c in rep.columns] == names
    res = CliRunner().invoke(cli, ["ingest", "hostile.csv", "--adapter", "hostile.yaml", "--workspace", "ws"])
    assert res.exit_code == 0, res.output
    # assess in a process of its own, as a user runs it
    proc = subprocess.run([sys.executable, "-m", "rightresponse.cli", "assess", "--workspace", "ws", "--out", "out",
                           "--json", "--min-cell", "0"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["calls"] == 60

    assert list(canary.iterdir()) == []  # no COPY ran
    ws = tmp_path / "ws"
    got = {r[0]: r[1:] for r in stored(ws, "calls", "call_id, call_type, beat, district")}
    assert set(got) == {r[0] for r in rows}  # every id exactly as written, NULs and all
    for r in rows:
        assert got[r[0]] == (r[2], r[3], adapter["fields"]["district"]["value"])
    loc = dict(stored(ws, "sensitive", "call_id, location"))
    assert all(loc[r[0]] == r[4] for r in rows)
    q = stored(ws, "quarantine")
    assert q == []


# ---------------------------------------------------------------- 2. adapter expressions and lookups


def _decc_adapter(tmp_path: Path, **changes) -> Path:
    doc = yaml.safe_load((Path(rr.__file__).parent / "ingest" / "adapters" / "decc.yaml").read_text())
    for key, value in changes.items():
        section, _, name = key.partition(".")
        if name:
            doc.setdefault(section, {})[name] = value
        else:
            doc[section] = value
    path = tmp_path / "city" / "decc_custom.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("field, sql, words", [
    ("fields.call_type", "(SELECT content FROM read_text('secret.txt'))", "a subquery is not allowed"),
    ("fields.beat", "1), 1; COPY (SELECT 42) TO 'x.csv'; SELECT $$", "is not one SQL expression"),
    ("fields.beat", "read_text('secret.txt')", "function 'read_text' is not allowed"),
    ("fields.beat", "{Problem} || (SELECT 1)", "a subquery is not allowed"),
    ("fields.beat", "getenv('HOME')", "is not allowed"),
    ("fields.beat", "write_log({Problem})", "function 'write_log' is not allowed"),
    ("fields.beat", "random()", "function 'random' is not allowed"),
    ("fields.beat", "count({Problem}) OVER ()", "a window function is not allowed"),
    ("fields.beat", "unnest(string_split({Problem}, ' '))", "function 'unnest' is not allowed"),
    ("fields.beat", "Problem", "is not a column reference"),
    ("fields.beat", "lower({Problem}); SELECT 1", "not a statement or a query"),
])
def test_adapter_expressions_cannot_read_or_write_files(tmp_path, monkeypatch, field, sql, words):
    """Issue 14, reproduction 2: read_text() put a local file into every call, and a
    statement in `beat:` wrote x.csv (then crashed with a traceback)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.txt").write_text("the secret", encoding="utf-8")
    adapter = _decc_adapter(tmp_path, **{field: {"sql": sql}})
    with pytest.raises(AdapterError) as exc:
        load_adapter(adapter)
    assert words in str(exc.value) and "\n" not in str(exc.value)
    res = CliRunner().invoke(cli, ["ingest", str(need(W)), "--adapter", str(adapter), "--workspace", "ws"])
    assert res.exit_code == 2 and res.output.startswith("error: adapter ") and words in res.output
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "ws").exists()


def test_allowed_expressions_compute_from_the_row(tmp_path):
    """What an adapter may do still works: functions, casts, CASE, lambdas, over {Column}s."""
    adapter = _decc_adapter(tmp_path, **{
        "fields.beat": {"sql": "CASE WHEN {Agency} = 'POLICE' THEN upper(left({Problem}, 3)) END"},
        "fields.district": {"sql": "list_aggregate(list_transform(string_split({Problem}, ' '), "
                                   "lambda w: length(w)), 'max')::VARCHAR || $$'s$$"},
    })
    s = rr.ingest([need(W)], workspace=tmp_path / "ws", adapter=str(adapter))
    assert s.rows_loaded == 1346
    rows = stored(tmp_path / "ws", "calls", "call_type, beat, district, service")
    police = [r for r in rows if r[3] == "police"]
    assert police and all(r[1] == r[0][:3].upper() for r in police)
    assert all(r[2] == f"{max(len(w) for w in r[0].split(' '))}'s" for r in rows if r[0])


def test_lookups_stay_in_the_adapters_folder(tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text("k,v\nFIRE ALARM,stolen\n", encoding="utf-8")
    for file in (str(outside), "../secret.csv", "/etc/passwd"):
        adapter = _decc_adapter(tmp_path, lookups={"t": {"file": file, "key": "k", "value": "v"}},
                                **{"fields.beat": {"lookup": "t", "column": "Problem"}})
        with pytest.raises(AdapterError, match="must be inside the adapter's folder"):
            load_adapter(adapter)
    (tmp_path / "city" / "codes.csv").write_text("k,v\nFIRE ALARM,alarm beat\n", encoding="utf-8")
    adapter = _decc_adapter(tmp_path, lookups={"t": {"file": "codes.csv", "key": "k", "value": "v"}},
                            **{"fields.beat": {"lookup": "t", "column": "Problem"}})
    rr.ingest([need(W)], workspace=tmp_path / "ws", adapter=str(adapter))
    beats = {r[0]: r[1] for r in stored(tmp_path / "ws", "calls", "call_type, beat")}
    assert beats["FIRE ALARM"] == "alarm beat"


def test_the_ingest_connection_cannot_open_other_files(tmp_path):
    """Behind the parser's check: the connection an ingest evaluates adapters on reads only its
    input and writes only the workspace, and its configuration cannot be changed."""
    from rightresponse.ingest.pipeline import _connect

    (tmp_path / "secret.txt").write_text("the secret", encoding="utf-8")
    ws = tmp_path / "ws"
    ws.mkdir()
    con = _connect(ws / ".tmp", None, read=[need(W)], write=[ws])
    try:
        assert con.execute(f"SELECT count(*) FROM read_csv('{need(W)}')").fetchone()[0] == 1348
        con.execute(f"COPY (SELECT 1 AS x) TO '{ws / 'ok.parquet'}'")
        for sql in (f"SELECT * FROM read_text('{tmp_path / 'secret.txt'}')",
                    f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'",
                    f"SELECT * FROM read_text('{ws}/../secret.txt')",
                    "SET enable_external_access = true",
                    "SET allowed_directories = ['/']",
                    "INSTALL httpfs"):
            with pytest.raises(duckdb.Error):
                con.execute(sql).fetchall()
    finally:
        con.close()
    assert not (tmp_path / "x.csv").exists()


# ---------------------------------------------------------------- 3. records larger than a scanner expects


def _w_records() -> tuple[bytes, list[bytes]]:
    data = need(W).read_bytes()
    header, _, body = data.partition(b"\r\n")
    recs = [r for r in body.split(b"\r\n") if r]
    assert len(recs) == 1348
    return header, recs


@pytest.mark.slow
@pytest.mark.parametrize("eol", ["crlf", "lf"])
@pytest.mark.parametrize("where", ["start", "middle", "end"])
@pytest.mark.parametrize("blob", ["nul_line", "huge_field"])
def test_oversized_records_are_quarantined_never_lost(tmp_path, eol, where, blob):
    """Issue 14, reproduction 3: 40 MB of NUL bytes after row 699 left every later row out,
    and the counts still reconciled. Now the independent count catches the scanner and the
    oversized record is quarantined, with its line and its first characters."""
    header, recs = _w_records()
    nl = b"\r\n" if eol == "crlf" else b"\n"
    at = {"start": 0, "middle": 699, "end": len(recs)}[where]
    if blob == "nul_line":  # a record of its own: 40 MB of NUL bytes
        big = b"\x00" * (40 << 20)
        recs = recs[:at] + [big] + recs[at:]
    else:  # a record with a 40 MB field
        fields = recs[at - 1 if at else 0].split(b",")
        fields[10] = b'"' + b"X" * (40 << 20) + b'"'
        big = b",".join(fields)
        recs = recs[:at] + [big] + recs[at:]
    data = header + nl + nl.join(recs) + nl
    path = tmp_path / "w.csv"
    path.write_bytes(data)
    n = records_in(data)
    assert n == 1349
    s = rr.ingest([path], workspace=tmp_path / "ws")
    (f,) = s.files
    assert (f.rows_read, f.rows_loaded + f.rows_quarantined + f.rows_duplicate) == (n, n)
    assert (f.rows_loaded, f.quarantine_reasons) == (1346, {"missing_call_id": 2, "malformed_record": 1})
    assert stored(tmp_path / "ws", "calls") == [(1346,)]
    (big_q,) = [r for r in stored(tmp_path / "ws", "quarantine", "source_row, message, length(record)")
                if "longer than" in r[1]]
    assert big_q[0] == at + 1 and f"at line {at + 2})" in big_q[1] and big_q[2] == 1000


def test_records_between_duckdbs_limit_and_ours_load_whole(tmp_path):
    """A 3 MB narrative is over DuckDB's line limit but a real record: it loads, whole."""
    header, recs = _w_records()
    fields = recs[9].split(b",")
    fields[10] = b"Y" * (3 << 20)
    recs[9] = b",".join(fields)
    data = header + b"\n" + b"\n".join(recs) + b"\n"
    (tmp_path / "w.csv").write_bytes(data)
    s = rr.ingest([tmp_path / "w.csv"], workspace=tmp_path / "ws")
    assert (s.rows_read, s.rows_loaded, s.files[0].reader) == (records_in(data), 1346, "python")
