"""The review loop that gets a city to 100%: export what to review, import what was decided.

A workspace keeps the city's decisions beside its data, ``overrides.csv`` (agency, field,
value, category); they always win. The classifier itself is the shipped model
(``taxonomy.shipped_model``), never trained by these commands. The export lists first the call
types the classifier left for review (method ``needs_review``, empty category), heaviest
first, then the rest by calls x uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .classify import review_table
from .crosswalk import load_overrides, save_overrides

OVERRIDES_FILE = "overrides.csv"
REVIEW_FILE = "call_type_review.csv"
_KEY = ["agency", "field", "value"]


def workspace_overrides(workspace) -> Path | None:
    p = Path(workspace) / OVERRIDES_FILE
    return p if p.exists() else None


def workspace_review(workspace) -> pd.DataFrame:
    """Every call type in the workspace with category, confidence, method and call count."""
    from ..ingest.workspace import open_dataset

    calls = open_dataset(workspace)
    return review_table(calls, workspace_overrides(workspace))


def export_review(workspace, out=None) -> tuple[Path, pd.DataFrame]:
    """Write the review CSV: values left for review first (heaviest first), then the rest
    by calls x uncertainty."""
    df = workspace_review(workspace)
    path = Path(out) if out else Path(workspace) / REVIEW_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, encoding="utf-8")
    return path, df


@dataclass
class ImportResult:
    file: str
    rows: int  # rows with a category in the edited file
    applied: int  # rows that became overrides now
    unchanged: int  # rows whose category was already the current decision (skipped unless all_rows)
    overrides_path: str
    total_overrides: int


def import_review(path, workspace, all_rows: bool = False) -> ImportResult:
    """Apply an edited review CSV as overrides of the workspace.

    By default only rows whose category differs from the current decision are taken, so a
    category the person never looked at keeps its provenance (crosswalk, rule, model).
    ``all_rows`` takes every row as reviewed. The file is validated before anything is
    written: an unknown category is reported with its row and column.
    """
    edited = load_overrides(path)
    current = workspace_review(workspace)[_KEY + ["category"]].rename(columns={"category": "current"})
    merged = edited.merge(current, on=_KEY, how="left")
    changed = merged["current"].isna() | (merged["category"] != merged["current"])
    take = merged if all_rows else merged[changed]
    target = Path(workspace) / OVERRIDES_FILE
    existing = load_overrides(target) if target.exists() else edited.iloc[0:0]
    combined = pd.concat([existing, take[edited.columns]], ignore_index=True)
    combined = combined.drop_duplicates(_KEY, keep="last").reset_index(drop=True)
    save_overrides(combined, target)
    return ImportResult(str(path), len(edited), len(take), int((~changed).sum()), str(target), len(combined))
