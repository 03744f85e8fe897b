"""The folder a report is written to: published tables (CSV and Parquet) beside the page, and the
analyst's tables, which hold block addresses, in an owner-only ``analyst/`` folder.

``assess`` and ``evaluate`` both write one; what goes in ``tables/`` is only what the
disclosure module let out (``Disclosed`` tables), and nothing of ``analyst/`` ever reaches a
page.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..private import make_private, private_dir

ANALYST_README = "Analyst-only tables. They contain block addresses: do not publish or attach to the report.\n"


def to_parquet(df: pd.DataFrame, path: Path) -> None:
    """``df`` as Parquet; mixed object columns (published figures as text, "<10") become strings."""
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].map(lambda v: None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                              else str(v))
    df.to_parquet(path, index=False)


def write_published_tables(published: dict, out: Path) -> list[str]:
    """Each published table (name -> ``Disclosed``) as OUT/tables/NAME.csv and .parquet."""
    tdir = Path(out) / "tables"
    tdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, d in published.items():
        d.csv_frame().to_csv(tdir / f"{name}.csv", index=False)
        to_parquet(d.parquet_frame(), tdir / f"{name}.parquet")
        written += [str(tdir / f"{name}.csv"), str(tdir / f"{name}.parquet")]
    return written


def write_analyst_tables(tables: dict[str, pd.DataFrame], out: Path) -> list[str]:
    """Exact tables with block addresses into OUT/analyst, readable by the analyst's account only
    (0600 files in a 0700 folder); nothing when there are none."""
    if not tables:
        return []
    adir = private_dir(Path(out) / "analyst")
    (adir / "README.txt").write_text(ANALYST_README, encoding="utf-8")
    written = []
    for name, df in tables.items():
        df.to_csv(adir / f"{name}.csv", index=False)
        to_parquet(df, adir / f"{name}.parquet")
        written += [str(adir / f"{name}.csv"), str(adir / f"{name}.parquet")]
    make_private(adir)
    return written
