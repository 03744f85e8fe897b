"""Synthetic CAD exports calibrated on the real samples, for benchmarks and scale tests.

The real samples are a few thousand rows each; a city's year is hundreds of thousands to
millions. ``generate`` writes an export of any size in a real layout, so the ingest path,
the benchmarks and the analyses can be exercised at scale, with known ground truth.

What is calibrated (``synth_calibration.json``, rebuilt by ``scripts/calibrate_synth.py``):

* call types: the New Orleans subset's codes, descriptions and per-type priorities and
  initial types, weighted by Vera's full-city New Orleans counts;
* arrivals: a Poisson process whose rate follows the DECC police hour-of-week cycle in
  local time (America/Chicago, DST included: times are drawn as instants and written as
  wall clock, so the fall-back hour repeats and the spring-forward hour never occurs);
* officer-initiated share and disposition mix per type (New Orleans subset);
* service times per type: lognormal dispatch delay, travel, time on scene and time to
  cancel, fitted on DECC police rows of the type's Vera category;
* which timestamps are blank: officer-initiated rows have arrival = creation and no
  dispatch time; calls without an arrival follow the disposition (voids, duplicates).

Natural rows never carry a time issue except where the DST fall-back makes wall-clock
times run backwards (counted in ``SynthResult.dst_fold``). Dirt is injected only as
configured by :class:`Dirt`, in exact counts (``round(n_calls * rate)``):

* ``duplicate_rate``: exact copies of a row, written 1-20 rows after the original (each is
  an extra row; the ingest counts it as a duplicate);
* ``cleared_before_arrival_rate``: a dispatched call with an arrival gets ``TimeClosed``
  strictly between max(created, dispatched) and the arrival (time_issue
  ``cleared_before_arrival`` and nothing else);
* ``over_24h_rate``: ``TimeClosed`` is set 25-40 hours after creation (time_issue ``over_24h``).
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

LAYOUTS = ("new_orleans",)
NOLA_COLUMNS = (
    "NOPD_Item", "Type_", "TypeText", "Priority", "InitialType", "InitialTypeText", "InitialPriority",
    "MapX", "MapY", "TimeCreate", "TimeDispatch", "TimeArrive", "TimeClosed", "Disposition",
    "DispositionText", "SelfInitiated", "Beat", "BLOCK_ADDRESS", "Zip", "PoliceDistrict", "Location",
    "Neighborhood",
)
NOLA_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
# Caps (seconds) keep every natural call under 24 h from creation to close, even across DST.
_CAPS = {"dispatch": 4 * 3600, "travel": 2 * 3600, "on_scene": 16 * 3600, "cancel": 16 * 3600}
_MONTH_LETTERS = np.array(list("ABCDEFGHIJKL"))


@dataclass(frozen=True)
class Dirt:
    """Rates of injected dirt per call; each count is exactly ``round(n_calls * rate)``."""

    duplicate_rate: float = 5e-4
    cleared_before_arrival_rate: float = 5e-4
    over_24h_rate: float = 2e-4

    @classmethod
    def none(cls) -> "Dirt":
        return cls(0.0, 0.0, 0.0)


@dataclass
class SynthResult:
    path: str
    layout: str
    calls: int  # distinct calls (= rows loaded by a clean ingest)
    rows: int  # data records written (calls + duplicates)
    duplicates: int
    cleared_before_arrival: int
    over_24h: int
    dst_fold: int  # natural rows whose wall-clock times run backwards at the DST fall-back
    time_issue_rows: int  # distinct calls whose times an ingest flags (union of the above kinds)
    officer_initiated: int
    first_received: str  # local wall clock
    last_received: str
    seed: int
    seconds: float
    bytes: int = 0
    dirt: dict = field(default_factory=dict)
    parts: list = field(default_factory=list)  # part files: path, calls, rows, bytes (empty for one file)

    def to_dict(self) -> dict:
        return asdict(self)


@functools.lru_cache(maxsize=2)
def load_calibration(path: str | None = None) -> dict:
    """The calibration tables (the packaged JSON unless a path is given)."""
    p = Path(path) if path else Path(str(resources.files("rightresponse") / "synth_calibration.json"))
    return json.loads(p.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- sampling helpers


class _Flat:
    """Many small categorical distributions, sampled in one vectorized step.

    Group g's cumulative probabilities are stored as g + cum (cum in (0, 1]), so one sorted
    array holds every group and ``searchsorted(g + u)`` lands inside group g's block.
    """

    def __init__(self, groups: list[list[tuple[object, float]]]):
        keys, labels, starts = [], [], []
        for g, items in enumerate(groups):
            starts.append(len(labels))
            p = np.array([max(float(w), 0.0) for _, w in items]) if items else np.array([1.0])
            if not items:
                items = [(None, 1.0)]
            cum = np.cumsum(p / p.sum())
            cum[-1] = 1.0
            keys.extend(g + cum)
            labels.extend(v for v, _ in items)
        self.keys = np.asarray(keys)
        self.labels = labels
        self.starts = np.asarray(starts)

    def sample(self, rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
        """Indices into ``self.labels``."""
        u = rng.random(len(group))
        idx = np.searchsorted(self.keys, group + u, side="right")
        return np.minimum(idx, len(self.keys) - 1)


def _lognormal(rng, n: int, mu: np.ndarray, sigma: np.ndarray, p_zero: np.ndarray, cap: float) -> np.ndarray:
    """Whole seconds from a zero-inflated lognormal, truncated at ``cap`` by resampling."""
    z = rng.standard_normal(n)
    x = np.exp(mu + sigma * z)
    bad = x > cap
    for _ in range(50):
        if not bad.any():
            break
        x[bad] = np.exp(mu[bad] + sigma[bad] * rng.standard_normal(int(bad.sum())))
        bad = x > cap
    x = np.minimum(x, cap)
    x[rng.random(n) < p_zero] = 0.0
    return np.rint(x).astype(np.int64)


def _quota(total: int, start: int, stop: int, n: int) -> int:
    """This chunk's share of ``total`` injected rows, so chunk quotas sum to ``total`` exactly."""
    return int(round(total * stop / n)) - int(round(total * start / n)) if n else 0


# ---------------------------------------------------------------- the model


class _Model:
    def __init__(self, cal: dict):
        self.cal = cal
        types = cal["call_types"]
        self.tz = cal["timezone"]
        self.type_code = [t["code"] for t in types]
        self.type_text = [t["text"] for t in types]
        self.share = np.array([t["share"] for t in types], float)
        self.share /= self.share.sum()
        self.type_cum = np.cumsum(self.share)
        self.type_cum[-1] = 1.0
        self.si = np.array([t["officer_initiated"] for t in types], float)
        self.prio = _Flat([list(t["priorities"].items()) for t in types])
        self.initial = _Flat([[((c, x, p), w) for c, x, p, w in t["initial"]] for t in types])
        disp = []
        for t in types:  # group 2*type + si
            disp.append(list(t["disposition"]["resident"].items()))
            disp.append(list(t["disposition"]["officer_initiated"].items()))
        self.disp = _Flat(disp)
        self.disp_codes = self.disp.labels
        self.disp_text = [cal["disposition_text"].get(c, c) for c in self.disp_codes]
        no_arr = cal["no_arrival_given_disposition"]
        self.disp_no_arrival = np.array([no_arr.get(c, 0.0) for c in self.disp_codes])
        self.p_nodisp_noarr = cal["no_dispatch_given_no_arrival"]
        self.p_nodisp_arr = cal["no_dispatch_given_arrival"]
        self.svc = {
            m: {k: np.array([t["service"][m][k] for t in types], float) for k in ("mu", "sigma", "p_zero")}
            for m in _CAPS
        }
        w = np.asarray(cal["hour_of_week"], float)
        self.how = w / w.mean()
        geo = cal["geography"]
        self.beats = geo["beats"]
        self.lat = np.asarray(geo["lat_from_xy"])
        self.lon = np.asarray(geo["lon_from_xy"])
        self.jitter = float(geo["jitter_ft"])
        self.p_int = float(geo["intersection_share"])
        self.streets = list(geo["streets"])


class _Clock:
    """Inhomogeneous Poisson arrivals on an hourly UTC grid, rate by local hour of week."""

    def __init__(self, model: _Model, start_utc: int, calls_per_day: float, n_calls: int):
        self.model = model
        self.t0 = start_utc - start_utc % 3600
        self.start = start_utc
        self.rate = calls_per_day / 24.0
        self.hours = 0
        self._extend(int(n_calls / calls_per_day * 24 * 1.1) + 24 * 30)
        self.level = float(self._cum_at(np.array([start_utc], float))[0])  # Λ so far (expected calls)

    def _extend(self, hours: int) -> None:
        import pandas as pd

        hours = max(hours, self.hours * 2, 48)
        idx = pd.date_range(pd.Timestamp(self.t0, unit="s", tz="UTC"), periods=hours, freq="h")
        local = idx.tz_convert(self.model.tz)
        how = (local.day_of_week * 24 + local.hour).to_numpy()
        self.offset = (local.tz_localize(None).as_unit("s").asi8 - idx.as_unit("s").asi8).astype(np.int64)
        lam = self.rate * self.model.how[how]
        self.lam = lam
        self.cum = np.concatenate([[0.0], np.cumsum(lam)])  # Λ at the start of each hour
        self.hours = hours

    def _cum_at(self, t: np.ndarray) -> np.ndarray:
        h = ((t - self.t0) // 3600).astype(np.int64)
        frac = (t - self.t0 - h * 3600) / 3600.0
        return self.cum[h] + frac * self.lam[h]

    def next(self, rng, m: int) -> np.ndarray:
        """The next ``m`` arrival instants (float seconds UTC, increasing)."""
        target = self.level + np.cumsum(rng.exponential(1.0, m))
        self.level = float(target[-1])
        while target[-1] >= self.cum[-1] - self.rate * 48:  # keep 2 days of grid beyond
            self._extend(self.hours * 2)
        h = np.searchsorted(self.cum, target, side="right") - 1
        return self.t0 + h * 3600.0 + (target - self.cum[h]) / self.lam[h] * 3600.0

    def local(self, s: np.ndarray) -> np.ndarray:
        """UTC seconds to local wall-clock seconds."""
        h = (s - self.t0) // 3600
        h = np.clip(h, 0, None)
        while h.size and h.max() >= self.hours:
            self._extend(self.hours * 2)
        return s + self.offset[h]


# ---------------------------------------------------------------- one chunk


def _ts(local_s: np.ndarray, valid: np.ndarray) -> pa.Array:
    arr = pa.array(local_s.astype("datetime64[s]"), mask=~valid)
    return pc.strftime(arr, format=NOLA_TIME_FORMAT)


def _quote(s: str) -> str:
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\r\n') else s


def _take(labels: list, idx: np.ndarray, csv: bool) -> pa.Array:
    vals = [("" if v is None else str(v)) for v in labels]
    if csv:
        vals = [_quote(v) for v in vals]
    return pa.array(vals, pa.string()).take(pa.array(idx))


def _issues(r, d, a, c, has_d, has_a) -> np.ndarray:
    """Rows the ingest will flag, judged on wall clock the way normalize.py judges instants.

    Wall clock -> instant is monotone for a fixed fold choice, so strict order on wall
    clock is strict order on instants (over_24h is exact because natural calls stay
    under 22 h and injected ones exceed 25 h, beyond any 1-hour DST shift).
    """
    bad = has_d & (d < r)
    bad |= has_a & has_d & (a < d)
    bad |= has_a & (c < a)
    bad |= (c < r) | (has_d & (c < d))
    bad |= (c - r) > 24 * 3600
    return bad


def _chunk(model: _Model, clock: _Clock, rng, m: int, start: int, n: int, dirt: Dirt, dup_src: np.ndarray,
           ids: dict, csv: bool) -> tuple[pa.Table, dict]:
    cal_types = len(model.type_code)
    utc = clock.next(rng, m)
    r_utc = np.floor(utc).astype(np.int64)
    t = np.minimum(np.searchsorted(model.type_cum, rng.random(m), side="right"), cal_types - 1)
    si = rng.random(m) < model.si[t]
    prio = model.prio.sample(rng, t)
    init = model.initial.sample(rng, t)
    disp = model.disp.sample(rng, 2 * t + si)

    svc = {k: _lognormal(rng, m, model.svc[k]["mu"][t], model.svc[k]["sigma"][t], model.svc[k]["p_zero"][t], cap)
           for k, cap in _CAPS.items()}
    res = ~si
    has_a = si | (rng.random(m) >= model.disp_no_arrival[disp])
    has_a[si] = True
    p_nodisp = np.where(has_a, model.p_nodisp_arr, model.p_nodisp_noarr)
    has_d = res & (rng.random(m) >= p_nodisp)
    d_utc = r_utc + svc["dispatch"]
    a_utc = np.where(si, r_utc, d_utc + svc["travel"])
    c_utc = np.where(has_a, a_utc + svc["on_scene"], r_utc + svc["cancel"])
    # a call cancelled before arrival was dispatched no later than it closed
    d_utc = np.where(~has_a, np.minimum(d_utc, c_utc), d_utc)

    # ---- dirt: cleared before arrival, over 24 h (exact quotas per chunk)
    q_cba = _quota(int(round(n * dirt.cleared_before_arrival_rate)), start, start + m, n)
    q_long = _quota(int(round(n * dirt.over_24h_rate)), start, start + m, n)
    lo = np.where(has_d, np.maximum(r_utc, d_utc), r_utc)
    cand = np.flatnonzero(res & has_a & has_d & (a_utc - lo >= 2))
    pick = rng.choice(cand, size=min(q_cba, len(cand)), replace=False) if q_cba else np.zeros(0, np.int64)
    span = a_utc[pick] - lo[pick] - 1
    c_utc[pick] = lo[pick] + 1 + np.floor(rng.random(len(pick)) * span).astype(np.int64)
    rest = np.setdiff1d(np.arange(m), pick)
    pick_long = rng.choice(rest, size=min(q_long, len(rest)), replace=False) if q_long else np.zeros(0, np.int64)
    c_utc[pick_long] = r_utc[pick_long] + rng.integers(25 * 3600, 40 * 3600, len(pick_long))

    # ---- local wall clock
    r_l, d_l, a_l, c_l = (clock.local(x) for x in (r_utc, d_utc, a_utc, c_utc))
    bad = _issues(r_l, d_l, a_l, c_l, has_d, has_a)
    injected = np.zeros(m, bool)
    injected[pick] = True
    injected[pick_long] = True
    stats = {
        "cleared_before_arrival": len(pick), "over_24h": len(pick_long),
        "dst_fold": int((bad & ~injected).sum()), "time_issue_rows": int(bad.sum()),
        "officer_initiated": int(si.sum()),
        "first": int(r_l[0]), "last": int(r_l[-1]),
    }

    # ---- incident numbers: month letter + sequence within the local month + 2-digit year
    day = r_l // 86400
    ym = np.array(day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64))
    first = np.r_[True, ym[1:] != ym[:-1]]
    grp_start = np.maximum.accumulate(np.where(first, np.arange(m), 0))
    seq = np.arange(m) - grp_start + 1
    carry = ids.get(int(ym[0]), 0)
    seq[ym == ym[0]] += carry
    ids.clear()
    ids[int(ym[-1])] = int(seq[-1])
    month = ym % 12
    year2 = (ym // 12 + 1970) % 100
    item = pc.binary_join_element_wise(
        pa.array(_MONTH_LETTERS[month]),
        pc.utf8_lpad(pa.array(seq).cast(pa.string()), 5, "0"),
        pc.utf8_lpad(pa.array(year2).cast(pa.string()), 2, "0"),
        "",
    )

    # ---- geography (beat centroid + jitter; synthetic block addresses)
    b = rng.integers(0, len(model.beats), m)
    bx = np.array([x["x"] for x in model.beats], float)[b] + rng.normal(0, model.jitter, m)
    by = np.array([x["y"] for x in model.beats], float)[b] + rng.normal(0, model.jitter, m)
    x, y = np.rint(bx), np.rint(by)
    lat = model.lat[0] * x + model.lat[1] * y + model.lat[2]
    lon = model.lon[0] * x + model.lon[1] * y + model.lon[2]
    loc = pc.binary_join_element_wise(
        pa.array(np.round(lat, 8)).cast(pa.string()), pa.array(np.round(lon, 8)).cast(pa.string()), ", ")
    loc = pc.binary_join_element_wise('"(' if csv else "(", loc, ')"' if csv else ")", "")
    s1 = rng.integers(0, len(model.streets), m)
    s2 = (s1 + rng.integers(1, len(model.streets), m)) % len(model.streets)
    inter = rng.random(m) < model.p_int
    block = pc.utf8_lpad(pa.array(rng.integers(0, 200, m)).cast(pa.string()), 3, "0")
    street1 = _take(model.streets, s1, False)
    addr = pc.if_else(
        pa.array(inter),
        pc.binary_join_element_wise(street1, _take(model.streets, s2, False), " & "),
        pc.binary_join_element_wise(block, street1, "XX "),
    )
    if csv and any(_quote(s) != s for s in model.streets):
        q = pc.match_substring_regex(addr, '[,"]')
        addr = pc.if_else(q, pc.binary_join_element_wise('"', pc.replace_substring(addr, '"', '""'), '"', ""), addr)

    init_labels = model.initial.labels
    cols = {
        "NOPD_Item": item,
        "Type_": _take(model.type_code, t, csv),
        "TypeText": _take(model.type_text, t, csv),
        "Priority": _take(model.prio.labels, prio, csv),
        "InitialType": _take([v[0] for v in init_labels], init, csv),
        "InitialTypeText": _take([v[1] for v in init_labels], init, csv),
        "InitialPriority": _take([v[2] for v in init_labels], init, csv),
        "MapX": pa.array(x.astype(np.int64)).cast(pa.string()),
        "MapY": pa.array(y.astype(np.int64)).cast(pa.string()),
        "TimeCreate": _ts(r_l, np.ones(m, bool)),
        "TimeDispatch": _ts(d_l, has_d),
        "TimeArrive": _ts(a_l, has_a),
        "TimeClosed": _ts(c_l, np.ones(m, bool)),
        "Disposition": _take(model.disp_codes, disp, csv),
        "DispositionText": _take(model.disp_text, disp, csv),
        "SelfInitiated": pc.if_else(pa.array(si), "Y", "N"),
        "Beat": _take([x["beat"] for x in model.beats], b, csv),
        "BLOCK_ADDRESS": addr,
        "Zip": _take([x["zip"] for x in model.beats], b, csv),
        "PoliceDistrict": _take([x["district"] for x in model.beats], b, csv),
        "Location": loc,
        "Neighborhood": _take([x["neighborhood"] for x in model.beats], b, csv),
    }
    table = pa.table(cols)

    # ---- duplicates: copies written 1-20 rows after their original
    # ("anchor": the call each row follows in the stream, so part files split between calls)
    local = dup_src[(dup_src >= start) & (dup_src < start + m)] - start
    anchor = np.arange(start, start + m)
    if len(local):
        at = np.minimum(local + rng.integers(1, 21, len(local)), m)
        order = np.insert(np.arange(m), at, local)
        table = table.take(pa.array(order))
        anchor = np.insert(anchor, at, start + at - 1)
    stats["duplicates"] = int(len(local))
    stats["anchor"] = anchor
    return table, stats


# ---------------------------------------------------------------- writing


class _CsvSink:
    """Rows joined into lines in Arrow and written as one buffer: fields are pre-quoted
    exactly where RFC 4180 needs it (as the real export does), which Arrow's writer cannot."""

    def __init__(self, path: Path, gz: bool):
        self.out = pa.CompressedOutputStream(str(path), "gzip") if gz else pa.OSFile(str(path), "wb")
        self.out.write((",".join(NOLA_COLUMNS) + "\n").encode())

    def write(self, table: pa.Table) -> None:
        line = pc.binary_join_element_wise(*[table[c] for c in NOLA_COLUMNS], ",",
                                           null_handling="replace", null_replacement="")
        line = pc.binary_join_element_wise(line, "", "\n").combine_chunks() if isinstance(
            line, pa.ChunkedArray) else pc.binary_join_element_wise(line, "", "\n")
        offsets = np.frombuffer(line.buffers()[1], np.int32)[line.offset: line.offset + len(line) + 1]
        data = line.buffers()[2]
        self.out.write(data[int(offsets[0]): int(offsets[-1])])

    def close(self) -> None:
        self.out.close()


class _ParquetSink:
    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        schema = pa.schema([(c, pa.string()) for c in NOLA_COLUMNS])
        self.w = pq.ParquetWriter(str(path), schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self.w.write_table(table.select(list(NOLA_COLUMNS)), row_group_size=len(table))

    def close(self) -> None:
        self.w.close()


def _sink(path: Path):
    low = path.name.lower()
    if low.endswith(".csv.gz"):
        return _CsvSink(path, True), True
    if low.endswith(".csv"):
        return _CsvSink(path, False), True
    if low.endswith((".parquet", ".pq")):
        return _ParquetSink(path), False
    raise ValueError(f"{path}: output must end in .csv, .csv.gz or .parquet")


def _start_utc(start, tz: str) -> int:
    import pandas as pd

    ts = pd.Timestamp(start)
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz, nonexistent="shift_forward", ambiguous=True)
    return int(ts.timestamp())


PART_FORMATS = ("parquet", "csv", "csv.gz")


def _part_bounds(n: int, files: int | None, file_calls: int | None) -> list[int] | None:
    """Call indices where each part file starts (plus ``n``), or None for one file."""
    if files is not None and file_calls is not None:
        raise ValueError("give files or file_calls, not both")
    if files is not None:
        if not 1 <= files <= n:
            raise ValueError(f"files must be between 1 and the number of calls ({n:,})")
        return [int(round(n * k / files)) for k in range(files + 1)]
    if file_calls is not None:
        if file_calls < 1:
            raise ValueError("file_calls must be at least 1")
        return list(range(0, n, file_calls)) + [n]
    return None


class _Parts:
    """Part files part-00000.<fmt>, ...: part k holds calls bounds[k] to bounds[k+1] - 1 and the
    duplicate copies that follow them in the stream, so a copy may land in the next file."""

    def __init__(self, out: Path, bounds: list[int], fmt: str):
        if fmt not in PART_FORMATS:
            raise ValueError(f"format must be one of {', '.join(PART_FORMATS)}, not {fmt!r}")
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ValueError(f"{out}: part files need a new or empty directory")
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.bounds, self.fmt = out, np.asarray(bounds), fmt
        self.k, self.sink, self.info = -1, None, []
        self.csv = fmt != "parquet"

    def _open(self, k: int) -> None:
        self.close()
        path = self.out / f"part-{k:05d}.{self.fmt}"
        self.sink, _ = _sink(path)
        self.k = k
        self.info.append({"path": str(path), "calls": int(self.bounds[k + 1] - self.bounds[k]), "rows": 0})

    def write(self, table: pa.Table, anchor: np.ndarray) -> None:
        part = np.searchsorted(self.bounds, anchor, side="right") - 1  # non-decreasing
        for k in range(int(part[0]), int(part[-1]) + 1):
            lo, hi = np.searchsorted(part, k, "left"), np.searchsorted(part, k, "right")
            if k != self.k:
                self._open(k)
            if hi > lo:
                self.sink.write(table.slice(lo, hi - lo))
                self.info[-1]["rows"] += int(hi - lo)

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()
            self.info[-1]["bytes"] = Path(self.info[-1]["path"]).stat().st_size
            self.sink = None


def generate(n_calls: int, out_path, layout: str = "new_orleans", seed: int = 0, start="2024-01-01", *,
             calls_per_day: float = 1200.0, dirt: Dirt | None = None, chunk_rows: int = 500_000,
             calibration: str | None = None, progress: bool = False, files: int | None = None,
             file_calls: int | None = None, fmt: str = "parquet") -> SynthResult:
    """Write a synthetic export of ``n_calls`` distinct calls to ``out_path``; returns what was written.

    ``start`` is local midnight (or a local time) in the agency's zone; ``calls_per_day``
    sets the volume (default about New Orleans's ~440k calls a year), so the span is
    ``n_calls / calls_per_day`` days. Memory is bounded by ``chunk_rows``, not ``n_calls``.
    The same arguments always write the same bytes.

    ``files`` (that many parts of equal size) or ``file_calls`` (calls per part) make
    ``out_path`` a new directory of part files (``part-00000.<fmt>``, ``fmt`` parquet, csv or
    csv.gz), the way a city exports a long history. The parts in order are the single file's
    row stream for the same seed (a duplicate may be in the file after its original), so an
    ingest of the directory gives the same totals; ``SynthResult.parts`` lists them.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; synthetic layouts: {', '.join(LAYOUTS)}")
    n_calls = int(n_calls)
    if n_calls < 1:
        raise ValueError("n_calls must be at least 1")
    if calls_per_day <= 0 or chunk_rows < 1:
        raise ValueError("calls_per_day and chunk_rows must be positive")
    if n_calls / calls_per_day > 99 * 365:
        raise ValueError("the export would span more than 99 years; 2-digit-year incident numbers would repeat")
    bounds = _part_bounds(n_calls, files, file_calls)
    dirt = Dirt() if dirt is None else dirt
    t_start = time.perf_counter()
    out = Path(out_path)
    if bounds is None:
        out.parent.mkdir(parents=True, exist_ok=True)
        sink, csv = _sink(out)
    else:
        sink = _Parts(out, bounds, fmt)
        csv = sink.csv
    cal = load_calibration(calibration)
    model = _Model(cal)
    rng = np.random.default_rng(seed)
    clock = _Clock(model, _start_utc(start, model.tz), calls_per_day, n_calls)
    k_dup = int(round(n_calls * dirt.duplicate_rate))
    dup_src = np.sort(rng.choice(n_calls, size=k_dup, replace=False)) if k_dup else np.zeros(0, np.int64)
    totals = {"cleared_before_arrival": 0, "over_24h": 0, "dst_fold": 0, "time_issue_rows": 0,
              "officer_initiated": 0, "duplicates": 0}
    first = last = None
    ids: dict = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_calls, unit="call", desc="synth", leave=False)
    try:
        for s in range(0, n_calls, chunk_rows):
            m = min(chunk_rows, n_calls - s)
            table, st = _chunk(model, clock, rng, m, s, n_calls, dirt, dup_src, ids, csv)
            if bounds is None:
                sink.write(table)
            else:
                sink.write(table, st["anchor"])
            for k in totals:
                totals[k] += st[k]
            first = st["first"] if first is None else first
            last = st["last"]
            if bar is not None:
                bar.update(m)
    finally:
        sink.close()
        if bar is not None:
            bar.close()

    def iso(s):
        return str(np.datetime64(int(s), "s"))

    parts = [] if bounds is None else sink.info
    return SynthResult(
        path=str(out), layout=layout, calls=n_calls, rows=n_calls + totals["duplicates"],
        duplicates=totals["duplicates"], cleared_before_arrival=totals["cleared_before_arrival"],
        over_24h=totals["over_24h"], dst_fold=totals["dst_fold"], time_issue_rows=totals["time_issue_rows"],
        officer_initiated=totals["officer_initiated"], first_received=iso(first), last_received=iso(last),
        seed=seed, seconds=round(time.perf_counter() - t_start, 3),
        bytes=sum(p["bytes"] for p in parts) if parts else out.stat().st_size, dirt=asdict(dirt), parts=parts,
    )


__all__ = ["generate", "Dirt", "SynthResult", "load_calibration", "LAYOUTS", "NOLA_COLUMNS", "PART_FORMATS"]
