"""Inline SVG charts, written by hand.

Why not a plotting library: the report must open offline, print crisply and carry no
JavaScript; hand-written SVG is a few kilobytes per chart, scales to any paper size and
adds no dependency. Every chart has a <title> and <desc> for screen readers.
"""

from __future__ import annotations

import math
from html import escape

import pandas as pd

NAVY = "#1f3a5f"
TEAL = "#2a9d8f"
SAND = "#e9c46a"
CORAL = "#e76f51"
SKY = "#9cb8d6"
GREY = "#6b7280"
LIGHT = "#e5e7eb"
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif\""

_uid = [0]


def _id(prefix: str) -> str:
    _uid[0] += 1
    return f"{prefix}{_uid[0]}"


def _svg(w: int, h: int, title: str, desc: str, body: str, cls: str = "chart") -> str:
    tid, did = _id("t"), _id("d")
    return (
        f'<svg class="{cls}" role="img" aria-labelledby="{tid} {did}" viewBox="0 0 {w} {h}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" {FONT} font-size="12">'
        f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>{body}</svg>'
    )


def _text(x, y, s, anchor="start", size=12, fill="#111827", weight="normal", extra="") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}" '
            f'font-weight="{weight}" {extra}>{escape(str(s))}</text>')


def _num(v) -> float:
    """A drawable number: None and NaN become 0 (SVG rejects 'nan')."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(f) or math.isinf(f) else f


def pct(x: float | None, digits: int = 1, missing: str = "–") -> str:
    """A share as a percentage, the one formatter every page and terminal line uses; ``missing``
    for no figure (None, NaN, NA)."""
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return missing
    return f"{100 * float(x):.{digits}f}%"


def _ticks(v: float, most: int = 5) -> tuple[float, list[float]]:
    """Axis maximum and round tick values (1, 2, 2.5 or 5 times a power of ten) covering v."""
    if v <= 0 or math.isnan(v):
        v = 1.0
    step = 10 ** math.floor(math.log10(v / most))
    for m in (1, 2, 2.5, 5, 10):
        if v / (m * step) <= most:
            step *= m
            break
    n = max(1, math.ceil(v / step - 1e-9))
    return n * step, [i * step for i in range(n + 1)]


def paired_bars(rows, title: str, a_label: str = "share of calls", b_label: str = "share of officer time",
                desc: str = "") -> str:
    """Horizontal bars, two per row (calls vs time). rows: (label, a, b, withheld), where
    withheld is False or the text drawn instead of the bars (True: a small count)."""
    rows = [(lab, _num(a), _num(b), sup) for lab, a, b, sup in rows]
    label_w, bar_w, right = 250, 430, 60
    w = label_w + bar_w + right
    row_h, top = 30, 44
    h = top + row_h * len(rows) + 16
    vmax, ticks = _ticks(max([max(r[1], r[2]) for r in rows] + [0.01]))
    sx = bar_w / vmax
    show_b = any(r[2] > 0 for r in rows)  # no second measure at all: draw the first alone
    parts = [
        f'<rect x="{label_w}" y="10" width="12" height="12" fill="{SKY}"/>',
        _text(label_w + 18, 20, a_label, size=12, fill=GREY),
    ]
    if show_b:
        parts += [f'<rect x="{label_w + 150}" y="10" width="12" height="12" fill="{NAVY}"/>',
                  _text(label_w + 168, 20, b_label, size=12, fill=GREY)]
    for tv in ticks:
        x = label_w + tv * sx
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{h - 14}" stroke="{LIGHT}"/>')
        parts.append(_text(x, h - 2, pct(tv, 0 if round(tv * 100, 6) == int(round(tv * 100)) else 1),
                           anchor="middle", size=10, fill=GREY))
    for i, (label, a, b, sup) in enumerate(rows):
        y = top + i * row_h
        lab = label if len(label) <= 36 else label[:34] + "…"
        parts.append(_text(label_w - 8, y + 15, lab, anchor="end", size=12))
        if sup:
            why = sup if isinstance(sup, str) else "fewer calls than the reporting threshold"
            parts.append(_text(label_w + 4, y + 15, why, size=11, fill=GREY, extra='font-style="italic"'))
            continue
        aw, bw = a * sx, b * sx
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{aw:.1f}" height="10" fill="{SKY}"><title>{escape(label)}: {pct(a)} of calls</title></rect>')
        parts.append(_text(label_w + aw + 4, y + 12, pct(a), size=10, fill=GREY))
        if show_b:
            parts.append(f'<rect x="{label_w}" y="{y + 14}" width="{bw:.1f}" height="12" fill="{NAVY}"><title>{escape(label)}: {pct(b)} of time</title></rect>')
            parts.append(_text(label_w + bw + 4, y + 24, pct(b), size=11, fill=NAVY, weight="600"))
    return _svg(w, h, title, desc or title, "".join(parts))


def _blend(c1: str, c2: str, t: float) -> str:
    a = [int(c1[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(c2[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


RAMP = ((0.0, "#f1f7fb"), (0.35, "#a6cbe3"), (0.7, "#3f78a8"), (1.0, "#132a4a"))


def _ramp(t: float) -> str:
    t = min(max(t, 0.0), 1.0)
    for (o1, c1), (o2, c2) in zip(RAMP, RAMP[1:]):
        if t <= o2:
            return _blend(c1, c2, (t - o1) / (o2 - o1))
    return RAMP[-1][1]


def heatmap(values, suppressed, title: str, unit: str = "calls", desc: str = "") -> str:
    """7 x 24 grid (Monday first), light (fewest) to navy (most); suppressed cells hatched."""
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    cell_w, cell_h, left, top = 28, 26, 44, 30
    w = left + 24 * cell_w + 10
    h = top + 7 * cell_h + 56
    values = [[_num(v) for v in row] for row in values]
    flat = [v for r_, srow in zip(values, suppressed) for v, sp in zip(r_, srow) if not sp]
    vmin, vmax = (min(flat), max(flat)) if flat else (0.0, 1.0)
    span = (vmax - vmin) or 1.0
    pid = _id("hatch")
    parts = [f'<defs><pattern id="{pid}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
             f'<rect width="6" height="6" fill="#f3f4f6"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c7ccd4" stroke-width="2"/></pattern></defs>']
    for hr in range(24):
        if hr % 3 == 0:
            parts.append(_text(left + hr * cell_w + cell_w / 2, top - 8, f"{hr:02d}h", anchor="middle", size=10, fill=GREY))
    for d in range(7):
        y = top + d * cell_h
        parts.append(_text(left - 6, y + cell_h / 2 + 4, days[d], anchor="end", size=11, fill=GREY))
        for hr in range(24):
            v = values[d][hr]
            x = left + hr * cell_w
            if suppressed[d][hr]:
                fill, tip = f"url(#{pid})", f"{days[d]} {hr:02d}:00 – fewer than the threshold"
            else:
                fill = _ramp(((v or 0) - vmin) / span)
                tip = f"{days[d]} {hr:02d}:00 – {v:,.0f} {unit}"
            parts.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" rx="2" fill="{fill}"><title>{escape(tip)}</title></rect>')
    # legend
    ly = top + 7 * cell_h + 18
    gid = _id("grad")
    parts.append(f'<defs><linearGradient id="{gid}">' + "".join(f'<stop offset="{o}" stop-color="{c}"/>' for o, c in RAMP) + '</linearGradient></defs>')
    parts.append(f'<rect x="{left}" y="{ly}" width="180" height="10" fill="url(#{gid})" stroke="{LIGHT}"/>')
    parts.append(_text(left, ly + 24, f"{vmin:,.0f}", size=10, fill=GREY))
    parts.append(_text(left + 180, ly + 24, f"{vmax:,.0f} {unit}", anchor="end", size=10, fill=GREY))
    if any(any(r) for r in suppressed):
        parts.append(f'<rect x="{left + 220}" y="{ly}" width="14" height="10" fill="url(#{pid})"/>')
        parts.append(_text(left + 240, ly + 9, "suppressed small cell", size=10, fill=GREY))
    return _svg(w, h, title, desc or title, "".join(parts))


def range_bars(rows, title: str, unit: str = "min", desc: str = "") -> str:
    """Per row a bar to the median and a thin bar to the 90th percentile. rows: (label, median,
    p90, n_note) or (..., why): ``why`` is drawn when there is no median (default: too few calls)."""
    rows = [(r[0], None if r[1] is None else _num(r[1]), None if r[2] is None else _num(r[2]), r[3],
             r[4] if len(r) > 4 else "too few calls to show") for r in rows]
    label_w, bar_w, right = 170, 470, 80
    w = label_w + bar_w + right
    row_h, top = 34, 40
    h = top + row_h * len(rows) + 18
    vmax, ticks = _ticks(max([r[2] or 0 for r in rows] + [r[1] or 0 for r in rows] + [1]))
    sx = bar_w / vmax
    parts = [
        f'<rect x="{label_w}" y="10" width="12" height="12" fill="{TEAL}"/>',
        _text(label_w + 18, 20, "median", size=12, fill=GREY),
        f'<rect x="{label_w + 90}" y="13" width="12" height="6" fill="{SAND}"/>',
        _text(label_w + 108, 20, "90th percentile", size=12, fill=GREY),
    ]
    for tv in ticks:
        x = label_w + tv * sx
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{h - 16}" stroke="{LIGHT}"/>')
        parts.append(_text(x, h - 3, f"{tv:g} {unit}", anchor="middle", size=10, fill=GREY))
    for i, (label, med, p90, note, why) in enumerate(rows):
        y = top + i * row_h
        parts.append(_text(label_w - 8, y + 13, label, anchor="end", size=12))
        parts.append(_text(label_w - 8, y + 26, note, anchor="end", size=10, fill=GREY))
        if med is None or p90 is None:
            parts.append(_text(label_w + 4, y + 17, why, size=11, fill=GREY, extra='font-style="italic"'))
            continue
        parts.append(f'<rect x="{label_w}" y="{y + 12}" width="{p90 * sx:.1f}" height="6" fill="{SAND}"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 5}" width="{med * sx:.1f}" height="20" fill="{TEAL}" opacity="0.92"/>')
        parts.append(_text(label_w + max(med * sx, p90 * sx) + 5, y + 19, f"{med:.1f} / {p90:.1f}", size=11, fill="#111827"))
    return _svg(w, h, title, desc or title, "".join(parts))


def stacked_shares(rows, groups, colors, title: str, desc: str = "") -> str:
    """100% stacked horizontal bars. rows: (label, {group: share}); groups in order."""
    rows = list(rows)
    label_w, bar_w, right = 120, 560, 20
    w = label_w + bar_w + right
    row_h, top = 44, 36
    h = top + row_h * len(rows) + 10
    parts = []
    x = label_w
    for g, c in zip(groups, colors):
        parts.append(f'<rect x="{x}" y="10" width="12" height="12" fill="{c}"/>')
        parts.append(_text(x + 18, 20, g, size=12, fill=GREY))
        x += 30 + 7.2 * len(g)
    for i, (label, shares) in enumerate(rows):
        y = top + i * row_h
        parts.append(_text(label_w - 8, y + 21, label, anchor="end", size=12, weight="600"))
        x = label_w
        for g, c in zip(groups, colors):
            s = _num(shares.get(g))
            wd = s * bar_w
            if wd <= 0:
                continue
            parts.append(f'<rect x="{x:.1f}" y="{y + 4}" width="{wd:.1f}" height="26" fill="{c}"><title>{escape(label)}: {escape(g)} {pct(s)}</title></rect>')
            if wd > 44:
                dark = c in (NAVY, TEAL, CORAL, GREY)
                parts.append(_text(x + wd / 2, y + 21, pct(s), anchor="middle", size=11,
                                   fill="#ffffff" if dark else "#111827", weight="600"))
            x += wd
    return _svg(w, h, title, desc or title, "".join(parts))


def lorenz_chart(points, gini: float | None, title: str, mark: tuple[float, float] | None = None, desc: str = "") -> str:
    """Lorenz curve: cumulative share of call types (x) against cumulative share of time (y)."""
    size, left, top, bottom = 300, 56, 16, 44
    w, h = left + size + 210, top + size + bottom
    X = lambda v: left + v * size  # noqa: E731
    Y = lambda v: top + (1 - v) * size  # noqa: E731
    parts = [f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="#fbfcfe" stroke="{LIGHT}"/>']
    for i in range(0, 5):
        v = i / 4
        parts.append(f'<line x1="{X(v):.1f}" y1="{top}" x2="{X(v):.1f}" y2="{top + size}" stroke="{LIGHT}"/>')
        parts.append(f'<line x1="{left}" y1="{Y(v):.1f}" x2="{left + size}" y2="{Y(v):.1f}" stroke="{LIGHT}"/>')
        parts.append(_text(X(v), top + size + 16, pct(v, 0), anchor="middle", size=10, fill=GREY))
        parts.append(_text(left - 6, Y(v) + 4, pct(v, 0), anchor="end", size=10, fill=GREY))
    parts.append(_text(left + size / 2, top + size + 34, "call types, from least to most officer time", anchor="middle", size=11, fill=GREY))
    parts.append(_text(14, top + size / 2, "share of officer time", anchor="middle", size=11, fill=GREY,
                       extra=f'transform="rotate(-90 14 {top + size / 2})"'))
    parts.append(f'<line x1="{X(0)}" y1="{Y(0)}" x2="{X(1)}" y2="{Y(1)}" stroke="{GREY}" stroke-dasharray="4 4"/>')
    pts = " ".join(f"{X(_num(x)):.1f},{Y(_num(y)):.1f}" for x, y in points)
    area = f"{X(0):.1f},{Y(0):.1f} {pts} {X(1):.1f},{Y(0):.1f}"
    parts.append(f'<polygon points="{area}" fill="{SKY}" opacity="0.35"/>')
    parts.append(f'<polyline points="{pts}" fill="none" stroke="{NAVY}" stroke-width="2.5"/>')
    lx = left + size + 20
    parts.append(f'<line x1="{lx}" y1="{top + 10}" x2="{lx + 24}" y2="{top + 10}" stroke="{NAVY}" stroke-width="2.5"/>')
    parts.append(_text(lx + 30, top + 14, "this data", size=11, fill=GREY))
    parts.append(f'<line x1="{lx}" y1="{top + 30}" x2="{lx + 24}" y2="{top + 30}" stroke="{GREY}" stroke-dasharray="4 4"/>')
    parts.append(_text(lx + 30, top + 34, "every call type equal", size=11, fill=GREY))
    if gini is not None and not math.isnan(gini):
        parts.append(_text(lx, top + 64, f"Gini index {gini:.2f}", size=13, weight="600"))
    if mark:
        mx, my = mark
        parts.append(f'<circle cx="{X(mx):.1f}" cy="{Y(my):.1f}" r="4" fill="{CORAL}"/>')
        parts.append(_text(lx, top + 88, f"The top {pct(1 - mx, 0)} of call types", size=11, fill=CORAL))
        parts.append(_text(lx, top + 103, f"take {pct(1 - my, 0)} of officer time", size=11, fill=CORAL))
    return _svg(w, h, title, desc or title, "".join(parts))


def compare_bars(rows, title: str, a_label: str, b_label: str, desc: str = "") -> str:
    """Two bars per row: this data vs a published figure. rows: (label, ours, theirs)."""
    return paired_bars([(lab, theirs, ours, False) for lab, ours, theirs in rows], title,
                       a_label=b_label, b_label=a_label, desc=desc)


def event_study(points, title: str, unit: str = "", desc: str = "", fmt=None) -> str:
    """Estimates by week relative to a start (week 0 = the first week after it), each with an
    interval bar, a zero line and a dashed line where the start falls. points: (week, estimate,
    low, high) with None for a withheld week (drawn as a gap with a hatched mark)."""
    fmt = fmt or (lambda v: f"{v:+,.0f}")
    pts = [(int(w), e, lo, hi) for w, e, lo, hi in points]
    left, right, top, bottom, plot_h = 70, 20, 20, 46, 220
    n = max(len(pts), 1)
    step = max(24, min(56, 640 // n))
    w = left + step * n + right
    h = top + plot_h + bottom
    vals = [_num(v) for _, e, lo, hi in pts if e is not None for v in (e, lo, hi) if v is not None]
    vmax = max([abs(v) for v in vals] + [1e-9])
    span, ticks = _ticks(vmax, 3)
    Y = lambda v: top + plot_h / 2 - (v / span) * (plot_h / 2)  # noqa: E731
    parts = [f'<rect x="{left}" y="{top}" width="{step * n}" height="{plot_h}" fill="#fbfcfe" stroke="{LIGHT}"/>']
    for tv in sorted(set([-t for t in ticks] + ticks)):
        parts.append(f'<line x1="{left}" y1="{Y(tv):.1f}" x2="{left + step * n}" y2="{Y(tv):.1f}" stroke="{LIGHT}"/>')
        parts.append(_text(left - 6, Y(tv) + 4, fmt(tv) if tv else "0", anchor="end", size=10, fill=GREY))
    parts.append(f'<line x1="{left}" y1="{Y(0):.1f}" x2="{left + step * n}" y2="{Y(0):.1f}" stroke="{GREY}"/>')
    start = next((i for i, p in enumerate(pts) if p[0] >= 0), None)
    if start is not None:
        x = left + step * start
        parts.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{top + plot_h}" stroke="{CORAL}" stroke-dasharray="5 4"/>')
        parts.append(_text(x + 4, top + 12, "pilot starts", size=11, fill=CORAL))
    for i, (wk, e, lo, hi) in enumerate(pts):
        x = left + step * i + step / 2
        parts.append(_text(x, top + plot_h + 16, str(wk), anchor="middle", size=10, fill=GREY))
        if e is None:
            parts.append(_text(x, Y(0) - 6, "·", anchor="middle", size=14, fill=GREY))
            continue
        color = NAVY if wk < 0 else TEAL
        if lo is not None and hi is not None:
            parts.append(f'<line x1="{x:.1f}" y1="{Y(_num(lo)):.1f}" x2="{x:.1f}" y2="{Y(_num(hi)):.1f}" '
                         f'stroke="{SKY}" stroke-width="4"/>')
        parts.append(f'<circle cx="{x:.1f}" cy="{Y(_num(e)):.1f}" r="4.5" fill="{color}"><title>week {wk}: '
                     f'{escape(fmt(_num(e)))} {escape(unit)}</title></circle>')
    parts.append(_text(left + step * n / 2, h - 8, "week relative to the pilot start", anchor="middle", size=11,
                       fill=GREY))
    return _svg(w, h, title, desc or title, "".join(parts))
