"""Classification of real call types: crosswalks, rules, model, overrides, tables and Ibis."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from rightresponse.taxonomy import (
    CallTypeClassifier,
    apply_rules,
    categorize,
    classify_table,
    classify_values,
    default_classifier,
    load_crosswalk,
    load_rules,
    review_table,
)

# Hard, real call types from every sample city, with the category their crosswalk gives.
CROSSWALK_CASES = {
    "dallas": {"11V - Burg Motor Veh": "Property Crime", "46A - CIT w/Ambulance": "Behavioral Health",
               "04 - 911 Hang Up": "Call Related Issues", "6X - Major Dist (Violence)": "Other Crimes",
               "09V - UUMV": "Property Crime"},
    "detroit": {"AB IP/JH": "Violent Crime", "ASSAULT AND BATTERY": "Violent Crime",
                "ONE DOWN OR OVER THE WHEEL": "Medical Emergencies", "UDAA REPORT": "Property Crime",
                "RECAUTO": "Statuses", "MNTLARM": "Behavioral Health"},
    "seattle": {"--DV - ARGUMENTS, DISTURBANCE (NO ARREST)": "Domestic Violence",
                "SHOTS - IP/JO - INCLUDES HEARD/NO ASSAULT": "Other Crimes",
                "ASLT - IP/JO - WITH OR W/O WPNS (NO SHOOTINGS)": "Violent Crime",
                "PREMISE CHECK, OFFICER INITIATED ONVIEW ONLY": "Statuses",
                "DETOX - REQUEST FOR": "Behavioral Health", "ALACAD - RESIDENTIAL BURGLARY (FALSE)": "Alarms"},
    "new_orleans": {"BURGLAR ALARM, SILENT": "Alarms", "DOMESTIC DISTURBANCE": "Complaints/Environmental Conditions",
                    "WARR STOP WITH RELEASE": "Warrants", "SIMPLE BATTERY DOMESTIC": "Domestic Violence",
                    "SILENT 911 CALL": "Call Related Issues"},
    "charleston": {"104D_Alarm Burglary/Intrusion": "Alarms", "Patrol Request": "Assisting the Public",
                   "129C_Suspicious Person": "Suspicion", "*Dom Disturb/Viol_In Progress": "Domestic Violence",
                   "Walk and Talk": "Statuses"},
    "nyc": {"24Q7": "Domestic Violence", "ASSAULT (PAST): OTHER/CHILD ABUSE": "Domestic Violence",
            "PO/SECURITY HOLDING SUSPECT: CIV CLOTHES/INSIDE": "Other Crimes",
            "AMBULANCE CASE: EDP/INSIDE": "Behavioral Health", "10V2": "Suspicion",
            "DISPUTE: FAMILY": "Domestic Violence"},
    "decc": {"DIP - DRUNK/INTOX PERSON": "Liquor Violations", "MVC PROPERTY DAMAGE": "Accidents/Traffic Safety",
             "TROUBLE BREATHING ALS 2": "Medical Emergencies", "DOMESTIC VIOL NO INJ": "Domestic Violence",
             "FLAM LIQ SPILL <5": "Complaints/Environmental Conditions", "PUBLIC SERVICE FIRE": "Assisting the Public"},
    "san_luis_obispo": {"9-1-1 ABANDON": "Call Related Issues", "MC-CAMPING": "Complaints/Environmental Conditions",
                        "Custodial Int.": "Domestic Violence", "MENTAL SUBJ": "Behavioral Health",
                        "ABAND VEHICLE": "Accidents/Traffic Safety"},
    "milwaukee": {"TRBL W/SUBJ-DV": "Domestic Violence", "ENTRY AUTOS": "Property Crime",
                  "ACC PDO": "Accidents/Traffic Safety", "SUBJ WANTED": "Warrants",
                  "TRBL W/SUBJ": "Complaints/Environmental Conditions"},
    "san_antonio": {"Disturbance Family": "Domestic Violence", "Patrol By": "Statuses",
                    "Suspicious Person with Gun": "Other Crimes", "Minor Accident": "Accidents/Traffic Safety"},
    "baltimore": {"COMMON ASSAULT": "Violent Crime", "SQUEEGEE DIST": "Complaints/Environmental Conditions",
                  "911/NO  VOICE": "Call Related Issues", "LARCENY F/AUTO": "Property Crime"},
    "san_diego": {"415V": "Other Crimes", "5150": "Behavioral Health", "CHECK THE WELFARE": "Assisting the Public",
                  "1016P": "Statuses", "10851R": "Property Crime", "MPSSTP": "Accidents/Traffic Safety"},
}

# The same kind of hard values read by the keyword rules alone (no crosswalk, no model):
# code prefixes, abbreviations, negated scopes and precedence. (Values of the held-out
# cities whose curated entries were written from those cities' own strings are left to the
# learned lexicon: see test_calltype_model.)
RULE_CASES = {
    "11V - Burg Motor Veh": "Property Crime",
    "AB IP/JH": "Violent Crime",
    "--DV - ARGUMENTS, DISTURBANCE (NO ARREST)": "Domestic Violence",
    "SHOTS - IP/JO - INCLUDES HEARD/NO ASSAULT": "Other Crimes",
    "ALARM - DURESS/PANIC,BUS/TAXI/CAR/PRSN - NOT DV": "Alarms",
    "MVC PROPERTY DAMAGE": "Accidents/Traffic Safety",
    "WEAPN-IP/JO-GUN,DEADLY WPN (NO THRT/ASLT/DIST)": "Other Crimes",
    "24Q7 ASSAULT (PAST): OTHER/CHILD ABUSE": "Domestic Violence",
    "TRNSPORT PRISONER MENTAL CASE": "Statuses",
    "LARCENY (PAST): OTHER/LTD ACC HWY": "Property Crime",
    "104D_Alarm Burglary/Intrusion": "Alarms",
    "*Theft_Past": "Property Crime",
    "TRBL W/SUBJ-DV": "Domestic Violence",
    "AGGRAVATED BATTERY DOMESTIC": "Violent Crime",
    "AUTO X UNK INJ / IMPAIRED": "Accidents/Traffic Safety",
    "ANIMAL SICK-INJURED": "Complaints/Environmental Conditions",
    "Disturbance Family": "Domestic Violence",
    "UNK EMERG, HANG UP/OPEN LINE": "Call Related Issues",
    "--TRAFFIC - D.U.I.": "Other Crimes",
    "MISD HIT/RUN": "Accidents/Traffic Safety",
    "SEX OFFENDER REGISTRATION CHECK": "Status Offenses",
    "NARCOTICS WARRANT SERVICE": "Warrants",
    "DUI Alcohol or Drugs": "Other Crimes",
}


@pytest.fixture(scope="module")
def small_clf():
    """A quick classifier (New Orleans crosswalk only), for values no crosswalk covers."""
    cw = load_crosswalk("new_orleans")
    return CallTypeClassifier().fit(cw["value"], cw["category"])


@pytest.mark.parametrize("agency", sorted(CROSSWALK_CASES))
def test_hard_real_call_types_by_crosswalk(agency):
    cases = CROSSWALK_CASES[agency]
    out = classify_values(list(cases), agency=agency)
    assert out["value"].tolist() == list(cases)
    assert dict(zip(out["value"], out["category"])) == cases
    assert set(out["method"]) == {"crosswalk"}
    assert set(out["confidence"]) == {1.0}


def test_hard_real_call_types_by_rules_alone():
    rules = load_rules()
    got = {v: getattr(apply_rules(v, rules), "category", None) for v in RULE_CASES}
    assert got == RULE_CASES


# General dispatch spellings and phrasings that no sample city was needed to write (the
# error classes of issue 16): NENA's "9-1-1", enhanced 911, vehicle and drug shorthand,
# "X down", and requests from other agencies read before the medical and fire words they
# contain. Invented strings, so that no held-out city's value is tuned to.
GENERAL_READINGS = {
    "9-1-1 OPEN LINE": "Call Related Issues",
    "9-1-1 ABANDONED": "Call Related Issues",
    "E911 ABANDONED": "Call Related Issues",
    "GTA": "Property Crime",
    "UUV REPORT": "Property Crime",
    "MVT": "Property Crime",
    "CDS VIOLATION": "Drugs",
    "MAN DOWN": "Medical Emergencies",
    "SUBJECT DOWN IN ROADWAY": "Medical Emergencies",
    "FLAG DOWN": None,
    "ASSIST EMS": "Statuses",
    "ASSIST AMBULANCE CREW": "Statuses",
    "ASSIST OUTSIDE AGENCY": "Statuses",
    "INTERAGENCY REQUEST": "Statuses",
    "ASSIST FIRE ALARM": "Fire",
    "AMBULANCE REQUEST": "Medical Emergencies",
}


def test_general_dispatch_spellings_by_rules_alone():
    rules = load_rules()
    got = {v: getattr(apply_rules(v, rules), "category", None) for v in GENERAL_READINGS}
    assert got == GENERAL_READINGS


def test_unreviewed_crosswalk_row_is_marked_uncertain():
    out = classify_values(["RA POLICE", "COMMON ASSAULT"], agency="baltimore")
    assert out["method"].tolist() == ["crosswalk", "crosswalk"]
    assert out["detail"].tolist() == ["model", "reviewed"]
    assert out["confidence"].tolist() == [0.5, 1.0]


def test_same_value_two_fields_first_row_wins_unless_field_given():
    from rightresponse.taxonomy import resolve

    keys = pd.DataFrame({"agency": ["new_orleans"] * 2, "value": ["DOMESTIC DISTURBANCE"] * 2,
                         "field": ["", "InitialTypeText"]})
    out = resolve(keys)
    assert out["category"].tolist() == ["Complaints/Environmental Conditions", "Domestic Violence"]
    assert out["field"].tolist() == ["TypeText", "InitialTypeText"]


def test_resolution_order_override_then_crosswalk_then_classifier(small_clf):
    overrides = pd.DataFrame({
        "agency": ["dallas", ""], "field": ["", ""],
        "value": ["40 - Other", "MENTAL SUBJ"],
        "category": ["Assisting the Public", "Medical Emergencies"]})
    vals = ["40 - Other", "11V - Burg Motor Veh", "MENTAL SUBJ", "Burg Bldg Past", None, ""]
    out = classify_values(vals, agency="dallas", counts=[16, 4, 1, 2, 5, 1], overrides=overrides,
                          classifier=small_clf)
    assert out["value"].tolist() == ["40 - Other", "11V - Burg Motor Veh", "MENTAL SUBJ", "Burg Bldg Past", None, ""]
    assert out["method"].tolist() == ["override", "crosswalk", "override", "rule", "missing", "missing"]
    assert out["category"].tolist()[:4] == ["Assisting the Public", "Property Crime", "Medical Emergencies",
                                            "Property Crime"]
    assert out["category"].iloc[4] is None
    assert out["count"].tolist() == [16, 4, 1, 2, 5, 1]
    assert out["crime_group"].tolist()[:4] == ["non-criminal", "property crime", "non-criminal", "property crime"]
    assert out["demand_type"].tolist()[:4] == ["community", "crime", "health", "crime"]


def test_distinct_values_only_and_counts_summed(small_clf):
    out = classify_values(["A", "B", "A", "A"], counts=[1, 2, 3, 4], classifier=small_clf)
    assert out["value"].tolist() == ["A", "B"]
    assert out["count"].tolist() == [8, 2]
    with pytest.raises(ValueError, match="counts has 1 entries but values has 2"):
        classify_values(["A", "B"], counts=[1])


def test_agency_without_crosswalk_uses_rules_and_model_and_abstains_below_threshold(small_clf):
    out = classify_values(["BURGLARY RESIDENTIAL", "ZZ TOP CONCERT"], agency="springfield", classifier=small_clf)
    assert out["method"].tolist() == ["rule", "needs_review"]
    assert out["category"].iloc[0] == "Property Crime"
    # no category, no roll-ups, but the guess and its confidence are kept for the reviewer
    assert out["category"].iloc[1] is None and out["crime_group"].iloc[1] is None
    assert out["detail"].iloc[1].startswith("guess: ")
    assert 0.0 < out["confidence"].iloc[1] < small_clf.threshold_


def test_classify_table_keeps_rows_and_adds_columns(small_clf):
    df = pd.DataFrame({"call_type": ["11V - Burg Motor Veh", "BURG VEH", None, "11V - Burg Motor Veh"],
                       "count": [3, 2, 1, 5], "note": ["a", "b", "c", "d"]})
    out = classify_table(df, agency="dallas", classifier=small_clf)
    assert list(out.columns) == ["call_type", "count", "note", "category", "confidence", "method", "crime_group",
                                 "demand_type"]
    assert out["note"].tolist() == ["a", "b", "c", "d"]
    assert out["category"].tolist()[:2] == ["Property Crime", "Property Crime"]
    assert out["method"].tolist() == ["crosswalk", "rule", "missing", "crosswalk"]
    per_agency = classify_table(pd.DataFrame({"agency": ["Dallas", "san_diego"], "call_type": ["04 - 911 Hang Up", "5150"]}))
    assert per_agency["category"].tolist() == ["Call Related Issues", "Behavioral Health"]
    with pytest.raises(ValueError, match="no 'call_type' column"):
        classify_table(pd.DataFrame({"type": ["x"]}))


def _calls_table(n_per_type: dict):
    rows = []
    for (agency, ct, code), n in n_per_type.items():
        rows += [(agency, ct, code, i) for i in range(n)]
    df = pd.DataFrame(rows, columns=["agency", "call_type", "call_type_code", "i"])
    return ibis.memtable(df), df


def test_categorize_joins_in_the_engine_and_keeps_every_row(small_clf):
    t, df = _calls_table({
        ("dallas", "11V - Burg Motor Veh", "11V"): 7,
        ("detroit", None, "AB IP/JH"): 3,
        ("san_diego", "DISTURBING PEACE W/VIOLENCE", "415V"): 4,
        (None, "BURG VEH", None): 2,
        ("nyc", "AMBULANCE CASE: EDP/INSIDE", "54E1"): 5,
        ("springfield", None, None): 1,
    })
    con = ibis.duckdb.connect()
    calls = con.create_table("calls", obj=t)
    out = categorize(calls, classifier=small_clf)
    assert isinstance(out, ibis.Table)
    res = out.to_pandas()
    assert len(res) == len(df) == 22
    assert list(res.columns) == ["agency", "call_type", "call_type_code", "i", "category", "confidence", "method",
                                 "crime_group", "demand_type"]
    counts = res.groupby("category", dropna=False).size().to_dict()
    assert counts == {"Property Crime": 9, "Violent Crime": 3, "Other Crimes": 4, "Behavioral Health": 5,
                      np.nan: 1} or counts == {"Property Crime": 9, "Violent Crime": 3, "Other Crimes": 4,
                                               "Behavioral Health": 5, None: 1}
    by_method = res.groupby("method").size().to_dict()
    assert by_method == {"crosswalk": 19, "rule": 2, "missing": 1}
    demand = res.groupby("demand_type").size().to_dict()
    assert demand == {"crime": 16, "health": 5}


def test_review_table_lists_abstentions_first_heaviest_first_then_calls_times_uncertainty(small_clf):
    t, _ = _calls_table({
        ("baltimore", "RA POLICE", None): 10,         # unreviewed crosswalk row: 10 x 0.5 = 5
        ("baltimore", "COMMON ASSAULT", None): 50,     # reviewed: 0
        ("springfield", "ZZ TOP CONCERT", None): 4,    # left for review
        ("springfield", "QQ XYZZY PLUGH", None): 6,    # left for review, heavier
        ("springfield", "BURGLARY RESIDENTIAL", None): 3,  # rule: 3 x (1 - p)
    })
    rt = review_table(t, classifier=small_clf)
    assert rt["value"].tolist() == ["QQ XYZZY PLUGH", "ZZ TOP CONCERT", "RA POLICE", "BURGLARY RESIDENTIAL",
                                    "COMMON ASSAULT"]
    assert rt["calls"].tolist() == [6, 4, 10, 3, 50]
    assert rt["field"].tolist() == ["call_type", "call_type", "description", "call_type", "description"]
    assert rt["method"].tolist() == ["needs_review", "needs_review", "crosswalk", "rule", "crosswalk"]
    assert rt["category"].iloc[:2].isna().all()
    assert rt["uncertain_calls"].iloc[2] == 5.0 and rt["uncertain_calls"].iloc[-1] == 0.0
    # pandas input gives the same answer
    rt2 = review_table(t.to_pandas(), classifier=small_clf)
    assert rt2["value"].tolist() == rt["value"].tolist()


def test_review_table_round_trips_as_overrides(tmp_path, small_clf):
    from rightresponse.taxonomy import load_overrides, save_overrides

    t, _ = _calls_table({("baltimore", "RA POLICE", None): 10, ("baltimore", "COMMON ASSAULT", None): 2})
    rt = review_table(t, classifier=small_clf)
    rt.loc[rt["value"] == "RA POLICE", "category"] = "Statuses"
    p = save_overrides(rt, tmp_path / "overrides.csv")
    out = categorize(t, overrides=load_overrides(p), classifier=small_clf).to_pandas()
    assert out.groupby(["call_type", "method", "category"]).size().to_dict() == {
        ("COMMON ASSAULT", "override", "Violent Crime"): 2, ("RA POLICE", "override", "Statuses"): 10}


@pytest.mark.slow
def test_classifier_sklearn_interface_and_determinism():
    cw = load_crosswalk("seattle")
    cw = cw[cw["decided_by"] == "published"]
    a = CallTypeClassifier().fit(cw["value"], cw["category"], sample_weight=np.arange(len(cw)) + 1)
    b = CallTypeClassifier().fit(cw["value"], cw["category"], sample_weight=np.arange(len(cw)) + 1)
    x = ["BURG VEH", "ROBBERY IN PROGRESS", "ZZ TOP CONCERT", "SUSPICIOUS VEHICLE"]
    pa, pb = a.predict_proba(x), b.predict_proba(x)
    assert pa.shape == (4, len(a.classes_))
    np.testing.assert_allclose(pa.sum(axis=1), 1.0)
    np.testing.assert_array_equal(pa, pb)
    assert a.predict(x).tolist() == [a.classes_[i] for i in pa.argmax(axis=1)]
    assert a.predict(x).tolist()[:2] == ["Property Crime", "Violent Crime"]
    ex = a.explain(x)
    assert ex["method"].tolist() == ["rule", "rule", "model", "rule"]
    assert ex["rule"].tolist() == ["property_crime", "robbery", "", "suspicion"]


def test_model_alone_learns_from_examples():
    vals = ["PARKING COMPLAINT", "PARKING VIOLATION", "ILLEGAL PARKING", "NOISE COMPLAINT", "LOUD NOISE",
            "NOISE PARTY"] * 3
    cats = ["Accidents/Traffic Safety"] * 3 + ["Complaints/Environmental Conditions"] * 3
    clf = CallTypeClassifier(use_rules=False).fit(vals, cats * 3)
    assert clf.predict(["PARKING PROBLEM", "NOISE OTHER"]).tolist() == [
        "Accidents/Traffic Safety", "Complaints/Environmental Conditions"]
    assert set(clf.explain(["PARKING PROBLEM"])["method"]) == {"model"}


def test_default_classifier_is_built_once_into_the_cache_and_a_copy_is_reused_from_the_given_path(tmp_path):
    import os

    from rightresponse.taxonomy.shipped_model import cache_dir, fingerprint

    fp = fingerprint()
    clf = default_classifier()
    cached = cache_dir() / "models" / f"calltype-{fp[:24]}.npz"
    assert cached.exists() and str(cache_dir()) == os.environ["RIGHTRESPONSE_CACHE_DIR"]
    assert clf.fingerprint_ == fp
    assert CallTypeClassifier.load(cached, fingerprint=fp).threshold_ == clf.threshold_
    p = tmp_path / "model.pkl"
    p.write_bytes(b"not a model")  # a stale or foreign file is replaced, never executed
    clf2 = default_classifier(p)
    assert len(clf2.classes_) == 22 and p.read_bytes()[:2] == b"PK"
    again = default_classifier(p)
    np.testing.assert_array_equal(clf2.predict_proba(["ZZ TOP CONCERT"]), again.predict_proba(["ZZ TOP CONCERT"]))
    out = classify_values(["TRESPASSING AT CONSTRUCTION SITE", "ZZ TOP CONCERT"], model_path=p)
    assert out["method"].tolist() == ["rule", "needs_review"]
    assert out["category"].iloc[0] == "Other Crimes"
    with pytest.raises(ValueError, match="fitted on other training data"):
        CallTypeClassifier.load(p, fingerprint="0" * 64)


def test_the_provider_and_classify_values_give_the_same_answers(tmp_path):
    """Triage's provider (plain lists, no pandas) and the tables' frame come from one
    definition (taxonomy.resolution): same category and confidence for every value, by
    override, crosswalk, rule, model or left for review."""
    from rightresponse.taxonomy.provider import CategoryProvider

    ov = tmp_path / "ov.csv"
    ov.write_text("agency,field,value,category\nnew_orleans,,SILENT 911 CALL,Statuses\n,,ZZ TOP CONCERT,Fire\n",
                  encoding="utf-8")
    values = ["SILENT 911 CALL", "DOMESTIC DISTURBANCE", "ZZ TOP CONCERT", "9-1-1 OPEN LINE", "ASSIST EMS",
              "QQQ XXY", "  burglary residence  ", "", "WELF CHK ON ELDERLY"]
    for agency, overrides in (("new_orleans", ov), (None, None), ("", ov)):
        frame = classify_values(values, agency=agency, overrides=overrides)
        want = {v: (c if isinstance(c, str) else None, float(x))
                for v, c, x in zip(frame["value"], frame["category"], frame["confidence"])}
        got = CategoryProvider(agency=agency, overrides=overrides).classify(values)
        assert {v: (c, x if x is not None else 0.0) for v, (c, x) in got.items()} == want
    assert want["ZZ TOP CONCERT"] == ("Fire", 1.0) and want["QQQ XXY"][0] is None
