"""Override > agency crosswalk > classifier, for distinct keys, as plain lists.

The one definition of how a call type gets its category. ``classify.resolve`` returns it as
a frame for tables; the category provider calls it directly, so that triage on the command
line answers one call without importing pandas (``benchmarks/triage_cli.py``: pandas is
about 0.19 s of a 0.4 s triage).
"""

from __future__ import annotations

from .call_type_text import clean
from .crosswalk import Lookup, agency_id, coerce_overrides, crosswalk_lookup
from .shipped_model import default_classifier
from .taxonomy import load_taxonomy

# A crosswalk row nobody reviewed (decided_by=model) is a guess; say so in the confidence
# so review_table puts it near the top.
UNREVIEWED_CONFIDENCE = 0.5


def resolve_keys(agencies, values, codes=None, fields=None, overrides=None, classifier=None, taxonomy=None,
                 model_path=None) -> dict[str, list]:
    """Classify distinct (agency, value, code, field) keys.

    Returns lists, one entry per key: category, confidence, method, detail, field,
    crime_group, demand_type. ``detail`` says which rule or crosswalk decision was used, or
    the best guess of a value left for review (method ``needs_review``, empty category).
    ``classifier`` needs a ``decisions(values)`` method (``CallTypeClassifier``).
    """
    tax = taxonomy or load_taxonomy()
    ov = Lookup(coerce_overrides(overrides, tax), "override")
    values = list(values)
    n = len(values)
    agencies = [agency_id(a) for a in agencies]
    codes = list(codes) if codes is not None else [None] * n
    fields = list(fields) if fields is not None else [None] * n

    cat = [None] * n
    conf = [0.0] * n
    method = ["missing"] * n
    detail = [""] * n
    field_out = [f if isinstance(f, str) and f else "call_type" for f in fields]
    crosswalks: dict[str, Lookup] = {}
    pending = []
    for i in range(n):
        a, v, c, f = agencies[i], values[i], codes[i], fields[i]
        if a not in crosswalks:
            crosswalks[a] = crosswalk_lookup(a, tax) if a else Lookup(None, "crosswalk")
        hit = None
        for lookup, how in ((ov, "override"), (crosswalks[a], "crosswalk")):
            for candidate, kind in ((v, "value"), (c, "code")):
                if hit or not clean(candidate):
                    continue
                hit = lookup.get(a, candidate, f)
                if not hit:
                    continue
                cat[i], method[i] = hit["category"], how
                if how == "override":
                    conf[i], detail[i] = 1.0, "override file"
                else:
                    conf[i] = UNREVIEWED_CONFIDENCE if hit.get("decided_by") == "model" else 1.0
                    detail[i] = hit.get("decided_by", "")
                if isinstance(f, str) and f:
                    field_out[i] = f
                else:
                    field_out[i] = hit.get("field") or ("call_type" if kind == "value" else "call_type_code")
        if not hit:
            text = v if clean(v) else c
            if clean(text):
                pending.append((i, text))

    if pending:
        clf = classifier if classifier is not None else default_classifier(model_path, taxonomy)
        uniq = list(dict.fromkeys(t for _, t in pending))
        d = clf.decisions(uniq)
        row = {t: j for j, t in enumerate(d["value"])}
        for i, text in pending:
            j = row[text]
            cat[i], conf[i], method[i] = d["category"][j], float(d["confidence"][j]), d["method"][j]
            detail[i] = d["rule"][j] or ""
            if method[i] == "needs_review":
                cat[i] = None
                if isinstance(d["guess"][j], str):
                    detail[i] = f"guess: {d['guess'][j]}"
            if not clean(values[i]):
                field_out[i] = "call_type_code"

    return {"category": cat, "confidence": [round(x, 4) for x in conf], "method": method, "detail": detail,
            "field": field_out, "crime_group": [tax.crime_group(x) for x in cat],
            "demand_type": [tax.demand_type(x) for x in cat]}
