"""Run a scenario: replications of the simulation, confidence intervals, Erlang C beside it.

Every figure is computed once per replication and reported as the mean over replications
with a Student-t confidence interval (the scenario's ``confidence``, 95% by default). In
replay mode the calls are the same in every replication, so only the stated random parts
(sampled service times, backup requests, borrowed times of calls with unusable times) vary.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import erlang
from .discrete_event import Outcome, PoolRuntime, Simulation, busy_by_slot, minutes_by_slot
from .scenario import Scenario, load_scenario
from .stream import History, Stream, build_stream, class_maps, load_history, rank_to_class

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def ci(values, confidence: float) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval over replications; a point when there is one replication."""
    v = np.asarray([x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))], float)
    if len(v) == 0:
        return (math.nan, math.nan, math.nan)
    m = float(v.mean())
    if len(v) == 1:
        return (m, m, m)
    from scipy.stats import t as student_t

    h = float(student_t.ppf(0.5 + confidence / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    lo = max(m - h, 0.0) if v.min() >= 0 else m - h  # a count or a share is never negative
    return (m, lo, m + h)


@dataclass
class SimulationResult:
    """What `rightresponse simulate` prints; every table has mean, low and high over replications."""

    scenario: Scenario
    replications: int
    seed: int
    confidence: float
    weeks: float  # length of the measured horizon (after warm-up), in weeks
    totals: pd.DataFrame  # metric, mean, low, high
    pools: pd.DataFrame  # pool, metric, mean, low, high
    priorities: pd.DataFrame  # pool, priority, metric, mean, low, high
    utilization: pd.DataFrame  # pool, how, day, hour, mean, low, high (hour of week)
    staffing: pd.DataFrame  # pool x hour of week: arrivals, minutes per call, units on shift, Erlang C figures
    analytic: pd.DataFrame  # pool: Erlang C prediction beside the simulation, with the reasons they differ
    per_replication: pd.DataFrame
    coverage: dict
    timing: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def total(self, metric: str) -> tuple[float, float, float]:
        """Exact (mean, low, high) of a total, for analysis; what is printed goes through publish()."""
        r = self.totals.set_index("metric").loc[metric]
        return float(r["mean"]), float(r["low"]), float(r["high"])

    def pool(self, pool: str, metric: str) -> tuple[float, float, float]:
        r = self.pools.set_index(["pool", "metric"]).loc[(pool, metric)]
        return float(r["mean"]), float(r["low"]), float(r["high"])

    def wide(self) -> pd.DataFrame:
        """One row per pool, one column per metric (means)."""
        return self.pools.pivot(index="pool", columns="metric", values="mean").reindex(list(self.scenario.pools))

    def publish(self, min_cell: int = 10) -> dict:
        """``totals``, ``pools`` and ``priorities`` as published (rightresponse.report.disclosure):
        values frames with withheld figures missing; ``{name}_disclosed`` keep how each reads."""
        key = int(min_cell)
        cache = self.__dict__.setdefault("_published", {})
        if key not in cache:
            from ..report.disclosure import publish_simulation
            from .metrics import POOL_COUNTS, TOTAL_COUNTS

            d = publish_simulation(self.totals, self.pools, self.priorities, self.scenario.pool_for("police"),
                                   POOL_COUNTS, TOTAL_COUNTS, key)
            from .metrics import denoise

            shown = {}
            for k, v in d.items():
                f = v.values.astype({"mean": "float64", "low": "float64", "high": "float64"})
                for c in ("mean", "low", "high"):
                    f[c] = f[c].map(denoise)
                shown[k] = f
            cache[key] = {**shown, **{f"{k}_disclosed": v for k, v in d.items()}, "min_cell": key}
        return cache[key]

    def metrics(self, min_cell: int = 10) -> pd.DataFrame:
        """Every figure this result reports, as `scenario compare` lists it (rightresponse.simulate.metrics)."""
        from .metrics import metric_table

        return metric_table(self, min_cell)

    def to_dict(self, min_cell: int = 10) -> dict:
        """The `rightresponse simulate --json` contract: published figures (a withheld one is null)."""
        def recs(df):
            return json_safe(df.to_dict(orient="records"))

        pub = self.publish(min_cell)
        util = pub["pools"][pub["pools"]["metric"] == "utilization"]
        shown = set(util.loc[util["mean"].notna(), "pool"])  # a team's hours withheld with its calls
        return json_safe({
            "scenario": self.scenario.id, "title": self.scenario.title, "path": self.scenario.path,
            "policy": self.scenario.policy, "view": self.scenario.view, "mode": self.scenario.mode,
            "replications": self.replications, "seed": self.seed, "confidence": self.confidence,
            "min_cell": int(min_cell),
            "weeks": self.weeks, "totals": {r.metric: {"mean": r.mean, "low": r.low, "high": r.high}
                                            for r in pub["totals"].itertuples()},
            "metrics": recs(self.metrics(min_cell)),
            "pools": recs(pub["pools"]), "priorities": recs(pub["priorities"]),
            "utilization_by_hour": recs(self.utilization[self.utilization["pool"].isin(shown)]),
            "analytic": recs(self.analytic), "coverage": self.coverage, "assumptions": self.scenario.assumptions(),
            "warnings": list(self.warnings), "timing": self.timing,
        })

    def summary_text(self, min_cell: int = 10) -> str:
        from .metrics import summary_lines

        return "\n".join(summary_lines(self, min_cell))

    def html(self, heading: str | None = None, level: int = 2, min_cell: int = 10) -> str:
        from ..report.scenarios import simulation_html

        return simulation_html(self, heading=heading, level=level, min_cell=min_cell)


def json_safe(x):
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        f = float(x)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(x, np.bool_):
        return bool(x)
    return x


# ---------------------------------------------------------------------------- setup

def _runtime_pools(scn: Scenario, classes: dict, rosters: dict) -> list[PoolRuntime]:
    ids = list(scn.pools)
    out = []
    for pid, p in scn.pools.items():
        m, k, _ = classes[pid]
        pre = frozenset(int(c) for r in p.preemptible for c in [m.get(r, k - 1)])
        rt = PoolRuntime(p.name, np.asarray(rosters[pid], np.int64), k,
                         fallback=ids.index(p.fallback) if p.fallback else -1, fallback_after=p.fallback_after,
                         preemptible=pre)
        if p.backup is not None and p.backup.probability > 0:
            bm, bk, _ = classes[p.backup.pool]
            rt.backup_probability = p.backup.probability
            rt.backup_pool = ids.index(p.backup.pool)
            rt.backup_class = int(rank_to_class(np.array([float(p.backup.priority or 1)]), bm, bk)[0])
        out.append(rt)
    return out


def _demand(scn: Scenario, stream: Stream) -> pd.DataFrame:
    """Per pool and hour of week: jobs arriving per hour, and the offered load in erlangs.

    The load of an hour is the work in progress if every job got a unit on arrival (the
    infinite-server load): a 77-minute call that arrives at 09:50 loads 10:00 too. Sizing
    each hour on its own arrivals alone understaffs the hours after a peak. Erlang C then
    uses the pool's mean minutes per job and the arrival rate that gives that load.
    """
    j = stream.jobs
    n_slots = len(stream.slot_how)
    slot = np.minimum((j.t // 60).astype(np.int64), n_slots - 1)
    keep = j.t >= stream.warmup
    s0 = int(math.ceil(stream.warmup / 60.0))
    how_all = stream.slot_how[s0:n_slots]
    occ = np.bincount(how_all, minlength=168).astype(float)
    busy = j.travel + j.work
    load = minutes_by_slot(j.pool[keep], j.t[keep], (j.t + busy)[keep], len(scn.pools), n_slots)
    rows = []
    for i, pid in enumerate(scn.pools):
        sel = keep & (j.pool == i)
        counts = np.bincount(stream.slot_how[slot[sel]], minlength=168).astype(float)
        erl = np.bincount(how_all, weights=load[i, s0:n_slots], minlength=168) / 60.0
        mean = float(busy[sel].mean()) if sel.any() else math.nan
        for h in range(168):
            a = erl[h] / occ[h] if occ[h] else 0.0
            rows.append((pid, h, counts[h] / occ[h] if occ[h] else 0.0, a, a * 60.0 / mean if mean == mean else 0.0,
                         mean, int(counts[h])))
    return pd.DataFrame(rows, columns=["pool", "how", "arrivals_per_hour", "offered_load", "load_rate_per_hour",
                                       "minutes_per_call", "jobs"])


def _rosters(scn: Scenario, demand: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {}
    for pid, p in scn.pools.items():
        if not p.units.auto:
            out[pid] = np.asarray(p.units.by_hour, np.int64)
            continue
        t = p.units.staffing
        d = demand[demand.pool == pid].sort_values("how")
        units = []
        for lam, mins in zip(d.load_rate_per_hour, d.minutes_per_call):
            if not lam or mins != mins:
                units.append(p.units.min_units)
                continue
            s = erlang.staffing(lam, mins, t.within_minutes or 0.0, t.service_level, t.max_utilization,
                                min_units=p.units.min_units)
            units.append(s.units)
        out[pid] = np.asarray(units, np.int64)
    return out


def _staffing_table(scn: Scenario, demand: pd.DataFrame, rosters: dict) -> pd.DataFrame:
    rows = []
    for pid, p in scn.pools.items():
        tgt = p.service_target
        within = p.within_minutes
        d = demand[demand.pool == pid].sort_values("how")
        for h, arr, lam, mins in zip(d.how, d.arrivals_per_hour, d.load_rate_per_hour, d.minutes_per_call):
            c = int(rosters[pid][h])
            a = lam * mins / 60.0 if lam and mins == mins else 0.0
            m = mins if mins == mins else 1.0
            now = erlang.describe(c, a, m, within)
            need = (erlang.staffing(lam, m, within, tgt.service_level, tgt.max_utilization).units if lam else 0) \
                if tgt else math.nan
            rows.append({"pool": pid, "how": int(h), "day": DAYS[h // 24], "hour": int(h % 24),
                         "arrivals_per_hour": arr, "minutes_per_call": mins, "offered_load": a, "units": c,
                         "units_needed": need, "erlang_utilization": now.utilization,
                         "erlang_p_wait": now.probability_wait, "erlang_within": within,
                         "erlang_service_level": now.service_level, "erlang_mean_wait": now.mean_wait_minutes})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- one replication

def _percentile(x, q):
    """The q-th percentile of x (NaN for no values): a wait or response time, not a share."""
    return float(np.percentile(x, q)) if len(x) else math.nan


def replication_stats(scn: Scenario, stream: Stream, out: Outcome, classes: dict) -> tuple[dict, dict, np.ndarray]:
    """Figures of one replication: totals and per-pool metrics, per-priority metrics, busy and staffed by hour."""
    ids = list(scn.pools)
    n_in = out.n_calls
    n_all = len(out.t)
    warm = stream.warmup
    is_co = np.zeros(n_all, bool)
    is_co[:n_in] = stream.is_co
    is_backup = np.zeros(n_all, bool)
    is_backup[n_in:] = True
    kept = out.t >= warm
    served = out.served_pool.astype(np.int64)
    wait = out.start - out.t
    resp = wait + out.travel
    n_slots = len(stream.slot_how)
    busy_slot = busy_by_slot(out, len(ids), n_slots)
    staffed = out.on_shift[:, :n_slots].astype(float) * 60.0
    s0 = int(math.ceil(warm / 60.0))
    how = stream.slot_how[s0:]
    busy_how = np.zeros((len(ids), 2, 168))
    for i in range(len(ids)):
        busy_how[i, 0] = np.bincount(how, weights=busy_slot[i, s0:], minlength=168)
        busy_how[i, 1] = np.bincount(how, weights=staffed[i, s0:], minlength=168)
    hours_measured = max(n_slots - s0, 0)

    pool_m, prio_m = {}, {}
    officer_min = 0.0
    parent_pool = np.full(n_all, -1)
    if n_all > n_in:
        parent_pool[n_in:] = served[out.parent[n_in:]]
    for i, pid in enumerate(ids):
        p = scn.pools[pid]
        call = kept & ~is_co & ~is_backup
        mine = kept & (served == i)
        busy_min = float(out.busy[mine].sum())
        officer_min += busy_min * p.officers_per_unit
        staffed_h = float(staffed[i, s0:].sum() / 60.0)
        busy_h_slots = float(busy_slot[i, s0:].sum() / 60.0)
        w = wait[mine]
        r = resp[mine]
        within = p.within_minutes
        pool_m[pid] = {
            "calls_assigned": int((call & (out.first_pool == i)).sum()),
            "calls_handled": int((call & (served == i)).sum()),
            "calls_fell_back": int((call & (out.first_pool == i) & out.fell_back).sum()),
            "follow_ups_handled": int((kept & is_co & (served == i)).sum()),
            "backups_requested": int((kept & is_backup & (parent_pool == i)).sum()),
            "backups_handled": int((kept & is_backup & (served == i)).sum()),
            "never_served": int((kept & (out.first_pool == i) & (served < 0)).sum()),
            "preempted": int((mine & (out.preempted > 0)).sum()),
            "busy_hours": busy_min / 60.0,
            "officer_hours": busy_min / 60.0 * p.officers_per_unit,
            "staffed_unit_hours": staffed_h,
            "utilization": busy_h_slots / staffed_h if staffed_h else math.nan,
            "cost": staffed_h * p.hourly_cost,
            "peak_units": int(out.on_shift[i, s0:].max()) if hours_measured else 0,
            "mean_wait_minutes": float(w.mean()) if len(w) else math.nan,
            "wait_p50_minutes": _percentile(w, 50), "wait_p90_minutes": _percentile(w, 90),
            "share_wait_within_target": float((w <= within).mean()) if len(w) else math.nan,
            # Of the jobs sent to this pool first: the share its own units reached within the target
            # (a job that fell back counts as missed): what Erlang C's service level describes.
            "share_taken_within_target": (float(((wait <= within) & (served == i))[kept & (out.first_pool == i)].mean())
                                          if (kept & (out.first_pool == i)).any() else math.nan),
            "response_p50_minutes": _percentile(r, 50), "response_p90_minutes": _percentile(r, 90),
        }
        _, k, labels = classes[pid]
        cls = out.cls
        for c in range(k):
            sel = mine & (cls == c)
            if not sel.any():
                continue
            wc, rc = wait[sel], resp[sel]
            prio_m[(pid, labels[c])] = {
                "calls": int(sel.sum()), "mean_wait_minutes": float(wc.mean()), "wait_p50_minutes": _percentile(wc, 50),
                "wait_p90_minutes": _percentile(wc, 90), "share_wait_within_target": float((wc <= within).mean()),
                "target_minutes": within, "response_p50_minutes": _percentile(rc, 50), "response_p90_minutes": _percentile(rc, 90),
                "response_mean_minutes": float(rc.mean()),
            }
    police = scn.pool_for("police")
    pol = scn.pools[police]
    call_in = np.zeros(n_all, bool)
    call_in[:n_in] = ~stream.is_co
    sq_min = float(stream.status_quo_busy[(out.t[:n_in] >= warm) & ~stream.is_co].sum()) + stream.unmodelled_status_quo_minutes
    sq_officer_h = sq_min / 60.0 * pol.officers_per_unit
    totals = {
        "calls": int((call_in & kept).sum()) + sum(stream.unmodelled.values()),
        "calls_simulated": int((call_in & kept).sum()),
        "calls_to_unmodelled_responders": sum(stream.unmodelled.values()),
        "status_quo_officer_hours": sq_officer_h,
        "officer_hours": officer_min / 60.0,
        "officer_hours_freed": sq_officer_h - officer_min / 60.0,
        "status_quo_patrol_hours": sq_min / 60.0,
        "patrol_hours": pool_m[police]["busy_hours"],
        "patrol_hours_freed": sq_min / 60.0 - pool_m[police]["busy_hours"],
        "cost": sum(m["cost"] for m in pool_m.values()),
        "cost_of_new_pools": sum(m["cost"] for pid, m in pool_m.items() if pid != police),
        "calls_fell_back": sum(m["calls_fell_back"] for m in pool_m.values()),
        "backups_requested": sum(m["backups_requested"] for m in pool_m.values()),
        "never_served": sum(m["never_served"] for m in pool_m.values()),
        "hours_measured": float(hours_measured),
        "events": int(out.events),
    }
    return {"totals": totals, "pools": pool_m, "priorities": prio_m}, stream.unmodelled, busy_how


# ---------------------------------------------------------------------------- the run

def prepare(scenario, workspace=None, memo: dict | None = None):
    """Load the scenario and its routed history, without simulating (``memo``: see load_history)."""
    scn = load_scenario(scenario)
    hist = load_history(scn, workspace, memo)
    return scn, hist


def simulate(scenario, replications: int | None = None, seed: int | None = None, workspace=None,
             progress: bool = False, memo: dict | None = None) -> SimulationResult:
    """Run a scenario (a path, a shipped example's name, or a Scenario); the `simulate` command.

    ``workspace`` overrides the scenario's data location (a bundled sample is ingested there
    on first use). Raises ScenarioError (bad file) or DataError (data cannot be simulated).
    """
    t0 = time.perf_counter()
    scn, hist = prepare(scenario, workspace, memo)
    reps = int(replications or scn.replications)
    seed = int(scn.seed if seed is None else seed)
    t_load = time.perf_counter() - t0
    return run_history(scn, hist, reps, seed, progress=progress, t_load=t_load)


def run_history(scn: Scenario, hist: History, reps: int, seed: int, progress: bool = False,
                t_load: float = 0.0) -> SimulationResult:
    """Replications of ``scn`` on an already loaded history (also used by the benchmark)."""
    t1 = time.perf_counter()
    classes = class_maps(scn, hist.calls.priority_rank.dropna().unique())
    ids = list(scn.pools)
    pool_index = {pid: i for i, pid in enumerate(ids)}
    # Rosters sized by Erlang C are fixed once, from the demand of replication 0.
    streams0 = build_stream(scn, hist, np.random.default_rng([seed, 0]), pool_index, classes)
    demand = _demand(scn, streams0)
    rosters = _rosters(scn, demand)
    runtime = _runtime_pools(scn, classes, rosters)

    per_rep, busy_all, sim_s, events, diag = [], [], 0.0, 0, None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=reps, unit="rep", desc="simulate", leave=False)
    unmodelled = {}
    for r in range(reps):
        rng = np.random.default_rng([seed, r])
        stream = streams0 if r == 0 else build_stream(scn, hist, rng, pool_index, classes)
        ts = time.perf_counter()
        out = Simulation(runtime, stream.jobs, stream.slot_how).run()
        sim_s += time.perf_counter() - ts
        events += out.events
        stats, unmodelled, busy_how = replication_stats(scn, stream, out, classes)
        per_rep.append(stats)
        busy_all.append(busy_how)
        if r == 0:
            diag = _diagnostics(scn, stream, out)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    conf = scn.confidence

    totals = pd.DataFrame([(m, *ci([s["totals"][m] for s in per_rep], conf)) for m in per_rep[0]["totals"]],
                          columns=["metric", "mean", "low", "high"])
    prow = []
    for pid in ids:
        for m in per_rep[0]["pools"][pid]:
            prow.append((pid, m, *ci([s["pools"][pid][m] for s in per_rep], conf)))
    pools = pd.DataFrame(prow, columns=["pool", "metric", "mean", "low", "high"])
    keys = sorted({k for s in per_rep for k in s["priorities"]}, key=lambda k: (ids.index(k[0]), _order(k[1])))
    qrow = []
    for pid, lab in keys:
        metrics = next(s["priorities"][(pid, lab)] for s in per_rep if (pid, lab) in s["priorities"])
        for m in metrics:
            qrow.append((pid, lab, m, *ci([s["priorities"].get((pid, lab), {}).get(m, math.nan) for s in per_rep], conf)))
    prios = pd.DataFrame(qrow, columns=["pool", "priority", "metric", "mean", "low", "high"])
    ub = np.stack(busy_all)  # reps x pools x 2 x 168
    urow = []
    for i, pid in enumerate(ids):
        for h in range(168):
            vals = [b[i, 0, h] / b[i, 1, h] if b[i, 1, h] else math.nan for b in ub]
            urow.append((pid, h, DAYS[h // 24], h % 24, *ci(vals, conf)))
    util = pd.DataFrame(urow, columns=["pool", "how", "day", "hour", "mean", "low", "high"])
    staffing_t = _staffing_table(scn, demand, rosters)
    hours = per_rep[0]["totals"]["hours_measured"]
    res = SimulationResult(
        scenario=scn, replications=reps, seed=seed, confidence=conf, weeks=hours / 168.0, totals=totals, pools=pools,
        priorities=prios, utilization=util, staffing=staffing_t, analytic=pd.DataFrame(),
        per_replication=pd.DataFrame([{"replication": r, **s["totals"]} for r, s in enumerate(per_rep)]),
        coverage={**hist.coverage, "unmodelled_responders": unmodelled},
        timing={"load_s": round(t_load, 3), "simulate_s": round(sim_s, 3),
                "total_s": round(t_load + time.perf_counter() - t1, 3), "events": int(events),
                "events_per_s": round(events / sim_s) if sim_s else None})
    res.analytic = _analytic(res, diag)
    res.warnings = _warnings(res, rosters)
    return res


def _order(label: str):
    head = label.split("+")[0]
    return (0, int(head)) if head.isdigit() else (1, 0)


# ---------------------------------------------------------------------------- Erlang C beside the simulation

def _diagnostics(scn: Scenario, stream: Stream, out: Outcome) -> dict:
    """What Erlang C assumes and the data may not: Poisson arrivals, exponential service, one class."""
    j = stream.jobs
    n_slots = len(stream.slot_how)
    s0 = int(math.ceil(stream.warmup / 60.0))
    d = {}
    for i, pid in enumerate(scn.pools):
        sel = (j.pool == i) & (j.t >= stream.warmup)
        slot = (j.t[sel] // 60).astype(np.int64)
        counts = np.bincount(slot, minlength=n_slots)[s0:n_slots]
        how = stream.slot_how[s0:n_slots]
        # Dispersion within each hour of week: variance / mean of the counts (1 for a Poisson stream).
        num = den = 0.0
        for h in range(168):
            c = counts[how == h]
            if len(c) > 1 and c.mean() > 0:
                num += c.var(ddof=1)
                den += c.mean()
        busy = (j.travel + j.work)[sel]
        d[pid] = {"dispersion": num / den if den else math.nan,
                  "service_cv": float(busy.std() / busy.mean()) if len(busy) > 1 and busy.mean() > 0 else math.nan,
                  "jobs": int(sel.sum()),
                  "class_shares": np.bincount(j.cls[sel], minlength=1) / max(int(sel.sum()), 1)}
    return d


def _analytic(res: SimulationResult, diag: dict) -> pd.DataFrame:
    """Per pool: Erlang C's prediction for the rostered units, beside the simulation, and why they differ."""
    rows = []
    dg_all = diag
    st = res.staffing
    for pid, p in res.scenario.pools.items():
        s = st[st.pool == pid]
        lam = s.offered_load.to_numpy()  # weight each hour by its work
        if lam.sum() <= 0:
            continue
        w = lam / lam.sum()
        sl = float(np.sum(w * s.erlang_service_level.to_numpy()))
        mw = s.erlang_mean_wait.to_numpy()
        over = int(np.sum((lam > 0) & ~np.isfinite(mw)))
        fin = np.isfinite(mw)
        mean_wait = float(np.sum(w[fin] * mw[fin]) / w[fin].sum()) if fin.any() else math.nan
        # Cobham: the most urgent class's mean wait under non-pre-emptive priorities, hour by hour.
        shares = dg_all.get(pid, {}).get("class_shares", np.ones(1))
        urgent = []
        for c, a, m in zip(s.units, s.offered_load, s.minutes_per_call):
            if a > 0 and m == m and c > a:
                urgent.append(erlang.priority_mean_waits(int(c), list(a * shares), m)[0])
            else:
                urgent.append(math.nan)
        urgent = np.asarray(urgent)
        fu = np.isfinite(urgent)
        urgent_wait = float(np.sum(w[fu] * urgent[fu]) / w[fu].sum()) if fu.any() else math.nan
        top = res.priorities[(res.priorities.pool == pid) & (res.priorities.metric == "mean_wait_minutes")]
        sim_urgent = (float(top.iloc[0]["mean"]), str(top.iloc[0].priority)) if len(top) else (math.nan, "")
        within = float(s.erlang_within.iloc[0])
        sim_sl = res.pool(pid, "share_taken_within_target")
        sim_w = res.pool(pid, "mean_wait_minutes")
        dg = diag.get(pid, {})
        tgt = p.service_target
        reasons = []
        if dg.get("dispersion", 1) == dg.get("dispersion", 1) and dg.get("dispersion", 1) > 1.1:
            reasons.append(f"calls arrive in bursts: hourly counts vary {dg['dispersion']:.2f} times as much as a "
                           "Poisson stream's (Erlang C assumes Poisson)")
        cv = dg.get("service_cv", math.nan)
        if cv == cv and abs(cv - 1) > 0.15:
            reasons.append(f"time per call has a coefficient of variation of {cv:.2f} (Erlang C assumes exponential "
                           f"times, 1.0); {'longer' if cv > 1 else 'shorter'} queues than predicted follow")
        pr = res.priorities
        served_classes = pr[(pr.pool == pid) & (pr.metric == "calls") & (pr["mean"] >= 1)]
        if len(served_classes) > 1:
            reasons.append("calls are served by priority, so urgent calls wait less and routine calls more "
                           "than Erlang C's single-queue average")
        if np.ptp(lam) > 0.25 * lam.mean():
            reasons.append("demand changes hour by hour; a queue built at a busy hour carries into the next, "
                           "which a per-hour steady-state formula ignores")
        if p.fallback:
            reasons.append(f"calls the team cannot take fall back to {res.scenario.pools[p.fallback].name}, "
                           "which Erlang C (everyone waits) does not model")
        if over:
            reasons.append(f"in {over} hour(s) of the week the rostered units cannot keep up with the offered load "
                           "(no steady state), where the formula has no answer")
        rows.append({"pool": pid, "within_minutes": within, "erlang_service_level": sl,
                     "simulated_service_level": sim_sl[0], "simulated_service_level_low": sim_sl[1],
                     "simulated_service_level_high": sim_sl[2], "erlang_mean_wait_minutes": mean_wait,
                     "simulated_mean_wait_minutes": sim_w[0], "simulated_mean_wait_low": sim_w[1],
                     "simulated_mean_wait_high": sim_w[2], "urgent_priority": sim_urgent[1],
                     "cobham_urgent_mean_wait_minutes": urgent_wait, "simulated_urgent_mean_wait_minutes": sim_urgent[0],
                     "unstable_hours": over,
                     "units_needed_peak": float(s.units_needed.max()), "unit_hours_needed_per_week": float(s.units_needed.sum()),
                     "target": (f"P(wait <= {within:g} min) >= {tgt.service_level:g}" if tgt and tgt.service_level else "")
                     + (" and " if tgt and tgt.service_level and tgt.max_utilization else "")
                     + (f"utilization <= {tgt.max_utilization:g}" if tgt and tgt.max_utilization else ""),
                     "units_rostered_peak": int(s.units.max()), "unit_hours_rostered_per_week": int(s.units.sum()),
                     "arrival_dispersion": dg.get("dispersion"), "service_cv": cv, "reasons": "; ".join(reasons)})
    return pd.DataFrame(rows)


def _warnings(res: SimulationResult, rosters: dict) -> list[str]:
    out = []
    st = res.staffing
    for pid, p in res.scenario.pools.items():
        s = st[(st.pool == pid) & (st.arrivals_per_hour > 0) & (st.units == 0)]
        if len(s):
            act = ("wait for the next shift" if p.when_busy == "wait" else f"fall back to {p.fallback}")
            out.append(f"pool {pid}: calls arrive in {len(s)} hour(s) of the week when no unit is on shift; they {act}")
        never = res.pool(pid, "never_served")[0]
        if never:
            out.append(f"pool {pid}: {never:.0f} calls were still waiting when the run stopped (8 weeks after the last call)")
    return out
