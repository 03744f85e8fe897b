"""Classifier for call types that no crosswalk covers: keyword rules + a TF-IDF logistic model.

The rules carry meanings that hold in any city and decide when they fire; the model learns
the conventions labelled crosswalks encode (is a FIGHT a crime? a welfare check a status?)
and decides the rest. Both read the call type through the same normalizer: curated
abbreviations and statutes (data/), then the spellings, abbreviations and code numbers the
classifier learned from its training call types (``taxonomy.lexicon``).

Calibration and abstention are measured the way the classifier is used, on cities it has
not seen: the training agencies are split into folds, each fold's cities are classified by
a classifier fitted on the others (lexicon included), and

* the model's logits are temperature-scaled on those out-of-city predictions, so a
  confidence of 0.8 means "right about 80% of the time on a city it has not seen";
* the abstention threshold is the confidence below which those out-of-city answers were
  more often wrong than right (the cut that maximizes right minus wrong answers). Below it
  the category is left empty and the method is ``needs_review``.

A fitted classifier holds only arrays, dicts and strings: it is saved as one ``.npz`` file
(JSON + arrays, no pickle, so a model file is data and cannot run code). Loading it and
classifying a few values need only the standard library (``_read_npz``, ``_linear_scores``):
a one-call ``triage`` imports neither scikit-learn nor numpy; a batch uses numpy.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import warnings
import zipfile
from array import array
from pathlib import Path
from typing import TYPE_CHECKING

from .lexicon import Lexicon
from .call_type_text import clean, curated_words, expand, model_text, read_citations, rule_text, strip_code_prefix
from .rules import first_rule, load_rules, rule_words

if TYPE_CHECKING:  # numpy, scipy, scikit-learn and pandas are imported where they are used
    import numpy as np
    import pandas as pd

_WEIGHTINGS = ("log", "sqrt", "raw", "none")
FORMAT = 2
_WORD = re.compile(r"\w+")


def _weights(sample_weight, n: int, how: str) -> np.ndarray:
    import numpy as np

    if sample_weight is None or how == "none":
        return np.ones(n)
    import pandas as pd

    w = np.asarray(pd.to_numeric(pd.Series(sample_weight), errors="coerce").fillna(1.0), dtype=float)
    w = np.clip(w, 1.0, None)
    w = 1.0 + np.log(w) if how == "log" else np.sqrt(w) if how == "sqrt" else w
    return w / w.mean()  # mean 1 keeps C meaning the same whatever the weighting


# -- features: word 1-2-grams and character 2-5-grams within words, TF-IDF -------------------
def word_grams(text: str) -> list[str]:
    toks = _WORD.findall(text.lower())
    return toks + [a + " " + b for a, b in zip(toks, toks[1:])]


def char_grams(text: str) -> list[str]:
    """Character 2-5-grams of each space-padded word, exactly as scikit-learn's ``char_wb``:
    what lets the model read a spelling it has never seen from the pieces it shares with
    known ones."""
    out = []
    for w in text.lower().split():
        w = " " + w + " "
        n_w = len(w)
        for n in range(2, 6):
            offset = 0
            out.append(w[:n])
            while offset + n < n_w:
                offset += 1
                out.append(w[offset:offset + n])
            if offset == 0:  # a short word (shorter than n) counts once
                break
    return out


class _Vectorizer:
    """TF-IDF (sublinear tf, smoothed idf, each block L2-normalized) over the two analyzers,
    written out so fitting and prediction share one definition (``rows``)."""

    ANALYZERS = (word_grams, char_grams)

    def __init__(self, terms: tuple[list[str], list[str]], idf: array):
        self.terms = terms
        self.vocabs, start = [], 0
        for block in terms:
            self.vocabs.append({k: start + i for i, k in enumerate(block)})
            start += len(block)
        self.idf, self.size = idf, start  # idf: array('d'), one per term

    @classmethod
    def fit(cls, texts) -> "_Vectorizer":
        import numpy as np

        terms, dfs = [], []
        for analyzer in cls.ANALYZERS:
            df: dict[str, int] = {}
            for t in texts:
                for g in set(analyzer(t)):
                    df[g] = df.get(g, 0) + 1
            keys = sorted(df)
            terms.append(keys)
            dfs.append(np.array([df[k] for k in keys], dtype=float))
        n = len(texts)
        idf = np.concatenate([np.log((1 + n) / (1 + d)) + 1 for d in dfs])
        return cls(tuple(terms), array("d", idf.tolist()))

    def rows(self, text: str) -> tuple[list[int], list[float]]:
        """(columns, values) of one text's feature row."""
        cols: list[int] = []
        vals: list[float] = []
        idf = self.idf
        for analyzer, vocab in zip(self.ANALYZERS, self.vocabs):
            counts: dict[int, int] = {}
            for g in analyzer(text):
                j = vocab.get(g)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            v = [(1.0 + math.log(n)) * idf[j] for j, n in counts.items()]
            norm = math.sqrt(math.fsum(x * x for x in v))
            cols.extend(counts)
            vals.extend(x / norm for x in v)
        return cols, vals

    def transform(self, texts):
        import numpy as np
        from scipy import sparse

        indptr, indices, data = [0], [], []
        for t in texts:
            c, v = self.rows(t)
            indices.extend(c)
            data.extend(v)
            indptr.append(len(indices))
        # int32 indices: what scikit-learn's solvers take without a copy
        return sparse.csr_matrix((np.asarray(data, dtype=float), np.asarray(indices, dtype=np.int32),
                                  np.asarray(indptr, dtype=np.int32)), shape=(len(texts), self.size))


FEW_VALUES = 16  # _linear_scores: up to this many texts (2 ms at most), summed without numpy


def _linear_scores(rows, coef: array, intercept: tuple[float, ...]) -> list[list[float]]:
    """Each row's logits: intercept + row . coef (coef: features x classes, row-major float32).

    Two ways to the same sums, chosen by the number of rows alone (never by what happens to
    be imported, so an answer does not depend on what ran before in the process). Up to
    FEW_VALUES rows the products are summed in Python over the flat float32 buffer: a
    one-call ``triage`` then never imports numpy, which was 35 to 46 ms of its 0.18 to 0.21 s
    (benchmarks/triage_cli.py). More rows go through numpy: 0.009 ms a row once numpy is
    loaded, against 0.11 ms in Python (benchmarks/README.md), so a batch of the thousands of
    distinct call types ``assess`` classifies stays fast. test_the_two_ways_to_score_agree
    holds the two equal to 1e-12.
    """
    k = len(intercept)
    if len(rows) <= FEW_VALUES:
        out = []
        for cols, vals in rows:
            z = list(intercept)
            for j, v in zip(cols, vals):
                w = coef[j * k:(j + 1) * k]
                z = [a + v * b for a, b in zip(z, w)]
            out.append(z)
        return out
    import numpy as np

    W = np.frombuffer(coef, dtype=np.float32).reshape(-1, k)
    Z = np.tile(np.asarray(intercept, dtype=float), (len(rows), 1))
    for i, (cols, vals) in enumerate(rows):
        if cols:
            Z[i] += np.asarray(vals) @ W[cols]
    return Z.tolist()


def _calibrated(z: list[float], temperature: float) -> list[float]:
    """Softmax of temperature-scaled logits: the class probabilities every answer reports."""
    z = [x / temperature for x in z]
    m = max(z)
    e = [math.exp(x - m) for x in z]
    s = math.fsum(e)
    return [x / s for x in e]


def float32_buffer(matrix) -> array:
    """A numpy matrix as the flat row-major float32 buffer ``_linear_scores`` reads."""
    import numpy as np

    out = array("f")
    out.frombytes(np.ascontiguousarray(matrix, dtype="<f4").tobytes())
    if sys.byteorder != "little":
        out.byteswap()
    return out


_NPY_DTYPES = {"<f4": "f", "<f8": "d", "|u1": "B"}
_NPY_HEADER = re.compile(r"\{'descr': '([<|]\w+)', 'fortran_order': False, 'shape': \(([\d, ]*)\), *\} *\n?$")


def _read_npz(path) -> dict[str, tuple[array, tuple[int, ...]]]:
    """The arrays of a model file (``np.savez``) read with the standard library.

    Why not ``np.load``: importing numpy was 35 to 46 ms of a one-call ``triage`` (see
    ``_linear_scores``). Reads only what ``save`` writes: stored members (inflating the
    1.9 MB of weights of a deflated file took 9 ms, and a stored member cannot expand
    beyond the file's size), each a version 1.0 .npy array of little-endian float32,
    float64 or bytes in C order. Anything else raises ValueError.
    """
    out = {}
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            name = info.filename
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{name} is compressed")
            b = z.read(info)
            if not name.endswith(".npy") or b[:8] != b"\x93NUMPY\x01\x00":
                raise ValueError(f"{name} is not a version 1.0 .npy array")
            end = 10 + int.from_bytes(b[8:10], "little")
            m = _NPY_HEADER.match(b[10:end].decode("latin-1"))
            if not m or m.group(1) not in _NPY_DTYPES:
                raise ValueError(f"{name}: unexpected array header")
            shape = tuple(int(x) for x in m.group(2).replace(" ", "").split(",") if x)
            a = array(_NPY_DTYPES[m.group(1)])
            a.frombytes(b[end:])
            if len(a) != math.prod(shape):
                raise ValueError(f"{name}: {len(a)} values for shape {shape}")
            if sys.byteorder != "little":
                a.byteswap()
            out[name[:-4]] = (a, shape)
    return out


class CallTypeClassifier:
    """Classify call-type strings into taxonomy categories (scikit-learn style interface).

    ``fit(values, categories, sample_weight=counts, groups=agencies, code_pairs=...)``;
    ``predict`` and ``predict_proba`` take raw values. ``explain`` gives category (empty
    below the abstention threshold), confidence, method ('rule', 'model' or
    'needs_review'), rule id and the best guess. ``save(path)`` / ``load(path)``.

    weighting: how call counts become sample weights ('log' lets frequent types matter more
    without one huge type drowning the rest). abstain: leave low-confidence answers empty.
    """

    def __init__(self, C: float = 3.0, weighting: str = "log", use_rules: bool = True,
                 use_model: bool = True, calibrate: bool = True, abstain: bool = True,
                 learn_lexicon: bool = True, rules_path=None, taxonomy=None):
        self.C = C
        self.weighting = weighting
        self.use_rules = use_rules
        self.use_model = use_model
        self.calibrate = calibrate
        self.abstain = abstain
        self.learn_lexicon = learn_lexicon
        self.rules_path = rules_path
        self.taxonomy = taxonomy

    # -- reading ------------------------------------------------------------------------------
    def _texts(self, values):
        lex = getattr(self, "lexicon_", None)
        return [model_text(v, lex) for v in values]

    def _rules_for(self, values):
        if not self.rules_:
            return [None] * len(values)
        lex = getattr(self, "lexicon_", None)
        return [first_rule(rule_text(v, lex), self.rules_) for v in values]

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, values, categories, sample_weight=None, groups=None, code_pairs=()):
        import numpy as np

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
        self.classes_ = tuple(sorted(set(y)))
        self.rules_ = load_rules(self.rules_path, self.taxonomy) if self.use_rules else ()
        self.rule_ids_ = tuple(r.id for r in self.rules_)
        self._fit_core(values, y, w, code_pairs)
        self.temperature_, self.threshold_ = 1.0, 0.0
        if self.use_model and self.calibrate and self.coef_ is not None:
            self._calibrate(values, y, w, g, code_pairs)
        return self

    def _fit_core(self, values, y, w, code_pairs):
        """Lexicon, rule precisions, vectorizer and logistic model on these values."""
        import numpy as np

        self.lexicon_ = None
        if self.learn_lexicon:
            base = [expand(read_citations(strip_code_prefix(clean(v)) or clean(v))) for v in values]
            pairs = [(c, expand(clean(d))) for c, d in code_pairs]
            self.lexicon_ = Lexicon.learn(base, pairs, known=rule_words(self.rules_) | curated_words())
        fired = self._rules_for(values)
        stats: dict[str, list[int]] = {}
        for r, yi in zip(fired, y):
            if r is not None:
                s = stats.setdefault(r.id, [0, 0])
                s[0] += int(r.category == yi)
                s[1] += 1
        # Beta(1.5, 0.5) prior: an unseen rule starts at 0.75, evidence moves it.
        self.rule_confidence_ = {r.id: (stats.get(r.id, (0, 0))[0] + 1.5) / (stats.get(r.id, (0, 0))[1] + 2.0)
                                 for r in self.rules_}
        self.coef_ = self.intercept_ = self.vectorizer_ = None
        if self.use_model and len(self.classes_) > 1:
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.linear_model import LogisticRegression

            texts = self._texts(values)
            self.vectorizer_ = _Vectorizer.fit(texts)
            X = self.vectorizer_.transform(texts)
            # saga with a loose tolerance: 10x faster than lbfgs here, same held-out accuracy;
            # random_state makes it deterministic.
            lr = LogisticRegression(C=self.C, solver="saga", tol=1e-3, max_iter=2000, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                lr.fit(X, y, sample_weight=w)
            coef, icpt = lr.coef_, lr.intercept_
            if coef.shape[0] == 1:  # binary: scikit-learn keeps one row
                coef, icpt = np.vstack([-coef, coef]), np.concatenate([-icpt, icpt])
            full_c = np.zeros((len(self.classes_), coef.shape[1]))
            full_i = np.full(len(self.classes_), -1e3)  # a class absent from these values
            col = {c: i for i, c in enumerate(self.classes_)}
            for j, c in enumerate(lr.classes_):
                full_c[col[c]], full_i[col[c]] = coef[j], icpt[j]
            self.coef_ = float32_buffer(full_c.T)  # features x classes
            self.intercept_ = tuple(full_i.tolist())

    def _calibrate(self, values, y, w, groups, code_pairs):
        """Temperature and abstention threshold from out-of-city answers (see module doc)."""
        import numpy as np
        from scipy.optimize import minimize_scalar
        from sklearn.model_selection import GroupKFold, KFold

        n = len(values)
        if groups is not None and len(set(groups)) >= 2:
            splits = list(GroupKFold(n_splits=min(4, len(set(groups)))).split(values, y, groups))
        elif n >= 20:
            splits = list(KFold(n_splits=3, shuffle=True, random_state=0).split(values))
        else:
            return
        vals = np.asarray(values, dtype=object)
        logits, truth, ww, rule_ok, rule_conf, is_rule = [], [], [], [], [], []
        for tr, te in splits:
            if len(set(y[tr])) < 2:
                continue
            fold = type(self)(C=self.C, weighting=self.weighting, use_rules=self.use_rules,
                                      learn_lexicon=self.learn_lexicon, calibrate=False, rules_path=self.rules_path,
                                      taxonomy=self.taxonomy)
            fold.classes_, fold.rules_ = self.classes_, self.rules_
            fold._fit_core(list(vals[tr]), y[tr], w[tr], code_pairs)
            fold.temperature_ = 1.0
            z = fold._logits(list(vals[te]))
            fired = fold._rules_for(list(vals[te]))
            logits.append(z)
            truth.extend(y[te])
            ww.extend(w[te])
            for r, yi in zip(fired, y[te]):
                is_rule.append(r is not None)
                rule_ok.append(r is not None and r.category == yi)
                rule_conf.append(fold.rule_confidence_[r.id] if r is not None else 0.0)
        if not logits:
            return
        Z = np.vstack(logits)
        col = {c: i for i, c in enumerate(self.classes_)}
        t = np.array([col[c] for c in truth])
        ww = np.asarray(ww)
        is_rule = np.asarray(is_rule)
        free = ~is_rule if (~is_rule).sum() >= 20 else np.ones(len(t), dtype=bool)

        def nll(log_temp):
            z = Z[free] / np.exp(log_temp)
            z = z - z.max(axis=1, keepdims=True)
            lp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            return -np.sum(ww[free] * lp[np.arange(free.sum()), t[free]]) / ww[free].sum()

        res = minimize_scalar(nll, bounds=(np.log(0.005), np.log(20.0)), method="bounded")
        self.temperature_ = float(np.exp(res.x))
        # The decision each out-of-city value got, with its calibrated confidence.
        P = np.asarray([_calibrated(z, self.temperature_) for z in Z.tolist()])
        pred = P.argmax(axis=1)
        conf = P[np.arange(len(t)), pred]
        ok = pred == t
        rconf = np.asarray(rule_conf)
        conf = np.where(is_rule, rconf, conf)
        ok = np.where(is_rule, np.asarray(rule_ok), ok)
        self.threshold_ = choose_threshold(conf, ok, ww) if self.abstain else 0.0
        self.calibration_ = {"values": int(len(t)), "folds": len(splits),
                             "out_of_city_accuracy": round(float((ok * ww).sum() / ww.sum()), 4),
                             "abstain_share": round(float(ww[conf < self.threshold_].sum() / ww.sum()), 4)}

    # -- prediction -------------------------------------------------------------------------------
    def _logits(self, values) -> list[list[float]]:
        """The model's logits per value (columns follow ``classes_``)."""
        return _linear_scores([self.vectorizer_.rows(t) for t in self._texts(values)], self.coef_, self.intercept_)

    def _model_proba(self, values) -> list[list[float]]:
        if self.coef_ is None:
            return [[1.0] + [0.0] * (len(self.classes_) - 1) for _ in values]
        return [_calibrated(z, self.temperature_) for z in self._logits(values)]

    def _decide(self, values):
        """Rule if one fires (confidence: its measured precision, or the model's probability
        for that category if higher), else the model's most probable category; below the
        threshold the answer becomes a guess and the method ``needs_review``. Also gives
        each value's class probabilities, the fired rule's category holding its confidence
        and the others rescaled to the rest."""
        values = list(values)
        proba = self._model_proba(values)
        col = {c: i for i, c in enumerate(self.classes_)}
        cats, confs, methods, rule_ids, guesses, final = [], [], [], [], [], []
        for p, r in zip(proba, self._rules_for(values)):
            if r is not None:
                k = col.get(r.category)
                conf = self.rule_confidence_.get(r.id, 0.75)
                if k is not None:
                    conf = max(conf, p[k])
                    rest = math.fsum(p) - p[k]
                    scale = (1 - conf) / rest if rest > 0 else 1.0
                    p = [conf if i == k else x * scale for i, x in enumerate(p)]
                guess, method, rid = r.category, "rule", r.id
            elif self.coef_ is None:
                guess, conf, method, rid = None, 0.0, "model", ""
            else:
                k = max(range(len(p)), key=p.__getitem__)  # the first of equal maxima
                guess, conf, method, rid = self.classes_[k], p[k], "model", ""
            if guess is not None and conf < self.threshold_:
                method = "needs_review"
            guesses.append(guess)
            cats.append(None if method == "needs_review" else guess)
            confs.append(conf)
            methods.append(method)
            rule_ids.append(rid)
            final.append(p)
        return cats, confs, methods, rule_ids, guesses, final

    def decisions(self, values) -> dict[str, list]:
        """Per value, as lists (no pandas, so a one-call triage does not import it): value,
        category (None when it needs review), confidence (calibrated probability), method,
        rule id, and the best guess (also for abstentions)."""
        values = list(values)
        cat, conf, method, rule, guess, _ = self._decide(values)
        return {"value": values, "category": cat, "confidence": conf, "method": method, "rule": rule,
                "guess": guess}

    def explain(self, values) -> pd.DataFrame:
        """``decisions`` as a frame, one row per value."""
        import pandas as pd

        d = self.decisions(values)
        obj = lambda xs: pd.Series(xs, dtype=object)  # noqa: E731 (keeps None as None under pandas 3)
        return pd.DataFrame({k: (v if k == "confidence" else obj(v)) for k, v in d.items()})

    def predict(self, values) -> np.ndarray:
        """Categories; None where the classifier abstains (method ``needs_review``)."""
        import numpy as np

        return np.asarray(self._decide(values)[0], dtype=object)

    def predict_proba(self, values) -> np.ndarray:
        """Class probabilities (columns follow ``classes_``), consistent with the guesses
        (except for a rule category the training labels never contained: it has no column)."""
        import numpy as np

        return np.asarray(self._decide(values)[5], dtype=float).reshape(-1, len(self.classes_))

    # -- storage --------------------------------------------------------------------------------
    def save(self, path, fingerprint: str = "") -> Path:
        """Write the fitted classifier to ``path`` (.npz: JSON + arrays, atomically)."""
        import numpy as np

        path = Path(path)
        self.fingerprint_ = fingerprint
        meta = {"format": FORMAT, "fingerprint": fingerprint, "classes": list(self.classes_),
                "C": self.C, "weighting": self.weighting, "use_rules": self.use_rules,
                "rules_path": str(self.rules_path) if self.rules_path else None,
                "taxonomy": self.taxonomy.source if self.taxonomy is not None else None,
                "rule_ids": list(self.rule_ids_), "rule_confidence": self.rule_confidence_,
                "temperature": self.temperature_, "threshold": self.threshold_,
                "calibration": getattr(self, "calibration_", None),
                "lexicon": self.lexicon_.to_dict() if self.lexicon_ is not None else None,
                "terms": list(self.vectorizer_.terms) if self.vectorizer_ else None}
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
        if self.coef_ is not None:
            # little-endian on any machine: what _read_npz reads
            arrays.update(coef=np.frombuffer(self.coef_, dtype=np.float32).reshape(-1, len(self.classes_)).astype("<f4"),
                          intercept=np.asarray(self.intercept_, dtype="<f8"),
                          idf=np.frombuffer(self.vectorizer_.idf, dtype=float).astype("<f8"))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)  # stored, not deflated: see _read_npz
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path, fingerprint: str | None = None) -> "CallTypeClassifier":
        """Read a saved classifier; ValueError if the file is not one (or, with
        ``fingerprint``, was fitted on other training data)."""
        try:
            arrays = _read_npz(path)
            meta = json.loads(arrays.pop("meta")[0].tobytes().decode("utf-8"))
            if not isinstance(meta, dict):
                raise ValueError("its meta is not a JSON object")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a rightresponse call-type model ({exc})") from None
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: model format {meta.get('format')!r}, expected {FORMAT}")
        if fingerprint is not None and meta.get("fingerprint") != fingerprint:
            raise ValueError(f"{path}: fitted on other training data")
        from .taxonomy import load_taxonomy

        tax = load_taxonomy(meta["taxonomy"]) if meta.get("taxonomy") else None
        self = cls(C=meta["C"], weighting=meta["weighting"], use_rules=meta["use_rules"],
                   rules_path=meta["rules_path"], taxonomy=tax)
        self.classes_ = tuple(meta["classes"])
        self.rules_ = load_rules(self.rules_path, tax) if self.use_rules else ()
        if tuple(r.id for r in self.rules_) != tuple(meta["rule_ids"]):
            raise ValueError(f"{path}: fitted with other keyword rules")
        self.rule_ids_ = tuple(meta["rule_ids"])
        self.rule_confidence_ = meta["rule_confidence"]
        self.temperature_, self.threshold_ = meta["temperature"], meta["threshold"]
        if meta.get("calibration"):
            self.calibration_ = meta["calibration"]
        self.lexicon_ = Lexicon.from_dict(meta["lexicon"]) if meta.get("lexicon") else None
        self.coef_ = self.intercept_ = self.vectorizer_ = None
        if "coef" in arrays:
            (coef, shape), (idf, _), (intercept, _) = (arrays.get(k, ((), ())) for k in ("coef", "idf", "intercept"))
            self.vectorizer_ = _Vectorizer(tuple(meta["terms"]), idf)
            n, k = self.vectorizer_.size, len(self.classes_)
            if shape != (n, k) or len(idf) != n or len(intercept) != k:
                raise ValueError(f"{path}: not a rightresponse call-type model (weights of shape {shape}, "
                                 f"{len(idf)} idf and {len(intercept)} intercepts for {n} terms and {k} classes)")
            self.coef_, self.intercept_ = coef, tuple(intercept)
        self.fingerprint_ = meta.get("fingerprint", "")
        return self


def choose_threshold(conf, ok, weight=None) -> float:
    """The confidence below which answers are left for review: the cut that maximizes
    (right answers kept) minus (wrong answers kept), i.e. abstain exactly where a guess was
    more often wrong than right. Ties go to the lower cut (fewer abstentions)."""
    import numpy as np

    conf = np.asarray(conf, dtype=float)
    ok = np.asarray(ok, dtype=bool)
    w = np.ones(len(conf)) if weight is None else np.asarray(weight, dtype=float)
    if not len(conf):
        return 0.0
    order = np.argsort(conf, kind="mergesort")
    c, gain = conf[order], np.where(ok[order], w[order], -w[order])
    # abstaining on the k lowest answers changes the score by -sum(gain[:k])
    kept_score = gain.sum() - np.concatenate([[0.0], np.cumsum(gain)])
    best_k = int(np.argmax(kept_score))  # first maximum = fewest abstentions
    if best_k == 0:
        return 0.0
    # threshold between the last abstained and the first kept confidence
    hi = c[best_k] if best_k < len(c) else 1.0
    return float(round((c[best_k - 1] + hi) / 2, 6)) if hi > c[best_k - 1] else float(hi)
