"""The one place a call type's category comes from at triage time: a provider per configuration.

Triage, the service, policy lint and history, and assess's "who could respond" all ask the
same question of many distinct call-type strings: which category? The answer depends only on
what the classification was configured with: the taxonomy file, the model, the city's
override file, the agency's crosswalk. A ``CategoryProvider`` is built for one such
configuration and remembers its answers per distinct value, so a value is classified once per
process, however many policies, requests or commands ask.

``category_provider(...)`` hands out the provider for a configuration. Its key is a hash of
*the content* of what changes answers, not of names: the model file's bytes (or "the
shipped model", whose own fingerprint covers its training data and code, ``taxonomy.shipped_model``),
the overrides file's bytes (or the frame's rows), the agency, and the taxonomy (by path: a
taxonomy file is read once per process, ``load_taxonomy``, so its path names its content).
So a city's overrides produce a different provider from the preset's plain one (they cannot
leak into another caller's answers), and an edited override file produces a new one on the
next call. A classifier object passed in directly is keyed by its identity: the caller owns
it and must not change it.

Policies do not hold categories: a ``Policy`` is immutable and ``triage`` takes the provider
(or a category on the call).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

# Past this many distinct values a provider forgets the oldest: the service classifies free
# text typed by the public, which must not grow memory without limit.
MAX_VALUES = 50_000
# Configurations kept at once (a process rarely has more than the shipped one and a city's).
MAX_PROVIDERS = 16


def _file_hash(path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return f"unreadable:{Path(path).resolve()}"  # load_* raises the real error when used


def _overrides_hash(overrides) -> str:
    if overrides is None:
        return ""
    if isinstance(overrides, (str, Path)):
        return "file:" + _file_hash(overrides)
    to_csv = getattr(overrides, "to_csv", None)
    if to_csv is not None:  # a DataFrame: its rows are the content
        return "frame:" + hashlib.sha256(to_csv(index=False).encode("utf-8")).hexdigest()
    raise TypeError("overrides must be a path, a DataFrame or None")


def provider_key(taxonomy_path=None, model_path=None, overrides=None, classifier=None, agency=None) -> tuple:
    """Everything that can change a category, by content: (taxonomy, model, overrides, agency)."""
    tax = "" if taxonomy_path is None else str(Path(taxonomy_path).resolve())
    if classifier is not None:
        model = f"object:{id(classifier)}"
    elif model_path is not None and Path(model_path).exists():
        model = "file:" + _file_hash(model_path)
    else:  # the shipped model (a model_path not written yet gets a copy of it)
        model = "shipped"
    return tax, model, _overrides_hash(overrides), agency or ""


class CategoryProvider:
    """call-type value -> (category or None, confidence or None) under one configuration.

    Override file first, then the agency's crosswalk, then the taxonomy's rules and model
    (``resolution.resolve_keys``, what ``classify_values`` gives as a frame); a value the
    model leaves for review has no category.
    Answers are remembered per distinct value (bounded); misses are classified in one batch
    under a lock, so concurrent requests never load the model twice.
    """

    def __init__(self, taxonomy_path=None, model_path=None, overrides=None, classifier=None, agency=None,
                 maxsize: int = MAX_VALUES):
        self.taxonomy_path = None if taxonomy_path is None else str(taxonomy_path)
        self.model_path = model_path
        self.agency = agency
        # Read now, so the rows used are the ones the key was made from.
        from .crosswalk import coerce_overrides

        self.overrides = coerce_overrides(overrides, self._taxonomy())
        self.maxsize = maxsize
        self._classifier = classifier
        self._answers: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def model(self):
        """The call-type model, loaded on first use (most commands answer from overrides or
        crosswalks for some values, but loading is deferred until a value needs it)."""
        if self._classifier is None:
            from .shipped_model import default_classifier

            self._classifier = default_classifier(self.model_path, taxonomy=self._taxonomy())
        return self._classifier

    def _taxonomy(self):
        if self.taxonomy_path is None:
            return None
        from .taxonomy import load_taxonomy

        return load_taxonomy(self.taxonomy_path)

    def classify(self, values) -> dict:
        """{value: (category or None, confidence or None)} for the distinct non-null values."""
        from .resolution import resolve_keys

        values = [v for v in dict.fromkeys(values) if v is not None]
        with self._lock:
            todo = [v for v in values if v not in self._answers]
            if todo:
                res = resolve_keys([self.agency or ""] * len(todo), todo, overrides=self.overrides,
                                   classifier=_Lazy(self), taxonomy=self._taxonomy())
                for v, cat, conf in zip(todo, res["category"], res["confidence"]):  # plain lists: no NaN
                    self._answers[v] = (str(cat) if cat else None, float(conf))
            out = {}
            for v in values:
                hit = self._answers.get(v)
                if hit is None:  # evicted by this very batch (more values than maxsize)
                    hit = (None, None)
                out[v] = hit
            while len(self._answers) > self.maxsize:
                self._answers.popitem(last=False)
            return out

    def table_options(self) -> dict:
        """Keyword arguments for the taxonomy's table functions (``categorize``,
        ``classify_table``), so a table is classified with this configuration and its model."""
        return {"overrides": self.overrides, "classifier": _Lazy(self), "taxonomy": self._taxonomy()}

    def known(self, value):
        """The remembered (category, confidence) of ``value``, or None if not classified yet."""
        return self._answers.get(value)

    def category(self, value) -> str | None:
        """The category of one call type (None: none fits, or no text)."""
        if value is None or not str(value).strip():
            return None
        hit = self._answers.get(value)
        if hit is None:
            hit = self.classify([value])[value]
        return hit[0]

    def __len__(self) -> int:
        return len(self._answers)


class _Lazy:
    """The provider's model, loaded only if a value reaches the model (not decided by an
    override or a crosswalk)."""

    def __init__(self, provider: CategoryProvider):
        self._p = provider

    def decisions(self, values):
        return self._p.model().decisions(values)


_PROVIDERS: OrderedDict = OrderedDict()
_PROVIDERS_LOCK = threading.Lock()


def category_provider(taxonomy_path=None, model_path=None, overrides=None, classifier=None,
                      agency=None) -> CategoryProvider:
    """The provider for this configuration, shared by every caller in the process that asks
    for the same one (``provider_key``: by content, so sharing cannot change an answer)."""
    key = provider_key(taxonomy_path, model_path, overrides, classifier, agency)
    with _PROVIDERS_LOCK:
        p = _PROVIDERS.get(key)
        if p is None:
            p = _PROVIDERS[key] = CategoryProvider(taxonomy_path, model_path, overrides, classifier, agency)
            while len(_PROVIDERS) > MAX_PROVIDERS:
                _PROVIDERS.popitem(last=False)
        else:
            _PROVIDERS.move_to_end(key)
        return p
