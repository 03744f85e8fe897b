"""The shipped call-type model: built once from the package's training data, then loaded.

The training data is every call type a person decided in the shipped CAD crosswalks plus the
San Diego call-type lookup's code numbers (``training_data``). Its hash, with the rules,
curated tables, taxonomy, the classifier's own code and scikit-learn's version, is the model's
fingerprint. The first command that needs the model builds it (5 to 30 s) into the user's
cache, ``$RIGHTRESPONSE_CACHE_DIR`` or ``$XDG_CACHE_HOME/rightresponse`` or
``~/.cache/rightresponse``, as ``models/calltype-<fingerprint>.npz``; every later command in
any process loads that file in milliseconds. A file is only ever read under the fingerprint
it was built for, so the cache cannot change an answer: new crosswalks, rules, code or solver
give a new fingerprint and a new build. Nothing else is cached.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import logging
import os
import sys
from pathlib import Path

from .crosswalk import CROSSWALK_DIR, available_crosswalks, load_crosswalks
from .calltype_classifier import FORMAT, CallTypeClassifier
from .taxonomy import DATA_DIR, load_taxonomy

log = logging.getLogger(__name__)

SAN_DIEGO_LOOKUP = Path(__file__).parent.parent / "ingest" / "adapters" / "san_diego" / "pd_cfs_calltypes_datasd.csv"
# What a model is fitted from and with: a change to any of these is a new model.
_INPUT_FILES = ("keyword_rules.yaml", "abbreviations.csv", "normalize.yaml", "statutes.csv")
_CODE_FILES = ("calltype_classifier.py", "lexicon.py", "call_type_text.py", "rules.py", "shipped_model.py")


def cache_dir() -> Path:
    env = os.environ.get("RIGHTRESPONSE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "rightresponse"


def code_pairs() -> list[tuple[str, str]]:
    """(code, description) pairs of the San Diego call-type lookup shipped for its adapter."""
    # Shipped with the package: missing means a broken install (or a moved file), and the
    # model would quietly lose the code pairs, so it fails rather than training without them.
    with open(SAN_DIEGO_LOOKUP, encoding="utf-8-sig", newline="") as f:
        return [(r["call_type"], r["description"]) for r in csv.DictReader(f) if r.get("call_type")]


CROSSWALK_311_SUFFIX = "_311"  # nyc_311.csv: the crosswalk of a 311 adapter's request types


def model_crosswalks() -> list[str]:
    """The crosswalks the model learns from: those of CAD call types, not of 311 request types.

    A 311 system's request types are a city-services vocabulary ("Schedule a Bulk Item
    Pickup") that every shipped 311 adapter's crosswalk answers in full. Learnt from, they
    moved the CAD model's out-of-city accuracy from 0.751 to 0.732 and its abstention with it
    (measured on the four-fold calibration), so the model stays a reader of CAD call types.
    """
    return [a for a in available_crosswalks() if not a.endswith(CROSSWALK_311_SUFFIX)]


def training_data(taxonomy=None):
    """Every CAD crosswalk row a person decided (published or reviewed): value, category, agency."""
    cw = load_crosswalks(model_crosswalks(), taxonomy=taxonomy)
    return cw[cw["decided_by"] != "model"].reset_index(drop=True)


def solver_version() -> str:
    """The installed scikit-learn's version (its solver shapes the fitted weights).

    Read from the name of its ``.dist-info`` directory on ``sys.path``, where installers
    record it (``scikit_learn-1.7.2.dist-info``), and only where there is none from
    ``importlib.metadata``. Why: importing ``importlib.metadata`` was 11 ms of a 0.12 s
    one-call ``triage`` (benchmarks/triage_cli.py), importing scikit-learn 0.5 s.
    test_solver_version_is_the_installed_one holds it equal to importlib.metadata's answer.
    """
    prefix, suffix = "scikit_learn-", ".dist-info"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip, a missing directory
            continue
        for name in names:
            if name.startswith(prefix) and name.endswith(suffix):
                return name[len(prefix):-len(suffix)]
    from importlib.metadata import version

    return version("scikit-learn")


def fingerprint(taxonomy=None) -> str:
    """Hash of the training data, rules, curated tables, taxonomy names, model code and the
    solver's version."""
    tax = taxonomy or load_taxonomy()
    h = hashlib.sha256(f"{FORMAT}|{solver_version()}|{'|'.join(tax.names)}".encode())
    here = Path(__file__).parent
    files = [CROSSWALK_DIR / f"{a}.csv" for a in model_crosswalks()] + [DATA_DIR / n for n in _INPUT_FILES] + \
        [here / n for n in _CODE_FILES] + [SAN_DIEGO_LOOKUP]
    for p in files:
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def build_default_classifier(taxonomy=None) -> CallTypeClassifier:
    """Fit the classifier on the package's training data (deterministic)."""
    cw = training_data(taxonomy)
    return CallTypeClassifier(taxonomy=taxonomy).fit(cw["value"], cw["category"], groups=cw["agency"],
                                                     code_pairs=code_pairs())


def default_classifier(model_path: str | Path | None = None, taxonomy=None) -> CallTypeClassifier:
    """The shipped classifier: loaded from the user's cache, built there on first use.

    A ``taxonomy`` whose category names differ from the shipped crosswalks' cannot be
    trained from them (TaxonomyError names the first offending row); such a city
    classifies through its own overrides, or fits a ``CallTypeClassifier`` itself.
    ``model_path``: a model file to use when it was built from the same training data; a
    copy of the current model is written there otherwise (so a workspace or a server can
    carry its model). Treat the returned object as read-only: it is shared in-process.
    """
    fp = fingerprint(taxonomy)
    path = Path(model_path) if model_path else None
    if path is not None and path.exists():
        try:
            return _load(str(path), fp)
        except ValueError:
            pass  # stale or foreign file: replaced below
    clf = _cached(fp, taxonomy.source if taxonomy is not None else "")
    if path is not None:
        try:
            clf.save(path, fp)
        except OSError as exc:
            log.warning("could not save the call-type model to %s: %s", path, exc)
    return clf


@functools.lru_cache(maxsize=8)
def _load(path: str, fp: str) -> CallTypeClassifier:
    return CallTypeClassifier.load(path, fingerprint=fp)


@functools.lru_cache(maxsize=4)
def _cached(fp: str, taxonomy_source: str) -> CallTypeClassifier:
    path = cache_dir() / "models" / f"calltype-{fp[:24]}.npz"
    if path.exists():
        try:
            return CallTypeClassifier.load(path, fingerprint=fp)
        except ValueError:
            pass
    log.warning("building the call-type model once (5 to 30 s); it is cached in %s", path.parent)
    clf = build_default_classifier(load_taxonomy(taxonomy_source) if taxonomy_source else None)
    try:
        clf.save(path, fp)
    except OSError as exc:  # read-only home: the model lives in this process only
        log.warning("could not cache the call-type model in %s: %s", path.parent, exc)
    return clf
