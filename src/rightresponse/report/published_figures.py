"""Published figures for the comparison panel, each with its method, beside ours.

The published numbers are those quoted in the project brief (docs/brief.md). Each row
says how the study measured, and how our figure is computed, because shares of time
depend on the time measure and on how call types are grouped (Langton, Verlaan & Ruiter
2023). Where a study's concept has no counterpart in an assessment (e.g. how many calls
could go to civilians) we say so rather than guess.
"""

from __future__ import annotations

import pandas as pd

DETROIT_2019 = {  # Langton, Ruiter & Verlaan (2022), N = 258,786 calls: (share of calls, share of deployed time)
    "crime": (0.444, 0.506),
    "quality of life": (0.211, 0.155),
    "traffic": (0.124, 0.153),
    "health": (0.077, 0.072),
    "proactive": (0.061, 0.040),
    "community": (0.056, 0.052),
    "unclassified": (0.028, 0.023),
}

SOURCES = {
    "nyt": ("New York Times, 2020",
            "New Orleans, Sacramento and Montgomery County (MD) calls for service; call types grouped by the "
            "authors; officer time as recorded in each agency's CAD data."),
    "detroit": ("Detroit 2019 (Langton, Ruiter & Verlaan 2022)",
                "258,786 calls; call types coded into 7 demand types by the authors; time = total deployed time "
                "(dispatch to clearance)."),
    "nicjr": ("Seattle 2017–19 (NICJR)",
              "1.2 million calls; call types classed by legal seriousness (non-criminal, misdemeanour, "
              "non-violent felony, serious violent felony)."),
    "spd": ("Seattle PD, risk-managed demand",
            "call types rated by risk; share of call types that could go to non-police responders."),
    "baltimore": ("Baltimore (Midgette et al. 2024)",
                  "share of calls that could go to civilian responders under different risk thresholds."),
}


def _share(df: pd.DataFrame | None, key: str, values, col: str) -> float | None:
    """The share of the named groups, summed from the table's own share column: a group
    withheld to protect a small count (its share missing) gives no figure rather than a part,
    since the part and the published whole would give the withheld share back."""
    if df is None or df.empty or key not in df.columns or col not in df.columns:
        return None
    rows = df.loc[df[key].isin(list(values)), col]
    if rows.isna().any():
        return None
    if not len(rows):
        return 0.0 if df[col].notna().any() else None
    return float(rows.sum())


def crime_definitions(cat: pd.DataFrame | None) -> dict[str, str]:
    """The two definitions of "crime" a report uses, by the categories each holds in this
    data: the crime groups (violent, property and other crime) and Langton's demand type
    "crime" (the taxonomy puts warrants, liquor and status offences under other demand types)."""
    if cat is None or cat.empty:
        return {"crime groups": "", "demand type": ""}
    groups = cat[cat["crime_group"].isin(CRIME_GROUPS)]["category"]
    demand = cat[cat["demand_type"] == "crime"]["category"]
    return {"crime groups": ", ".join(sorted(groups)), "demand type": ", ".join(sorted(demand))}


CRIME_GROUPS = ("violent crime", "property crime", "other crime")


def comparison_rows(tables: dict, measure_label: str) -> list[dict]:
    """Rows of the comparison panel: source, metric, published, ours, method notes."""
    cat = tables.get("by_category")
    cg = tables.get("by_crime_group")
    dt = tables.get("by_demand_type")
    ours_time = f"our {measure_label}"
    rows = []

    def add(src, metric, published, ours, ours_how):
        title, method = SOURCES[src]
        rows.append({"source": title, "metric": metric, "published": published, "ours": ours,
                     "their_method": method, "our_method": ours_how})

    # Two definitions of crime appear: the crime groups (violent, property and other crime:
    # every offence category) and Langton's demand type "crime" (which puts warrants,
    # liquor and status offences elsewhere). Each row names the one it uses.
    add("nyt", "serious violent crime, share of calls", 0.01,
        _share(cat, "category", ["Violent Crime"], "share_calls"),
        "Vera 'Violent Crime' category: includes simple assault, so broader than 'serious' violent crime")
    add("nyt", "violent crime, share of officer time", 0.04,
        _share(cg, "crime_group", ["violent crime"], "share_time"), f"crime group 'violent crime'; {ours_time}")
    add("nyt", "non-criminal calls, share of officer time", 0.35,
        _share(cg, "crime_group", ["non-criminal"], "share_time"),
        f"crime group 'non-criminal' (officer activity and administrative statuses excluded); {ours_time}")
    add("nyt", "traffic, share of officer time", 0.15,
        _share(dt, "demand_type", ["traffic"], "share_time"), f"demand type 'traffic'; {ours_time}")
    for d, (c, t) in DETROIT_2019.items():
        how = ("Vera categories mapped to Langton demand types (this project's mapping)"
               + (f"; demand type 'crime' = {crime_definitions(cat)['demand type']}, narrower than the crime "
                  "groups" if d == "crime" else ""))
        add("detroit", f"{d}: share of calls", c, _share(dt, "demand_type", [d], "share_calls"), how)
        add("detroit", f"{d}: share of time", t, _share(dt, "demand_type", [d], "share_time"), f"{how}; {ours_time}")
    add("nicjr", "non-criminal, share of calls", 0.797,
        _share(cg, "crime_group", ["non-criminal", "officer activity and administrative"], "share_calls"),
        "crime groups 'non-criminal' plus officer activity and administrative statuses")
    add("nicjr", "serious violent felony, share of calls", 0.021,
        _share(cat, "category", ["Violent Crime"], "share_calls"),
        "Vera 'Violent Crime' (all violent offences, not only felonies): an upper bound")
    add("nicjr", "misdemeanour / non-violent felony, share of calls", "14.2% / 4.0%", None,
        "not measured: needs offence-severity coding that CAD call types do not carry")
    add("spd", "call types that could go to non-police responders (freeing up to 26% of police resources)", 0.489,
        None, "not part of the assessment: depends on the response policy the city adopts")
    add("baltimore", "calls that could go to civilians, depending on the risk threshold", "22–57%", None,
        "not part of the assessment: depends on the response policy the city adopts")
    return rows
