"""Time measures, defined once: what an officer hour and a response time are, and when a call
is left out of one.

Every figure of officer time or response time in rightresponse (the workload tables, the
policy history, the pilot evaluation, the report) is computed from these expressions, so an
officer hour means one thing everywhere. They are Ibis expressions: the same code runs on
DuckDB and on Spark.

A call is left out of a duration for the first reason that applies (``exclusion_rule``):
a missing start or end time, no unit count (unit-weighted time), a time issue flagged at
ingest, a negative duration, or one longer than ``max_hours`` (an outlier). The rule is
written once and read three ways: as the reason a call is left out (``exclusion_reason``), as
a small integer the workload cube groups on (``exclusion_code``), and as the measured value or
NULL (``measured``).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from .schema import MAX_CALL_HOURS, TIME_ISSUES


@dataclass(frozen=True)
class Measure:
    name: str
    label: str
    start: str
    end: str
    unit_weighted: bool
    doc: str


MEASURES: dict[str, Measure] = {
    "on_scene": Measure("on_scene", "time on scene", "arrived", "cleared", False,
                        "first unit arrived to call cleared"),
    "deployed": Measure("deployed", "total deployed time", "dispatched", "cleared", False,
                        "first unit dispatched to call cleared, as in Langton et al."),
    "unit_weighted": Measure("unit_weighted", "unit-weighted deployed time", "dispatched", "cleared", True,
                             "total deployed time multiplied by the number of units assigned"),
}
DEFAULT_MEASURE = "deployed"

# Response-time intervals (minutes), reported for calls from the public only: an officer who
# starts a call on view has no response time to speak of.
INTERVALS: dict[str, tuple[str, str, str]] = {
    "to_dispatch": ("received", "dispatched", "received to dispatched"),
    "travel": ("dispatched", "arrived", "dispatched to arrived"),
    "to_arrival": ("received", "arrived", "received to arrived"),
}


def durations() -> list[tuple[str, str, str, bool]]:
    """(name, start, end, unit-weighted) of every time measure and response interval, in a fixed order."""
    return [(m.name, m.start, m.end, m.unit_weighted) for m in MEASURES.values()] + [
        (k, a, b, False) for k, (a, b, _) in INTERVALS.items()]


_TS_UTC = dt.Timestamp(timezone="UTC")


@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_epoch_us(x: _TS_UTC) -> dt.int64:  # noqa: ARG001
    """DuckDB's epoch_us() of a TIMESTAMPTZ: its stored microseconds, no time-zone arithmetic."""


def millis(t, start: str, end: str, portable: bool):
    """Whole milliseconds from ``start`` to ``end``, as float64 (CAD exports carry ms at most).

    Whole numbers, so that sums are exact and the same on every engine whatever order it adds
    in (float sums of seconds differed between DuckDB and Spark in the 12th digit, enough to
    change the --json output). Portable form: a millisecond difference, which every Ibis
    backend compiles. On DuckDB that form goes through the ICU calendar and is ~10x slower
    than subtracting epoch_us() (the stored integers; epoch_ms() and epoch() cost about twice
    as much), which gives the same numbers (a test checks both).
    """
    if portable:
        return t[end].delta(t[start], unit="millisecond").cast("float64")
    return (_duckdb_epoch_us(t[end]) - _duckdb_epoch_us(t[start])).cast("float64") / 1000.0


def is_duckdb(t) -> bool:
    try:
        return t._find_backend().name == "duckdb"
    except Exception:  # unbound table: no backend yet
        return False


# ---------------------------------------------------------------------------- the exclusion rule

# The reasons as small integers, packed XBITS bits per duration into one ``xcode`` column.
# The workload cube groups on that one integer instead of six reason strings (building
# 'time_issue:...' strings for every call and hashing six of them was most of the cube's
# cost); the strings are rebuilt on the few thousand cube rows (``decode_exclusions``).
XBITS = 3
EXCLUSION_CODES = {"measured": 0, "missing_start": 1, "missing_end": 2, "missing_units": 3, "time_issue": 4,
                   "negative_duration": 5, "outlier": 6}


def exclusion_rule(t, start: str, end: str, dur, cap: float, units: bool = False) -> list[tuple[str, object]]:
    """Why a call is left out of the duration ``start`` -> ``end`` (``dur``, capped at ``cap``):
    (reason, condition) in order of precedence, the first that holds wins. ``units``: the
    duration is weighted by the number of units, which must be known."""
    rule = [("missing_start", t[start].isnull()), ("missing_end", t[end].isnull())]
    if units:
        rule.append(("missing_units", t.units_assigned.isnull() | (t.units_assigned < 1)))
    return rule + [("time_issue", t.time_issue.notnull()), ("negative_duration", dur < 0), ("outlier", dur > cap)]


def _reason_names(start: str, end: str) -> dict[str, str]:
    return {"missing_start": f"missing_{start}", "missing_end": f"missing_{end}", "missing_units": "missing_units",
            "negative_duration": "negative_duration", "outlier": "outlier"}


def exclusion_reason(t, start: str, end: str, dur, cap: float, units: bool = False):
    """The reason as text (``missing_dispatched``, ``time_issue:<first issue>``, ...), NULL = measured."""
    names = _reason_names(start, end)
    return ibis.cases(*[(cond, "time_issue:" + t.time_issue.split(";")[0] if r == "time_issue" else names[r])
                        for r, cond in exclusion_rule(t, start, end, dur, cap, units)], else_=ibis.null("string"))


def exclusion_code(t, start: str, end: str, dur, cap: float, units: bool = False):
    """The reason as its EXCLUSION_CODES integer (0 = measured)."""
    return ibis.cases(*[(cond, EXCLUSION_CODES[r]) for r, cond in exclusion_rule(t, start, end, dur, cap, units)],
                      else_=EXCLUSION_CODES["measured"])


def measured(t, start: str, end: str, ms, max_ms: float, weighted: bool):
    """``ms`` (whole milliseconds, float64; times the units when ``weighted``) where no reason of
    the rule holds, else NULL: the rule as one boolean, much cheaper than testing the CASE."""
    ok = ibis.and_(*[~cond for _, cond in exclusion_rule(t, start, end, ms, max_ms, weighted)])
    val = ms * t.units_assigned.cast("float64") if weighted else ms
    return ibis.ifelse(ok, val, ibis.null("float64"))


def measure_ms(calls, measure: str = DEFAULT_MEASURE, max_hours: float = MAX_CALL_HOURS, portable: bool | None = None):
    """A time measure of each call in whole milliseconds (float64), or NULL where the call is
    left out of it: the number the workload tables sum, for figures computed elsewhere (the
    policy history, the pilot evaluation)."""
    m = MEASURES[measure]
    if portable is None:
        portable = not is_duckdb(calls)
    ms = millis(calls, m.start, m.end, portable)
    return measured(calls, m.start, m.end, ms, float(max_hours) * 3_600_000.0, m.unit_weighted)


def decode_exclusions(df: pd.DataFrame) -> pd.DataFrame:
    """Rows with ``xcode`` and ``time_issue`` -> the ``excl_<duration>`` reason strings, exactly
    as ``exclusion_reason`` gives them per call."""
    df = df.copy()
    code = df.pop("xcode").astype("int64").to_numpy()
    issue = df["time_issue"].map(lambda v: None if v is None or (isinstance(v, float) and v != v)
                                 else "time_issue:" + str(v).split(";")[0])
    for i, (name, a, b, _) in enumerate(durations()):
        c = (code >> (XBITS * i)) & ((1 << XBITS) - 1)
        text = {EXCLUSION_CODES[r]: s for r, s in _reason_names(a, b).items()}
        col = pd.Series([text.get(int(k)) for k in c], index=df.index, dtype=object)
        col[c == EXCLUSION_CODES["time_issue"]] = issue[c == EXCLUSION_CODES["time_issue"]]
        df[f"excl_{name}"] = col
    return df


REASON_TEXT = {
    "missing_received": "no received time",
    "missing_dispatched": "no dispatch time",
    "missing_arrived": "no arrival time",
    "missing_cleared": "no cleared time",
    "missing_units": "no unit count",
    "negative_duration": "negative duration",
    "outlier": "outlier (longer than the cap)",
}


def reason_text(code: str, max_hours: float = MAX_CALL_HOURS) -> str:
    if code.startswith("time_issue:"):
        k = code.split(":", 1)[1]
        return "time issue: " + TIME_ISSUES.get(k, k.replace("_", " "))
    if code == "outlier":
        return f"outlier: longer than {max_hours:g} h"
    return REASON_TEXT.get(code, code.replace("_", " "))
