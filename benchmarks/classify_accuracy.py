"""Accuracy of the call-type classifier on cities it has never seen, the way it is used.

Every contender is fitted on the package's training data (every call type a person decided
in the shipped crosswalks, plus the San Diego lookup's code numbers) *minus everything from
the city being scored*, then classifies that city's call types with no crosswalk for it:

* **Leave one city out** on the three cities Vera labelled (New Orleans, Seattle,
  Charleston), scored against Vera's labels with Vera's call counts.
* **Hand-labelled held-out sets** of five sample cities without labels (Milwaukee, San
  Antonio, Baltimore, San Luis Obispo, DECC), each call type labelled by hand with the
  reasoning per row, used only here (``HAND_SETS``). The first (361 types: the types
  covering 90% of each city's calls plus 20 at random) has had its misses read, so it is no
  longer blind; each later draw (random types not in the earlier ones; the fifth, every
  type left) was labelled before any classifier output on it was looked at, and is the blind
  check for the changes made after the draw before it was read. Which draws are still blind
  is said in benchmarks/README.md.
* The same in the old protocol (trained on the other Vera cities' labels only), for
  comparison with earlier figures; and a plain TF-IDF + logistic-regression baseline on
  the raw strings, trained on the same rows as ours.

"Strict" accuracy counts a value the classifier left for review (method needs_review, no
category) as wrong: that is what a city gets before it reviews anything. "Guess" accuracy
scores the best guess of every value. Per type = share of distinct call types right;
by calls = share of calls right (the held-out set's counts are the sample files' calls).
Abstention: share of types and of calls left for review. Nothing is tuned on the city
being scored: the lexicon, the temperature and the abstention threshold are fitted inside
``fit`` on the remaining cities (out-of-city folds).

    python benchmarks/classify_accuracy.py [--labels PATH] [--fixtures DIR]

Ends with one JSON line holding every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from rightresponse.taxonomy import CallTypeClassifier
from rightresponse.taxonomy.crosswalk import agency_id
from rightresponse.taxonomy.shipped_model import code_pairs, training_data

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LABELS = REPO.parent / "shared" / "data" / "labels" / "vera_call_types_train.csv"
FIXTURES = REPO / "tests" / "fixtures"
# (key, label, file): the hand-labelled sets, in the order they were drawn and labelled.
HAND_SETS = (
    ("hand", "1st set", "unseen_city_call_types_labelled.csv"),
    ("second_draw", "2nd draw", "unseen_city_call_types_second_draw.csv"),
    ("third_draw", "3rd draw", "unseen_city_call_types_third_draw.csv"),
    ("fourth_draw", "4th draw", "unseen_city_call_types_fourth_draw.csv"),
    ("fifth_draw", "5th draw", "unseen_city_call_types_fifth_draw.csv"),
)
VERA_CITIES = ["New Orleans", "Seattle", "Charleston"]
HAND_AGENCY = {"Milwaukee": "milwaukee", "San Antonio": "san_antonio", "Baltimore": "baltimore",
               "San Luis Obispo": "san_luis_obispo", "DECC": "decc"}
TARGETS = {"count_weighted": 0.92, "per_type": 0.85}


def baseline():
    """What an analyst would try first: TF-IDF on the raw strings, logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline

    return make_pipeline(
        FeatureUnion([("word", TfidfVectorizer(ngram_range=(1, 2))),
                      ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)))]),
        LogisticRegression(max_iter=2000))


def scores(pred, guess, method, truth, counts) -> dict:
    pred, guess, truth = (np.asarray(x, dtype=object) for x in (pred, guess, truth))
    c = np.asarray(counts, dtype=float)
    ok, gok = pred == truth, guess == truth
    ab = np.asarray(method) == "needs_review"

    def share(m, w=None):
        w = np.ones(len(m)) if w is None else w
        return round(float((m * w).sum() / w.sum()), 4) if w.sum() else None

    return {"types": int(len(ok)), "calls": int(c.sum()),
            "per_type_accuracy": share(ok), "count_weighted_accuracy": share(ok, c),
            "guess_per_type_accuracy": share(gok), "guess_count_weighted_accuracy": share(gok, c),
            "abstain_share_types": share(ab), "abstain_share_calls": share(ab, c),
            "decided_per_type_accuracy": share(gok[~ab]) if (~ab).any() else None,
            "_ok": ok, "_gok": gok, "_ab": ab, "_c": c}


def pool(parts: list[dict]) -> dict:
    ok = np.concatenate([p["_ok"] for p in parts])
    gok = np.concatenate([p["_gok"] for p in parts])
    ab = np.concatenate([p["_ab"] for p in parts])
    c = np.concatenate([p["_c"] for p in parts])
    return {"types": int(len(ok)), "calls": int(c.sum()),
            "per_type_accuracy": round(float(ok.mean()), 4),
            "count_weighted_accuracy": round(float((ok * c).sum() / c.sum()), 4),
            "guess_per_type_accuracy": round(float(gok.mean()), 4),
            "guess_count_weighted_accuracy": round(float((gok * c).sum() / c.sum()), 4),
            "abstain_share_types": round(float(ab.mean()), 4),
            "abstain_share_calls": round(float((ab * c).sum() / c.sum()), 4),
            "macro_per_type_accuracy": round(float(np.mean([p["per_type_accuracy"] for p in parts])), 4),
            "macro_count_weighted_accuracy": round(float(np.mean([p["count_weighted_accuracy"] for p in parts])), 4)}


def public(s: dict) -> dict:
    return {k: v for k, v in s.items() if not k.startswith("_")}


def evaluate(train: pd.DataFrame, test: pd.DataFrame, pairs, weights=None,
             make=CallTypeClassifier, with_baseline=True) -> tuple[dict, dict | None, dict]:
    """(ours, baseline, extras) for one held-out city."""
    t0 = time.perf_counter()
    clf = make().fit(train["value"], train["category"], sample_weight=weights,
                                   groups=train["agency"], code_pairs=pairs)
    fit_s = time.perf_counter() - t0
    ex = clf.explain(test["value"].tolist())
    ours = scores(ex["category"], ex["guess"], ex["method"], test["category"], test["count"])
    bl = None
    if with_baseline:
        bp = baseline().fit(train["value"], train["category"]).predict(test["value"])
        bl = scores(bp, bp, [""] * len(bp), test["category"], test["count"])
    miss = test.assign(pred=ex["guess"].to_numpy(), method=ex["method"].to_numpy())[~ours["_gok"]].nlargest(5, "count")
    extras = {"fit_seconds": round(fit_s, 2), "threshold": round(clf.threshold_, 4),
              "temperature": round(clf.temperature_, 4),
              "share_types_by_rule": round(float((ex["method"] == "rule").mean()), 4),
              "largest_misses": [{"call_type": r.value, "calls": int(r.count), "label": r.category,
                                  "guess": r.pred, "method": r.method} for r in miss.itertuples()]}
    return ours, bl, extras


def load_hand(path: Path) -> pd.DataFrame:
    """A hand-labelled held-out set; rows left unlabelled (certainty "excluded") dropped."""
    hd = pd.read_csv(path, keep_default_na=False)
    hd = hd[hd["category"] != ""].reset_index(drop=True)
    hd["agency"] = hd["city"].map(HAND_AGENCY)
    return hd


def load_labels(labels: Path, hand: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Vera's labelled call types and one hand-labelled held-out set, unlabelled rows dropped."""
    lab = pd.read_csv(labels)
    lab = lab[lab["category"].notna() & lab["call_type"].notna()].reset_index(drop=True)
    lab["agency"] = lab["city"].map(agency_id)
    return lab, load_hand(hand)


def held_out_sets(lab: pd.DataFrame, hands: dict[str, pd.DataFrame]):
    """(group, city, agency, test frame) for every city scored: Vera's three ("cities"), then
    each hand-labelled set's cities."""
    for city in VERA_CITIES:
        a = agency_id(city)
        yield "cities", city, a, lab[lab["agency"] == a].rename(columns={"call_type": "value"})
    for key, frame in hands.items():
        for city, a in HAND_AGENCY.items():
            if (frame["agency"] == a).any():
                yield key, city, a, frame[frame["agency"] == a].rename(columns={"call_type": "value"})


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="Vera's labelled call types")
    ap.add_argument("--fixtures", type=Path, default=FIXTURES, help="folder of the hand-labelled sets")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    lab, _ = load_labels(args.labels, args.fixtures / HAND_SETS[0][2])
    hands = {key: load_hand(args.fixtures / name) for key, _, name in HAND_SETS}
    pool_rows = training_data()
    sd_pairs = code_pairs()

    result: dict = {"benchmark": "classify_accuracy", "date": str(date.today()),
                    "machine": f"{platform.machine()} {platform.python_version()}",
                    "method": "leave one city out; the scored city's crosswalk is left out of training",
                    "training_rows": int(len(pool_rows)), "cities": {}, "vera_only_protocol": {},
                    **{key: {} for key, _, _ in HAND_SETS}}
    label = {"cities": ""} | {key: f" ({lab_})" for key, lab_, _ in HAND_SETS}
    parts = {g + suffix: [] for g in label for suffix in ("", "_base")} | {"vera_only": []}
    for group, city, a, test in held_out_sets(lab, hands):
        print(f"{city}{label[group]}: fitting without {a} ...", file=sys.stderr)
        ours, bl, extras = evaluate(pool_rows[pool_rows["agency"] != a], test, sd_pairs)
        result[group][city] = {"ours": public(ours), "baseline": public(bl), **extras}
        parts[group].append(ours)
        parts[group + "_base"].append(bl)
        if group == "cities":  # the old protocol: the other Vera cities' labels only, weighted by calls
            old = lab[lab["agency"] != a].rename(columns={"call_type": "value"})
            o2, _, _ = evaluate(old, test, (), weights=old["count"], with_baseline=False)
            result["vera_only_protocol"][city] = public(o2)
            parts["vera_only"].append(o2)
    hand_keys = [key for key, _, _ in HAND_SETS]

    def both(keys):
        return {"ours": pool([x for k in keys for x in parts[k]]),
                "baseline": pool([x for k in keys for x in parts[k + "_base"]])}

    result["pooled"] = {"vera_cities": both(["cities"]) | {"ours_vera_only_protocol": pool(parts["vera_only"])},
                        **{key: both([key]) for key in hand_keys},
                        "all_hand_sets": both(hand_keys), "all_unseen": both(["cities", *hand_keys])}
    result["targets"] = {
        name: {"count_weighted": p["ours"]["count_weighted_accuracy"] >= TARGETS["count_weighted"],
               "per_type": p["ours"]["per_type_accuracy"] >= TARGETS["per_type"]}
        for name, p in result["pooled"].items()}
    # Context for Charleston: one type, "Patrol Request", is a third of its labelled calls
    # and Vera put it in Assisting the Public; the taxonomy's own definition puts patrols
    # under Statuses, so no rule or model trained elsewhere can learn it.
    ch = lab[lab["city"] == "Charleston"]
    result["charleston_patrol_request_share_of_calls"] = round(
        float(ch.loc[ch["call_type"].eq("Patrol Request"), "count"].sum() / ch["count"].sum()), 4)
    result["seconds"] = round(time.perf_counter() - t_start, 1)

    def line(name, label, s):
        ab = f"{s['abstain_share_types']:>7.1%} {s['abstain_share_calls']:>7.1%}" if "abstain_share_types" in s else ""
        return (f"{name:<28} {label:<24} {s['types']:>5} {s['per_type_accuracy']:>8.1%} "
                f"{s['count_weighted_accuracy']:>8.1%}  {s['guess_per_type_accuracy']:>7.1%} "
                f"{s['guess_count_weighted_accuracy']:>7.1%}  {ab}")

    print("Call-type accuracy on cities the classifier never saw (strict: a value left for review counts as wrong)\n")
    print(f"{'held-out city':<28} {'contender':<24} {'types':>5} {'per-type':>8} {'by calls':>8}  "
          f"{'guess/t':>7} {'guess/c':>7}  {'abst/t':>7} {'abst/c':>7}")
    for city in VERA_CITIES:
        r = result["cities"][city]
        print(line(city, "rules + lexicon + model", r["ours"]))
        print(line("", "plain TF-IDF + LR", r["baseline"]))
        print(line("", "ours, Vera-only training", result["vera_only_protocol"][city]))
    for key in hand_keys:
        for city, r in result[key].items():
            print(line(city + label[key], "rules + lexicon + model", r["ours"]))
            print(line("", "plain TF-IDF + LR", r["baseline"]))
    print()
    pooled_labels = [("vera_cities", "pooled: Vera cities")] + [
        (key, f"pooled: {lab_}") for key, lab_, _ in HAND_SETS] + [
        ("all_hand_sets", "pooled: all hand sets"), ("all_unseen", "pooled: all unseen")]
    for name, title in pooled_labels:
        p = result["pooled"][name]
        print(line(title, "rules + lexicon + model", p["ours"]))
        print(line("", "plain TF-IDF + LR", p["baseline"]))
        t = result["targets"][name]
        print(f"{'':<28} targets (>= 92% of calls, >= 85% of types): calls {'met' if t['count_weighted'] else 'NOT met'},"
              f" types {'met' if t['per_type'] else 'NOT met'}")
    print("\nlargest misses by calls (best guess shown; method needs_review = left for review):")
    for group in ("cities", *hand_keys):
        for city, r in result[group].items():
            for m in r["largest_misses"][:3]:
                print(f"  {(city + label[group])[:24]:<24} {m['call_type'][:38]:<38} {m['calls']:>9,}  {m['label'][:22]:<22} -> "
                      f"{str(m['guess'])[:22]} ({m['method']})")
    print(f"\nCharleston 'Patrol Request' (Vera: Assisting the Public) is "
          f"{result['charleston_patrol_request_share_of_calls']:.1%} of its labelled calls.")
    print(json.dumps(result, sort_keys=True, default=str))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
