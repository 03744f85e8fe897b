"""Bounded memory on hostile files: each bomb ends in a one-line error, well under 1 GB.

Each input runs through ``rightresponse ingest`` in a process of its own, which reports its
peak resident memory (ru_maxrss) when it exits: DuckDB's memory, in the same process, counts.
The inputs are small on disk and enormous once read: a gzip that expands a thousand times, a
JSON export whose one value is a gigabyte, a field with no end.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CFS, need

NOLA = CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv"
GIB = 1 << 30

_RUN = """
import resource, sys
from rightresponse.cli import main
try:
    main(sys.argv[2:], prog_name="rightresponse")
finally:
    with open(sys.argv[1], "w") as fh:
        fh.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


def ingest_measured(tmp_path: Path, path: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Run `rightresponse ingest PATH`; (the process, its peak resident memory in MB)."""
    peak = tmp_path / "peak.txt"
    proc = subprocess.run([sys.executable, "-c", _RUN, str(peak), "ingest", str(path), "--workspace",
                           str(tmp_path / "ws")], capture_output=True, text=True, timeout=600)
    return proc, int(peak.read_text()) / 1024


def gzip_of(path: Path, head: bytes, filler: bytes, total: int, tail: bytes = b"") -> Path:
    """A gzip of ``head``, then ``filler`` repeated up to ``total`` bytes, then ``tail``."""
    block = filler * max(1, (1 << 20) // len(filler))
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(head)
        written = len(head)
        while written < total:
            fh.write(block)
            written += len(block)
        fh.write(tail)
    return path


def nola_header_and_row() -> tuple[bytes, bytes]:
    data = need(NOLA).read_bytes()
    header, _, rest = data.partition(b"\n")
    return header + b"\n", rest.split(b"\n", 1)[0] + b"\n"


def _one_line_error(proc, path: Path, *words: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0], proc.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.mark.slow
def test_gzip_bomb_of_records(tmp_path):
    """1 GiB of the same record in a 1 MB .csv.gz: refused once it expands 100 times."""
    header, row = nola_header_and_row()
    path = gzip_of(tmp_path / "bomb.csv.gz", header, row, GIB)
    assert path.stat().st_size < 8 << 20
    proc, peak = ingest_measured(tmp_path, path)
    _one_line_error(proc, path, "expands to more than", "decompression bomb")
    print(f"\ngzip bomb ({path.stat().st_size:,} bytes -> 1 GiB): peak {peak:.0f} MB")
    assert peak < 1024


@pytest.mark.slow
@pytest.mark.parametrize("compressed", [True, False])
def test_huge_json(tmp_path, compressed):
    """Issue 14, reproduction 5: an 875 KB .json.gz took 4 GB within seconds (the whole
    document was read and parsed at layout detection). One value of 1 GiB (compressed) or
    200 MB (plain): parsed a record at a time, the value is refused at 16M characters."""
    head, tail = b'[{"nopd_item": "A1", "typetext": "', b'"}]'
    if compressed:
        path = gzip_of(tmp_path / "calls.json.gz", head, b"A", GIB, tail)
    else:
        path = tmp_path / "calls.json"
        with open(path, "wb") as fh:
            fh.write(head)
            for _ in range(200):
                fh.write(b"A" * (1 << 20))
            fh.write(tail)
    proc, peak = ingest_measured(tmp_path, path)
    _one_line_error(proc, path, "longer than 16,777,216 characters")
    print(f"\nhuge JSON ({path.stat().st_size:,} bytes on disk): peak {peak:.0f} MB")
    assert peak < 1024


@pytest.mark.slow
def test_huge_single_field(tmp_path):
    """A record whose one field never ends (1 GiB, gzipped): refused once it expands 100 times,
    without ever holding the field."""
    header, row = nola_header_and_row()
    path = gzip_of(tmp_path / "field.csv.gz", header + b'D1,62A,"', b"X", GIB, b'"\n')
    proc, peak = ingest_measured(tmp_path, path)
    _one_line_error(proc, path, "expands to more than")
    print(f"\nhuge single field ({path.stat().st_size:,} bytes -> 1 GiB): peak {peak:.0f} MB")
    assert peak < 1024


@pytest.mark.slow
def test_huge_field_in_a_plain_file_is_quarantined_in_bounded_memory(tmp_path):
    """Uncompressed, the same thing is a record: it is quarantined (its first 1,000 characters
    kept), the others load, and memory stays bounded by the record limit, not the field."""
    header, row = nola_header_and_row()
    path = tmp_path / "field.csv"
    with open(path, "wb") as fh:
        fh.write(header + row + b'D1,62A,"')
        for _ in range(300):
            fh.write(b"X" * (1 << 20))
        fh.write(b'"\n' + row.replace(row.split(b",")[0], b"D2", 1))
    proc, peak = ingest_measured(tmp_path, path)
    assert proc.returncode == 0, proc.stderr
    assert "      3         2         1" in proc.stdout, proc.stdout  # read, loaded, quarantined
    print(f"\n300 MB field in a plain CSV: quarantined, peak {peak:.0f} MB")
    assert peak < 1024
