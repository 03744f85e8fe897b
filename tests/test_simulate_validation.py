"""The simulation against Erlang C on Poisson streams with exponential service (M/M/c).

For each (lambda, mu, c) the closed-form mean wait and P(wait <= t) must lie inside the
simulation's 99% confidence interval over independent replications, and that interval must
be narrow enough (a few percent) for the check to mean something.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t as student_t

from rightresponse.simulate import erlang
from rightresponse.simulate.poisson_streams import mmc_waits

REPS = 16


def _ci99(values):
    v = np.asarray(values)
    h = student_t.ppf(0.995, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return v.mean() - h, v.mean() + h, h


# (arrivals per hour, minutes per call, units, calls per replication, t for P(wait <= t))
CASES = [
    (6.0, 30.0, 4, 20_000, 5.0),     # rho 0.75, a small team
    (9.0, 60.0, 10, 40_000, 10.0),   # rho 0.90
    (30.0, 10.0, 6, 40_000, 2.0),    # rho 0.83, short calls
    (45.0, 77.0, 64, 40_000, 1.0),   # rho 0.90, patrol-sized (58 erlangs)
    (1.0, 45.0, 1, 20_000, 15.0),    # rho 0.75, one unit (M/M/1)
]


@pytest.mark.slow
@pytest.mark.parametrize("lam,minutes,c,n,t_target", CASES)
def test_mean_wait_and_service_level_match_erlang_c(lam, minutes, c, n, t_target):
    a = lam * minutes / 60.0
    want_w = erlang.mean_wait(c, a, minutes)
    want_sl = erlang.service_level(c, a, t_target, minutes)
    means, sls = [], []
    for r in range(REPS):
        w, _ = mmc_waits(lam, minutes, c, n, seed=[2026, c, r])
        means.append(w.mean())
        sls.append((w <= t_target).mean())
    lo, hi, h = _ci99(means)
    assert lo <= want_w <= hi, (want_w, lo, hi)
    assert h < 0.3 * want_w  # tight enough to catch a wrong model (M/D/c waits half as long)
    lo, hi, h = _ci99(sls)
    assert lo <= want_sl <= hi, (want_sl, lo, hi)
    assert h < 0.03


@pytest.mark.slow
def test_priority_classes_match_cobham():
    """Two priority classes, non-pre-emptive: each class's mean wait matches Cobham's formula."""
    lam, minutes, c, p1 = 9.0, 60.0, 10, 0.3
    a = lam * minutes / 60.0
    want = erlang.priority_mean_waits(c, [a * p1, a * (1 - p1)], minutes)
    per_class = [[], []]
    for r in range(REPS):
        w, cls = mmc_waits(lam, minutes, c, 40_000, seed=[7, r], class_probs=(p1, 1 - p1))
        for k in (0, 1):
            per_class[k].append(w[cls == k].mean())
    for k in (0, 1):
        lo, hi, _ = _ci99(per_class[k])
        assert lo <= want[k] <= hi, (k, want[k], lo, hi)
    # And the urgent class waits far less than Erlang C's all-call average: why the two differ.
    assert np.mean(per_class[0]) < 0.5 * erlang.mean_wait(c, a, minutes)
