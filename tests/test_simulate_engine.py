"""The event core on cases small enough to work out by hand, and against SimPy on a bigger one."""

from __future__ import annotations

import numpy as np
import pytest

from rightresponse.simulate.discrete_event import Jobs, PoolRuntime, Simulation, busy_by_slot, minutes_by_slot


def jobs(t, work, pool=None, cls=None, travel=None, fb_work=None, fb_cls=None, u_backup=None, b_work=None):
    n = len(t)
    z = np.zeros(n)
    arr = lambda v, d, dt=float: np.asarray(v if v is not None else d, dtype=dt)  # noqa: E731
    return Jobs(t=arr(t, z), pool=arr(pool, np.zeros(n), np.int16), cls=arr(cls, np.zeros(n), np.int16),
                travel=arr(travel, z), work=arr(work, z), fb_travel=z, fb_work=arr(fb_work, z),
                fb_cls=arr(fb_cls, np.zeros(n), np.int16), u_backup=arr(u_backup, np.ones(n)), backup_travel=z,
                backup_work=arr(b_work, z))


def run(pools, j, slots=48):
    return Simulation(pools, j, np.arange(slots) % 168).run()


def test_fifo_single_unit():
    out = run([PoolRuntime("p", np.full(168, 1), 1)], jobs([0, 1, 2], [10, 5, 1]))
    assert out.start.tolist() == [0, 10, 15]
    assert out.end.tolist() == [10, 15, 16]


def test_priority_order_is_non_preemptive_by_default():
    # Unit busy until 10; a routine call (class 1) arrives at 1, an urgent one (class 0) at 2.
    out = run([PoolRuntime("p", np.full(168, 1), 2)], jobs([0, 1, 2], [10, 5, 5], cls=[1, 1, 0]))
    assert out.start.tolist() == [0, 15, 10]
    assert out.preempted.tolist() == [0, 0, 0]


def test_preemption_interrupts_and_resumes():
    pool = PoolRuntime("p", np.full(168, 1), 2, preemptible=frozenset({1}))
    out = run([pool], jobs([0, 4], [10, 3], cls=[1, 0]))
    # The urgent job takes the unit at 4 and clears at 7; the routine job resumes its remaining 6 minutes.
    assert out.start.tolist() == [0, 4]
    assert out.end.tolist() == [13, 7]
    assert out.busy.tolist() == [10, 3]
    assert out.preempted.tolist() == [1, 0]


def test_fallback_after_waiting_and_immediately():
    police = PoolRuntime("police", np.full(168, 5), 1)
    team_wait = PoolRuntime("team", np.full(168, 1), 1, fallback=0, fallback_after=5.0)
    j = jobs([0, 1, 2], [30, 20, 20], pool=[1, 1, 1], fb_work=[99, 40, 50])
    out = run([police, team_wait], j)
    # Job 0 gets the team; jobs 1 and 2 wait 5 minutes and then go to police with police times.
    assert out.served_pool.tolist() == [1, 0, 0]
    assert out.fell_back.tolist() == [False, True, True]
    assert out.start.tolist() == [0, 6, 7]
    assert out.end.tolist() == [30, 46, 57]
    team_now = PoolRuntime("team", np.full(168, 1), 1, fallback=0, fallback_after=0.0)
    out = run([police, team_now], j)
    assert out.start.tolist() == [0, 1, 2] and out.served_pool.tolist() == [1, 0, 0]


def test_follow_up_never_falls_back():
    police = PoolRuntime("police", np.full(168, 5), 1)
    team = PoolRuntime("team", np.full(168, 1), 1, fallback=0, fallback_after=0.0)
    out = run([police, team], jobs([0, 1], [30, 20], pool=[1, 1], fb_cls=[0, -1]))
    assert out.served_pool.tolist() == [1, 1] and out.start.tolist() == [0, 30]


def test_shifts_units_finish_their_call_and_queues_wait_for_the_next_shift():
    roster = np.zeros(168, int)
    roster[1] = 1  # one unit on shift 01:00-02:00 only, every Monday
    out = run([PoolRuntime("p", roster, 1)], jobs([10, 70, 80], [80, 5, 5]), slots=200)
    # Job 0 waits for 01:00 (60); its unit works past the shift end until 140; jobs 1 and 2 then wait a week.
    assert out.start.tolist()[0] == 60 and out.end.tolist()[0] == 140
    assert out.start.tolist()[1:] == [168 * 60 + 60, 168 * 60 + 65]
    assert out.on_shift[0, :3].tolist() == [0, 1, 0]


def test_backup_request_creates_a_police_job():
    police = PoolRuntime("police", np.full(168, 2), 1)
    team = PoolRuntime("team", np.full(168, 1), 1, backup_probability=0.5, backup_pool=0, backup_class=0)
    j = jobs([0, 10], [30, 30], pool=[1, 1], travel=[8, 8], u_backup=[0.2, 0.9], b_work=[25, 25])
    out = run([police, team], j)
    assert len(out.t) == 3  # one backup, for the job whose draw fell under 0.5
    assert out.parent.tolist() == [-1, -1, 0]
    assert out.t[2] == 8 and out.served_pool[2] == 0 and out.end[2] == 8 + 25


def test_busy_by_slot_matches_brute_force():
    rng = np.random.default_rng(3)
    s = rng.uniform(0, 600, 300)
    e = s + rng.exponential(70, 300)
    p = rng.integers(0, 2, 300)
    got = minutes_by_slot(p, s, e, 2, 12)
    want = np.zeros((2, 12))
    for pi, a, b in zip(p, s, e):
        for h in range(12):
            want[pi, h] += max(0.0, min(b, (h + 1) * 60) - max(a, h * 60))
    assert np.allclose(got, want)
    out = run([PoolRuntime("p", np.full(168, 1), 1)], jobs([0, 1], [90, 45]), slots=4)
    assert busy_by_slot(out, 1, 4).tolist() == [[60, 60, 15, 0]]


def test_same_answers_as_a_simpy_model():
    """A SimPy process-per-call model (priority resource, constant units) gives identical start times."""
    simpy = pytest.importorskip("simpy")
    rng = np.random.default_rng(11)
    n, c = 3000, 4
    t = np.cumsum(rng.exponential(60 / 5.0, n))
    work = rng.exponential(42.0, n)
    cls = rng.integers(0, 3, n)
    out = run([PoolRuntime("p", np.full(168, c), 3)], jobs(t, work, cls=cls), slots=int(t[-1] // 60) + 2)

    env = simpy.Environment()
    units = simpy.PriorityResource(env, capacity=c)
    start = np.zeros(n)

    def call(i):
        yield env.timeout(t[i])
        with units.request(priority=int(cls[i])) as req:
            yield req
            start[i] = env.now
            yield env.timeout(work[i])

    for i in range(n):
        env.process(call(i))
    env.run()
    assert np.allclose(out.start, start, rtol=0, atol=1e-9)
