"""Files that hold addresses, narratives, raw records or decisions: readable by their owner only.

A workspace's sensitive and quarantine tables, the analyst folder of an assessment and the
decision log are created 0600 in 0700 folders, whatever the umask, so another account on a
shared analysis machine cannot read them. (The aggregated report and tables stay as the
umask makes them: they are meant to be shared.)
"""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path, below: Path | None = None) -> Path:
    """Create ``path`` readable by the owner only, tightening it if it exists; with ``below``,
    every folder from there down to ``path`` too (mkdir gives missing parents the default mode)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    chain = [path]
    if below is not None:
        chain += [p for p in path.parents if below in p.parents]
    for p in chain:
        os.chmod(p, 0o700)
    return path


def make_private(root: Path) -> None:
    """Every folder under ``root`` (itself included) 0700, every file 0600."""
    os.chmod(root, 0o700)
    for d, dirs, files in os.walk(root):
        for x in dirs:
            os.chmod(os.path.join(d, x), 0o700)
        for x in files:
            os.chmod(os.path.join(d, x), 0o600)


def create_private_file(path: Path) -> bool:
    """Create an empty file 0600 (its folder 0700 if it is made here) unless it exists;
    True if it was created. An existing file keeps the mode its owner gave it."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return True
    except FileExistsError:
        return False
