"""Erlang C staffing: agrees to the unit with an independent log-space implementation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightresponse.simulate import erlang
from rightresponse.simulate.erlang import staffing, staffing_dict


def _log_erlang_c(c: int, a: float) -> float:
    """Independent Erlang C: P(wait) = (a^c/c! * c/(c-a)) / (sum_{k<c} a^k/k! + a^c/c! * c/(c-a)), in log space."""
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(c)]
    top = c * math.log(a) - math.lgamma(c + 1) + math.log(c / (c - a))
    m = max(logs + [top])
    s = sum(math.exp(x - m) for x in logs) + math.exp(top - m)
    return math.exp(top - m) / s


def _independent_units(lam_per_hour: float, minutes: float, target: float, level: float) -> tuple[int, float]:
    mu = 1.0 / minutes
    a = lam_per_hour / 60.0 / mu
    c = math.floor(a) + 1
    while True:
        sl = 1.0 - _log_erlang_c(c, a) * math.exp(-(c * mu - a * mu) * target)
        if sl >= level:
            return c, sl
        c += 1


CASES = [
    (6.0, 45.0, 10.0, 0.9),       # a small crisis team
    (2.0, 30.0, 0.0, 0.8),        # target 0: P(no wait)
    (40.0, 77.5, 10.0, 0.9),      # patrol-sized load (about 52 erlangs)
    (360.0, 3.0, 0.33, 0.8),      # a call centre
    (2400.0, 30.0, 5.0, 0.95),    # 1,200 erlangs: c in the thousands, a**c/c! would overflow
    (0.5, 120.0, 60.0, 0.5),
]


@pytest.mark.parametrize("lam,minutes,target,level", CASES)
def test_staffing_agrees_with_independent_erlang_c(lam, minutes, target, level):
    want_c, want_sl = _independent_units(lam, minutes, target, level)
    got = staffing(lam, minutes, target, level)
    assert got.units == want_c
    assert got.service_level == pytest.approx(want_sl, rel=1e-9, abs=1e-12)
    assert got.utilization == pytest.approx(lam * minutes / 60.0 / want_c)
    # Minimal: one unit fewer misses the target (or is unstable).
    a = lam * minutes / 60.0
    if want_c - 1 > a:
        assert erlang.service_level(want_c - 1, a, target, minutes) < level


@settings(max_examples=200, deadline=None)
@given(c=st.integers(1, 400), rho=st.floats(0.01, 0.995))
def test_erlang_c_matches_log_space_formula(c, rho):
    a = c * rho
    assert erlang.erlang_c(c, a) == pytest.approx(_log_erlang_c(c, a), rel=1e-9, abs=1e-300)


def test_mean_wait_formula_and_unstable_queue():
    # M/M/1: Wq = rho / (mu - lam) = rho * minutes / (1 - rho)
    assert erlang.mean_wait(1, 0.5, 10.0) == pytest.approx(0.5 * 10 / 0.5)
    assert erlang.erlang_c(3, 3.0) == 1.0 and math.isinf(erlang.mean_wait(3, 3.0, 5.0))
    assert erlang.service_level(3, 3.5, 10, 5) == 0.0


def test_rule_of_60_sizes_by_utilization():
    s = staffing(12.0, 60.0, max_utilization=0.6)  # 12 erlangs / 0.6 = 20 units exactly
    assert s.units == 20 and s.utilization == pytest.approx(0.6)
    s2 = staffing(12.0, 60.0, 10.0, 0.5, max_utilization=0.6)  # the stricter target wins
    assert s2.units == max(20, _independent_units(12.0, 60.0, 10.0, 0.5)[0])


def test_cli_contract_keys_and_values():
    d = staffing_dict(arrivals_per_hour=6, minutes_per_call=45, target_minutes=10, service_level_target=0.9)
    assert list(d) == ["units", "service_level", "utilization", "mean_wait_minutes"]
    c, sl = _independent_units(6, 45, 10, 0.9)
    assert d["units"] == c and d["service_level"] == pytest.approx(sl)
    a = 6 * 45 / 60
    assert d["mean_wait_minutes"] == pytest.approx(_log_erlang_c(c, a) * 45 / (c - a))


def test_priority_waits_reduce_to_erlang_c_for_one_class():
    w = erlang.priority_mean_waits(5, [3.5], 20.0)
    assert w[0] == pytest.approx(erlang.mean_wait(5, 3.5, 20.0))
    w2 = erlang.priority_mean_waits(5, [1.0, 2.5], 20.0)
    # Conservation: the load-weighted class waits equal the all-call wait (same service rate).
    assert (1.0 * w2[0] + 2.5 * w2[1]) / 3.5 == pytest.approx(erlang.mean_wait(5, 3.5, 20.0))
    assert w2[0] < erlang.mean_wait(5, 3.5, 20.0) < w2[1]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        staffing(-1, 10)
    with pytest.raises(ValueError):
        staffing(1, 0)
    with pytest.raises(ValueError):
        staffing(1, 10, 5, 1.0)
