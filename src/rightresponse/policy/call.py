"""The call as the call-taker knows it: call type, category, priority, origin, time, answers.

``make_call`` builds one from loose values (CLI strings, YAML examples, JSON bodies) and says
what is wrong with them; ``Call`` is immutable and carries its answered flags as bit masks
(``present``, ``known``) so triage tests them in one operation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time

from ..schema import ORIGINS
from .vocabulary import FLAG_BIT, FLAGS, RESPONDERS


@dataclass(frozen=True)
class Call:
    """What the call-taker knows. ``flags`` holds answered questions: name -> True/False.

    ``category``: None = not classified yet (triage classifies ``call_type`` via the taxonomy's
    category provider); ``""`` = classified, no category fits.
    """

    call_type: str | None = None
    category: str | None = None
    priority: int | None = None
    origin: str | None = None
    dow: int | None = None  # 0 = Monday; None = day unknown
    minute: int | None = None  # minute of the local day; None = time unknown
    flags: tuple[tuple[str, bool], ...] = ()
    unavailable: frozenset = frozenset()
    present: int = field(default=0, compare=False)
    known: int = field(default=0, compare=False)

    def __post_init__(self):
        fl = self.flags.items() if isinstance(self.flags, dict) else self.flags
        fl = tuple(sorted((str(k), bool(v)) for k, v in fl))
        object.__setattr__(self, "flags", fl)
        object.__setattr__(self, "unavailable", frozenset(self.unavailable))
        present = known = 0
        for k, v in fl:
            bit = FLAG_BIT.get(k)
            if bit is None:
                raise ValueError(f"unknown flag {k!r}; flags: {', '.join(FLAGS)}")
            known |= bit
            if v:
                present |= bit
        object.__setattr__(self, "present", present)
        object.__setattr__(self, "known", known)

    def with_flag(self, name: str, value: bool = True) -> "Call":
        fl = dict(self.flags)
        fl[name] = value
        return Call(self.call_type, self.category, self.priority, self.origin, self.dow, self.minute,
                    tuple(fl.items()), self.unavailable)


def parse_flags(flags) -> dict:
    if flags is None:
        return {}
    if isinstance(flags, dict):
        out = {}
        for k, v in flags.items():
            if k not in FLAG_BIT:
                raise ValueError(f"unknown flag {k!r}; flags: {', '.join(FLAGS)}")
            if not isinstance(v, bool):
                raise ValueError(f"flag {k}: use true or false, not {v!r}")
            out[k] = v
        return out
    out = {}
    for item in ([flags] if isinstance(flags, str) else flags):
        s = str(item).strip().lower().replace("-", "_")
        value = True
        m = re.fullmatch(r"([a-z_]+)\s*=\s*(yes|no|true|false|y|n|1|0)", s)
        if m:
            s, value = m[1], m[2] in ("yes", "true", "y", "1")
        elif s.startswith(("no_", "not_", "!")):
            s, value = s.split("_", 1)[1] if not s.startswith("!") else s[1:], False
        if s not in FLAG_BIT:
            raise ValueError(f"unknown flag {item!r}; flags: {', '.join(FLAGS)} (prefix no_ for a confirmed 'no')")
        out[s] = value
    return out


def screened_flags(flags=None) -> dict:
    """``flags`` (any form make_call takes) with every flag not given answered "no": a call
    whose screen the call-taker completed."""
    given = parse_flags(flags)
    return {f: given.get(f, False) for f in FLAGS}


def _parse_at(at) -> tuple[int | None, int | None]:
    """(weekday, minute of day) from a datetime, a time, 'HH:MM' or an ISO date-time.

    The wall-clock time is used as given: it is the call centre's local time.
    """
    if at is None or at == "":
        return None, None
    if isinstance(at, datetime):
        return at.weekday(), at.hour * 60 + at.minute
    if isinstance(at, time):
        return None, at.hour * 60 + at.minute
    if isinstance(at, date):
        raise ValueError(f"at={at!r}: give a time of day, not only a date")
    s = str(at).strip()
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2}(?:\.\d+)?)?", s)
    if m:
        h, mi = int(m[1]), int(m[2])
        if h > 23 or mi > 59:
            raise ValueError(f"at={at!r}: not a time of day")
        return None, h * 60 + mi
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"at={at!r}: use HH:MM or an ISO date-time like 2025-08-24T03:00") from None
    if len(s) <= 10:
        raise ValueError(f"at={at!r}: give a time of day, not only a date")
    return d.weekday(), d.hour * 60 + d.minute


def make_call(call_type=None, category=None, priority=None, origin=None, at=None, flags=None,
              unavailable=None) -> Call:
    """Build a Call from loose values (CLI strings, YAML examples); ValueError says what is wrong."""
    if priority is not None and priority != "":
        m = re.fullmatch(r"\s*[pP]?(\d+)\s*", str(priority))
        if not m or isinstance(priority, bool):
            raise ValueError(f"priority {priority!r}: give the priority rank (1 = most urgent)")
        priority = int(m[1])
    else:
        priority = None
    if origin is not None and origin not in ORIGINS:
        raise ValueError(f"origin {origin!r}: use one of {', '.join(ORIGINS)}")
    unavailable = frozenset(unavailable or ())
    for r in unavailable:
        if r not in RESPONDERS:
            raise ValueError(f"unavailable responder {r!r}: responders are {', '.join(RESPONDERS)}")
    dow, minute = _parse_at(at)
    return Call(call_type=None if call_type is None else str(call_type), category=category, priority=priority,
                origin=origin, dow=dow, minute=minute, flags=tuple(parse_flags(flags).items()), unavailable=unavailable)
