"""Shared test fixtures: the real CAD samples in ../shared/data and fresh workspaces."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RIGHTRESPONSE_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
CFS = DATA / "cfs"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real sample {path} not available (set RIGHTRESPONSE_SHARED)")
    return path


@pytest.fixture
def cfs() -> Path:
    return need(CFS)


@pytest.fixture
def workspace(tmp_path) -> Path:
    return tmp_path / "ws"


def raw_duckdb(sql: str, *params):
    """Independent computation straight from the raw files, for cross-checks in tests."""
    con = duckdb.connect()
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()
