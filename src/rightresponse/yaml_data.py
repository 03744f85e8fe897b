"""YAML read as data, in one place: the safe loader (no tag builds an object), in C.

Every file a user or the package writes in YAML (policies, scenarios, adapters, the
taxonomy and its rules and flags) is read through ``load_yaml``. libyaml's safe loader,
which PyYAML's wheels include, parses about ten times faster than the pure-Python one (the
denver-star preset in 1.5 ms instead of 14.7, the narrative flags in 0.3 instead of 4.8),
time a one-call ``rightresponse triage`` pays (benchmarks/triage_cli.py). Its error messages
are vaguer, though ("did not find expected ',' or '}'" at the next line), so a file libyaml
refuses is read again by the pure-Python loader: its error names the line, column and
problem a user can act on (and what it accepts, it returns, as before this module).
"""

from __future__ import annotations

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(source):
    """The data in ``source`` (text, bytes or an open text file); a yaml.YAMLError worded
    by the pure-Python safe loader."""
    text = source.read() if hasattr(source, "read") else source
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError:
        if SAFE_LOADER is yaml.SafeLoader:
            raise
    return yaml.load(text, Loader=yaml.SafeLoader)  # the pure-Python loader's error, or its data
