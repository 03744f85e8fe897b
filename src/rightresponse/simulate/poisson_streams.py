"""Synthetic Poisson streams with exponential service: where Erlang C is exact.

The simulation is validated on these (tests/test_simulate_validation.py): on an M/M/c
stream its mean wait and P(wait <= t) must agree with the closed form.
"""

from __future__ import annotations

import numpy as np

from .discrete_event import Jobs, PoolRuntime, Simulation


def poisson_jobs(lam_per_hour: float, minutes: float, n: int, rng: np.random.Generator,
                 class_probs=(1.0,)) -> Jobs:
    """``n`` Poisson arrivals (per hour) with exponential service (mean ``minutes``) for pool 0."""
    t = np.cumsum(rng.exponential(60.0 / lam_per_hour, n))
    z = np.zeros(n)
    cls = rng.choice(len(class_probs), size=n, p=np.asarray(class_probs) / np.sum(class_probs)).astype(np.int16)
    return Jobs(t=t, pool=np.zeros(n, np.int16), cls=cls, travel=z, work=rng.exponential(minutes, n), fb_travel=z,
                fb_work=z, fb_cls=np.zeros(n, np.int16), u_backup=np.ones(n), backup_travel=z, backup_work=z)


def mmc_waits(lam_per_hour: float, minutes: float, c: int, n: int, seed, warmup_share: float = 0.1,
              class_probs=(1.0,)):
    """Queue waits (minutes) and classes of one M/M/c replication, the first ``warmup_share`` dropped."""
    rng = np.random.default_rng(seed)
    jobs = poisson_jobs(lam_per_hour, minutes, n, rng, class_probs)
    slots = int(jobs.t[-1] // 60) + 2
    pool = PoolRuntime("mmc", np.full(168, c), len(class_probs))
    out = Simulation([pool], jobs, np.arange(slots) % 168).run()
    k = int(n * warmup_share)
    return (out.start - out.t)[k:n], out.cls[k:n]
