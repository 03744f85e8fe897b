"""The discrete-event core: calls arrive, wait in priority order for a unit of their pool, are served.

Why not SimPy: the model is the one a SimPy user would write (resources = pools of units
with a shift roster; one process per call: request a unit, travel, work, release), but
SimPy spends most of its time creating event objects and resuming generators, one per
call. Here the same process is written as three event handlers over one calendar
(``heapq`` of ``(time, seq, kind, job, token)``), with the arrivals read in order from a
sorted array instead of the calendar. benchmarks/simulate.py runs both on the same calls:
this core is an order of magnitude faster, which is what lets a city-year of a million
calls run in seconds and replications give confidence intervals.

The model, in words:

* A **job** is a call for one pool: a historical call, a co-response (an advocate who
  follows up) or a police backup request. It carries a priority class (0 = most urgent),
  the pool it asks for, and how long a unit of that pool (and of its fallback pool) is busy
  with it: travel, then work on scene.
* A **pool** has units on shift by hour of week. A job takes a free unit at once;
  otherwise it waits in its class's FIFO queue, a more urgent job may pre-empt a unit
  serving a pre-emptible class (the interrupted job goes back to the head of its queue and
  later resumes its remaining work), or, if the pool falls back, the job moves to the
  fallback pool's queue at once or after ``after`` minutes of waiting.
* A unit whose shift ends finishes its job first (no new job starts while more units are
  busy than are on shift).
* When a civilian team's unit reaches the scene, it asks for police backup with the
  pool's probability: a new job for the backup pool, at the backup priority.

Times are minutes from the start of the horizon; slot ``k`` is hour ``k`` of the horizon.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from heapq import heappop, heappush

import numpy as np

END, SHIFT, RENEGE, ARRIVE = 0, 1, 2, 3
NEW, WAITING, SERVING, DONE, MOVED = 0, 1, 2, 3, 4
INF = math.inf


@dataclass
class PoolRuntime:
    """What the engine needs to know about one pool."""

    name: str
    roster: np.ndarray  # units on shift for each hour of the week (168)
    n_classes: int
    fallback: int = -1  # pool index, -1 = none (wait)
    fallback_after: float = 0.0  # minutes of waiting before moving to the fallback
    preemptible: frozenset = frozenset()  # classes whose service may be interrupted
    backup_probability: float = 0.0
    backup_pool: int = -1
    backup_class: int = 0


@dataclass
class Jobs:
    """The calls of one replication, sorted by arrival (minutes from the horizon start)."""

    t: np.ndarray
    pool: np.ndarray  # pool index of the first pool asked
    cls: np.ndarray  # priority class in that pool (0 = most urgent)
    travel: np.ndarray  # minutes, for a unit of that pool
    work: np.ndarray  # minutes on scene, for a unit of that pool
    fb_travel: np.ndarray  # the same, should the job fall back to the fallback pool
    fb_work: np.ndarray
    fb_cls: np.ndarray  # priority class in the fallback pool; -1 = never falls back
    u_backup: np.ndarray  # uniform draw deciding whether the team asks for backup
    backup_travel: np.ndarray
    backup_work: np.ndarray


@dataclass
class Outcome:
    """One replication: per job what happened, plus the busy segments of every unit."""

    n_calls: int  # jobs 0..n_calls-1 are the input jobs, later ones are backups
    first_pool: np.ndarray
    served_pool: np.ndarray  # -1 = never served before the run stopped
    cls: np.ndarray
    t: np.ndarray  # arrival
    start: np.ndarray  # first unit assigned
    end: np.ndarray
    travel: np.ndarray  # travel of the unit that served it
    busy: np.ndarray  # total unit-minutes spent on it
    fell_back: np.ndarray
    preempted: np.ndarray
    parent: np.ndarray  # backups: the job that asked for them; -1 otherwise
    seg_pool: np.ndarray
    seg_start: np.ndarray
    seg_end: np.ndarray
    events: int
    end_time: float
    on_shift: np.ndarray = field(default_factory=lambda: np.zeros(0))  # pools x slots


class Simulation:
    """One replication of the pools serving the jobs; ``run()`` returns an Outcome."""

    def __init__(self, pools: list[PoolRuntime], jobs: Jobs, slot_how: np.ndarray, max_minutes: float | None = None):
        self.pools = pools
        self.slot_how = np.asarray(slot_how, dtype=np.int64)
        n = len(jobs.t)
        self.n = n
        # Job state as plain lists: scalar access to lists is several times faster than to numpy arrays.
        self.t = jobs.t.tolist()
        self.pool = jobs.pool.tolist()
        self.first_pool = list(self.pool)
        self.cls = jobs.cls.tolist()
        self.travel = jobs.travel.tolist()
        self.remaining = (jobs.travel + jobs.work).tolist()
        self.fb_travel = jobs.fb_travel.tolist()
        self.fb_busy = (jobs.fb_travel + jobs.fb_work).tolist()
        self.fb_cls = jobs.fb_cls.tolist()
        self.u_backup = jobs.u_backup.tolist()
        self.backup_travel = jobs.backup_travel.tolist()
        self.backup_busy = (jobs.backup_travel + jobs.backup_work).tolist()
        self.start = [INF] * n
        self.end = [INF] * n
        self.busy = [0.0] * n
        self.seg_from = [0.0] * n
        self.due = [0.0] * n
        self.state = [NEW] * n
        self.token = [0] * n
        self.served = [-1] * n
        self.fell_back = [False] * n
        self.preempted = [0] * n
        self.parent = [-1] * n
        self.segs_p: list[int] = []  # busy segments cut short by pre-emption (the last one is per job)
        self.segs_s: list[float] = []
        self.segs_e: list[float] = []
        # Pool state.
        k = len(pools)
        self.units = [0] * k  # on shift now
        self.in_use = [0] * k  # busy units
        self.queues = [[deque() for _ in range(p.n_classes)] for p in pools]
        self.waiting = [0] * k
        self.serving = [dict() for _ in pools]  # job -> class, only for pools with pre-emption
        self.preempts = [bool(p.preemptible) for p in pools]
        self.backup_p = [p.backup_probability for p in pools]
        self.calendar: list = []
        self.seq = 0
        self.open = 0  # jobs arrived and not yet done
        self.events = 0
        self.max_minutes = max_minutes if max_minutes is not None else (float(jobs.t[-1]) if n else 0.0) + 8 * 7 * 1440
        self.slot_how_list = self.slot_how.tolist()
        self.rosters = [np.asarray(p.roster, np.int64).tolist() for p in pools]
        self.on_shift_log: list[list[int]] = []

    # ------------------------------------------------------------------ calendar

    def schedule(self, when: float, kind: int, job: int, token: int = 0) -> None:
        self.seq += 1
        heappush(self.calendar, (when, self.seq, kind, job, token))

    def how(self, slot: int) -> int:
        s = self.slot_how_list
        return s[slot] if slot < len(s) else (s[-1] + slot - len(s) + 1) % 168

    # ------------------------------------------------------------------ processes

    def arrive(self, j: int, now: float) -> None:
        """A job asks its pool for a unit."""
        self.open += 1
        self.request(j, now)

    def request(self, j: int, now: float) -> None:
        p = self.pool[j]
        if self.in_use[p] < self.units[p]:
            self.begin(j, p, now)
            return
        spec = self.pools[p]
        if self.preempts[p] and self.preempt(j, p, now):
            return
        can_fall = spec.fallback >= 0 and self.fb_cls[j] >= 0  # fb_cls -1: this job waits (a follow-up)
        if can_fall and spec.fallback_after <= 0:
            self.move_to_fallback(j, now)
            return
        self.state[j] = WAITING
        self.queues[p][self.cls[j]].append(j)
        self.waiting[p] += 1
        if can_fall:
            self.schedule(now + spec.fallback_after, RENEGE, j, self.token[j])

    def begin(self, j: int, p: int, now: float) -> None:
        """A unit of pool ``p`` takes job ``j``: it travels, works, and frees itself at ``due``."""
        self.in_use[p] += 1
        self.state[j] = SERVING
        self.served[j] = p
        if self.start[j] == INF:
            self.start[j] = now
            if self.backup_p[p] and self.u_backup[j] < self.backup_p[p] and j < self.n:
                self.ask_backup(j, self.pools[p], now + self.travel[j])
        self.seg_from[j] = now
        due = self.due[j] = now + self.remaining[j]
        if self.preempts[p]:
            self.serving[p][j] = self.cls[j]
        tok = self.token[j] = self.token[j] + 1
        self.seq += 1
        heappush(self.calendar, (due, self.seq, END, j, tok))

    def finish(self, j: int, now: float) -> None:
        """The unit clears job ``j`` and takes the most urgent waiting job, if its shift goes on."""
        p = self.served[j]
        self.in_use[p] -= 1
        self.state[j] = DONE
        self.end[j] = now  # the job's last busy segment is [seg_from, end)
        self.busy[j] += now - self.seg_from[j]
        if self.preempts[p]:
            del self.serving[p][j]
        self.open -= 1
        if self.waiting[p]:
            self.next_jobs(p, now)

    def next_jobs(self, p: int, now: float) -> None:
        queues = self.queues[p]
        state = self.state
        while self.waiting[p] and self.in_use[p] < self.units[p]:
            for q in queues:
                while q and (state[q[0]] != WAITING or self.pool[q[0]] != p):
                    q.popleft()  # left for the fallback pool while waiting
                if q:
                    j = q.popleft()
                    self.waiting[p] -= 1
                    self.begin(j, p, now)
                    break
            else:  # pragma: no cover - waiting count and queues disagree
                raise AssertionError("waiting count out of step with the queues")

    def preempt(self, j: int, p: int, now: float) -> bool:
        """Interrupt the least urgent pre-emptible job less urgent than ``j``; True if one was."""
        c = self.cls[j]
        pre = self.pools[p].preemptible
        victim, vcls, vstart = -1, c, -INF
        for v, vc in self.serving[p].items():
            if vc > c and vc in pre and (vc > vcls or (vc == vcls and self.seg_from[v] > vstart)):
                victim, vcls, vstart = v, vc, self.seg_from[v]
        if victim < 0:
            return False
        v = victim
        self.token[v] += 1  # its END event is now stale
        self.remaining[v] = self.due[v] - now
        self.busy[v] += now - self.seg_from[v]
        self.segs_p.append(p)
        self.segs_s.append(self.seg_from[v])
        self.segs_e.append(now)
        del self.serving[p][v]
        self.in_use[p] -= 1
        self.preempted[v] += 1
        self.state[v] = WAITING
        self.queues[p][vcls].appendleft(v)
        self.waiting[p] += 1
        self.begin(j, p, now)
        return True

    def move_to_fallback(self, j: int, now: float) -> None:
        """The team cannot take the job (busy, off shift, or waited too long): its fallback pool does."""
        p = self.pool[j]
        fb = self.pools[p].fallback
        self.fell_back[j] = True
        self.state[j] = MOVED
        self.pool[j] = fb
        self.travel[j] = self.fb_travel[j]
        self.remaining[j] = self.fb_busy[j]
        self.cls[j] = self.fb_cls[j]
        self.token[j] += 1
        self.request(j, now)

    def renege(self, j: int, now: float) -> None:
        self.waiting[self.pool[j]] -= 1
        self.move_to_fallback(j, now)  # the stale queue entry is skipped later

    def ask_backup(self, j: int, spec: PoolRuntime, when: float) -> None:
        b = len(self.t)
        self.t.append(when)
        self.pool.append(spec.backup_pool)
        self.first_pool.append(spec.backup_pool)
        self.cls.append(spec.backup_class)
        self.travel.append(self.backup_travel[j])
        self.remaining.append(self.backup_busy[j])
        for lst, v in ((self.fb_travel, 0.0), (self.fb_busy, 0.0), (self.fb_cls, 0), (self.u_backup, 1.0),
                       (self.backup_travel, 0.0), (self.backup_busy, 0.0), (self.start, INF), (self.end, INF),
                       (self.busy, 0.0), (self.seg_from, 0.0), (self.due, 0.0), (self.state, NEW), (self.token, 0),
                       (self.served, -1), (self.fell_back, False), (self.preempted, 0), (self.parent, j)):
            lst.append(v)
        self.schedule(when, ARRIVE, b)

    def shift(self, slot: int, now: float) -> None:
        """Hour ``slot`` begins: set each pool's units on shift; new units take waiting jobs."""
        how = self.how(slot)
        units = self.units
        for p, roster in enumerate(self.rosters):
            units[p] = roster[how]
            if self.waiting[p]:
                self.next_jobs(p, now)
        if slot < len(self.slot_how_list):
            self.on_shift_log.append(list(units))

    # ------------------------------------------------------------------ main loop

    def run(self) -> Outcome:
        self.shift(0, 0.0)
        self.schedule(60.0, SHIFT, 1)
        cal, t_arr, n = self.calendar, self.t, self.n
        token, state = self.token, self.state
        i, events = 0, 0
        next_arrival = t_arr[0] if n else INF
        while True:
            if cal and cal[0][0] <= next_arrival:  # at a tie, units are released before new calls take them
                now, _, kind, x, tok = heappop(cal)
                events += 1
                if kind == END:
                    if tok == token[x]:
                        self.finish(x, now)
                elif kind == SHIFT:
                    self.shift(x, now)
                    if (i < n or self.open) and now < self.max_minutes:
                        self.schedule(now + 60.0, SHIFT, x + 1)
                elif kind == RENEGE:
                    if tok == token[x] and state[x] == WAITING:
                        self.renege(x, now)
                else:  # ARRIVE (a backup request)
                    self.arrive(x, now)
            elif i < n:
                events += 1
                self.open += 1
                self.request(i, next_arrival)
                i += 1
                next_arrival = t_arr[i] if i < n else INF
            else:
                break
        self.events = events
        f = np.asarray
        log = np.asarray(self.on_shift_log, np.int32).reshape(-1, len(self.pools)).T
        on_shift = np.zeros((len(self.pools), len(self.slot_how_list)), np.int32)
        on_shift[:, : log.shape[1]] = log
        ends = [e for e in self.end if e != INF]
        end, served = f(self.end), f(self.served, np.int16)
        done = np.isfinite(end)
        seg_pool = np.concatenate([served[done], f(self.segs_p, np.int16)])
        seg_start = np.concatenate([f(self.seg_from)[done], f(self.segs_s)])
        seg_end = np.concatenate([end[done], f(self.segs_e)])
        return Outcome(
            n_calls=n, first_pool=f(self.first_pool, np.int16), served_pool=f(self.served, np.int16),
            cls=f(self.cls, np.int16), t=f(self.t), start=f(self.start), end=f(self.end), travel=f(self.travel),
            busy=f(self.busy), fell_back=f(self.fell_back, bool), preempted=f(self.preempted, np.int32),
            parent=f(self.parent, np.int64), seg_pool=seg_pool, seg_start=seg_start, seg_end=seg_end, events=events, end_time=max(ends) if ends else 0.0, on_shift=on_shift)


def busy_by_slot(out: Outcome, n_pools: int, n_slots: int) -> np.ndarray:
    """Unit-minutes busy in each hour slot, per pool (pools x slots), from the busy segments."""
    return minutes_by_slot(out.seg_pool, out.seg_start, out.seg_end, n_pools, n_slots)


def minutes_by_slot(pool, start, end, n_pools: int, n_slots: int) -> np.ndarray:
    """Minutes of the intervals [start, end) falling in each hour slot, per pool (pools x slots)."""
    res = np.zeros((n_pools, n_slots + 1))
    if not len(pool):
        return res[:, :n_slots]
    s, e, p = np.asarray(start, float), np.asarray(end, float), np.asarray(pool).astype(np.int64)
    limit = n_slots * 60.0
    s = np.minimum(s, limit)
    e = np.minimum(e, limit)
    hs = np.minimum((s // 60).astype(np.int64), n_slots)
    he = np.minimum((e // 60).astype(np.int64), n_slots)
    same = hs == he
    # Segments inside one hour.
    np.add.at(res, (p[same], hs[same]), e[same] - s[same])
    d = ~same
    if d.any():
        p2, s2, e2, hs2, he2 = p[d], s[d], e[d], hs[d], he[d]
        np.add.at(res, (p2, hs2), (hs2 + 1) * 60.0 - s2)  # first, partial hour
        np.add.at(res, (p2, he2), e2 - he2 * 60.0)  # last, partial hour
        full = np.zeros((n_pools, n_slots + 2))  # whole hours in between, as a difference array
        np.add.at(full, (p2, hs2 + 1), 60.0)
        np.add.at(full, (p2, he2), -60.0)
        res += np.cumsum(full, axis=1)[:, : n_slots + 1]
    return res[:, :n_slots]
