"""Metric-over-time charts as inline SVG, drawn on the server (no script, no CDN)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from kit.review import fmt
from kit.review.record import Run

WIDTH, HEIGHT = 340, 150
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 52, 14, 12, 26
MAX_POINTS = 500


@dataclass(frozen=True)
class Point:
    """One run's value of one metric."""

    when: datetime
    value: float
    run: Run


def numeric_metrics(runs: Sequence[Run], limit: int = 6) -> list[str]:
    """Names of metrics with numeric values, in first-recorded order (newest runs first)."""
    names: dict[str, None] = {}
    for run in runs:
        for key, val in run.scalar_metrics().items():
            if isinstance(val, int | float) and not isinstance(val, bool):
                names.setdefault(key, None)
    return list(names)[:limit]


def points(runs: Sequence[Run], metric: str) -> list[Point]:
    """A metric's finite values over time, oldest first (at most MAX_POINTS, the newest)."""
    found = []
    for run in runs:
        val = run.metrics.get(metric)
        if run.when is None or isinstance(val, bool) or not isinstance(val, int | float):
            continue
        if math.isfinite(val):
            found.append(Point(run.when, float(val), run))
    found.sort(key=lambda p: (p.when, p.run.run_id))
    return found[-MAX_POINTS:]


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> Callable[[float], float]:
    if hi == lo:
        mid = (out_lo + out_hi) / 2
        return lambda _v: mid
    return lambda v: out_lo + (v - lo) * (out_hi - out_lo) / (hi - lo)


def svg(metric: str, pts: Sequence[Point], href: Callable[[Run], str]) -> str:
    """A small line chart of one metric; each point links to its run and has a tooltip."""
    title = escape(metric)
    if not pts:
        return (
            f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}">'
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" class="empty">no values</text></svg>'
        )
    times = [p.when.timestamp() for p in pts]
    values = [p.value for p in pts]
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo - abs(lo) * 0.1 - 1e-9, hi + abs(hi) * 0.1 + 1e-9
    x = _scale(min(times), max(times), PAD_LEFT, WIDTH - PAD_RIGHT)
    y = _scale(lo, hi, HEIGHT - PAD_BOTTOM, PAD_TOP)
    xy = [(x(t), y(v)) for t, v in zip(times, values, strict=True)]
    line = " ".join(f"{px:.1f},{py:.1f}" for px, py in xy)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{title} over time">',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" '
        f'x2="{WIDTH - PAD_RIGHT}" y2="{HEIGHT - PAD_BOTTOM}"/>',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" '
        f'y2="{HEIGHT - PAD_BOTTOM}"/>',
        f'<text class="tick" x="{PAD_LEFT - 6}" y="{PAD_TOP + 4}" text-anchor="end">'
        f"{escape(fmt.value(hi, 8))}</text>",
        f'<text class="tick" x="{PAD_LEFT - 6}" y="{HEIGHT - PAD_BOTTOM}" text-anchor="end">'
        f"{escape(fmt.value(lo, 8))}</text>",
        f'<text class="tick" x="{PAD_LEFT}" y="{HEIGHT - 8}">{pts[0].when:%b %d %H:%M}</text>',
        f'<text class="tick" x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 8}" text-anchor="end">'
        f"{pts[-1].when:%b %d %H:%M}</text>",
    ]
    if len(xy) > 1:
        parts.append(f'<polyline class="line" points="{line}"/>')
    for (px, py), point in zip(xy, pts, strict=True):
        tip = escape(
            f"{point.run.run_id} · {fmt.moment(point.when)} · {metric} = "
            f"{fmt.value(point.value)} ({point.run.status})"
        )
        parts.append(
            f'<a href="{escape(href(point.run))}"><circle class="pt st-{escape(point.run.status)}"'
            f' cx="{px:.1f}" cy="{py:.1f}" r="3.5"><title>{tip}</title></circle></a>'
        )
    parts.append("</svg>")
    return "".join(parts)
