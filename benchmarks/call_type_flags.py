"""Precision and recall of the danger read from call types, on the hand-labelled sample set.

The labelled set (src/rightresponse/policy/data/call_types_labelled.csv) holds every distinct
call type of the eleven sample places (1,565 rows), each labelled by hand with the dangers it
states: weapon, violence, crime in progress, impaired driving, a prisoner, an officer in need,
a suicide attempt. Two contenders read the same strings:

  call-type flags   taxonomy/data/call_type_flags.yaml through the narrative flagger: CAD
                    abbreviations, negation, the NYPD 10-codes.
  narrative flags   the narrative file (taxonomy/data/narrative_flags.yaml) applied as it is to
                    call types: what reusing the narrative flags without call-type patterns
                    gives (weapon and violence only; it has no other danger flags).

Honest caveat: the call-type patterns were written after reading the labelled call types (there
is no held-out city), so these figures are an upper bound for a new city's CAD; the per-city
rows show the spread. The figures a test holds them to are in tests/test_call_type_flags.py.

    python benchmarks/call_type_flags.py

Ends with one JSON line holding every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rightresponse.policy.lint import LABEL_FLAGS, labelled_call_types  # noqa: E402
from rightresponse.taxonomy.narrative import (call_type_flags, flag_accuracy, load_flags,  # noqa: E402
                                              narrative_flags)


def _rows(acc: pd.DataFrame) -> list[dict]:
    return [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in acc.to_dict("records")]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args(argv)
    lab = labelled_call_types()
    t0 = time.perf_counter()
    pred = call_type_flags(lab["call_type"])
    seconds = time.perf_counter() - t0
    danger = pd.DataFrame({"any_danger": lab[list(LABEL_FLAGS)].any(axis=1)})
    overall = pd.concat([flag_accuracy(lab, pred),
                         flag_accuracy(danger, pd.DataFrame({"any_danger": pred.any(axis=1)}))], ignore_index=True)
    by_city = flag_accuracy(lab, pred, by="city")
    narr = narrative_flags(lab["call_type"], load_flags())[["weapon", "violence"]]
    baseline = flag_accuracy(lab, narr)

    print(f"{len(lab):,} labelled call types ({lab['call_type'].nunique():,} distinct strings) from "
          f"{lab['city'].nunique()} sample places; {int(danger['any_danger'].sum())} state a danger")
    print(f"\n{'flag':20s} {'labelled':>8s} {'precision':>9s} {'recall':>7s}   tp  fp  fn")
    for r in overall.itertuples():
        print(f"{r.flag:20s} {r.labelled:8d} {r.precision:9.3f} {r.recall:7.3f} {r.tp:4d} {r.fp:3d} {r.fn:3d}")
    print("\nthe narrative flags applied to call types as they are (no call-type patterns):")
    for r in baseline.itertuples():
        print(f"{r.flag:20s} {r.labelled:8d} {r.precision:9.3f} {r.recall:7.3f} {r.tp:4d} {r.fp:3d} {r.fn:3d}")
    print("\nper city (flags with at least one labelled call type):")
    piv = by_city[by_city.labelled > 0].pivot(index="city", columns="flag", values="recall")
    print("recall\n" + piv.to_string(float_format="%.2f", na_rep="-"))
    print(f"\n{len(lab) / seconds:,.0f} call types/s")
    res = {"benchmark": "call_type_flags", "labelled": int(len(lab)), "distinct": int(lab["call_type"].nunique()),
           "cities": int(lab["city"].nunique()), "dangerous": int(danger["any_danger"].sum()),
           "overall": _rows(overall), "narrative_flags_baseline": _rows(baseline), "by_city": _rows(by_city),
           "call_types_per_second": round(len(lab) / seconds)}
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
