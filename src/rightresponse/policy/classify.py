"""The bridge to the taxonomy: call-type text -> category, for triage and for history.

The taxonomy's classifier is the shipped model, built once into the user's cache and then
only loaded (``taxonomy.store``); it is loaded at most once per process and only when a
value is not already decided by an override or an agency crosswalk. A value it leaves for
review comes back with no category, which every policy treats as unknown. Pass
``classifier=`` or ``model_path=`` to use another or a saved one.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=4)
def _shipped_classifier(taxonomy_path: str | None):
    from ..taxonomy import default_classifier
    from ..taxonomy import load_taxonomy

    return default_classifier(taxonomy=load_taxonomy(taxonomy_path) if taxonomy_path else None)


class LazyClassifier:
    """Stands in for the taxonomy classifier; loads it on first use only."""

    def __init__(self, model_path=None, taxonomy_path: str | None = None):
        self.model_path = model_path
        self.taxonomy_path = taxonomy_path
        self._clf = None

    def get(self):
        if self._clf is None:
            if self.model_path:
                from ..taxonomy import default_classifier
                from ..taxonomy import load_taxonomy

                tax = load_taxonomy(self.taxonomy_path) if self.taxonomy_path else None
                self._clf = default_classifier(self.model_path, taxonomy=tax)
            else:
                self._clf = _shipped_classifier(self.taxonomy_path)
        return self._clf

    def explain(self, values):
        return self.get().explain(values)

    def __getattr__(self, name):  # anything else the taxonomy asks of a classifier
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.get(), name)


def taxonomy_options(classifier=None, model_path=None, overrides=None, taxonomy_path: str | None = None) -> dict:
    """Keyword arguments for the taxonomy's classify_values / categorize."""
    from ..taxonomy import load_taxonomy

    opts = {"classifier": classifier if classifier is not None else LazyClassifier(model_path, taxonomy_path)}
    if overrides is not None:
        opts["overrides"] = overrides
    if taxonomy_path:
        opts["taxonomy"] = load_taxonomy(taxonomy_path)
    return opts


def classify_call_types(values, agency: str | None = None, **options) -> dict:
    """{value: (category or None, confidence or None)} for distinct call-type values.

    Uses the taxonomy (override file, then the agency's crosswalk, then rules and model), so a
    city's own mapping applies to policies exactly as it does to the report. ``options``: see
    ``taxonomy_options``.
    """
    from ..taxonomy import classify_values

    values = list(dict.fromkeys(v for v in values if v is not None))
    if not values:
        return {}
    if "classifier" not in options:
        options = taxonomy_options(**options)
    df = classify_values(values, agency=agency, **options)
    out = {}
    for v, cat, conf in zip(df["value"], df["category"], df["confidence"]):
        cat = None if cat is None or cat != cat or cat == "" else str(cat)
        conf = None if conf is None or conf != conf else float(conf)
        out[v] = (cat, conf)
    for v in values:
        out.setdefault(v, (None, None))
    return out
