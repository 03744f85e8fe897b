"""Call-type taxonomy: which of the 22 Vera categories each call belongs to, and why.

Resolution order, everywhere: a user's override > the agency's shipped crosswalk >
the classifier (keyword rules, then a TF-IDF logistic model). Only distinct call types
are classified; results are joined back to the calls.

    from rightresponse.taxonomy import classify_values, categorize, review_table
    classify_values(["11V - Burg Motor Veh", "AB IP/JH"], agency="dallas")
    categorize(calls)                  # Ibis table -> Ibis table with category + roll-ups
    review_table(calls)                # what to review first, as a pandas DataFrame
"""

from .classify import (
    categorize,
    classify_table,
    classify_values,
    default_classifier,
    resolve,
    review_table,
    train_default_classifier,
)
from .crosswalk import (
    agency_id,
    available_crosswalks,
    load_crosswalk,
    load_crosswalks,
    load_overrides,
    save_overrides,
)
from .calltype_classifier import CallTypeClassifier
from .narrative import load_flags, narrative_disagreement, narrative_flags, read_slo_comments
from .call_type_text import normalize
from .rules import apply_rules, load_rules
from .taxonomy import Category, Taxonomy, TaxonomyError, load_taxonomy

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
