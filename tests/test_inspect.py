"""`inspect` drafts an adapter for an unseen layout; the draft, once edited, ingests the file."""

from __future__ import annotations

import csv

import yaml

from rightresponse import ingest, open_dataset
from rightresponse.ingest.inspect import inspect_file

from conftest import CFS, need


def _renamed_milwaukee(tmp_path, n=300):
    """Milwaukee's real rows under new column names: a layout no built-in adapter knows."""
    src = need(CFS / "milwaukee" / "mke_calls_data.csv")
    out = tmp_path / "springfield.csv"
    with open(src, newline="") as fh, open(out, "w", newline="") as dst:
        r, w = csv.reader(fh), csv.writer(dst)
        next(r)
        w.writerow(["event_id", "call_time", "address", "lat", "lon", "district", "nature", "status"])
        for i, row in zip(range(n), r):
            w.writerow(row)
    return out


def test_inspect_guesses_roles_formats_and_hides_sensitive_examples(tmp_path):
    path = _renamed_milwaukee(tmp_path)
    rep = inspect_file(path)
    roles = {c.name: c.role for c in rep.columns}
    assert roles["event_id"] == "call_id"
    assert roles["call_time"] == "received"
    assert roles["nature"] == "call_type"
    assert roles["status"] == "disposition"
    assert next(c.format for c in rep.columns if c.name == "call_time") == "%Y-%m-%d %H:%M:%S"
    assert rep.matched_adapter is None
    text = rep.describe()
    address_line = next(line for line in text.splitlines() if line.startswith("address"))
    assert "(hidden: may be sensitive)" in address_line
    assert "MKE" not in text  # Milwaukee addresses end in ",MKE"


def test_edited_draft_ingests_the_file(tmp_path):
    path = _renamed_milwaukee(tmp_path)
    draft = inspect_file(path).draft
    assert draft["timezone"].startswith("EDIT_ME")
    draft["timezone"] = "America/Chicago"
    draft.pop("disposition")  # its map is all EDIT_ME placeholders
    p = tmp_path / "springfield.yaml"
    p.write_text(yaml.safe_dump(draft))
    s = ingest([path], workspace=tmp_path / "ws", adapter=str(p))
    assert (s.rows_read, s.rows_loaded, s.rows_quarantined) == (300, 300, 0)
    calls = open_dataset(tmp_path / "ws").to_pandas()
    assert calls["agency"].unique().tolist() == ["springfield"]
    first = calls.sort_values("source_row").iloc[0]
    assert str(first["received_local"]) == "2018-05-01 00:10:28"
    assert str(first["received"]) == "2018-05-01 05:10:28+00:00"  # CDT = UTC-5
