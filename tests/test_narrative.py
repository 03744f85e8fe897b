"""Narrative flags on hand-labelled real San Luis Obispo call-taker comments.

The fixture holds 304 real comments labelled by hand, in two splits: `dev` (200 comments
read while the patterns were written and corrected) and `holdout` (104 comments drawn
and labelled after the patterns were frozen, so its figures are the honest estimate).
Both are stratified so every flag has positives. Text never reaches the output.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rightresponse.taxonomy import narrative_disagreement, narrative_flags, read_slo_comments

FIXTURE = Path(__file__).parent / "fixtures" / "slo_narratives_labelled.csv"
FLAGS = ["weapon", "violence", "mental_health", "substance", "homeless", "injury"]
SLO = Path("/work/shared/data/cfs/san_luis_obispo/SLOPD_report_2022-03-15.csv")


@pytest.fixture(scope="module")
def labelled():
    df = pd.read_csv(FIXTURE, dtype={"case_number": str, "call_comments": str})
    pred = narrative_flags(df["call_comments"])
    return df, pred


def _scores(y: pd.Series, p: pd.Series) -> tuple[float, float, int, int, int]:
    y, p = y.astype(bool), p.astype(bool)
    tp, fp, fn = int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum())
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0), tp, fp, fn


def test_fixture_is_large_and_stratified(labelled):
    df, _ = labelled
    assert len(df) == 304 and df["case_number"].str.fullmatch(r"\d{9}").all()
    assert df["split"].value_counts().to_dict() == {"dev": 200, "holdout": 104}
    positives = {f: int(df[f].sum()) for f in FLAGS}
    assert positives == {"weapon": 27, "violence": 22, "mental_health": 28, "substance": 44, "homeless": 60,
                         "injury": 47}
    assert all(int(df.loc[df["split"] == "holdout", f].sum()) >= 6 for f in FLAGS)


def test_precision_and_recall_per_flag(labelled, capsys):
    df, pred = labelled
    lines, overall = [], {}
    for split in ("dev", "holdout", "all"):
        m = df["split"].eq(split) if split != "all" else pd.Series(True, index=df.index)
        for f in FLAGS:
            p, r, tp, fp, fn = _scores(df.loc[m, f], pred.loc[m, f])
            lines.append(f"{split:8s} {f:14s} precision={p:.3f} recall={r:.3f} (tp={tp} fp={fp} fn={fn})")
            if split == "all":
                overall[f] = (p, r)
    with capsys.disabled():
        print("\nnarrative flags on hand-labelled SLO comments:\n" + "\n".join(lines))
    for f, (p, r) in overall.items():
        assert p >= 0.85, f"{f} precision {p:.3f}"
        assert r >= 0.85, f"{f} recall {r:.3f}"
    assert {f: round(v[0], 3) for f, v in overall.items()} == {
        "weapon": 0.963, "violence": 0.905, "mental_health": 1.0, "substance": 0.978, "homeless": 1.0,
        "injury": 0.957}
    assert {f: round(v[1], 3) for f, v in overall.items()} == {
        "weapon": 0.963, "violence": 0.864, "mental_health": 0.857, "substance": 1.0, "homeless": 0.983,
        "injury": 0.936}


@pytest.mark.parametrize("text,expected", [
    ("MALE WITH KNIFE, NO WEAPONS SEEN ON FEMALE", {"weapon"}),
    ("2 TRANS IFO MEGANS 415 WITH EACH OTHER, NO WEAPONS SEEN", {"homeless"}),
    ("RP IN 415 W/GIRLFRIEND, NEG HBD OR WEAPONS", set()),
    ("415 VERBAL, NEG WEAPONS", set()),
    ("NO WEAPONS", set()),
    ("WEAPONS: NEG", set()),
    ("UNK WEAPONS", set()),
    ("UNARMED PRIVATE INVESTIGATOR ON SITE", set()),
    ("STORE ALARM WAS SUPPOSED TO BE ARMED AT 0000HRS", set()),
    ("MALE WAVING A KNIFE IN THE AIR, NOT THREATENING ANYONE", {"weapon"}),
    ("2 VEH TC NEG INJURIES", set()),
    ("NON INJ TC", set()),
    ("TREE JUST FELL FROM APT COMPLEX", set()),
    ("C3 FALL WITH HEAD INJURY, NOT CONSCIOUS", {"injury"}),
    ("RP IN A 415 W/ GF, SHE HAS A KNIFE AND THREATENING TO HARM HERSEL", {"weapon", "mental_health"}),
    ("RP'S GF IS HAVING A PANIC ATTACK AND TRYING TO RUN AWAY", {"mental_health"}),
    ("MALE HIT RP'S VEH WITH A STICK", {"weapon"}),
    ("MALE PUNCHED FEMALE IN FACE", {"violence"}),
    ("HBD TRANSIENT MALE GOING THROUGH DUMPSTER", {"substance", "homeless"}),
    ("C2 TO REAR LOT OF PD, E T O H", {"substance", "injury"}),
    ("MEDIC51 REQING PD C2 TO ASSIST WITH UNCOOPERATIVE BUT NON VIOLENT", set()),
    ("BLK FORD RANGER W/ CAMPER SHELL", set()),
    ("", set()),
])
def test_negation_and_context(text, expected):
    row = narrative_flags([text]).iloc[0]
    assert {f for f in FLAGS if row[f]} == expected


def test_missing_text_and_index():
    s = pd.Series([None, float("nan"), "HBD MALE"], index=[10, 11, 12])
    out = narrative_flags(s)
    assert out.index.tolist() == [10, 11, 12]
    assert out["substance"].tolist() == [False, False, True]
    assert list(out.columns) == FLAGS and (out.dtypes == bool).all()


def test_narrative_disagreement_counts():
    df = pd.DataFrame({
        "category": ["Behavioral Health", "Complaints/Environmental Conditions", "Complaints/Environmental Conditions",
                     "Behavioral Health", "Violent Crime", None],
        "narrative": ["SUBJ SUICIDAL, OFF MEDS", "TRANS MALE TALKING TO HIMSELF", "LOUD MUSIC",
                      "RP REQ CTW OF SON", "MALE PUNCHED FEMALE IN FACE", "HBD MALE YELLING"],
    })
    out = narrative_disagreement(df).set_index("flag")
    mh = out.loc["mental_health"]
    assert (mh["flagged"], mh["flagged_outside_expected"], mh["expected_calls"], mh["expected_without_flag"]) == (2, 1, 2, 1)
    assert mh["share_flagged_outside"] == 0.5
    assert out.loc["homeless", "flagged"] == 1 and out.loc["homeless", "flagged_outside_expected"] == 0
    assert out.loc["violence", "flagged_outside_expected"] == 0
    assert out.loc["substance", "flagged_outside_expected"] == 1
    assert "narrative" not in out.columns and not out.astype(str).apply(lambda c: c.str.contains("HIMSELF")).any().any()
    by = narrative_disagreement(df, by_category=True)
    row = by[(by["flag"] == "mental_health") & (by["category"] == "Complaints/Environmental Conditions")].iloc[0]
    assert (row["calls"], row["flagged"], row["flag_rate"], row["expected"]) == (2, 1, 0.5, False)
    with pytest.raises(ValueError, match="no 'category' column"):
        narrative_disagreement(df.drop(columns="category"))


def test_precomputed_flag_columns_are_used(labelled):
    df, pred = labelled
    frame = pd.concat([pred, pd.Series(["Behavioral Health"] * len(pred), name="category")], axis=1)
    out = narrative_disagreement(frame).set_index("flag")
    assert out.loc["mental_health", "flagged"] == int(pred["mental_health"].sum())
    assert out.loc["mental_health", "flagged_outside_expected"] == 0


def test_read_slo_comments_handles_bare_cr_and_crlf(tmp_path):
    p = tmp_path / "slo.csv"
    p.write_bytes(b'case_number,type,units,call_comments\r\n'
                  b'1,Suspicious,"4267,4265\r\n",MALE W/ KNIFE\r\n'
                  b'2,Medical,"4201\r4202",C3 FALL\r\n')
    df = read_slo_comments(p)
    assert df["case_number"].tolist() == ["1", "2"]
    assert df["call_comments"].tolist() == ["MALE W/ KNIFE", "C3 FALL"]


@pytest.mark.slow
@pytest.mark.skipif(not SLO.exists(), reason="shared sample data not available")
def test_real_slo_file_reads_every_record():
    df = read_slo_comments(SLO)
    assert len(df) == 20076
    flags = narrative_flags(df["call_comments"])
    assert flags.sum().to_dict() == {
        "weapon": int(flags["weapon"].sum()), "violence": int(flags["violence"].sum()),
        "mental_health": int(flags["mental_health"].sum()), "substance": int(flags["substance"].sum()),
        "homeless": int(flags["homeless"].sum()), "injury": int(flags["injury"].sum())}
    assert flags["homeless"].sum() > flags["weapon"].sum() > 0
