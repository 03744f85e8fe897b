"""Two scenarios side by side (baseline and pilot): cost, hours freed, team size, response times.

Both run with the same seed, so their replications share random numbers (common random
numbers): the difference between them is estimated far more tightly than either alone.
Every figure is one of rightresponse.simulate.metrics, read the same way `simulate` reads
it, so the two commands never disagree about a number they both show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import DEFAULT_MIN_CELL, TOTAL, comparison_lines, denoise, metric_text
from .run import SimulationResult, ci, json_safe, simulate


@dataclass
class Comparison:
    a: SimulationResult
    b: SimulationResult
    table: pd.DataFrame  # section, key, metric, unit, a, a_low, a_high, b, b_low, b_high, difference, difference_low, difference_high, a_text, b_text
    min_cell: int = DEFAULT_MIN_CELL
    extra: dict = field(default_factory=dict)

    def to_csv(self, path) -> Path:
        """The table (published figures: a withheld one is empty, and its ``a_text`` /
        ``b_text`` says "<N" or "[withheld]")."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.table.to_csv(p, index=False)
        return p

    def to_dict(self) -> dict:
        return json_safe({"a": self.a.scenario.id, "b": self.b.scenario.id, "min_cell": self.min_cell,
                          "table": self.table.to_dict(orient="records"), "summary": self.summary_lines()})

    def summary_lines(self) -> list[str]:
        return comparison_lines(self)

    def html(self, heading: str | None = None, level: int = 2) -> str:
        """An HTML fragment (a <section>) for another page."""
        from ..report.scenarios import comparison_html

        return comparison_html(self, heading, level)

    def page(self) -> str:
        """comparison.html: a complete page on the report's template, with its sample banner."""
        from ..report.scenarios import comparison_page

        return comparison_page(self)


def _rep(res: SimulationResult, key: str) -> np.ndarray:
    return res.per_replication[key].to_numpy(dtype=float)


def compare_scenarios(a, b, replications: int | None = None, seed: int | None = None, workspace=None,
                      progress: bool = False, min_cell: int = DEFAULT_MIN_CELL) -> Comparison:
    """Run scenarios ``a`` (baseline) and ``b`` (pilot) and tabulate them side by side.

    ``a``/``b``: paths, shipped example names, Scenarios or finished SimulationResults.
    ``min_cell``: counts of calls below it (a team that gets a handful) are withheld, with
    every figure resting on them (rightresponse.report.disclosure).
    """
    memo: dict = {}  # both scenarios usually share the data: prepare it once
    ra = a if isinstance(a, SimulationResult) else simulate(a, replications, seed, workspace, progress, memo)
    rb = b if isinstance(b, SimulationResult) else simulate(b, replications or ra.replications,
                                                            ra.seed if seed is None else seed, workspace, progress,
                                                            memo)
    return Comparison(ra, rb, comparison_table(ra, rb, min_cell), min_cell)


def comparison_table(ra: SimulationResult, rb: SimulationResult, min_cell: int = DEFAULT_MIN_CELL) -> pd.DataFrame:
    """Both results' metric tables (rightresponse.simulate.metrics.metric_table) side by side.
    Pools are matched by their section name (the pool's name); a figure one scenario lacks is
    NaN. The difference is withheld when either side is; per-week totals of both runs over the
    same weeks get a paired confidence interval (common random numbers)."""
    ma, mb = ra.metrics(min_cell), rb.metrics(min_cell)
    keys = list(dict.fromkeys(list(zip(ma.section, ma.key)) + list(zip(mb.section, mb.key))))
    ia, ib = ma.set_index(["section", "key"]), mb.set_index(["section", "key"])
    conf = min(ra.confidence, rb.confidence)
    paired = {m.key: m for m in TOTAL if m.per_week}
    rows = []
    for sec, key in keys:
        base = ia.loc[(sec, key)] if (sec, key) in ia.index else ib.loc[(sec, key)]
        va = tuple(ia.loc[(sec, key), ["mean", "low", "high"]]) if (sec, key) in ia.index else (math.nan,) * 3
        vb = tuple(ib.loc[(sec, key), ["mean", "low", "high"]]) if (sec, key) in ib.index else (math.nan,) * 3
        d = denoise(vb[0] - va[0]) if va[0] == va[0] and vb[0] == vb[0] else math.nan
        dl = dh = math.nan
        if d == d and key in paired and base["pool"] == "" and ra.weeks == rb.weeks and ra.weeks:
            x, y = _rep(ra, key), _rep(rb, key)
            if len(x) == len(y) and key in ra.per_replication and key in rb.per_replication:
                dl, dh = (denoise(v) for v in ci((y - x) / ra.weeks, conf)[1:])
        rows.append({"section": sec, "key": key, "metric": base["metric"], "unit": base["unit"],
                     "a": va[0], "a_low": va[1], "a_high": va[2], "b": vb[0], "b_low": vb[1], "b_high": vb[2],
                     "difference": d, "difference_low": dl, "difference_high": dh,
                     "a_text": _text(ra, sec, key, va, base["unit"], min_cell),
                     "b_text": _text(rb, sec, key, vb, base["unit"], min_cell)})
    return pd.DataFrame(rows)


def _text(res, sec, key, v, unit, min_cell) -> str:
    """How one side reads: the same words `simulate` uses for the figure."""
    from .metrics import POOL, shown

    if v[0] == v[0]:
        return metric_text(unit, v)
    pool = next((pid for pid, p in res.scenario.pools.items() if sec == f"pool: {p.name}"), None)
    if pool is None and sec.startswith("pool: "):
        return "–"  # the pool is not part of this scenario
    m = next((m for m in (POOL if pool else TOTAL) if m.key == key), None)
    return shown(res, m, pool, min_cell) if m is not None else "n/a"


__all__ = ["Comparison", "compare_scenarios", "comparison_table"]
