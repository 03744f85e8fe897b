"""Classifier for call types that no crosswalk covers: keyword rules + TF-IDF logistic model.

The rules carry meanings that hold in any city and decide when they fire (measured:
leave-one-city-out, rules beat the model on the values where both speak); the model
learns the conventions labelled crosswalks encode (is a FIGHT a crime? a welfare check a
status?) and decides the rest. Both report a calibrated probability.

Calibration: the logistic model's logits are temperature-scaled on out-of-group
predictions (groups = agencies), so a confidence of 0.8 means "right about 80% of the
time on a city the model has not seen", which is how the classifier is used. Rule
confidences are their smoothed precision on the training values.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold
from sklearn.pipeline import FeatureUnion, make_pipeline

from .normalize import clean, model_text
from .rules import apply_rules, load_rules

_WEIGHTINGS = ("log", "sqrt", "raw", "none")


def _weights(sample_weight, n: int, how: str) -> np.ndarray:
    if sample_weight is None or how == "none":
        return np.ones(n)
    w = np.asarray(pd.to_numeric(pd.Series(sample_weight), errors="coerce").fillna(1.0), dtype=float)
    w = np.clip(w, 1.0, None)
    w = 1.0 + np.log(w) if how == "log" else np.sqrt(w) if how == "sqrt" else w
    return w / w.mean()  # mean 1 keeps C meaning the same whatever the weighting


def _vectorizer():
    return FeatureUnion([
        ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                 token_pattern=r"(?u)\b\w+\b")),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1)),
    ])


class CallTypeClassifier(ClassifierMixin, BaseEstimator):
    """Classify call-type strings into taxonomy categories (scikit-learn interface).

    ``fit(values, categories, sample_weight=counts, groups=agencies)``; ``predict`` and
    ``predict_proba`` take raw values (normalization happens inside). ``explain`` gives
    category, confidence and method ('rule' or 'model') per value.

    weighting: how call counts become sample weights. 'log' (default) lets frequent types
    matter more without one huge type drowning the rest.
    """

    def __init__(self, C: float = 3.0, weighting: str = "log", use_rules: bool = True,
                 use_model: bool = True, calibrate: bool = True, rules_path=None, taxonomy=None):
        self.C = C
        self.weighting = weighting
        self.use_rules = use_rules
        self.use_model = use_model
        self.calibrate = calibrate
        self.rules_path = rules_path
        self.taxonomy = taxonomy

    # -- fitting --------------------------------------------------------------------------
    def _new_model(self):
        # saga with a loose tolerance: 10x faster than lbfgs here, same held-out accuracy
        # (benchmarks/classify_accuracy.py); random_state makes it deterministic.
        return make_pipeline(_vectorizer(), LogisticRegression(C=self.C, solver="saga", tol=1e-3, max_iter=2000,
                                                               random_state=0))

    def _fit_model(self, texts, y, w):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # tol is deliberately loose
            return self._new_model().fit(texts, y, logisticregression__sample_weight=w)

    def fit(self, values, categories, sample_weight=None, groups=None):
        if self.weighting not in _WEIGHTINGS:
            raise ValueError(f"weighting must be one of {_WEIGHTINGS}")
        values = list(values)
        y = np.asarray([str(c) for c in categories], dtype=object)
        keep = np.asarray([bool(clean(v)) for v in values]) & np.asarray([bool(c) and c != "nan" for c in y])
        values = [v for v, k in zip(values, keep) if k]
        y = y[keep]
        w = _weights(sample_weight, len(keep), self.weighting)[keep]
        g = None if groups is None else np.asarray([str(x) for x in groups], dtype=object)[keep]
        if not values:
            raise ValueError("no labelled values to fit on")
        self.classes_ = np.array(sorted(set(y)), dtype=object)
        texts = [model_text(v) for v in values]

        self.rules_ = load_rules(self.rules_path, self.taxonomy) if self.use_rules else ()
        self.rule_confidence_ = {}
        fired = []
        if self.rules_:
            fired = [apply_rules(v, self.rules_) for v in values]
            stats: dict[str, list[int]] = {}
            for r, yi in zip(fired, y):
                if r is not None:
                    s = stats.setdefault(r.id, [0, 0])
                    s[0] += int(r.category == yi)
                    s[1] += 1
            # Beta(1.5, 0.5) prior: an unseen rule starts at 0.75, evidence moves it.
            for r in self.rules_:
                hit, n = stats.get(r.id, (0, 0))
                self.rule_confidence_[r.id] = (hit + 1.5) / (n + 2.0)

        self.model_ = None
        self.temperature_ = 1.0
        if self.use_model and len(self.classes_) > 1:
            self.model_ = self._fit_model(texts, y, w)
            if self.calibrate:
                # The model only decides values no rule fires on; calibrate on those.
                free = np.asarray([r is None for r in fired]) if self.rules_ else np.ones(len(values), dtype=bool)
                if free.sum() < 20:
                    free[:] = True
                self.temperature_ = self._fit_temperature(texts, y, w, g, free)
        return self

    def _fit_temperature(self, texts, y, w, groups, score_mask) -> float:
        """Temperature that minimizes out-of-group log loss (1.0 if too little data)."""
        n = len(texts)
        if groups is not None and len(set(groups)) >= 2:
            splitter = GroupKFold(n_splits=min(3, len(set(groups))))
            splits = list(splitter.split(texts, y, groups))
        elif n >= 20:
            splits = list(KFold(n_splits=3, shuffle=True, random_state=0).split(texts))
        else:
            return 1.0
        logits, truth, weights = [], [], []
        col = {c: i for i, c in enumerate(self.classes_)}
        texts_arr = np.asarray(texts, dtype=object)
        for tr, te in splits:
            if len(set(y[tr])) < 2:
                continue
            m = self._fit_model(list(texts_arr[tr]), y[tr], w[tr])
            z = m.decision_function(list(texts_arr[te]))
            if z.ndim == 1:  # binary
                z = np.column_stack([-z, z])
            full = np.full((len(te), len(self.classes_)), -1e3)  # classes unseen in the fold
            for j, c in enumerate(m.classes_):
                full[:, col[c]] = z[:, j]
            # A class the fold never saw cannot be predicted at any temperature; scoring it
            # would only push the temperature to its bound.
            seen = np.isin(y[te], m.classes_) & score_mask[te]
            logits.append(full[seen])
            truth.append([col[c] for c in y[te][seen]])
            weights.append(w[te][seen])
        if not logits:
            return 1.0
        Z = np.vstack(logits)
        t = np.concatenate(truth)
        ww = np.concatenate(weights)

        def nll(log_temp):
            lp = log_softmax(Z / np.exp(log_temp), axis=1)
            return -np.sum(ww * lp[np.arange(len(t)), t]) / ww.sum()

        res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
        return float(np.exp(res.x))

    # -- prediction -------------------------------------------------------------------------
    def _model_proba(self, values) -> np.ndarray:
        texts = [model_text(v) for v in values]
        if self.model_ is None:
            p = np.zeros((len(texts), len(self.classes_)))
            p[:, 0] = 1.0
            return p
        z = self.model_.decision_function(texts)
        if z.ndim == 1:
            z = np.column_stack([-z, z])
        proba = softmax(z / self.temperature_, axis=1)
        # model_.classes_ equals self.classes_ (both sorted over the same labels)
        return proba

    def _decide(self, values):
        """Rule if one fires (confidence: its measured precision, or the model's probability
        for that category if higher), else the model's most probable category."""
        values = list(values)
        proba = self._model_proba(values)
        col = {c: i for i, c in enumerate(self.classes_)}
        cats, confs, methods, rule_ids = [], [], [], []
        final = proba.copy()
        for i, v in enumerate(values):
            r = apply_rules(v, self.rules_) if self.rules_ else None
            if r is not None:
                k = col.get(r.category)
                conf = self.rule_confidence_[r.id]
                if k is not None:
                    conf = max(conf, float(proba[i, k]))
                    rest = np.delete(proba[i], k)
                    rest = rest / rest.sum() * (1 - conf) if rest.sum() > 0 else rest
                    final[i] = np.insert(rest, k, conf)
                cats.append(r.category)
                confs.append(conf)
                methods.append("rule")
                rule_ids.append(r.id)
            elif self.model_ is None:
                cats.append(None)
                confs.append(0.0)
                methods.append("model")
                rule_ids.append("")
            else:
                k = int(np.argmax(proba[i]))
                cats.append(self.classes_[k])
                confs.append(float(proba[i, k]))
                methods.append("model")
                rule_ids.append("")
        return cats, confs, methods, rule_ids, final

    def explain(self, values) -> pd.DataFrame:
        """Per value: category, confidence (calibrated probability), method, rule id."""
        values = list(values)
        cat, conf, method, rule, _ = self._decide(values)
        return pd.DataFrame({"value": values, "category": cat, "confidence": conf,
                             "method": method, "rule": rule})

    def predict(self, values) -> np.ndarray:
        return np.asarray(self._decide(values)[0], dtype=object)

    def predict_proba(self, values) -> np.ndarray:
        """Class probabilities (columns follow ``classes_``), consistent with ``predict``
        (except for a rule category the training labels never contained: it has no column)."""
        return self._decide(values)[4]
