"""The call types a console offers: the city's own list, for fuzzy search as the call-taker types.

From a workspace (the distinct call types of the city's ingested calls, most frequent first),
from one agency's shipped crosswalk, or, with neither, from every shipped crosswalk. Each
entry carries its normalized spelling (abbreviations expanded), so typing "welfare" finds
"WELF CHK".
"""

from __future__ import annotations

from pathlib import Path

from ..taxonomy.crosswalk import agency_id, load_crosswalk, load_crosswalks
from ..taxonomy.call_type_text import match_key, normalize

MAX_LEN = 200


def known_call_types(agency: str | None = None, workspace: str | Path | None = None) -> dict:
    """{"source", "agency", "call_types": [{value, search, count, agencies, category}]}.

    ``category`` is the crosswalk's decision where one agency is configured (None otherwise:
    the service fills it in from its classifier).
    """
    if workspace:
        items, agency = _from_workspace(Path(workspace), agency)
        source = "workspace"
    else:
        agency = agency_id(agency) if agency else None
        df = load_crosswalk(agency) if agency else load_crosswalks()
        source = f"crosswalk:{agency}" if agency else "crosswalks"
        seen: dict[str, dict] = {}
        for value, ag, cat in zip(df["value"], df["agency"], df["category"]):
            value = " ".join(str(value).split())
            k = match_key(value)
            if not k or len(value) > MAX_LEN:
                continue
            it = seen.get(k)
            if it is None:
                seen[k] = it = {"value": value, "count": None, "agencies": [], "category": cat if agency else None}
            if ag not in it["agencies"]:
                it["agencies"].append(ag)
        items = sorted(seen.values(), key=lambda it: (-len(it["agencies"]), it["value"].upper()))
    for it in items:
        norm = normalize(it["value"])
        it["search"] = norm if norm and norm != it["value"].upper() else ""
    return {"source": source, "agency": agency, "call_types": items}


def _from_workspace(ws: Path, agency: str | None) -> tuple[list[dict], str | None]:
    import duckdb

    from ..ingest.workspace import Workspace

    w = Workspace(ws)
    if not w.has("calls"):
        raise ValueError(f"workspace {ws} has no calls: run `rightresponse ingest ... --workspace {ws}` first")
    con = duckdb.connect()
    try:
        sql = ("SELECT agency, call_type, count(*) AS n FROM read_parquet(?, hive_partitioning=true) "
               "WHERE call_type IS NOT NULL AND trim(call_type) <> '' "
               "AND (origin IS NULL OR origin <> 'officer_initiated') ")
        params: list = [w.files("calls")]
        if agency:
            sql += "AND agency = ? "
            params.append(agency_id(agency))
        sql += "GROUP BY agency, call_type"
        rows = con.execute(sql, params).fetchall()
    finally:
        con.close()
    agencies = sorted({a for a, _, _ in rows})
    if agency is None and len(agencies) == 1:
        agency = agencies[0]
    seen: dict[str, dict] = {}
    for ag, value, n in rows:
        value = " ".join(str(value).split())
        k = match_key(value)
        if not k or len(value) > MAX_LEN:
            continue
        it = seen.setdefault(k, {"value": value, "count": 0, "agencies": [], "category": None})
        it["count"] += int(n)
        if ag not in it["agencies"]:
            it["agencies"].append(ag)
    items = sorted(seen.values(), key=lambda it: (-it["count"], it["value"].upper()))
    return items, (agency_id(agency) if agency else None)
