"""The five samples the disclosure and report tests read, each assessed once per test run.

DECC is the bundled sample; New Orleans, San Diego, Seattle and Baltimore are the real
exports in ../shared/data/cfs (each test skips when they are absent); decc_week_nyc311 is a
DECC week with the NYC 311 samples (../shared/data/311/nyc), CAD and 311 in one workspace. Every assessment is
written twice: as published (min_cell 10) and exact (min_cell 0, the truth the attacker's
claims are checked against).
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from conftest import CFS, DATA, REPO, need

SAMPLES = {
    "decc": None,  # the bundled sample
    "new_orleans": CFS / "new_orleans" / "nola_cfs_2016_subset_from_diff.csv",
    "san_diego": CFS / "san_diego" / "pd_calls_for_service_2023_datasd_jan1-22.csv",
    "seattle": CFS / "seattle",
    "baltimore": CFS / "baltimore",
    # 911 and 311 together: one bundled DECC week and the two NYC 311 files (311 requests of
    # the NYPD in scope beside the CAD calls)
    "decc_week_nyc311": (REPO / "src/rightresponse/data/sample/decc_psap_2025/week39.csv.gz", DATA / "311" / "nyc"),
}


@functools.lru_cache(maxsize=None)
def assessed(sample: str):
    """(AssessResult written with min_cell 10, directory of the exact tables, workspace)."""
    from rightresponse.assess import assess

    root = Path(tempfile.mkdtemp(prefix=f"rr-test-{sample}-"))
    src = SAMPLES[sample]
    if src is None:
        from rightresponse.samples import sample_paths

        paths = [str(p) for p in sample_paths()]
    else:
        paths = [str(need(p)) for p in (src if isinstance(src, tuple) else (src,))]
    res = assess(paths=paths, workspace=root / "ws", out=root / "published")
    res.write(root / "exact", min_cell=0)
    return res, root / "exact", root / "ws"
