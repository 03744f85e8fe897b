"""Erlang C (M/M/c): the closed-form staffing answer the simulation is checked against.

Why not a library: the PyPI candidates either pull in a solver stack for scheduling
(pyworkforce needs OR-Tools) or compute ``a**c / c!`` directly, which overflows for the
hundreds of units a large city fields. The Erlang B recurrence used here,
``B(k) = a*B(k-1) / (k + a*B(k-1))``, stays in [0, 1] for every ``c`` and ``a``, so it
needs no log-space tricks and is exact to rounding; tests check it against an
independent log-space formula.

Conventions: ``lam`` is arrivals per hour, ``minutes`` the mean time a unit is busy with
one call (travel + on scene), ``a = lam * minutes / 60`` the offered load in erlangs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c with offered load ``a`` erlangs (stable recurrence)."""
    if c < 0 or a < 0:
        raise ValueError("servers and load must be non-negative")
    b = 1.0
    for k in range(1, int(c) + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Probability that a call waits (all ``c`` units busy) in M/M/c; 1.0 when ``c <= a``."""
    if a <= 0:
        return 0.0
    if c <= a:
        return 1.0
    b = erlang_b(c, a)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def service_level(c: int, a: float, target_minutes: float, minutes: float) -> float:
    """P(wait <= T) = 1 - C(c, a) * exp(-(c*mu - lam) * T); 0.0 when the queue is unstable."""
    if a <= 0:
        return 1.0
    if c <= a:
        return 0.0
    mu = 1.0 / minutes  # per minute
    lam = a * mu
    return max(0.0, 1.0 - erlang_c(c, a) * math.exp(-(c * mu - lam) * target_minutes))


def mean_wait(c: int, a: float, minutes: float) -> float:
    """Mean queue wait in minutes, C(c, a) / (c*mu - lam); infinite when unstable."""
    if a <= 0:
        return 0.0
    if c <= a:
        return math.inf
    return erlang_c(c, a) * minutes / (c - a)


def priority_mean_waits(c: int, loads: list[float], minutes: float) -> list[float]:
    """Mean wait of each priority class (most urgent first) in M/M/c with non-pre-emptive priorities.

    Cobham's formula with a common service rate: W_k = C(c, a) / (c*mu) / ((1 - s_{k-1})(1 - s_k)),
    s_k = the utilisation of classes 1..k. Urgent calls wait far less than Erlang C's all-call average,
    which is one reason the simulation (which serves by priority) and plain Erlang C differ.
    """
    a = sum(loads)
    if c <= a:
        return [math.inf] * len(loads)
    w0 = erlang_c(c, a) * minutes / c
    out, s_prev = [], 0.0
    for load in loads:
        s = s_prev + load / c
        out.append(w0 / ((1.0 - s_prev) * (1.0 - s)) if s < 1.0 else math.inf)
        s_prev = s
    return out


@dataclass(frozen=True)
class Staffing:
    units: int
    service_level: float
    utilization: float
    mean_wait_minutes: float
    probability_wait: float
    offered_load: float

    def to_dict(self) -> dict:
        """The `rightresponse staffing --json` contract (plus two extra keys)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def staffing(arrivals_per_hour: float, minutes_per_call: float, target_minutes: float = 0.0,
             service_level_target: float | None = None, max_utilization: float | None = None,
             min_units: int = 0) -> Staffing:
    """The smallest number of units meeting every target given (M/M/c).

    ``service_level_target``: P(wait <= target_minutes) must be at least this (e.g. 0.9);
    ``max_utilization``: offered load / units must not exceed this (ICMA's "rule of 60": 0.6).
    With neither, the smallest stable team (units > offered load). A stable team is always required.
    """
    if arrivals_per_hour < 0 or minutes_per_call <= 0 or target_minutes < 0:
        raise ValueError("arrivals must be >= 0, minutes per call > 0 and target minutes >= 0")
    if service_level_target is not None and not 0 <= service_level_target < 1:
        raise ValueError("service level must be in [0, 1)")
    if max_utilization is not None and not 0 < max_utilization <= 1:
        raise ValueError("max utilization must be in (0, 1]")
    a = arrivals_per_hour * minutes_per_call / 60.0
    c = max(int(min_units), 0)
    if a > 0:
        c = max(c, math.floor(a) + 1)
        if max_utilization is not None:
            c = max(c, math.ceil(a / max_utilization - 1e-12))
        if service_level_target is not None:
            while service_level(c, a, target_minutes, minutes_per_call) < service_level_target:
                c += 1
    return describe(c, a, minutes_per_call, target_minutes)


def describe(c: int, a: float, minutes: float, target_minutes: float = 0.0) -> Staffing:
    """Erlang C figures for ``c`` units at offered load ``a``."""
    if c <= 0:
        return Staffing(c, 1.0 if a <= 0 else 0.0, 0.0 if a <= 0 else math.inf, 0.0 if a <= 0 else math.inf,
                        0.0 if a <= 0 else 1.0, a)
    return Staffing(int(c), service_level(c, a, target_minutes, minutes), a / c, mean_wait(c, a, minutes),
                    erlang_c(c, a), a)


def staffing_dict(arrivals_per_hour: float, minutes_per_call: float, target_minutes: float,
                  service_level_target: float) -> dict:
    """`rightresponse staffing ... --json`: {"units", "service_level", "utilization", "mean_wait_minutes"}."""
    s = staffing(arrivals_per_hour, minutes_per_call, target_minutes, service_level_target)
    d = s.to_dict()
    return {k: d[k] for k in ("units", "service_level", "utilization", "mean_wait_minutes")}
