"""Disclosure control, attacked: on every sample, every table the assessment publishes is
read by an attacker written without the disclosure module (tests/disclosure_attack.py), who
tries totals minus parts, share x total, hours x 60 / mean and differences between roll-ups.
It must recover no withheld count. The attacker is shown to work: against the same tables
with complementary suppression switched off it recovers many.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from assessed import SAMPLES, assessed
from disclosure_attack import attack, truth

from rightresponse.report import disclosure


@pytest.mark.slow
@pytest.mark.parametrize("sample", list(SAMPLES))
def test_attacker_recovers_no_withheld_count(sample, capsys):
    res, exact_out, _ = assessed(sample)
    a = attack(res.out)
    got = {}
    for q, v, how in a.recovered:
        got.setdefault(q, (v, how))
    with capsys.disabled():
        print(f"\n[disclosure attack] {sample}: {a.hidden_count} withheld counts, "
              f"{len(got)} recovered, {len(a.implicit_small)} small counts behind rates")
    assert a.hidden_count > 0  # there was something to attack
    assert got == {}, list(got.items())[:5]
    assert a.implicit_small == []
    # the attacker's model of the tables is right: on the exact tables, nothing is withheld
    # and every quantity it reads agrees with the published one where both are shown
    t = truth(exact_out)
    shown = {q: c.value for q, c in a.cells.items() if not c.hidden}
    assert all(abs(t[q] - v) < 1e-6 for q, v in shown.items() if q in t)


@pytest.mark.slow
def test_the_attacker_finds_what_primary_suppression_alone_leaves(monkeypatch, tmp_path):
    """Control: with complements switched off (only counts 1..9 hidden, with what rests on
    them), the same attacker recovers hidden counts on New Orleans, among them the issue's
    examples (Alarms: 435 - 288 - 145 = 2 unfounded)."""
    res, exact_out, _ = assessed("new_orleans")
    monkeypatch.setattr(disclosure.Ledger, "_complete", lambda self: None)
    monkeypatch.setattr(disclosure.Ledger, "_audit", lambda self: {})
    weak = res.write(tmp_path / "weak")
    a = attack(weak.out)
    t = truth(exact_out)
    got = {q: v for q, v, _ in a.recovered}
    assert len(got) > 20
    assert all(abs(t[q] - v) < 0.5 for q, v in got.items() if q in t)  # and it is right
    alarms = ("calls", (("category", "Alarms"), ("outcome", "unfounded")))
    assert got.get(alarms) == pytest.approx(2)


@pytest.mark.slow
def test_the_issue_examples_are_closed():
    """The leaks the issue lists, one by one, on the published files."""
    # New Orleans outcomes: a row with a hidden outcome has a second hidden cell
    res, _, _ = assessed("new_orleans")
    oc = pd.read_csv(res.out / "tables" / "outcomes.csv", dtype=str, keep_default_na=False)
    for _, r in oc.iterrows():
        cells = [r[c] for c in oc.columns if c not in ("category",)]
        assert sum(1 for c in cells if c == "" or c.startswith("<")) != 1, r.to_dict()
    # calls timed never hidden beside visible hours and mean (hours x 60 / mean)
    for sample in SAMPLES:
        out = assessed(sample)[0].out
        for f in (out / "tables").glob("*.csv"):
            df = pd.read_csv(f, dtype=str, keep_default_na=False)
            if {"calls_timed", "hours", "mean_minutes"} <= set(df.columns):
                hid = (df["calls_timed"] == "") | df["calls_timed"].str.startswith("<")
                assert ((df.loc[hid, "hours"] == "") & (df.loc[hid, "mean_minutes"] == "")).all(), (sample, f.name)
    # San Diego: a hidden count of calls moved has no visible share
    sd = pd.read_csv(assessed("san_diego")[0].out / "tables" / "who_could_respond.csv", dtype=str,
                     keep_default_na=False)
    for end in ("low", "high"):
        hid = (sd[f"calls_moved_{end}"] == "") | sd[f"calls_moved_{end}"].str.startswith("<")
        assert (sd.loc[hid, f"share_calls_moved_{end}"] == "").all()
    # DECC: officer activity minus Statuses no longer gives Officer Needs Help
    decc = assessed("decc")[0].out / "tables"
    cat = pd.read_csv(decc / "by_category.csv", dtype=str, keep_default_na=False).set_index("category")
    cg = pd.read_csv(decc / "by_crime_group.csv", dtype=str, keep_default_na=False).set_index("crime_group")
    assert cat.at["Officer Needs Help", "calls"] == "<10"
    assert cg.at["officer activity and administrative", "calls"] == "2134"
    assert cat.at["Statuses", "calls"] == ""  # the complement


@pytest.mark.slow
def test_every_output_goes_through_the_module():
    """Report, CSV, Parquet, --json and summary.json agree on what is withheld (DECC)."""
    res, _, _ = assessed("decc")
    pub = res.publish()
    withheld = set(pub["by_category"].values.loc[pub["by_category"].hidden["calls"], "category"])
    assert withheld == {"Statuses", "Officer Needs Help"}
    csv = pd.read_csv(res.out / "tables" / "by_category.csv", dtype=str, keep_default_na=False)
    pq = pd.read_parquet(res.out / "tables" / "by_category.parquet")
    assert set(csv.loc[csv["calls"].isin(["", "<10"]), "category"]) == withheld
    assert set(pq.loc[pq["calls"].isna(), "category"]) == withheld
    js = res.to_json_dict()
    assert {x["category"] for x in js["by_category"] if x["calls"] is None} == withheld
    html = res.report_path.read_text(encoding="utf-8")
    row = re.search(r"<tr><td>Statuses</td>.*?</tr>", html).group(0)
    assert "2,133" not in row and "29.2%" not in row  # the complement's figures are not on the page


def test_ledger_hides_a_complement_and_the_audit_finds_a_difference_of_roll_ups():
    """Known answers on a tiny table: a lone small cell gets a complement; a count determined
    only through two roll-ups (a - b where both totals are published) is caught by the audit."""
    led = disclosure.Ledger(10)
    t, a, b, c = ("n", ()), ("n", (("k", "a"),)), ("n", (("k", "b"),)), ("n", (("k", "c"),))
    for node, v in ((t, 100), (a, 3), (b, 40), (c, 57)):
        led.add(node, v, fixed=node == t)
    led.partition(t, [a, b, c])
    assert led.protect() == {a, b}  # b: the smallest count that hides a
    # A cycle of roll-ups: x + y = A, y + z = B, x + z = C. Complements give every relation two
    # hidden counts, yet x = (A - B + C) / 2; only the audit sees it and hides one of the totals.
    led = disclosure.Ledger(10)
    x, y, z = (("n", (("c", k),)) for k in "xyz")
    big_a, big_b, big_c = (("n", (("g", k),)) for k in "ABC")
    for node, v in ((x, 5), (y, 20), (z, 30), (big_a, 25), (big_b, 50), (big_c, 35)):
        led.add(node, v, rank=3 if node in (x, y, z) else 1)
    led.partition(big_a, [x, y])
    led.partition(big_b, [y, z])
    led.partition(big_c, [x, z])
    hidden = led.protect()
    assert {x, y, z} <= hidden and hidden & {big_a, big_b, big_c}
    assert led.why[x] == "small" and any(w[0] == "audit" for w in led.why.values() if isinstance(w, tuple))
    assert not led.determined(sorted((n for n in hidden), key=repr))


def test_a_number_nobody_declared_is_withheld_with_its_row():
    """A column added to a published table later (say by the policy module) is cautious until
    it is declared: withheld wherever a count of its row is. A table nobody declared at all
    treats its integer calls/n_ columns as counts and every other number as resting on them."""
    who = pd.DataFrame({"policy": ["a", "b"], "title": ["A", "B"], "calls": [500, 500],
                        "calls_moved_low": [3, 200], "calls_moved_high": [40, 250],
                        "share_calls_moved_low": [0.006, 0.4], "share_calls_moved_high": [0.08, 0.5],
                        "top_type_share_moved": [0.5, 0.3]})  # undeclared
    pub = disclosure.publish_assessment({"who_could_respond": who}, {"calls": 500}, 10, "deployed", [], [])
    d = pub["who_could_respond"]
    assert d.text(0, "calls_moved_low") == "<10" and d.value(0, "share_calls_moved_low") is None
    assert d.value(0, "top_type_share_moved") is None and d.value(1, "top_type_share_moved") == 0.3
    other = pd.DataFrame({"call_type": ["x", "y", "z"], "calls": [4, 300, 12], "hours": [1.5, 90.0, 3.0]})
    pub = disclosure.publish_assessment({"new_table": other}, {"calls": 316}, 10, "deployed", [], [])
    d = pub["new_table"]
    assert d.text(0, "calls") == "<10" and d.value(0, "hours") is None and d.value(1, "hours") == 90.0
