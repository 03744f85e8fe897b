"""Local time to instant: the day-offset lookup ingest uses must give ICU's answer everywhere.

The lookup (``local_to_instant_sql``) replaces ``timezone(zone, local)`` for speed; it is only
right if it agrees with ICU on every wall-clock time, including the skipped and repeated hours
of clock changes and the times outside its table.
"""

import duckdb
import pytest

from rightresponse.ingest.adapter_compiler import (_DAY_US, _offset_buckets, _offset_segments, local_to_instant_sql,
                                            set_offset_variables)

HOUR_US = 3_600_000_000

# The agencies' zones, plus zones with half-hour offsets or changes, southern-hemisphere
# summers, and rule changes inside the table's years.
ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "America/Detroit",
         "Europe/London", "Australia/Lord_Howe", "America/St_Johns", "Asia/Kolkata",
         "Pacific/Chatham", "America/Sao_Paulo", "America/Mexico_City"]


@pytest.mark.slow
@pytest.mark.parametrize("tz", ZONES)
def test_lookup_equals_icu_every_433_seconds_1985_to_2065(tz):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    set_offset_variables(con, tz)
    n, differ = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE timezone('{tz}', l) IS DISTINCT FROM {local_to_instant_sql(tz, 'l')})
        FROM (SELECT TIMESTAMP '1985-01-01' + to_microseconds(x * 433000000) AS l FROM range(0, 5_900_000) t(x))
    """).fetchone()
    assert n == 5_900_000
    assert differ == 0


@pytest.mark.parametrize("tz", ["America/Chicago", "America/New_York", "America/Los_Angeles"])
def test_lookup_equals_icu_every_second_around_clock_changes(tz):
    """Every second of the two hours either side of each 2025 change (the skipped 02:00-03:00
    in March, the repeated 01:00-02:00 in November), plus NULL."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    set_offset_variables(con, tz)
    rows = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE timezone('{tz}', l) IS DISTINCT FROM {local_to_instant_sql(tz, 'l')})
        FROM (SELECT d + to_microseconds(x * 1000000) AS l
              FROM (VALUES (TIMESTAMP '2025-03-09 00:00:00'), (TIMESTAMP '2025-11-02 00:00:00')) v(d),
                   range(0, 4 * 3600) t(x)
              UNION ALL SELECT NULL)
    """).fetchone()
    assert rows == (2 * 4 * 3600 + 1, 0)


def test_table_covers_the_years_with_icu_only_next_to_changes():
    """The fast path must be what answers: in a US zone every day of 1990-2059 has an offset
    except the three around each of the two changes a year."""
    segs = _offset_segments("America/Chicago")
    values = {off for _, off in segs}
    assert values == {None, -6 * HOUR_US, -5 * HOUR_US}
    con = duckdb.connect()
    first, last = (con.execute(f"SELECT epoch_us(DATE '{y}-01-01') // {_DAY_US}").fetchone()[0] for y in (1990, 2060))
    icu_days = sum(b - a for (a, off), (b, _) in zip(segs, segs[1:]) if off is None and a >= first)
    assert icu_days == 70 * 2 * 3
    assert segs[0] == (first, None) and segs[-1] == (last, None)


def test_buckets_are_short_and_leave_only_change_days_to_icu():
    """Four lists of 400 numbers (1990-2059 in 64-day buckets) rather than a value a day:
    cheap to plan and to look up. No US bucket is left whole to ICU."""
    first, last, lists = _offset_buckets("America/New_York")
    assert {k: len(v) for k, v in lists.items()} == {"ws": 400, "we": 400, "ob": 400, "oa": 400}
    assert None not in lists["ob"] and None not in lists["oa"]
    windows = [(a, b) for a, b in zip(lists["ws"], lists["we"]) if a is not None]
    assert all(b - a + 1 <= 3 for a, b in windows)  # the change day and its neighbours
    assert sum(b - a + 1 for a, b in windows) == 70 * 2 * 3


def test_unknown_zone_falls_back_to_icu():
    assert _offset_segments("Not/AZone") == ()
    assert local_to_instant_sql("Not/AZone", "l") == "timezone('Not/AZone', l)"
