"""YAML read as data, in one place: the safe loader (no tag builds an object), in C.

Every file a user or the package writes in YAML (policies, scenarios, adapters, the
taxonomy and its rules and flags) is read through ``load_yaml``. libyaml's safe loader,
which PyYAML's wheels include, parses about ten times faster than the pure-Python one: a
preset policy in 3 ms instead of 30, which was a third of a one-call ``rightresponse
triage`` (benchmarks/triage_cli.py). Its error messages are vaguer, though ("did not find
expected ',' or '}'" at the next line), so a file that fails is read again by the
pure-Python loader, whose error names the line, column and problem a user can act on.
"""

from __future__ import annotations

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(source):
    """The data in ``source`` (text, bytes or an open text file); yaml.YAMLError as the
    pure-Python safe loader words it."""
    text = source.read() if hasattr(source, "read") else source
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as fast_error:
        if SAFE_LOADER is yaml.SafeLoader:
            raise
        try:
            yaml.load(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise exc from None
        raise fast_error from None
