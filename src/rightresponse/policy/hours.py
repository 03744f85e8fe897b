"""Hours as a policy writes them ('24/7', 'mon-fri 10:00-18:00', crossing midnight), read into
one bit per minute per weekday so "is the team on duty at 02:10 on a Sunday" is a shift and a
mask."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .vocabulary import ALL_MINUTES, DAYS


_WINDOW = re.compile(r"^(?:(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)\s+)?"
                     r"(?P<a>\d{1,2}):(?P<am>\d{2})\s*-\s*(?P<b>\d{1,2}):(?P<bm>\d{2})$")


@dataclass(frozen=True)
class Hours:
    """When a responder is on duty (or when a rule applies), minute by minute for each weekday."""

    spec: tuple[str, ...]
    masks: tuple[int, ...]  # 7 ints; bit m set = minute m of that day is covered

    @property
    def always(self) -> bool:
        return all(m == ALL_MINUTES for m in self.masks)

    @property
    def day_specific(self) -> bool:
        return len(set(self.masks)) > 1

    def on(self, dow: int | None, minute: int) -> bool:
        if dow is None:  # day unknown: covered only if covered on every day
            return all((m >> minute) & 1 for m in self.masks)
        return bool((self.masks[dow] >> minute) & 1)

    def breakpoints(self) -> set[int]:
        out = {0}
        for m in self.masks:
            prev = m & 1
            for i in range(1, 1440):
                b = (m >> i) & 1
                if b != prev:
                    out.add(i)
                    prev = b
        return out

    def __str__(self) -> str:
        return ", ".join(self.spec)


def _days(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            a, b = (p.strip() for p in part.split("-"))
            i, j = DAYS.index(a), DAYS.index(b)
            out += [(i + k) % 7 for k in range((j - i) % 7 + 1)]
        else:
            out.append(DAYS.index(part))
    return out


@functools.lru_cache(maxsize=256)
def parse_hours(spec) -> Hours:
    """'24/7', 'HH:MM-HH:MM' (may cross midnight), 'mon-fri 10:00-18:00', or a list of those."""
    items = [spec] if isinstance(spec, str) else list(spec)
    if not items:
        raise ValueError("empty hours")
    masks = [0] * 7
    norm = []
    for raw in items:
        s = " ".join(str(raw).strip().lower().split())
        if s in ("24/7", "always", "00:00-24:00"):
            masks = [ALL_MINUTES] * 7
            norm.append("24/7")
            continue
        m = _WINDOW.match(s)
        if not m:
            raise ValueError(f"cannot read hours {raw!r} (use '24/7', 'HH:MM-HH:MM' or 'mon-fri HH:MM-HH:MM')")
        a, am, b, bm = int(m["a"]), int(m["am"]), int(m["b"]), int(m["bm"])
        if a > 24 or b > 24 or am > 59 or bm > 59 or (a == 24 and am) or (b == 24 and bm):
            raise ValueError(f"hours {raw!r}: not a time of day")
        start, end = a * 60 + am, b * 60 + bm
        if start == end:
            raise ValueError(f"hours {raw!r}: empty window (use 24/7 for all day)")
        try:
            days = _days(m["days"]) if m["days"] else list(range(7))
        except ValueError:
            raise ValueError(f"hours {raw!r}: days must be {', '.join(DAYS)}") from None
        for d in days:
            if start < end:
                masks[d] |= ((1 << end) - 1) ^ ((1 << start) - 1)
            else:  # crosses midnight: the part after midnight belongs to the next day
                masks[d] |= ALL_MINUTES ^ ((1 << start) - 1)
                masks[(d + 1) % 7] |= (1 << end) - 1
        norm.append(s)
    return Hours(tuple(norm), tuple(masks))
