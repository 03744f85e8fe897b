"""Classify call types: override > agency crosswalk > classifier, on distinct values only.

A year of calls has millions of rows but a few hundred distinct call types, so every
entry point reduces to distinct (agency, call type, code) keys, resolves those once,
and maps the answer back (in pandas for small tables, as an engine join for Ibis tables).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .call_type_text import clean
from .crosswalk import agency_id
from .resolution import resolve_keys
from .shipped_model import build_default_classifier as train_default_classifier  # noqa: F401 (public name)
from .shipped_model import default_classifier  # noqa: F401 (public name, taxonomy.default_classifier)

RESULT_COLUMNS = ["category", "confidence", "method", "crime_group", "demand_type"]


# -- core resolution on distinct keys ---------------------------------------------------------------
def resolve(keys: pd.DataFrame, overrides=None, classifier=None, taxonomy=None,
            model_path=None) -> pd.DataFrame:
    """Classify distinct keys: columns agency, value and optional code (and field).

    Returns the keys plus category, confidence, method, detail, field, crime_group,
    demand_type (``resolution.resolve_keys``, the one definition, as a frame). ``detail``
    says which rule or crosswalk decision was used, or the best guess of a value left for
    review (method ``needs_review``, empty category).
    """
    keys = keys.reset_index(drop=True)
    n = len(keys)
    res = resolve_keys(list(keys["agency"]) if "agency" in keys else [""] * n, list(keys["value"]),
                       list(keys["code"]) if "code" in keys else None,
                       list(keys["field"]) if "field" in keys else None,
                       overrides, classifier, taxonomy, model_path)
    out = keys.copy()

    def obj(xs):  # object dtype keeps None as None (pandas 3 would make str columns with NaN)
        return pd.Series(xs, index=out.index, dtype=object)

    for column, xs in res.items():
        out[column] = np.asarray(xs, dtype=float) if column == "confidence" else obj(xs)
    return out


# -- public entry points -------------------------------------------------------------------------------
def classify_values(values, agency: str | None = None, counts=None, overrides=None, *,
                    classifier=None, taxonomy=None, model_path=None) -> pd.DataFrame:
    """One row per distinct value: value, category, confidence, method, detail, crime_group,
    demand_type (and count, when counts are given: summed per distinct value).

    An agency without a crosswalk (or none given) is classified by rules and model alone.
    """
    values = list(values)
    if counts is not None:
        counts = list(counts)
        if len(counts) != len(values):
            raise ValueError(f"counts has {len(counts)} entries but values has {len(values)}")
    order: dict = {}
    totals: dict = {}
    for i, v in enumerate(values):
        key = None if v is None or (isinstance(v, float) and v != v) else v
        order.setdefault(key, len(order))
        if counts is not None:
            c = pd.to_numeric(counts[i], errors="coerce")
            totals[key] = totals.get(key, 0) + (0 if pd.isna(c) else c)
    distinct = list(order)
    keys = pd.DataFrame({"agency": pd.Series([agency or ""] * len(distinct), dtype=object),
                         "value": pd.Series(distinct, dtype=object)})
    res = resolve(keys, overrides, classifier, taxonomy, model_path)
    cols = ["value", "category", "confidence", "method", "detail", "crime_group", "demand_type"]
    out = res[cols].copy()
    if counts is not None:
        out["count"] = [totals[k] for k in distinct]
    return out


def classify_table(df: pd.DataFrame, agency: str | None = None, overrides=None, *, classifier=None,
                   taxonomy=None, model_path=None, value_column: str = "call_type",
                   code_column: str = "call_type_code") -> pd.DataFrame:
    """The input rows plus category, confidence, method, crime_group, demand_type.

    ``df`` needs a ``call_type`` column; ``agency`` (per row) and ``call_type_code`` are
    used when present. ``agency=`` overrides the column for every row (CLI --agency).
    """
    if value_column not in df.columns:
        raise ValueError(f"input has no {value_column!r} column (columns: {', '.join(map(str, df.columns))})")
    if agency is not None:
        ag = pd.Series([agency] * len(df), index=df.index, dtype=object)
    elif "agency" in df.columns:
        ag = df["agency"].astype(object)
    else:
        ag = pd.Series([""] * len(df), index=df.index, dtype=object)
    code = df[code_column] if code_column in df.columns else pd.Series([None] * len(df), index=df.index)
    keys = pd.DataFrame({
        "agency": [agency_id(a) for a in ag],
        "value": [None if pd.isna(v) else str(v) for v in df[value_column]],
        "code": [None if pd.isna(v) else str(v) for v in code],
    }, index=df.index)
    distinct = keys.drop_duplicates().reset_index(drop=True)
    res = resolve(distinct, overrides, classifier, taxonomy, model_path)
    merged = keys.reset_index().merge(res, on=["agency", "value", "code"], how="left").set_index("index")
    out = df.drop(columns=[c for c in RESULT_COLUMNS if c in df.columns]).copy()
    for c in RESULT_COLUMNS:
        out[c] = merged.loc[df.index, c].to_numpy()
    return out


def _key_frame(calls, value_column: str, code_column: str):
    cols = calls.columns
    if value_column not in cols:
        raise ValueError(f"calls table has no {value_column!r} column")
    have_code = code_column in cols
    have_agency = "agency" in cols
    sel = [c for c in ("agency", value_column, code_column) if c in cols and (c != code_column or have_code)]
    return sel, have_agency, have_code


def categorize(calls, overrides=None, *, classifier=None, taxonomy=None, model_path=None,
               value_column: str = "call_type", code_column: str = "call_type_code"):
    """Add category, confidence, method, crime_group, demand_type to an Ibis table of calls.

    Only the distinct (agency, call_type, call_type_code) keys leave the engine; their
    categories come back as a small in-memory table joined in the engine (left join, so
    no call is dropped; NULL keys match NULL keys).
    """
    import ibis

    sel, have_agency, have_code = _key_frame(calls, value_column, code_column)
    keys = calls.select(*sel).distinct().to_pandas()
    frame = pd.DataFrame({
        "agency": keys["agency"] if have_agency else "",
        "value": keys[value_column],
        "code": keys[code_column] if have_code else None,
    })
    frame = frame.astype(object).where(frame.notna(), None)
    res = resolve(frame, overrides, classifier, taxonomy, model_path)

    def k(s):
        return "" if s is None or (isinstance(s, float) and s != s) else str(s)

    mapping = pd.DataFrame({
        "_rr_agency": [k(a) for a in frame["agency"]],
        "_rr_value": [k(v) for v in frame["value"]],
        "_rr_code": [k(c) for c in frame["code"]],
        "category": res["category"].astype(object),
        "confidence": res["confidence"].astype(float),
        "method": res["method"].astype(object),
        "crime_group": res["crime_group"].astype(object),
        "demand_type": res["demand_type"].astype(object),
    })
    m = ibis.memtable(mapping, schema={"_rr_agency": "string", "_rr_value": "string", "_rr_code": "string",
                                       "category": "string", "confidence": "float64", "method": "string",
                                       "crime_group": "string", "demand_type": "string"})
    base = calls.drop(*[c for c in RESULT_COLUMNS if c in calls.columns]) if any(
        c in calls.columns for c in RESULT_COLUMNS) else calls

    def ck(col):
        return base[col].cast("string").fill_null("")

    preds = [ck(value_column) == m["_rr_value"]]
    if have_agency:
        preds.append(ck("agency") == m["_rr_agency"])
    if have_code:
        preds.append(ck(code_column) == m["_rr_code"])
    joined = base.left_join(m, preds)
    return joined.select(*[base[c] for c in base.columns], *[m[c] for c in RESULT_COLUMNS])


def review_table(calls, overrides=None, *, classifier=None, taxonomy=None, model_path=None,
                 value_column: str = "call_type", code_column: str = "call_type_code") -> pd.DataFrame:
    """One row per (agency, field, value) with its category, confidence, method and calls,
    in the order a person should review: the values left for review (method
    ``needs_review``, empty category) first, heaviest first; then the rest by calls x
    uncertainty.

    Accepts an Ibis table or a pandas DataFrame. Save the edited result with
    ``save_overrides`` and pass it back as ``overrides``.
    """
    if isinstance(calls, pd.DataFrame):
        df = calls
        if value_column not in df.columns:
            raise ValueError(f"calls has no {value_column!r} column")
        g = pd.DataFrame({
            "agency": df["agency"] if "agency" in df.columns else "",
            "value": df[value_column],
            "code": df[code_column] if code_column in df.columns else None,
        }).astype(object)
        g = g.where(g.notna(), None)
        counts = g.fillna("\x00").groupby(["agency", "value", "code"], sort=False).size().reset_index(name="calls")
        counts = counts.replace("\x00", None)
    else:
        sel, have_agency, have_code = _key_frame(calls, value_column, code_column)
        agg = calls.group_by(sel).aggregate(calls=calls.count()).to_pandas()
        counts = pd.DataFrame({
            "agency": agg["agency"] if have_agency else "",
            "value": agg[value_column],
            "code": agg[code_column] if have_code else None,
            "calls": agg["calls"],
        }).astype(object)
        counts = counts.where(counts.notna(), None)
    res = resolve(counts[["agency", "value", "code"]], overrides, classifier, taxonomy, model_path)
    res["calls"] = counts["calls"].astype(int).to_numpy()
    res["agency"] = [agency_id(a) for a in res["agency"]]
    res["value"] = [v if clean(v) else c for v, c in zip(res["value"], res["code"])]
    out = (res.groupby(["agency", "field", "value"], dropna=False, sort=False)
              .agg(category=("category", "first"), confidence=("confidence", "first"),
                   method=("method", "first"), detail=("detail", "first"),
                   crime_group=("crime_group", "first"), demand_type=("demand_type", "first"),
                   calls=("calls", "sum"))
              .reset_index())
    out["uncertain_calls"] = np.round(out["calls"] * (1.0 - out["confidence"]), 2)
    out["_review"] = out["method"] == "needs_review"
    out["_heavy"] = np.where(out["_review"], out["calls"], 0)
    out = out.sort_values(["_review", "_heavy", "uncertain_calls", "calls", "agency", "value"],
                          ascending=[False, False, False, False, True, True], kind="mergesort").reset_index(drop=True)
    return out[["agency", "field", "value", "category", "confidence", "method", "calls",
                "uncertain_calls", "detail", "crime_group", "demand_type"]]
