"""Metric-over-time charts: which runs form a series, the scales and the ticks.

Drawn as inline SVG by templates/chart.svg (no script, no CDN). A notebook's runs fall
into series by the parameters that tell them apart: those given for the run whose values
repeat from run to run (a fan-out item's `dataset_url`, its `horizon`), leaving out values
that are dates (`run_date`, which every scheduled run changes) and values no two runs
share (a sweep, each run its own). Each series is one line in its own colour, with a
legend naming it and its latest value: that of its newest succeeded run.

The ticks are the usual "nice numbers" (steps of 1, 2, 2.5 or 5 times a power of ten) and
calendar steps: a few lines here rather than importing matplotlib's locators, which
would add about a second to the review server's first page.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kit.review.run_view import Run

WIDTH, HEIGHT = 340, 160
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 50, 12, 10, 24
MAX_POINTS = 500
MAX_SERIES = 8  # colours in review.css (.s0 .. .s7)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$")


@dataclass(frozen=True)
class Point:
    """One run's value of one metric, and where it is drawn."""

    when: datetime
    value: float
    run: Run
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True)
class Series:
    """The runs of one parameter set: a line, its legend entry and its latest value."""

    index: int  # its colour: .s<index> in review.css
    label: str
    points: list[Point]
    latest: Point | None  # the newest succeeded run's point

    @property
    def line(self) -> str:
        """The SVG polyline's points: the succeeded runs' (others are drawn as rings)."""
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points if p.run.status == "succeeded")


@dataclass(frozen=True)
class Chart:
    """One metric's chart: its series, and the axes' ticks as (position, label)."""

    metric: str
    series: list[Series]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = PAD_LEFT
    right: int = WIDTH - PAD_RIGHT
    top: int = PAD_TOP
    bottom: int = HEIGHT - PAD_BOTTOM

    @property
    def empty(self) -> bool:
        """No value to draw."""
        return not any(s.points for s in self.series)


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


# -- series -----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _is_date(text: str) -> bool:
    value = json.loads(text)
    return isinstance(value, str) and bool(_DATE.match(value))


def series_keys(runs: Sequence[Run]) -> list[str]:
    """The given parameters that tell the runs' series apart (see the module docstring)."""
    values: dict[str, list[str]] = {}
    for run in runs:
        for key, val in run.chosen_parameters().items():
            values.setdefault(key, []).append(_text(val))
    keys = []
    for key, texts in values.items():
        distinct = set(texts)
        if len(distinct) < 2 or all(_is_date(text) for text in distinct):
            continue  # the same for every run, or a date that every scheduled run changes
        if len(texts) >= 3 and len(distinct) == len(texts):
            continue  # no two runs share it: it describes a run, not a series
        keys.append(key)
    while keys and len({_identity(r, keys) for r in runs}) > MAX_SERIES:
        keys.remove(max(keys, key=lambda k: len(set(values[k]))))
    return keys


def _identity(run: Run, keys: Sequence[str]) -> tuple[str, ...]:
    given = run.chosen_parameters()
    return tuple(_text(given.get(k)) for k in keys)


def group(
    runs: Sequence[Run], show: Callable[[Any], str]
) -> tuple[Callable[[Run], int], list[str]]:
    """Which series each run is in (by index, oldest series first) and the series' labels.

    A label names the fewest parameters that tell the series apart: the first key whose
    values alone do, else all of them (`show` shortens each value).
    """
    keys = series_keys(runs)
    order: dict[tuple[str, ...], int] = {}
    for run in sorted(runs, key=lambda r: r.when or datetime.min.replace(tzinfo=UTC)):
        order.setdefault(_identity(run, keys), len(order))
    ids = list(order)
    naming = next(
        ([i] for i, _ in enumerate(keys) if len({ident[i] for ident in ids}) == len(ids)),
        list(range(len(keys))),
    )
    labels = []
    for ident in ids:
        parts = []
        for i in naming:
            val = json.loads(ident[i])
            parts.append(f"{keys[i]}={show(val)}" if val is not None else f"{keys[i]} not given")
        labels.append(", ".join(parts) or "all runs")
    return (lambda run: order.get(_identity(run, keys), 0)), labels


# -- scales and ticks -------------------------------------------------------------------------


def nice_step(span: float, count: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `count` intervals."""
    raw = span / count if span > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(float(m) * power for m in (1, 2, 2.5, 5, 10) if float(m) * power >= raw)


def value_ticks(lo: float, hi: float) -> tuple[float, float, list[tuple[float, str]]]:
    """The axis' range, widened to round numbers, and its ticks with labels (459,912)."""
    if lo == hi:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo)
    first, last = math.floor(lo / step) * step, math.ceil(hi / step) * step
    power = math.floor(math.log10(step) + 1e-9)
    halves = step < 10 and math.isclose(step / 10**power, 2.5)  # 2.5, 0.25: one digit more
    decimals = max(0, -power) + (1 if halves else 0)
    count = round((last - first) / step)
    ticks = [(first + i * step, f"{first + i * step:,.{decimals}f}") for i in range(count + 1)]
    return first, last, ticks


_TIME_STEPS = [timedelta(hours=h) for h in (1, 2, 3, 6, 12)] + [
    timedelta(days=d) for d in (1, 2, 3, 7, 14, 30, 61, 91, 182, 365)
]


def time_ticks(start: datetime, end: datetime, count: int = 5) -> list[tuple[datetime, str]]:
    """Round times between start and end (UTC midnights, whole hours), labelled for people."""
    span = max(end - start, timedelta(hours=1))
    # Two days or more: whole days (midnights read better than "28 Nov 18:00").
    steps = [s for s in _TIME_STEPS if span < timedelta(days=2) or s >= timedelta(days=1)]
    step = next((s for s in steps if span / s <= count), steps[-1])
    if step < timedelta(days=1):
        first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    else:
        first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    ticks, at = [], first
    while at <= end:
        if at >= start:
            ticks.append((at, _time_label(at, step, span)))
        at += step
    return ticks or [(start, _time_label(start, timedelta(hours=1), timedelta(days=2)))]


def _time_label(at: datetime, step: timedelta, span: timedelta) -> str:
    """14:00; 23 Nov; 23 Nov 14:00; Nov 2026: no more than the step needs."""
    at = at.astimezone(UTC)
    day = f"{at.day} {at:%b}"
    if step < timedelta(days=1):
        return f"{day} {at:%H:%M}" if span > timedelta(days=1) else f"{at:%H:%M}"
    return day if span < timedelta(days=300) else f"{at:%b %Y}"


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> Callable[[float], float]:
    if hi == lo:
        mid = (out_lo + out_hi) / 2
        return lambda _v: mid
    return lambda v: out_lo + (v - lo) * (out_hi - out_lo) / (hi - lo)


def chart(
    metric: str, runs: Sequence[Run], series_of: Callable[[Run], int], labels: Sequence[str]
) -> Chart:
    """One metric's chart over `runs`, a line per series (`series_of`, `labels`: `group`)."""
    pts = points(runs, metric)
    if not pts:
        return Chart(metric, [], [], [])
    times = [p.when.timestamp() for p in pts]
    lo, hi, y_ticks = value_ticks(min(p.value for p in pts), max(p.value for p in pts))
    x = _scale(min(times), max(times), PAD_LEFT + 6, WIDTH - PAD_RIGHT - 6)
    y = _scale(lo, hi, HEIGHT - PAD_BOTTOM, PAD_TOP)
    placed = [Point(p.when, p.value, p.run, x(p.when.timestamp()), y(p.value)) for p in pts]
    by_series: dict[int, list[Point]] = {}
    for point in placed:
        by_series.setdefault(series_of(point.run), []).append(point)
    series = []
    for index in sorted(by_series):
        drawn = by_series[index]
        succeeded = [p for p in drawn if p.run.status == "succeeded"]
        series.append(
            Series(index % MAX_SERIES, labels[index], drawn, succeeded[-1] if succeeded else None)
        )
    return Chart(
        metric,
        series,
        [(y(v), label) for v, label in y_ticks],
        [(x(t.timestamp()), label) for t, label in time_ticks(pts[0].when, pts[-1].when)],
    )
