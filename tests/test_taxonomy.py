"""Taxonomy, crosswalk and override files: shape, coverage of the real sample data, errors."""

from __future__ import annotations

import csv
import glob
from pathlib import Path

import pandas as pd
import pytest

from rightresponse.taxonomy import (
    TaxonomyError,
    agency_id,
    available_crosswalks,
    load_crosswalk,
    load_crosswalks,
    load_overrides,
    load_taxonomy,
    save_overrides,
)
from rightresponse.taxonomy.call_type_text import match_key
from rightresponse.taxonomy.shipped_model import model_crosswalks

DATA = Path("/work/shared/data")
CFS = DATA / "cfs"
needs_data = pytest.mark.skipif(not CFS.exists(), reason="shared sample data not available")

VERA_22 = [
    "Violent Crime", "Property Crime", "Other Crimes", "Domestic Violence", "Sex Offenses", "Drugs",
    "Liquor Violations", "Status Offenses", "Warrants", "Suspicion", "Alarms", "Accidents/Traffic Safety",
    "Complaints/Environmental Conditions", "Behavioral Health", "Medical Emergencies", "Missing Persons",
    "Assisting the Public", "Fire", "Officer Needs Help", "Statuses", "Call Related Issues", "Other (Not Crime)",
]
AGENCIES = ["baltimore", "charleston", "dallas", "decc", "detroit", "milwaukee", "new_orleans", "nyc",
            "san_antonio", "san_diego", "san_luis_obispo", "seattle"]
AGENCIES_311 = ["baltimore_311", "boston_311", "nyc_311"]


def test_default_taxonomy_is_vera_22_in_order():
    tax = load_taxonomy()
    assert tax.names == VERA_22
    assert all(c.definition for c in tax.categories)


def test_rollups():
    tax = load_taxonomy()
    assert tax.crime_groups == ("violent crime", "property crime", "other crime", "non-criminal",
                                "officer activity and administrative")
    assert tax.demand_types == ("crime", "quality of life", "traffic", "health", "proactive", "community",
                                "unclassified")
    assert tax.crime_group("Violent Crime") == "violent crime"
    assert tax.crime_group("Statuses") == "officer activity and administrative"
    assert tax.demand_type("Accidents/Traffic Safety") == "traffic"
    assert tax.demand_type("Behavioral Health") == "health"
    assert tax.crime_group("nonsense") is None
    r = tax.rollups()
    assert list(r.columns) == ["category", "crime_group", "demand_type"]
    assert r["demand_type"].value_counts().to_dict() == {
        "crime": 6, "quality of life": 5, "proactive": 3, "health": 2, "community": 3, "unclassified": 2,
        "traffic": 1}


def test_user_taxonomy_file(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text(
        "name: tiny\ncrime_groups: [crime, not crime]\ndemand_types: [a, b]\ncategories:\n"
        "  - {name: Crime, definition: a crime, crime_group: crime, demand_type: a}\n"
        "  - {name: Service, definition: help, crime_group: not crime, demand_type: b}\n")
    tax = load_taxonomy(p)
    assert tax.name == "tiny" and tax.names == ["Crime", "Service"]
    assert tax.demand_type("Service") == "b"


def test_user_taxonomy_errors_name_the_category(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("crime_groups: [x]\ncategories:\n  - {name: A, definition: d, crime_group: y, demand_type: z}\n")
    with pytest.raises(TaxonomyError, match=r"category #1 \(A\): crime_group 'y' is not one of \['x'\]"):
        load_taxonomy(p)
    p.write_text("categories:\n  - {name: A, crime_group: x, demand_type: z}\n")
    with pytest.raises(TaxonomyError, match="missing 'definition'"):
        load_taxonomy(p)


def test_every_agency_has_a_crosswalk_with_the_right_columns():
    assert available_crosswalks() == sorted(AGENCIES + AGENCIES_311)
    assert model_crosswalks() == AGENCIES  # the call-type model learns from CAD call types only
    tax = load_taxonomy()
    for a in AGENCIES + AGENCIES_311:
        cw = load_crosswalk(a)
        assert list(cw.columns) == ["agency", "field", "value", "category", "decided_by"]
        assert set(cw["agency"]) == {a}
        assert set(cw["category"]) <= set(tax.names)
        assert set(cw["decided_by"]) <= {"published", "reviewed", "model"}


def test_published_rows_come_from_vera_labels_only():
    cw = load_crosswalks()
    by = cw.groupby("agency")["decided_by"].apply(lambda s: set(s)).to_dict()
    assert by["new_orleans"] == {"published", "reviewed"}
    assert by["seattle"] == {"published", "reviewed"}
    assert by["charleston"] == {"published", "reviewed"}
    assert "published" not in by["dallas"] | by["nyc"] | by["decc"]
    assert len(cw[cw["decided_by"] == "published"]) == 415 + 671 + 636


@needs_data
def test_published_rows_match_vera_labels_exactly():
    lab = pd.read_csv(DATA / "labels" / "vera_call_types_train.csv")
    lab = lab[lab["category"].notna()]
    cw = load_crosswalks()
    pub = cw[cw["decided_by"] == "published"]
    got = {(a, f, v): c for a, f, v, c in pub[["agency", "field", "value", "category"]].itertuples(index=False)}
    for r in lab.itertuples():
        key = (agency_id(r.city), r.field, r.call_type)
        assert key in got, key
    # where Vera gave one value two labels in one field, the more frequent label is kept
    assert got[("new_orleans", "TypeText", "DOMESTIC DISTURBANCE")] == "Complaints/Environmental Conditions"
    assert got[("new_orleans", "InitialTypeText", "DOMESTIC DISTURBANCE")] == "Domestic Violence"


def _distinct(series) -> set:
    return {match_key(v) for v in series.dropna().astype(str) if v.strip()}


def _sample_values() -> dict[str, set]:
    out: dict[str, set] = {}
    decc = pd.concat([pd.read_csv(f, dtype=str) for f in sorted(glob.glob(str(CFS / "decc_psap_2025" / "*.csv")))])
    out["decc"] = _distinct(decc["Problem"])
    nola = pd.read_csv(CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv", dtype=str)
    out["new_orleans"] = _distinct(nola["TypeText"]) | _distinct(nola["InitialTypeText"])
    with open(CFS / "san_luis_obispo" / "SLOPD_report_2022-03-15.csv", encoding="utf-8", newline="") as f:
        slo = pd.DataFrame(list(csv.DictReader(f)))
    out["san_luis_obispo"] = _distinct(slo["type"])
    nyc = pd.concat([pd.read_csv(f, dtype=str) for f in glob.glob(str(CFS / "nyc" / "*.csv"))])
    codes = pd.read_csv(DATA / "labels" / "nypd_radio_codes_2024.csv", dtype=str)
    out["nyc"] = _distinct(nyc["typ_desc"]) | _distinct(nyc["radio_code"]) | _distinct(codes["typ_desc"]) \
        | _distinct(codes["radio_code"])
    det = pd.read_csv(CFS / "detroit" / "detroit_911_sample_2016.csv", dtype=str)
    out["detroit"] = _distinct(det["calldescription"]) | _distinct(det["category"]) | _distinct(det["callcode"])
    a = pd.read_csv(CFS / "seattle" / "Seattle_Police_Department_911_Incident_Response_CSSS508.csv", dtype=str,
                    encoding="utf-8-sig")
    b = pd.concat([pd.read_csv(f, dtype=str, encoding="utf-8-sig")
                   for f in glob.glob(str(CFS / "seattle" / "db_call_data*.csv"))])
    out["seattle"] = (_distinct(a["Event Clearance Description"]) | _distinct(a["Initial Type Description"])
                      | _distinct(b["Final Call Type"]) | _distinct(b["Initial Call Type"]))
    sd = pd.read_csv(CFS / "san_diego" / "pd_calls_for_service_2023_datasd_jan1-22.csv", dtype=str)
    lookup = pd.read_csv(CFS / "san_diego" / "pd_cfs_calltypes_datasd.csv", dtype=str)
    out["san_diego"] = _distinct(sd["call_type"]) | _distinct(lookup["call_type"]) | _distinct(lookup["description"])
    out["milwaukee"] = _distinct(pd.read_csv(CFS / "milwaukee" / "mke_calls_data.csv", dtype=str)["nature"])
    out["san_antonio"] = _distinct(pd.read_csv(
        CFS / "san_antonio" / "sapd_calls_2023-06_partial_snapshot_2023-06-06.csv", dtype=str)["ProblemType"])
    out["baltimore"] = _distinct(pd.concat([pd.read_csv(f, dtype=str)
                                            for f in glob.glob(str(CFS / "baltimore" / "*.csv"))])["description"])
    out["dallas"] = _distinct(pd.concat([pd.read_csv(f, dtype=str)
                                         for f in glob.glob(str(CFS / "dallas" / "*.csv"))])["nature_of_call"])
    lab = pd.read_csv(DATA / "labels" / "vera_call_types_train.csv", dtype=str)
    out["charleston"] = _distinct(lab[lab["city"] == "Charleston"]["call_type"])
    out["new_orleans"] |= _distinct(lab[lab["city"] == "New Orleans"]["call_type"])
    out["seattle"] |= _distinct(lab[lab["city"] == "Seattle"]["call_type"])
    return out


@pytest.mark.slow
@needs_data
def test_crosswalks_cover_every_distinct_value_in_the_sample_files():
    values = _sample_values()
    sizes = {}
    for agency, vals in values.items():
        covered = {match_key(v) for v in load_crosswalk(agency)["value"]}
        missing = sorted(vals - covered)
        assert not missing, f"{agency}: {len(missing)} values without a crosswalk row, e.g. {missing[:5]}"
        sizes[agency] = len(vals)
    assert sizes == {"decc": 303, "new_orleans": 286, "san_luis_obispo": 110, "nyc": 972, "detroit": 206,
                     "seattle": 550, "san_diego": 559, "milwaukee": 179, "san_antonio": 89, "baltimore": 199,
                     "dallas": 25, "charleston": 651}


def test_only_one_value_is_left_unreviewed():
    cw = load_crosswalks()
    model_rows = cw[cw["decided_by"] == "model"]
    assert model_rows[["agency", "value"]].values.tolist() == [["baltimore", "RA POLICE"]]


def test_overrides_round_trip(tmp_path):
    df = pd.DataFrame({"agency": ["Dallas", ""], "field": ["nature_of_call", ""],
                       "value": ["40 - Other", "WELFARE CHECK"],
                       "category": ["Assisting the Public", "Behavioral Health"], "calls": [16, 3]})
    p = save_overrides(df, tmp_path / "ov" / "overrides.csv")
    back = load_overrides(p)
    assert back.to_dict("records") == [
        {"agency": "dallas", "field": "nature_of_call", "value": "40 - Other", "category": "Assisting the Public"},
        {"agency": "*", "field": "", "value": "WELFARE CHECK", "category": "Behavioral Health"},
    ]


def test_override_errors_name_file_row_and_column(tmp_path):
    p = tmp_path / "overrides.csv"
    p.write_text("agency,field,value,category\n"
                 "dallas,nature_of_call,40 - Other,Assisting the Public\n"
                 "dallas,nature_of_call,PH - Panhandler,Homeless Outreach\n", encoding="utf-8")
    with pytest.raises(TaxonomyError) as e:
        load_overrides(p)
    msg = str(e.value)
    assert str(p) in msg and "row 2 (line 3)" in msg and "column 'category'" in msg and "'Homeless Outreach'" in msg
    p.write_text("agency,value,category\ndallas,x,Fire\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="missing column\\(s\\) field"):
        load_overrides(p)
    p.write_text("agency,field,value,category\ndallas,f,x,statuses\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="did you mean 'Statuses'"):
        load_overrides(p)
    with pytest.raises(TaxonomyError, match=r"row 1, column 'category': 'Nope'"):
        save_overrides(pd.DataFrame({"agency": ["a"], "field": ["f"], "value": ["v"], "category": ["Nope"]}),
                       tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_blank_categories_in_an_edited_review_table_are_skipped(tmp_path):
    p = tmp_path / "review.csv"
    p.write_text("agency,field,value,category,confidence,calls\n"
                 "dallas,nature_of_call,40 - Other,,0.3,16\n"
                 "dallas,nature_of_call,PH - Panhandler,Complaints/Environmental Conditions,0.9,2\n",
                 encoding="utf-8")
    back = load_overrides(p)
    assert back["value"].tolist() == ["PH - Panhandler"]


def test_agency_id():
    assert agency_id("New Orleans") == "new_orleans"
    assert agency_id(" San Luis Obispo ") == "san_luis_obispo"
    assert agency_id(None) == ""
