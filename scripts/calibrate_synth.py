"""Rebuild src/rightresponse/synth_calibration.json from the real samples.

    python scripts/calibrate_synth.py [--shared ../shared] [--out src/rightresponse/synth_calibration.json]

Sources (all real, public records; see shared/data/README.md):

* DECC police rows (decc_psap_2025/week*.csv): the only sample with every timestamp, so it
  gives the hour-of-week cycle and the service-time distributions (dispatch delay, travel,
  on scene, time to cancel), fitted per Vera category as robust lognormals.
* New Orleans subset (new_orleans/nola_cfs_2016_subset_from_diff.csv): the output layout.
  It gives call-type codes and descriptions, per-type priorities, initial types, the
  officer-initiated share, dispositions, which timestamps are blank, and beats.
* Vera's New Orleans call-type counts (labels/vera_call_types_train.csv): the subset is
  biased to a few neighbourhoods, so the call-type *mix* is re-weighted with the counts
  of the full city data that Vera analysed.

A New Orleans type is linked to DECC durations through its Vera category (the project's
keyword rules classify both sides the same way); a category with fewer than MIN_N DECC
rows uses the all-police fit. No address or narrative is copied: geography is beat
centroids and street names only.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
MIN_N = 30  # fewest DECC rows for a per-category fit
SI_PRIOR = 5.0  # pseudo-count pulling a type's officer-initiated share to the overall share
DISP_PRIOR = 10.0  # pseudo-count pulling a type's disposition mix to the overall mix
NOLA_FMT = "%m/%d/%Y %I:%M:%S %p"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lognormal(seconds: pd.Series) -> dict | None:
    """Robust lognormal fit (median and IQR of log seconds) of values in [1 s, 24 h).

    Values under a second are two events stamped together (a unit already on scene), not
    a short trip: they are kept as a point mass ``p_zero`` instead of stretching sigma.
    """
    x = seconds.dropna()
    x = x[(x >= 0) & (x < 86400)]
    pos = x[x >= 1]
    if len(pos) < 5:
        return None
    lx = np.log(pos.to_numpy(float))
    q25, q50, q75 = np.percentile(lx, [25, 50, 75])
    return {"mu": round(float(q50), 4), "sigma": round(max(float(q75 - q25) / 1.349, 0.05), 4),
            "p_zero": round(float((x < 1).mean()), 4), "n": int(len(x))}


def classifier():
    """The project's keyword rules (value -> Vera category), or None if unavailable."""
    try:
        from rightresponse.taxonomy.rules import apply_rules, load_rules

        rules = load_rules()
    except Exception as exc:  # the taxonomy is optional for calibration
        print(f"warning: taxonomy rules unavailable ({exc}); using all-police fits", file=sys.stderr)
        return lambda v: None

    def f(v):
        r = apply_rules(v, rules)
        return r.category if r else None

    return f


def load_decc(cfs: Path) -> tuple[pd.DataFrame, list[dict]]:
    keep = ["Agency", "Problem", "Priority_Number", "Call_Reception", "Incident_Start_Time",
            "Incident_Dispatch_Time", "Incident_Arrival_Time", "Incident_First_Close_Time",
            "Final_Closed_Time", "Disposition"]
    frames, sources = [], []
    for f in sorted(glob.glob(str(cfs / "decc_psap_2025" / "week*.csv"))):
        d = pd.read_csv(f, dtype=str, keep_default_na=False, usecols=keep)
        frames.append(d)
        sources.append({"file": f"cfs/decc_psap_2025/{Path(f).name}", "sha256": sha256(Path(f)), "rows": len(d)})
    df = pd.concat(frames, ignore_index=True)
    df = df[df["Agency"] == "POLICE"].copy()
    for c in keep[4:9]:
        df[c] = pd.to_datetime(df[c].replace({"NULL": None, "": None}), format="%Y-%m-%d %H:%M:%S.%f", errors="coerce")
    df["close"] = df["Final_Closed_Time"].fillna(df["Incident_First_Close_Time"])
    df["officer"] = df["Call_Reception"].eq("OFFICER")
    return df, sources


def service_fits(decc: pd.DataFrame, category) -> dict:
    decc = decc.assign(category=decc["Problem"].map(lambda v: category(v)))
    s = decc["Incident_Start_Time"]
    d = (decc["Incident_Dispatch_Time"] - s).dt.total_seconds()
    t = (decc["Incident_Arrival_Time"] - decc["Incident_Dispatch_Time"]).dt.total_seconds()
    o = (decc["close"] - decc["Incident_Arrival_Time"]).dt.total_seconds()
    c = (decc["close"] - s).dt.total_seconds()
    resident = ~decc["officer"]
    no_arr = decc["Incident_Arrival_Time"].isna()

    def fit(mask):
        return {
            "dispatch": lognormal(d[mask & resident]),
            "travel": lognormal(t[mask & resident]),
            "on_scene": lognormal(o[mask]),
            "cancel": lognormal(c[mask & resident & no_arr]),
        }

    overall = fit(pd.Series(True, index=decc.index))
    out = {"_all": {**overall, "n": int(len(decc))}}
    for cat, n in decc["category"].value_counts().items():
        f = fit(decc["category"].eq(cat))
        # per measure: the category's own fit only when it rests on MIN_N rows
        out[cat] = {k: (v if v and v["n"] >= MIN_N else overall[k]) for k, v in f.items()}
        out[cat]["n"] = int(n)
    return out


def hour_of_week(decc: pd.DataFrame) -> tuple[list[float], list[int]]:
    s = decc["Incident_Start_Time"].dropna()
    how = (s.dt.day_of_week * 24 + s.dt.hour).to_numpy()
    counts = np.bincount(how, minlength=168).astype(float)
    # light circular smoothing: 14 weeks leave ~90 calls per cell, so ~10% Poisson noise
    sm = 0.25 * np.roll(counts, 1) + 0.5 * counts + 0.25 * np.roll(counts, -1)
    return [round(float(v), 4) for v in sm / sm.mean()], [int(v) for v in counts]


def vera_weights(labels: Path, types: list[str]) -> dict[str, float]:
    v = pd.read_csv(labels, keep_default_na=False)
    v = v[(v["city"] == "New Orleans") & (v["field"] == "TypeText")]
    counts = v.groupby("call_type")["count"].sum()
    out = {t: float(counts.get(t, 0.0)) for t in types}
    # CAD exports truncate descriptions to 20 characters ("BURGLAR ALARM, SILEN"):
    # credit a truncated label to the one full description it is a prefix of.
    for name, n in counts.items():
        if name in out or len(name) != 20:
            continue
        full = [t for t in types if t.startswith(name)]
        if len(full) == 1:
            out[full[0]] += float(n)
    return out


def dist(counter: Counter | pd.Series, prior: dict | None = None, a: float = 0.0) -> dict:
    items = dict(counter)
    keys = set(items) | set(prior or {})
    n = sum(items.values())
    raw = {k: items.get(k, 0) + a * (prior or {}).get(k, 0.0) for k in keys}
    tot = n + (a if prior else 0.0)
    return {k: round(v / tot, 6) for k, v in sorted(raw.items(), key=lambda kv: -kv[1]) if v > 0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--out", default=str(REPO / "src" / "rightresponse" / "synth_calibration.json"))
    args = ap.parse_args(argv)
    shared = Path(args.shared)
    cfs, labels = shared / "data" / "cfs", shared / "data" / "labels" / "vera_call_types_train.csv"
    category = classifier()

    decc, decc_sources = load_decc(cfs)
    nola_path = cfs / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv"
    nola = pd.read_csv(nola_path, dtype=str, keep_default_na=False)
    for c in ("TimeCreate", "TimeDispatch", "TimeArrive", "TimeClosed"):
        nola[c + "_t"] = pd.to_datetime(nola[c].replace("", None), format=NOLA_FMT, errors="coerce")
    nola["si"] = nola["SelfInitiated"].eq("Y")
    nola = nola[(nola["TypeText"] != "") & (nola["Priority"] != "")]

    fits = service_fits(decc, category)
    how, how_counts = hour_of_week(decc)

    # ---- dispositions, blanks
    si_share = float(nola["si"].mean())
    disp_text = nola.groupby("Disposition")["DispositionText"].agg(lambda s: s.mode().iat[0]).to_dict()
    disp_global = {k: dist(Counter(g["Disposition"])) for k, g in nola.groupby("si")}
    res = nola[~nola["si"]]
    no_arr = res["TimeArrive"].eq("")
    no_arrival = {k: round(float(v), 6) for k, v in no_arr.groupby(res["Disposition"]).mean().items()}
    no_disp_given_no_arr = float(res.loc[no_arr, "TimeDispatch"].eq("").mean())
    no_disp_given_arr = float(res.loc[~no_arr, "TimeDispatch"].eq("").mean())

    # ---- call types
    keys = nola.groupby(["Type_", "TypeText"]).size().sort_values(ascending=False)
    weights = vera_weights(labels, [t for _, t in keys.index])
    types = []
    for (code, text), n in keys.items():
        g = nola[(nola["Type_"] == code) & (nola["TypeText"] == text)]
        cat = category(text)
        svc = fits.get(cat) if cat in fits else None
        y = int(g["si"].sum())
        initial = g.groupby(["InitialType", "InitialTypeText", "InitialPriority"]).size()
        types.append({
            "code": code,
            "text": text,
            "weight": weights[text] if weights[text] > 0 else float(n),
            "weight_source": "vera_full_city_count" if weights[text] > 0 else "subset_count",
            "subset_rows": int(n),
            "category": cat,
            "officer_initiated": round((y + SI_PRIOR * si_share) / (n + SI_PRIOR), 6),
            "priorities": dist(Counter(g["Priority"])),
            "initial": [[c, t, p, round(k / n, 6)] for (c, t, p), k in initial.sort_values(ascending=False).items()],
            "disposition": {
                "officer_initiated": dist(Counter(g.loc[g["si"], "Disposition"]), disp_global[True], DISP_PRIOR),
                "resident": dist(Counter(g.loc[~g["si"], "Disposition"]), disp_global[False], DISP_PRIOR),
            },
            "service": {k: v for k, v in (svc or fits["_all"]).items() if k != "n"},
            "service_from": cat if svc is not None and svc["n"] >= MIN_N else "_all",
        })
    wsum = sum(t["weight"] for t in types)
    for t in types:
        t["share"] = round(t["weight"] / wsum, 8)

    oi = sum(t["share"] * t["officer_initiated"] for t in types)
    prio = Counter()
    for t in types:
        for p, q in t["priorities"].items():
            prio[p] += t["share"] * q

    # ---- geography: beat centroids (never an address) and street names
    geo = nola[nola["MapX"].str.isdigit() & nola["MapY"].str.isdigit()].copy()
    geo["x"], geo["y"] = geo["MapX"].astype(float), geo["MapY"].astype(float)
    ll = geo["Location"].str.extract(r"\(\s*([-\d.]+),\s*([-\d.]+)\s*\)").astype(float)
    ok = ll.notna().all(axis=1)
    A = np.c_[geo.loc[ok, "x"], geo.loc[ok, "y"], np.ones(ok.sum())]
    lat_coef = np.linalg.lstsq(A, ll.loc[ok, 0].to_numpy(), rcond=None)[0]
    lon_coef = np.linalg.lstsq(A, ll.loc[ok, 1].to_numpy(), rcond=None)[0]
    beats = []
    for beat, g in geo.groupby("Beat"):
        beats.append({
            "beat": beat,
            "district": g["PoliceDistrict"].mode().iat[0],
            "zip": g["Zip"].replace("", np.nan).dropna().mode().iat[0] if g["Zip"].ne("").any() else "",
            "neighborhood": g["Neighborhood"].mode().iat[0],
            "x": round(float(g["x"].median())),
            "y": round(float(g["y"].median())),
        })
    streets = Counter()
    for a in nola["BLOCK_ADDRESS"]:
        parts = a.split(" & ") if " & " in a else [a.split(" ", 1)[1] if " " in a and "XX" in a.split(" ", 1)[0] else a]
        streets.update(p.strip() for p in parts if p.strip())
    street_names = [s for s, _ in streets.most_common(80)]

    cal = {
        "format": 1,
        "generated_by": "scripts/calibrate_synth.py",
        "layout": "new_orleans",
        "timezone": "America/Chicago",
        "sources": {
            "decc_police": {"files": decc_sources, "police_rows": int(len(decc)),
                            "used_for": "hour_of_week, service times (lognormal per Vera category)"},
            "new_orleans_subset": {"file": "cfs/new_orleans/nola_cfs_2016_subset_from_diff.csv",
                                   "sha256": sha256(nola_path), "rows": int(len(nola)),
                                   "used_for": "codes, priorities, initial types, officer-initiated share, "
                                               "dispositions, blank timestamps, beats"},
            "vera_counts": {"file": "labels/vera_call_types_train.csv", "sha256": sha256(labels),
                            "used_for": "call-type mix (New Orleans TypeText counts of the full city data)"},
        },
        "notes": [
            "Call types are the New Orleans subset's types (codes exist only there), weighted by Vera's "
            "full-city counts; types Vera saw but the subset lacks (e.g. AREA CHECK) have no code and are left out.",
            "Officer-initiated share comes from the subset per type; vera_self_initiated.csv reports a much "
            "higher New Orleans share on different totals, so it is not used.",
            "Lognormal parameters are of seconds: mu = median(log s), sigma = IQR(log s)/1.349 (robust to "
            "the sample's multi-day outliers); fitted on values in [1 s, 24 h); p_zero is the share under 1 s "
            "(events stamped together).",
        ],
        "hour_of_week": how,
        "hour_of_week_counts": how_counts,
        "hour_of_week_origin": "Monday 00:00 local first; DECC police Incident_Start_Time, smoothed 1/4-1/2-1/4",
        "officer_initiated_share": round(oi, 6),
        "priority_mix": {k: round(v, 6) for k, v in sorted(prio.items(), key=lambda kv: -kv[1])},
        "disposition_text": disp_text,
        "no_arrival_given_disposition": no_arrival,
        "no_dispatch_given_no_arrival": round(no_disp_given_no_arr, 6),
        "no_dispatch_given_arrival": round(no_disp_given_arr, 6),
        "service_by_category": fits,
        "call_types": types,
        "geography": {"beats": beats, "lat_from_xy": [float(v) for v in lat_coef],
                      "lon_from_xy": [float(v) for v in lon_coef], "jitter_ft": 1500,
                      "intersection_share": round(float(nola["BLOCK_ADDRESS"].str.contains(" & ").mean()), 4),
                      "streets": street_names},
    }
    out = Path(args.out)
    out.write_text(json.dumps(cal, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(types)} call types, officer-initiated share {oi:.3f}, "
          f"{len(decc):,} DECC police rows, {len(beats)} beats")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
