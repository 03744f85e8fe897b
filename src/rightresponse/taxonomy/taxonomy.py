"""The category taxonomy, loaded from YAML so a city can bring its own."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import RightResponseError
from ..yaml_data import load_yaml

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_TAXONOMY = DATA_DIR / "vera22.yaml"


class TaxonomyError(RightResponseError, ValueError):
    """A taxonomy, crosswalk or override file is malformed; the message names the spot."""


@dataclass(frozen=True)
class Category:
    name: str
    definition: str
    crime_group: str
    demand_type: str


@dataclass(frozen=True)
class Taxonomy:
    name: str
    title: str
    categories: tuple[Category, ...]
    crime_groups: tuple[str, ...]
    demand_types: tuple[str, ...]
    source: str = ""
    _by_name: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self._by_name.update({c.name: c for c in self.categories})

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.categories]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Category:
        return self._by_name[name]

    def crime_group(self, name: str | None) -> str | None:
        c = self._by_name.get(name)
        return c.crime_group if c else None

    def demand_type(self, name: str | None) -> str | None:
        c = self._by_name.get(name)
        return c.demand_type if c else None

    def rollups(self):
        """One row per category with its roll-ups (a pandas DataFrame), for joins."""
        import pandas as pd

        return pd.DataFrame(
            [(c.name, c.crime_group, c.demand_type) for c in self.categories],
            columns=["category", "crime_group", "demand_type"],
        )


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load the default Vera taxonomy, or a user file of the same shape."""
    return _load_taxonomy(str(Path(path).resolve()) if path else str(DEFAULT_TAXONOMY))


@functools.lru_cache(maxsize=8)
def _load_taxonomy(path: str) -> Taxonomy:
    try:
        with open(path, encoding="utf-8") as f:
            doc = load_yaml(f)
    except FileNotFoundError:
        raise TaxonomyError(f"{path}: taxonomy file not found") from None
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("categories"), list):
        raise TaxonomyError(f"{path}: expected a mapping with a 'categories' list")
    groups = tuple(doc.get("crime_groups") or ())
    demands = tuple(doc.get("demand_types") or ())
    cats, seen = [], set()
    for i, c in enumerate(doc["categories"], start=1):
        where = f"{path}: category #{i}"
        if not isinstance(c, dict):
            raise TaxonomyError(f"{where}: expected a mapping")
        for key in ("name", "definition", "crime_group", "demand_type"):
            if not str(c.get(key) or "").strip():
                raise TaxonomyError(f"{where} ({c.get('name', '?')}): missing '{key}'")
        name = str(c["name"]).strip()
        if name in seen:
            raise TaxonomyError(f"{where}: duplicate category name {name!r}")
        if groups and c["crime_group"] not in groups:
            raise TaxonomyError(f"{where} ({name}): crime_group {c['crime_group']!r} is not one of {list(groups)}")
        if demands and c["demand_type"] not in demands:
            raise TaxonomyError(f"{where} ({name}): demand_type {c['demand_type']!r} is not one of {list(demands)}")
        seen.add(name)
        cats.append(Category(name, " ".join(str(c["definition"]).split()), c["crime_group"], c["demand_type"]))
    return Taxonomy(
        name=str(doc.get("name") or Path(path).stem),
        title=str(doc.get("title") or ""),
        categories=tuple(cats),
        crime_groups=groups or tuple(dict.fromkeys(c.crime_group for c in cats)),
        demand_types=demands or tuple(dict.fromkeys(c.demand_type for c in cats)),
        source=path,
    )
