"""Crosswalks (shipped, per agency) and overrides (the user's edits): exact value -> category.

Both are CSV files with columns agency, field, value, category (+ decided_by for
crosswalks). Lookups ignore case and surrounding whitespace and match on (agency, value);
``field`` records which CAD column the value came from and breaks ties only when the
caller knows the field. An override row with an empty agency (or ``*``) applies to every
agency. Resolution order everywhere: override > agency crosswalk > classifier.
"""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a frame is made: triage on the command line never needs it
    import pandas as pd

from .call_type_text import match_key
from .taxonomy import TaxonomyError, load_taxonomy

CROSSWALK_DIR = Path(__file__).parent / "crosswalks"
CROSSWALK_COLUMNS = ["agency", "field", "value", "category", "decided_by"]
OVERRIDE_COLUMNS = ["agency", "field", "value", "category"]
DECIDED_BY = ("published", "reviewed", "model")
ANY_AGENCY = "*"


def agency_id(name: object) -> str:
    """Canonical agency id: 'New Orleans' -> 'new_orleans' (matches adapter ids)."""
    s = "" if name is None or (isinstance(name, float) and name != name) else str(name)
    return re.sub(r"[^a-z0-9]+", "_", s.strip().lower()).strip("_")


def available_crosswalks() -> list[str]:
    return sorted(p.stem for p in CROSSWALK_DIR.glob("*.csv"))


def _read_csv(path: Path, required: list[str], kind: str, taxonomy) -> pd.DataFrame:
    """Read and validate; errors name the file, the row (data row, 1-based) and the column."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise TaxonomyError(f"{path}: {kind} file not found") from None
    except UnicodeDecodeError as exc:
        raise TaxonomyError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not rows:
        raise TaxonomyError(f"{path}: empty {kind} file; expected a header with {', '.join(required)}")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise TaxonomyError(f"{path}: header is missing column(s) {', '.join(missing)} "
                            f"(found {', '.join(header) or 'nothing'})")
    idx = {c: header.index(c) for c in header}
    names = set(taxonomy.names)
    out = []
    for n, row in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))
        rec = {c: row[i].strip() for c, i in idx.items()}
        where = f"{path}: row {n} (line {n + 1})"
        if not rec["value"]:
            raise TaxonomyError(f"{where}, column 'value': empty value")
        if rec["category"] and rec["category"] not in names:
            close = [c for c in names if c.lower() == rec["category"].lower()]
            hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(taxonomy.names)}"
            raise TaxonomyError(f"{where}, column 'category': {rec['category']!r} is not a category of "
                                f"taxonomy {taxonomy.name}{hint}")
        if "decided_by" in required and rec["decided_by"] not in DECIDED_BY:
            raise TaxonomyError(f"{where}, column 'decided_by': {rec['decided_by']!r} is not one of {', '.join(DECIDED_BY)}")
        out.append(rec)
    import pandas as pd

    df = pd.DataFrame(out, columns=header if out else required)
    return df


@functools.lru_cache(maxsize=64)
def _load_crosswalk_file(path: str, taxonomy_source: str) -> pd.DataFrame:
    tax = load_taxonomy(taxonomy_source)
    df = _read_csv(Path(path), CROSSWALK_COLUMNS, "crosswalk", tax)[CROSSWALK_COLUMNS]
    df["agency"] = df["agency"].map(agency_id)
    return df[df["category"] != ""].reset_index(drop=True)


def load_crosswalk(agency: str, taxonomy=None) -> pd.DataFrame:
    """The shipped crosswalk of one agency (empty frame if there is none)."""
    tax = taxonomy or load_taxonomy()
    path = CROSSWALK_DIR / f"{agency_id(agency)}.csv"
    if not path.exists():
        import pandas as pd

        return pd.DataFrame(columns=CROSSWALK_COLUMNS)
    return _load_crosswalk_file(str(path), tax.source).copy()


@functools.lru_cache(maxsize=64)
def _crosswalk_lookup(agency: str, taxonomy_source: str) -> "Lookup":
    return Lookup(load_crosswalk(agency, load_taxonomy(taxonomy_source)), "crosswalk")


def crosswalk_lookup(agency: str, taxonomy=None) -> "Lookup":
    """Exact-match index over one agency's shipped crosswalk (cached per data file)."""
    tax = taxonomy or load_taxonomy()
    return _crosswalk_lookup(agency_id(agency), tax.source)


def load_crosswalks(agencies=None, taxonomy=None) -> pd.DataFrame:
    """All shipped crosswalks (or those of the given agencies), one frame."""
    names = available_crosswalks() if agencies is None else [agency_id(a) for a in agencies]
    frames = [load_crosswalk(a, taxonomy) for a in names]
    frames = [f for f in frames if len(f)]
    import pandas as pd

    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CROSSWALK_COLUMNS)


def load_overrides(path: str | Path, taxonomy=None) -> pd.DataFrame:
    """Read a user's override CSV (agency, field, value, category; extra columns ignored).

    Rows with an empty category are skipped, so a review table saved with some
    categories blanked out is a valid override file. Invalid categories raise
    TaxonomyError naming the file, the row and the column.
    """
    tax = taxonomy or load_taxonomy()
    df = _read_csv(Path(path), OVERRIDE_COLUMNS, "override", tax)
    df = df[OVERRIDE_COLUMNS]
    df = df[df["category"] != ""].copy()
    df["agency"] = [agency_id(a) or ANY_AGENCY for a in df["agency"]]
    return df.reset_index(drop=True)


def save_overrides(df: pd.DataFrame, path: str | Path, taxonomy=None) -> Path:
    """Write overrides (validated first, so a bad edit never reaches disk)."""
    tax = taxonomy or load_taxonomy()
    missing = [c for c in OVERRIDE_COLUMNS if c not in df.columns]
    if missing:
        raise TaxonomyError(f"{path}: cannot save overrides, missing column(s) {', '.join(missing)}")
    out = df[OVERRIDE_COLUMNS].copy()
    out = out.astype(object).where(out.notna(), "")
    for n, (_, rec) in enumerate(out.iterrows(), start=1):
        cat = str(rec["category"]).strip()
        if cat and cat not in tax:
            raise TaxonomyError(f"{path}: row {n}, column 'category': {cat!r} is not a category of "
                                f"taxonomy {tax.name}; expected one of: {', '.join(tax.names)}")
        if not str(rec["value"]).strip():
            raise TaxonomyError(f"{path}: row {n}, column 'value': empty value")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, encoding="utf-8")
    return path


def coerce_overrides(overrides, taxonomy=None) -> pd.DataFrame | None:
    """Accept a path, a DataFrame or None; return a validated frame or None."""
    if overrides is None:
        return None
    if isinstance(overrides, (str, Path)):
        return load_overrides(overrides, taxonomy)
    import pandas as pd

    if isinstance(overrides, pd.DataFrame):
        tax = taxonomy or load_taxonomy()
        missing = [c for c in OVERRIDE_COLUMNS if c not in overrides.columns]
        if missing:
            raise TaxonomyError(f"overrides frame is missing column(s) {', '.join(missing)}")
        df = overrides[OVERRIDE_COLUMNS].astype(object).where(overrides[OVERRIDE_COLUMNS].notna(), "")
        df = df.astype(str).apply(lambda s: s.str.strip())
        df = df[df["category"] != ""].copy()
        bad = df[~df["category"].isin(tax.names)]
        if len(bad):
            i = bad.index[0]
            raise TaxonomyError(f"overrides frame: row {i}, column 'category': {bad.loc[i, 'category']!r} "
                                f"is not a category of taxonomy {tax.name}")
        df["agency"] = [agency_id(a) or ANY_AGENCY for a in df["agency"]]
        return df.reset_index(drop=True)
    raise TypeError("overrides must be a path, a DataFrame or None")


class Lookup:
    """Exact-match index over crosswalk or override rows: (agency, value) -> row.

    The first row for a key wins (crosswalk files list the most frequent use first).
    """

    def __init__(self, df: pd.DataFrame | None, source: str):
        self.source = source
        self._exact: dict[tuple[str, str], dict] = {}
        self._by_field: dict[tuple[str, str, str], dict] = {}
        if df is None or not len(df):
            return
        for rec in df.to_dict("records"):
            key = (rec["agency"], match_key(rec["value"]))
            self._exact.setdefault(key, rec)
            self._by_field.setdefault((*key, str(rec.get("field") or "").lower()), rec)

    def __len__(self) -> int:
        return len(self._exact)

    def get(self, agency: str, value: object, field: str | None = None) -> dict | None:
        k = match_key(value)
        if not k:
            return None
        for a in (agency, ANY_AGENCY):
            if isinstance(field, str) and field:
                hit = self._by_field.get((a, k, field.lower()))
                if hit:
                    return hit
            hit = self._exact.get((a, k))
            if hit:
                return hit
        return None
