"""Call-type taxonomy: which of the 22 Vera categories each call belongs to, and why.

Resolution order, everywhere: a user's override > the agency's shipped crosswalk >
the classifier (keyword rules, then a TF-IDF logistic model). Only distinct call types
are classified; results are joined back to the calls.

    from rightresponse.taxonomy import classify_values, categorize, review_table
    classify_values(["11V - Burg Motor Veh", "AB IP/JH"], agency="dallas")
    categorize(calls)                  # Ibis table -> Ibis table with category + roll-ups
    review_table(calls)                # what to review first, as a pandas DataFrame
"""

import importlib

# name -> module that defines it. Imported on first use (PEP 562): ``import
# rightresponse.taxonomy.taxonomy`` (every policy load does) must not import pandas through
# this package, or a one-call triage pays 0.19 s for it (benchmarks/triage_cli.py).
_LAZY = {
    "categorize": "classify", "classify_table": "classify", "classify_values": "classify",
    "default_classifier": "classify", "resolve": "classify", "review_table": "classify",
    "train_default_classifier": "classify",
    "agency_id": "crosswalk", "available_crosswalks": "crosswalk", "load_crosswalk": "crosswalk",
    "load_crosswalks": "crosswalk", "load_overrides": "crosswalk", "save_overrides": "crosswalk",
    "CallTypeClassifier": "calltype_classifier",
    "load_flags": "narrative", "narrative_disagreement": "narrative", "narrative_flags": "narrative",
    "read_slo_comments": "narrative",
    "normalize": "call_type_text",
    "apply_rules": "rules", "load_rules": "rules",
    "Category": "taxonomy", "Taxonomy": "taxonomy", "TaxonomyError": "taxonomy", "load_taxonomy": "taxonomy",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CallTypeClassifier",
    "Category",
    "Taxonomy",
    "TaxonomyError",
    "agency_id",
    "apply_rules",
    "available_crosswalks",
    "categorize",
    "classify_table",
    "classify_values",
    "default_classifier",
    "load_crosswalk",
    "load_crosswalks",
    "load_flags",
    "load_overrides",
    "load_rules",
    "load_taxonomy",
    "narrative_disagreement",
    "narrative_flags",
    "normalize",
    "read_slo_comments",
    "resolve",
    "review_table",
    "save_overrides",
    "train_default_classifier",
]
