"""Small-cell suppression for published tables.

A count of 1..min_cell-1 calls in a cell (a category in a beat at an hour) can point at a
person, so published tables show it as "<10". Zero is shown: it discloses nothing. A row
whose own call count is small has all its figures withheld, since shares and hours would
let a reader work the count back out. Data-quality tables (files, quarantine, coverage)
describe records, not people, and are exempt so they reconcile exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EXEMPT = {"scope", "coverage", "quarantine", "files", "lorenz", "time_issues", "classification_methods"}
_COUNT_PREFIXES = ("calls", "n_")
_OUTCOMES = {"arrest", "report", "no_action", "unfounded", "cancelled", "other", "unknown", "officer_initiated"}
# Counts of the triage decision log (dispatch practice) and the rates resting on them.
_DECISION_COUNTS = {"decisions", "overrides", "eligible", "handled"}
_RATES = {"override_rate": ("decisions", "overrides"), "alternative_share": ("eligible", "handled"),
          "share": ("eligible", "handled", "overrides")}


def is_count_column(name: str) -> bool:
    return name.startswith(_COUNT_PREFIXES) or name in _OUTCOMES or name in _DECISION_COUNTS


def small(v, min_cell: int) -> bool:
    try:
        return v is not None and not pd.isna(v) and 0 < int(v) < min_cell
    except (TypeError, ValueError):
        return False


def _small_vec(col: pd.Series, min_cell: int) -> np.ndarray:
    """small() over a column, vectorized: 0 < int(v) < min_cell; missing or non-numeric: False."""
    v = np.trunc(pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan))
    with np.errstate(invalid="ignore"):
        return (v > 0) & (v < min_cell)


def suppression_masks(df: pd.DataFrame, min_cell: int) -> tuple[pd.Series, pd.DataFrame]:
    """(rows withheld entirely, cells shown as '<min_cell') for a table."""
    if min_cell <= 1 or df.empty:
        return pd.Series(False, index=df.index), pd.DataFrame(False, index=df.index, columns=df.columns)
    row = (pd.Series(_small_vec(df["calls"], min_cell), index=df.index) if "calls" in df.columns
           else pd.Series(False, index=df.index))
    masks = {c: (_small_vec(df[c], min_cell) if is_count_column(c) else np.zeros(len(df), dtype=bool))
             for c in df.columns}
    # Statistics over a small number of calls (medians of n_<k>) are withheld with their n.
    for c in df.columns:
        if c.startswith("n_"):
            k = c[2:]
            n = np.trunc(pd.to_numeric(df[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan))
            with np.errstate(invalid="ignore"):
                few = np.isnan(n) | (n < min_cell)
            for stat in (f"median_{k}", f"p90_{k}"):
                if stat in df.columns:
                    masks[stat] = masks[stat] | few
    # A rate over a small count of decisions is withheld with the count.
    for rate, deps in _RATES.items():
        have = [d for d in deps if d in df.columns]
        if rate in df.columns and have and set(have) & _DECISION_COUNTS:
            for d in have:
                masks[rate] = masks[rate] | masks[d]
    cells = pd.DataFrame(masks, index=df.index, columns=df.columns)
    return row, cells


def for_files(name: str, df: pd.DataFrame, min_cell: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(Parquet frame, CSV frame). Parquet: withheld numbers are null and ``suppressed`` is
    true; CSV: small counts read '<N>' and other withheld numbers are empty."""
    if name in EXEMPT or min_cell <= 1:
        return df, df
    row, cells = suppression_masks(df, min_cell)
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    keys = _key_columns(df)
    pq = df.copy()
    csv = df.astype(object).copy()
    for c in numeric:
        if c in keys:
            continue
        hide = row | cells[c]
        if hide.any():
            pq[c] = pq[c].astype("Float64" if not pd.api.types.is_integer_dtype(pq[c]) else "Int64")
            pq.loc[hide, c] = pd.NA
            csv.loc[hide, c] = ""
            small_cnt = hide & _small_vec(df[c], min_cell) if is_count_column(c) else hide & False
            csv.loc[small_cnt | (row & pd.Series(c == "calls", index=df.index)), c] = f"<{min_cell}"
    pq["suppressed"] = row | cells.any(axis=1)
    return pq, csv


def _key_columns(df: pd.DataFrame) -> set[str]:
    return {c for c in ("dow", "hour", "priority_rank", "confidence") if c in df.columns}
