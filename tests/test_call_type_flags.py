"""Danger read from the call type itself, measured on hand-labelled real call types.

The labelled set (src/rightresponse/policy/data/call_types_labelled.csv) holds every distinct
call type of the eleven sample places, each labelled by hand with the dangers the call type
states (weapon, violence, crime in progress, impaired driving, a prisoner, an officer in need,
a suicide attempt) and a short reason. Here it is checked against the raw files (every row is
a real call type of that city, read with the csv module), its size and spread are pinned, and
the precision and recall of the call-type flags (taxonomy/data/call_type_flags.yaml, matched by
the narrative flagger) are printed and held to thresholds. The NYPD 10-codes are checked
against ../shared/data/labels/nypd_radio_codes_2024.csv.
"""

from __future__ import annotations

import csv
import re

import pandas as pd
import pytest

from rightresponse.policy.lint import LABEL_FLAGS, labelled_call_types
from rightresponse.taxonomy.narrative import call_type_flags, flag_accuracy, load_call_type_flags, text_flags

from conftest import CFS, DATA, need

_WS = re.compile(r"\s+")


def _norm(v: str) -> str:
    return _WS.sub(" ", v or "").strip()


def _rows(path):
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        yield from csv.DictReader(fh)


def _raw_call_types(city: str) -> set[str]:
    """Every call-type value of one sample place, read straight from its raw files."""
    d = need(CFS / city)
    cols = {"decc_psap_2025": ["Problem"], "new_orleans": ["TypeText", "InitialTypeText"], "san_luis_obispo": ["type"],
            "nyc": ["typ_desc"], "detroit": ["calldescription"], "milwaukee": ["nature"], "san_antonio": ["ProblemType"],
            "baltimore": ["description"],
            "seattle": ["Event Clearance Description", "Initial Type Description"]}
    out: set[str] = set()
    if city == "san_diego":
        lookup = {r["call_type"]: r["description"] for r in _rows(d / "pd_cfs_calltypes_datasd.csv")}
        for r in _rows(d / "pd_calls_for_service_2023_datasd_jan1-22.csv"):
            out.add(_norm(lookup.get(r["call_type"]) or r["call_type"]))
        return out
    for f in sorted(d.glob("*.csv")):
        for r in _rows(f):
            if city == "dallas":  # "11V - Burg Motor Veh", "26/01- Missing Person-Critical"
                m = re.match(r"^\s*[^\s-]+\s*-\s*(.*)$", r["nature_of_call"])
                out.add(_norm(m[1] if m and m[1].strip() else r["nature_of_call"]))
                continue
            # Seattle's "Call Data" layout names its call types Initial/Final Call Type (its Event
            # Clearance Description is a disposition there).
            for c in (["Initial Call Type", "Final Call Type"] if "Final Call Type" in r else cols[city]):
                if c in r and r[c] is not None:
                    out.add(_norm(r[c]))
    out.discard("")
    return out


CITY_DIR = {"decc": "decc_psap_2025"}


@pytest.fixture(scope="module")
def labelled():
    return labelled_call_types()


@pytest.fixture(scope="module")
def predicted(labelled):
    return call_type_flags(labelled["call_type"])


@pytest.mark.slow
def test_the_labelled_set_is_real_large_and_spread_over_the_sample_cities(labelled):
    assert list(labelled.columns) == ["city", "call_type", *LABEL_FLAGS, "reasoning"]
    assert len(labelled) == 1565 and labelled["call_type"].nunique() == 1474
    assert labelled.groupby("city").size().to_dict() == {
        "baltimore": 202, "dallas": 24, "decc": 301, "detroit": 69, "milwaukee": 179, "new_orleans": 86, "nyc": 20,
        "san_antonio": 89, "san_diego": 209, "san_luis_obispo": 113, "seattle": 273}
    assert not labelled.duplicated(["city", "call_type"]).any()
    assert labelled["reasoning"].str.strip().str.len().gt(0).all()
    danger = labelled[list(LABEL_FLAGS)].any(axis=1)
    assert int(danger.sum()) == 341 and labelled.loc[danger, "city"].nunique() == 11
    assert {f: int(labelled[f].sum()) for f in LABEL_FLAGS} == {
        "weapon": 101, "violence": 170, "crime_in_progress": 112, "impaired_driving": 13, "prisoner": 23,
        "officer_needs_help": 6, "suicide_with_means": 7}
    # Every row is a call type of that city's raw export, and the set covers the export.
    for city, g in labelled.groupby("city"):
        raw = _raw_call_types(CITY_DIR.get(city, city))
        mine = {_norm(v) for v in g["call_type"]}
        assert mine <= raw, (city, sorted(mine - raw)[:5])
        assert len(mine) >= 0.95 * len(raw), (city, len(mine), len(raw))


def test_precision_and_recall_of_the_call_type_flags(labelled, predicted, capsys):
    acc = flag_accuracy(labelled, predicted)
    by_city = flag_accuracy(labelled, predicted, by="city")
    danger = pd.DataFrame({"any_danger": labelled[list(LABEL_FLAGS)].any(axis=1)})
    any_acc = flag_accuracy(danger, pd.DataFrame({"any_danger": predicted.any(axis=1)}))
    lines = [f"{r.flag:20s} labelled={r.labelled:4d} precision={r.precision:.3f} recall={r.recall:.3f} "
             f"(tp={r.tp} fp={r.fp} fn={r.fn})" for r in pd.concat([acc, any_acc]).itertuples()]
    worst = by_city.groupby("city")[["precision", "recall"]].min()
    with capsys.disabled():
        print("\ncall-type danger flags on 1,565 hand-labelled call types of 11 sample places:\n" + "\n".join(lines)
              + "\nlowest per city:\n" + worst.to_string(float_format="%.3f"))
    thresholds = {"weapon": (0.95, 0.95), "violence": (0.95, 0.93), "crime_in_progress": (0.95, 0.95),
                  "impaired_driving": (0.95, 0.95), "prisoner": (0.95, 0.85), "officer_needs_help": (0.95, 0.95),
                  "suicide_with_means": (0.95, 0.95)}
    for r in acc.itertuples():
        p, rc = thresholds[r.flag]
        assert r.precision >= p and r.recall >= rc, r
    a = any_acc.iloc[0]
    assert a.precision >= 0.99 and a.recall >= 0.97, a


@pytest.mark.parametrize("text, flags", [
    ("DRUNK DRIVER", {"impaired_driving"}), ("INTOXICATED DRIVER ON HWY", {"impaired_driving"}), ("OUI", {"impaired_driving"}),
    ("SHOPLIFTING IN PROGRESS", {"crime_in_progress"}), ("LARCENY IN PROG", {"crime_in_progress"}),
    ("BURGLARY IN PROGRESS", {"crime_in_progress"}), ("HOME INVASION", {"violence", "crime_in_progress"}),
    ("SUICIDE THREAT WITH GUN", {"weapon", "suicide_with_means"}), ("SUICIDAL PERSON ARMED", {"weapon"}),
    ("EDP ARMED", {"weapon"}), ("EDP VIOLENT", {"violence"}), ("MENTAL PERSON VIOLENT", {"violence"}),
    ("TRNSPORT PRISONER MENTAL CASE", {"prisoner"}), ("WELFARE CHECK W/ WEAPON", {"weapon"}),
    # negations and ordinary calls
    ("BURGLARY NOT IN PROGRESS", set()), ("FIGHT NO WEAPONS", {"violence"}), ("ROBBERY UNARMED", {"violence"}),
    ("TRNSPORT NON-INMATE MENTAL CA", set()), ("WELFARE CHECK", set()), ("DIP - DRUNK/INTOX PERSON", set()),
    ("SUICIDE THREAT", set()), ("NOISE COMPLAINT IN PROG", set()), ("FIGHT - VERBAL/ORAL (NO WEAPONS)", set()),
    ("ALARM RESIDENTIAL", set()), ("DEAD BATTERY", set()),
])
def test_the_issue_s_call_types_and_their_negations(text, flags):
    assert set(text_flags(text, load_call_type_flags())) == flags


def test_nypd_10_codes_and_radio_code_descriptions():
    fs = load_call_type_flags()
    codes = list(_rows(need(DATA / "labels" / "nypd_radio_codes_2024.csv")))
    # Every "(IN PROGRESS)" description is a crime in progress; every knife, gun or shots one a weapon.
    for r in codes:
        got = set(text_flags(r["typ_desc"], fs))
        if "(IN PROGRESS)" in r["typ_desc"]:
            assert "crime_in_progress" in got, r
        if re.search(r"KNIFE|SHOTS|FIREARM|WEAPON", r["typ_desc"]) and "NO RMP" not in r["typ_desc"]:
            assert "weapon" in got, r
    # The 10-code of a radio code is "10-" and its first two digits: as typed alone, the codes
    # whose every description states a danger set it; the others set nothing.
    groups: dict[str, set[str]] = {}
    for r in codes:
        if re.fullmatch(r"\d{2}[A-Z]?\d?", r["radio_code"]):
            groups.setdefault(r["radio_code"][:2], set()).add(r["category"])
    expect = {"13": {"officer_needs_help"}, "12": {"prisoner"}, "30": {"violence", "crime_in_progress"},
              "31": {"crime_in_progress"}, "32": {"crime_in_progress"}, "33": {"weapon"},
              "34": {"violence", "crime_in_progress"}, "39": {"crime_in_progress"}}
    assert groups["13"] == {"ASSIST POLICE OFFICER"} and groups["12"] == {"PO/SECURITY HOLDING SUSPECT"}
    assert groups["34"] == {"ASSAULT"} and groups["33"] == {"EXPLOSIVE DEVICE OR THREAT"}
    for two, cats in sorted(groups.items()):
        for text in (f"10-{two}", f"10{two}"):
            assert set(text_flags(text, fs)) == expect.get(two, set()), (text, cats)
