"""The package's error base, and the one shape a problem in a user's file takes.

Every error the package raises because of its input (a file, a config, a workspace, an
option) derives from ``RightResponseError``, so a caller catches one type and the CLI prints
any of them the same way: one line per problem, no traceback, exit code 2. Errors that were
``ValueError``s before stay ``ValueError``s too (callers that catch those keep working).

A problem in an adapter, policy or scenario file is a ``Problem``: the file, the YAML path of
the value at fault (``rules[3].responder``, ``pools.police.units``) and what is wrong, written
``file: path: message``. Validation reports every problem of a file at once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


class RightResponseError(Exception):
    """Base of the package's errors about its input; the CLI prints ``str(error)``, one line
    per problem, and exits with code 2."""

    def lines(self) -> list[str]:
        """The message as the CLI prints it: one line per problem."""
        return [ln for ln in str(self).splitlines() if ln.strip()] or [type(self).__name__]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file: where (the file and the YAML path of the value) and what."""

    file: str
    path: str  # "" = the document as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}" if self.path else f"{self.file}: {self.message}"


def did_you_mean(word, options) -> str:
    """' (did you mean 'x'?)' for the closest of ``options``, or '' when none is close."""
    close = difflib.get_close_matches(str(word), sorted(str(o) for o in options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def yaml_path(loc) -> str:
    """A location as a YAML path: ('rules', 2, 'responder') -> 'rules[2].responder'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
