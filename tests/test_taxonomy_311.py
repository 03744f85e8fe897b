"""311 request types in the taxonomy: the shipped crosswalks cover every request type of the three
samples, agree with a hand-labelled set, and the classifier's accuracy on 311 types it never
saw in training is measured and printed."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from rightresponse.taxonomy import classify_table, load_taxonomy
from rightresponse.taxonomy.crosswalk import load_crosswalk
from rightresponse.taxonomy.calltype_classifier import CallTypeClassifier
from rightresponse.taxonomy.shipped_model import code_pairs, training_data

from test_adapters_311 import FILES, raw_records

LABELLED = Path(__file__).parent / "fixtures" / "311_request_types_labelled.csv"
AGENCIES_311 = ("nyc_311", "boston_311", "baltimore_311")
TYPE_COLUMN = {"nyc_311_soda": "complaint_type", "nyc_311": "Complaint Type", "boston_311": "type",
               "baltimore_311": "SRType"}


def labelled() -> pd.DataFrame:
    with open(LABELLED, newline="", encoding="utf-8") as fh:
        return pd.DataFrame(list(csv.DictReader(fh)))


def test_the_labelled_set_spans_the_three_cities_and_police_meanings():
    lab = labelled()
    assert set(lab["agency"]) == set(AGENCIES_311) and len(lab) >= 60
    assert set(lab["category"]) <= set(load_taxonomy().names)
    # not only "no police meaning": noise, parking, drugs, drinking, property damage are in it
    assert {"Complaints/Environmental Conditions", "Accidents/Traffic Safety", "Drugs", "Liquor Violations",
            "Property Crime", "Other (Not Crime)"} <= set(lab["category"])


def test_every_request_type_of_the_samples_has_a_crosswalk_row():
    """Distinct values of each raw file (read with Python's csv/json), all decided by a person."""
    for path, (adapter, _, agency) in FILES.items():
        types = {r[TYPE_COLUMN[adapter]].strip() for r in raw_records(path) if r.get(TYPE_COLUMN[adapter], "").strip()}
        cw = load_crosswalk(agency)
        assert set(cw["decided_by"]) == {"reviewed"}
        assert types <= set(cw["value"]), sorted(types - set(cw["value"]))[:5]


def test_crosswalk_answers_agree_with_the_hand_labels():
    lab = labelled()
    got = classify_table(lab.rename(columns={"request_type": "call_type"}))
    assert list(got["method"].unique()) == ["crosswalk"]
    assert list(got["category"]) == list(lab["category"])


@pytest.fixture(scope="module")
def unseen_311_classifier():
    """The classifier fitted as the shipped one is, but without any 311 crosswalk: how well it
    reads request types of a 311 system it has never seen (a fourth city's). The shipped
    model's training data leaves the 311 crosswalks out, so this is the shipped model's fit."""
    cw = training_data()
    assert not set(cw["agency"]) & set(AGENCIES_311)
    return CallTypeClassifier(calibrate=False).fit(cw["value"], cw["category"], groups=cw["agency"],
                                                   code_pairs=code_pairs())


def test_classifier_accuracy_on_unseen_311_request_types(unseen_311_classifier):
    lab = labelled()
    guess = unseen_311_classifier.predict(list(lab["request_type"]))
    ok = pd.Series(guess == lab["category"].to_numpy())
    weights = lab["requests"].astype(int)
    acc, acc_w = ok.mean(), (ok * weights).sum() / weights.sum()
    police = lab["agency"].eq("nyc_311") & lab["category"].ne("Other (Not Crime)")
    acc_police = ok[police].mean()
    print(f"\n311 request types, classifier without any 311 crosswalk: {ok.sum()}/{len(ok)} right "
          f"({100 * acc:.1f}%; {100 * acc_w:.1f}% of requests); the {police.sum()} NYC types with a police "
          f"meaning: {100 * acc_police:.1f}%")
    for city, g in lab.assign(ok=ok).groupby("city"):
        print(f"  {city}: {g['ok'].sum()}/{len(g)}")
    # What it gets wrong is mostly city services read as police statuses ("SW-Rat Rubout
    # Proactive" as Statuses): why the 311 crosswalks exist. The figures are pinned so a
    # change to the classifier that moves them is seen.
    assert (int(ok.sum()), len(ok)) == (EXPECTED_RIGHT, 93)


EXPECTED_RIGHT = 46  # measured: see the printed line
