"""Real sample data that ships inside the package, so the quickstart works offline."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLES = {
    "decc": "decc_psap_2025",
}
DEFAULT_SAMPLE = "decc"


def sample_paths(name: str = DEFAULT_SAMPLE) -> list[Path]:
    """The files of a bundled sample (see data/sample/README.md for provenance)."""
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; samples: {', '.join(SAMPLES)}")
    root = Path(str(resources.files("rightresponse") / "data" / "sample" / SAMPLES[name]))
    return sorted(root.glob("*.csv.gz"))
