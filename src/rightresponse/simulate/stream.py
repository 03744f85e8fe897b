"""From a workspace and a policy to the call stream the engine replays or resamples.

Each historical police call gets: when it arrived (UTC instant and local hour of week), its
priority rank, the category it was routed on, the responder the policy recommends (and any
co-responder), and the historical unit times: travel (dispatched to arrived) and work on
scene (arrived to cleared). Calls whose times are unusable (``time_issue`` set, or missing
dispatch/clear) borrow the times of a random usable call of the same category, drawn anew
in each replication, so no call is dropped and no time is invented.

Officer-initiated activity is left out by default: nobody called, and officers start it in
their slack time, so it does not queue for a unit the way a call does (include it with
``data: {include_officer_initiated: true}``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import RightResponseError
from .discrete_event import Jobs
from .scenario import Dist, Scenario

WEEK_MIN = 7 * 1440


class DataError(RightResponseError, ValueError):
    """The scenario's data cannot be simulated (empty workspace, several time zones, ...)."""


@dataclass
class History:
    """The routed historical calls of one scenario (one row per call), ready to build jobs from."""

    calls: pd.DataFrame
    timezone: str
    first_local: pd.Timestamp
    last_local: pd.Timestamp
    full_weeks: np.ndarray  # Monday-00:00 local starts of the weeks the data covers completely
    coverage: dict = field(default_factory=dict)
    categories: list = field(default_factory=list)  # names of category_code 0, 1, ...
    responders: list = field(default_factory=list)  # names of responder_code (-1 = none)
    co_responders: list = field(default_factory=list)


def _temporary_sample_workspace(sample: str, memo: dict) -> Path:
    """A sample ingested for this run only: nothing is left behind in the user's home."""
    key = ("sample-workspace", sample)
    if key not in memo:
        tmp = tempfile.TemporaryDirectory(prefix=f"rightresponse-{sample}-")
        memo[key] = tmp  # removed when the memo (and so the run) is gone
    return Path(memo[key].name)


def resolve_workspace(scenario: Scenario, workspace=None, memo: dict | None = None) -> Path:
    """The scenario's workspace; a bundled sample is ingested into it on first use.

    With neither a workspace argument nor ``data.workspace``, a sample-backed scenario is
    ingested into a temporary directory for this run (pass a workspace to keep it).
    """
    from ..ingest.workspace import Workspace

    memo = {} if memo is None else memo
    ws = Path(workspace) if workspace is not None else (
        Path(scenario.workspace) if scenario.workspace else _temporary_sample_workspace(scenario.sample, memo))
    if not Workspace(ws).has("calls"):
        if scenario.sample is None:
            raise DataError(f"{scenario.path}: data.workspace: {ws} holds no calls; ingest CAD exports into it first")
        from ..ingest.pipeline import ingest
        from ..samples import sample_paths

        ingest([str(p) for p in sample_paths(scenario.sample)], ws)
    return ws


def _manifest_key(ws: Path) -> str:
    m = ws / "manifest.json"
    return f"{ws.resolve()}:{m.stat().st_mtime_ns if m.exists() else 0}"


def _prepared(ws: Path, route_on: str, agency: str | None, memo: dict):
    """prepare_history is the slow step (taxonomy); ``memo`` shares it across the scenarios of
    one comparison. The memo belongs to the caller: nothing outlives the run."""
    import ibis

    from ..ingest.workspace import Workspace, open_dataset
    from ..policy import prepare_history

    key = ("prep", _manifest_key(ws), route_on, agency)
    if key not in memo:
        con = ibis.duckdb.connect()
        calls = open_dataset(ws, con=con)
        if agency:
            calls = calls.filter(calls.agency == agency)
        sens = open_dataset(ws, "sensitive", con=con) if Workspace(ws).has("sensitive") else None
        prep = prepare_history(calls, sens, route_on=route_on)
        times = calls.filter(calls.service.isnull() | (calls.service == "police")).select(
            "agency", "call_id", "timezone", "received", "received_local", "dispatched", "arrived", "cleared",
            "time_issue").to_pandas()
        memo[key] = (con, prep, times)
    return memo[key]


def load_history(scenario: Scenario, workspace=None, memo: dict | None = None) -> History:
    """The scenario's calls with the policy's routing and their historical times.

    Pass the same ``memo`` dict to several calls on the same data to prepare it once."""
    from ..policy import apply_policy, load_policy

    memo = {} if memo is None else memo
    ws = resolve_workspace(scenario, workspace, memo)
    policy = load_policy(scenario.policy)
    key = ("hist", _manifest_key(ws), scenario.route_on, scenario.agency, policy.hash, scenario.view,
           scenario.routing_hours, scenario.include_officer_initiated, scenario.start, scenario.end)
    if key in memo:
        return memo[key]
    _, prep, times = _prepared(ws, scenario.route_on, scenario.agency, memo)
    v = scenario.view
    routed = apply_policy(policy, prep).select(
        "agency", "call_id", "route_category", "priority_rank", "origin", f"rule_{v}", f"responder_{v}",
        f"co_responder_{v}").to_pandas()
    routed = routed.rename(columns={"route_category": "category", f"rule_{v}": "rule", f"responder_{v}": "responder",
                                    f"co_responder_{v}": "co_responder"})
    if scenario.routing_hours == "pools":  # the rule's own responder; the pools' shifts decide availability
        intended = {r.id: (r.responder, r.co_responder) for r in policy.rules}
        resp = routed["rule"].map(lambda r: intended.get(r, ("police", None))[0])
        co = routed["rule"].map(lambda r: intended.get(r, ("police", None))[1])
        routed["responder"], routed["co_responder"] = resp, co
    df = routed.merge(times, on=["agency", "call_id"], how="left", validate="one_to_one")
    n_all = len(df)
    oi = int((df.origin == "officer_initiated").sum())
    if not scenario.include_officer_initiated:
        df = df[df.origin != "officer_initiated"]
    if df.empty:
        raise DataError(f"{scenario.path}: data: no police calls to simulate in {ws}")
    zones = df.timezone.dropna().unique()
    if len(zones) != 1:
        raise DataError(f"{scenario.path}: data: calls from {len(zones)} time zones; set data.agency to one agency")
    tz = str(zones[0])
    local = pd.to_datetime(df.received_local)
    if scenario.start is not None:
        df, local = df[local >= pd.Timestamp(scenario.start)], local[local >= pd.Timestamp(scenario.start)]
    if scenario.end is not None:
        keep = local < pd.Timestamp(scenario.end)
        df, local = df[keep], local[keep]
    if df.empty:
        raise DataError(f"{scenario.path}: horizon: no calls between start and end")
    df = df.assign(local=local).sort_values(["received", "agency", "call_id"], ignore_index=True)

    minutes = lambda a, b: (df[b] - df[a]).dt.total_seconds().to_numpy() / 60.0  # noqa: E731
    ok = df.time_issue.isna().to_numpy() & df.dispatched.notna().to_numpy() & df.cleared.notna().to_numpy()
    has_arr = df.arrived.notna().to_numpy()
    dep = minutes("dispatched", "cleared")
    travel = np.where(has_arr, minutes("dispatched", "arrived"), dep)
    work = np.where(has_arr, minutes("arrived", "cleared"), 0.0)
    ok &= (travel >= 0) & (work >= 0)
    df["usable"] = ok
    df["arrived_flag"] = has_arr
    df["travel_min"] = np.where(ok, travel, np.nan)
    df["work_min"] = np.where(ok, work, np.nan)
    df["t_utc_min"] = (df.received - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy() / 60.0
    df["how"] = (df.local.dt.day_of_week * 24 + df.local.dt.hour).astype("int16")
    df["category"] = df.category.fillna("(unclassified)")
    # Integer codes: the per-replication work indexes arrays instead of comparing strings.
    codes = {}
    for col in ("category", "responder", "co_responder"):
        c, names = pd.factorize(df[col])
        df[f"{col}_code"] = c.astype(np.int32)
        codes[col] = [str(x) for x in names]

    first, last = df.local.min(), df.local.max()
    monday = (first.normalize() - pd.Timedelta(days=first.day_of_week))
    starts = pd.date_range(monday, last, freq="7D")
    full = np.array([s for s in starts if s >= first.normalize() and s + pd.Timedelta(days=7) <= last.normalize()
                     + pd.Timedelta(days=1)], dtype="datetime64[ns]")
    cov = {"calls_in_workspace": n_all, "officer_initiated_left_out": 0 if scenario.include_officer_initiated else oi,
           "calls": len(df), "calls_with_usable_times": int(ok.sum()), "full_weeks": len(full),
           "first_local": str(first), "last_local": str(last), "timezone": tz, "workspace": str(ws)}
    memo[key] = History(df, tz, first, last, full, cov, codes["category"], codes["responder"],
                        codes["co_responder"])
    return memo[key]


# ---------------------------------------------------------------------------- drawing times

def draw(d: Dist, data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Minutes for each call under a time model; ``data`` holds the calls' own (filled) times."""
    n = len(data)
    if d.kind == "data":
        return data * d.scale
    if d.kind == "fixed":
        return np.full(n, d.mean)
    if d.kind == "exponential":
        return rng.exponential(d.mean, n)
    sigma2 = np.log1p((d.sd / d.mean) ** 2)  # lognormal with the stated mean and sd
    return rng.lognormal(np.log(d.mean) - sigma2 / 2, np.sqrt(sigma2), n)


def fill_times(calls: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Travel and work minutes for every call: its own if usable, else a random usable call's of its category."""
    travel = calls.travel_min.to_numpy(copy=True)
    work = calls.work_min.to_numpy(copy=True)
    ok = calls.usable.to_numpy()
    if ok.all():
        return travel, work
    if not ok.any():
        raise DataError("no call has usable times (dispatched and cleared); state every pool's travel and service")
    cats = calls.category_code.to_numpy()
    donors_all = np.flatnonzero(ok)
    for cat in np.unique(cats[~ok]):
        need = np.flatnonzero(~ok & (cats == cat))
        donors = np.flatnonzero(ok & (cats == cat))
        donors = donors if len(donors) else donors_all
        pick = donors[rng.integers(0, len(donors), len(need))]
        travel[need], work[need] = travel[pick], work[pick]
    return travel, work


def pool_times(scenario: Scenario, calls: pd.DataFrame, travel: np.ndarray, work: np.ndarray,
               rng: np.random.Generator, categories: list) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(travel, work) minutes for every call as each pool would take it."""
    out = {}
    cats = calls.category_code.to_numpy()
    for p in scenario.pools.values():
        tr = draw(p.travel, travel, rng)
        wk = draw(p.service_default, work, rng)
        for cat, d in p.service_by_category.items():
            if cat not in categories:
                continue
            idx = np.flatnonzero(cats == categories.index(cat))
            if len(idx):
                wk[idx] = draw(d, work[idx], rng)
        out[p.id] = (tr, wk)
    return out


def class_maps(scenario: Scenario, ranks_present) -> dict[str, tuple[dict, int, list[str]]]:
    """Per pool: rank -> priority class, the number of classes, and a label for each class."""
    out = {}
    present = sorted(int(r) for r in ranks_present if r == r)
    for p in scenario.pools.values():
        groups = list(p.priority_order) if p.priority_order is not None else [(r,) for r in present]
        m = {r: i for i, g in enumerate(groups) for r in g}
        labels = ["+".join(str(r) for r in g) for g in groups] + ["other"]
        out[p.id] = (m, len(groups) + 1, labels)
    return out


def rank_to_class(ranks: np.ndarray, m: dict, n_classes: int) -> np.ndarray:
    out = np.full(len(ranks), n_classes - 1, dtype=np.int16)
    for r, c in m.items():
        out[ranks == r] = c
    return out


@dataclass
class Stream:
    """One replication's input: the jobs, the hour-of-week of each hour slot, and call-level facts."""

    jobs: Jobs
    slot_how: np.ndarray
    call_index: np.ndarray  # row in History.calls of each job
    is_co: np.ndarray  # job is a co-response (e.g. an advocate's follow-up), not the call itself
    status_quo_busy: np.ndarray  # minutes a police unit would spend on the job's call (0 for co-responses)
    category: np.ndarray  # History.categories code
    rank: np.ndarray
    warmup: float  # minutes
    unmodelled: dict  # responder -> calls sent to a responder with no pool (e.g. fire_ems, non_emergency)
    unmodelled_status_quo_minutes: float  # police unit-minutes those calls took in the status quo


def build_stream(scenario: Scenario, hist: History, rng: np.random.Generator, pool_index: dict,
                 classes: dict) -> Stream:
    """The jobs of one replication: the history replayed, or whole weeks resampled (bootstrap)."""
    calls = hist.calls
    if scenario.mode == "bootstrap":
        wk = hist.full_weeks
        if len(wk) == 0:
            raise DataError(f"{scenario.path}: horizon: bootstrap needs at least one complete week of data")
        local_ns = calls.local.to_numpy().astype("datetime64[ns]")
        parts, times = [], []
        picks = rng.integers(0, len(wk), scenario.weeks)
        for k, w in enumerate(picks):
            lo, hi = wk[w], wk[w] + np.timedelta64(7, "D")
            idx = np.flatnonzero((local_ns >= lo) & (local_ns < hi))
            parts.append(idx)
            times.append(k * WEEK_MIN + (local_ns[idx] - lo).astype("int64") / 60e9)
        idx = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        t = np.concatenate(times) if times else np.zeros(0)
        slot_how = np.arange(scenario.weeks * 168) % 168
    else:
        t_utc = calls.t_utc_min.to_numpy()
        first = hist.first_local.floor("h")
        start_utc = pd.Timestamp(first).tz_localize(hist.timezone, ambiguous=True, nonexistent="shift_forward").tz_convert("UTC")
        t0 = (start_utc - pd.Timestamp("1970-01-01", tz="UTC")).total_seconds() / 60.0
        t = t_utc - t0
        idx = np.arange(len(calls))
        n_slots = int(np.ceil((t.max() + 1e-9) / 60.0)) + 1
        hours = pd.date_range(start_utc, periods=n_slots, freq="h").tz_convert(hist.timezone)
        slot_how = (hours.day_of_week * 24 + hours.hour).to_numpy()
    sub = calls.iloc[idx]
    travel, work = fill_times(sub, rng)
    by_pool = pool_times(scenario, sub, travel, work, rng, hist.categories)
    police_pool = scenario.pool_for("police")
    pt, pw = by_pool[police_pool]
    ranks = sub.priority_rank.to_numpy(dtype="float64", na_value=np.nan)
    n = len(sub)

    # Pool index of each call's responder and co-responder (-1: no pool; code -1 picks the trailing -1).
    to_pool = lambda names: np.array([pool_index.get(scenario.pool_for(r), -1) for r in names] + [-1], np.int16)  # noqa: E731
    resp_code = sub.responder_code.to_numpy()
    pidx = to_pool(hist.responders)[resp_code]
    co = to_pool(hist.co_responders)[sub.co_responder_code.to_numpy()]
    co[co == pidx] = -1
    modelled = pidx >= 0
    cat_code = sub.category_code.to_numpy()

    cols = {k: np.zeros(n) for k in ("travel", "work", "fb_travel", "fb_work", "b_travel", "b_work")}
    cls = np.zeros(n, np.int16)
    fb_cls = np.zeros(n, np.int16)
    for i, (pid, p) in enumerate(scenario.pools.items()):
        sel = pidx == i
        if not sel.any():
            continue
        tr, wk = by_pool[pid]
        cols["travel"][sel], cols["work"][sel] = tr[sel], wk[sel]
        m, k, _ = classes[pid]
        cls[sel] = rank_to_class(ranks[sel], m, k)
        if p.fallback:
            ftr, fwk = by_pool[p.fallback]
            cols["fb_travel"][sel], cols["fb_work"][sel] = ftr[sel], fwk[sel]
            m2, k2, _ = classes[p.fallback]
            fb_cls[sel] = rank_to_class(ranks[sel], m2, k2)
        if p.backup is not None:
            bp = scenario.pools[p.backup.pool]
            cols["b_work"][sel] = draw(p.backup.service, np.zeros(int(sel.sum())), rng)
            cols["b_travel"][sel] = (draw(p.backup.travel, by_pool[bp.id][0][sel], rng) if p.backup.travel
                                     else by_pool[bp.id][0][sel])
    u = rng.random(n)

    # Co-responses: a second job for the co-responder's pool at the same moment.
    co_sel = np.flatnonzero(co >= 0)
    j_t = [t[modelled]]
    j_pool = [pidx[modelled]]
    j_cls = [cls[modelled]]
    j_cols = {k: [v[modelled]] for k, v in cols.items()}
    j_fbc = [fb_cls[modelled]]
    j_u = [u[modelled]]
    j_idx = [idx[modelled]]
    j_co = [np.zeros(int(modelled.sum()), bool)]
    j_sq = [(pt + pw)[modelled]]
    j_rank = [ranks[modelled]]
    j_cat = [cat_code[modelled]]
    ids = list(scenario.pools)
    for ci in sorted(set(co[co_sel].tolist())):
        s = co_sel[co[co_sel] == ci]
        pid = ids[ci]
        tr, wk = by_pool[pid]
        m, k, _ = classes[pid]
        j_t.append(t[s])
        j_pool.append(np.full(len(s), pool_index[pid], np.int16))
        j_cls.append(rank_to_class(ranks[s], m, k))
        j_cols["travel"].append(tr[s])
        j_cols["work"].append(wk[s])
        for kk in ("fb_travel", "fb_work", "b_travel", "b_work"):
            j_cols[kk].append(np.zeros(len(s)))
        j_fbc.append(np.full(len(s), -1, np.int16))  # a follow-up waits for its team; it never falls back
        j_u.append(np.ones(len(s)))
        j_idx.append(idx[s])
        j_co.append(np.ones(len(s), bool))
        j_sq.append(np.zeros(len(s)))
        j_rank.append(ranks[s])
        j_cat.append(cat_code[s])
    cat = lambda parts: np.concatenate(parts)  # noqa: E731
    t_all = cat(j_t)
    order = np.argsort(t_all, kind="stable")
    jobs = Jobs(t=t_all[order], pool=cat(j_pool)[order], cls=cat(j_cls)[order],
                travel=cat(j_cols["travel"])[order], work=cat(j_cols["work"])[order],
                fb_travel=cat(j_cols["fb_travel"])[order], fb_work=cat(j_cols["fb_work"])[order],
                fb_cls=cat(j_fbc)[order], u_backup=cat(j_u)[order], backup_travel=cat(j_cols["b_travel"])[order],
                backup_work=cat(j_cols["b_work"])[order])
    warm = scenario.warmup_hours * 60.0
    out = ~modelled & (t >= warm)
    counts = np.bincount(resp_code[out] + 1, minlength=len(hist.responders) + 1)
    left = {("none" if k == 0 else hist.responders[k - 1]): int(v) for k, v in enumerate(counts) if v}
    return Stream(jobs, slot_how, cat(j_idx)[order], cat(j_co)[order], cat(j_sq)[order], cat(j_cat)[order],
                  cat(j_rank)[order], warm, {str(k): int(v) for k, v in left.items()}, float((pt + pw)[out].sum()))
