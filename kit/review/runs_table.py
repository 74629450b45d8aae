"""The `kit runs` listing: one line per run, fitted to the terminal's width.

Every run keeps one line. When the table is wider than the terminal, the flexible columns
(PARAMETERS, RESULT) are cut with '…' (rich's ellipsis overflow) down to their minimum
widths, sharing what is left, a URL parameter cut in its middle first (fmt.path); if that
is not enough, whole columns are left out, the least needed first: NOTEBOOK@VERSION
becomes NOTEBOOK (which stays when the runs are of several notebooks), then DURATION and
STARTED go. RUN ID and STATUS always stay. Piped, or with `wide`, every column prints
whole: what scripts and grep read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.text import Text

from kit.review import formatting as fmt
from kit.review.run_view import Run
from kit.review.show import STATUS_STYLES

GAP = 2  # spaces between columns
PARAMETER_WIDTH = 40  # one parameter value at most (a URL keeps its end: fmt.path)
METRIC_WIDTH = 12


@dataclass(frozen=True)
class Column:
    """A column of short cells; a flexible one (min_width set) may be cut down to it, its
    cells made again for the width it gets (`fitted`)."""

    header: str
    cells: tuple[str, ...]
    min_width: int | None = None
    fitted: Callable[[int], tuple[str, ...]] | None = None
    ratio: int = 1  # of the room the flexible columns share

    @cached_property
    def width(self) -> int:
        """The natural width: its widest cell or header."""
        return max(cell_len(c) for c in (self.header, *self.cells))

    @property
    def least(self) -> int:
        """The narrowest it may get."""
        return self.width if self.min_width is None else min(self.width, self.min_width)


def _parameters(params: dict[str, Any], width: int) -> str:
    """k=v, k=v; the first value cut (a URL in its middle) so that it shows in `width`."""
    text = fmt.pairs(params, PARAMETER_WIDTH)
    if cell_len(text) <= width or not params:
        return text
    key = next(iter(params))
    room = width - len(key) - 1 - (3 if len(params) > 1 else 0)  # 'key=' and ', …'
    return fmt.pairs(params, max(room, 8))


def runs_columns(runs: Sequence[Run]) -> list[Column]:
    """The listing's columns (a flexible one no run fills left out).

    Parameters are those given for the run (kit's own output_prefix left out), ordered and
    URLs cut so that what tells the runs apart shows first (fmt.tell_apart).
    """
    params = fmt.tell_apart([run.chosen_parameters() for run in runs])

    def started(run: Run) -> str:
        if run.started_at is None and run.updated_at is not None:
            return f"(updated {fmt.moment(run.updated_at)})"
        return fmt.moment(run.started_at)

    columns = [
        Column("RUN ID", tuple(run.run_id for run in runs)),
        Column("NOTEBOOK@VERSION", tuple(run.ref for run in runs)),
        Column("STATUS", tuple(run.status for run in runs)),
        Column("STARTED", tuple(started(run) for run in runs)),
        Column("DURATION", tuple(fmt.duration(run.duration_seconds) for run in runs)),
        Column(
            "PARAMETERS",
            tuple(fmt.pairs(p, PARAMETER_WIDTH) for p in params),
            30,
            lambda width: tuple(_parameters(p, width) for p in params),
            ratio=3,  # what tells runs apart gets the most
        ),
        Column("RESULT", tuple(fmt.result(run, METRIC_WIDTH) for run in runs), 20, ratio=2),
    ]
    return [c for c in columns if c.min_width is None or any(c.cells)]


def _notebook_only(columns: list[Column], runs: Sequence[Run]) -> list[Column]:
    """NOTEBOOK@VERSION as NOTEBOOK, when the runs are of several notebooks."""
    several = len({run.notebook for run in runs}) > 1
    kept = []
    for column in columns:
        if column.header != "NOTEBOOK@VERSION":
            kept.append(column)
        elif several:
            kept.append(replace(column, header="NOTEBOOK", cells=tuple(r.notebook for r in runs)))
    return kept


def _without(header: str) -> Callable[[list[Column], Sequence[Run]], list[Column]]:
    return lambda columns, runs: [c for c in columns if c.header != header]


# What goes first when the table does not fit, in order.
_NARROWER = (_notebook_only, _without("DURATION"), _without("STARTED"))


def _least(columns: Sequence[Column]) -> int:
    return sum(c.least for c in columns) + GAP * (len(columns) - 1)


def fit(
    runs: Sequence[Run], width: int, columns: list[Column] | None = None
) -> tuple[list[Column], list[int]]:
    """The columns (by default `runs_columns(runs)`) that fit in `width`, and the width
    each gets."""
    columns = runs_columns(runs) if columns is None else columns
    for narrower in _NARROWER:
        if _least(columns) <= width:
            break
        columns = narrower(columns, runs)
    fixed = sum(c.width for c in columns if c.min_width is None)
    room = width - fixed - GAP * (len(columns) - 1)
    flexible = sorted((c for c in columns if c.min_width is not None), key=lambda c: c.width)
    given: dict[str, int] = {}
    least = sum(c.least for c in flexible)
    ratios = sum(c.ratio for c in flexible)
    for column in flexible:  # the narrowest first: what they leave, the others get
        share = room * column.ratio // ratios
        floor = column.least if room >= least else column.least * room // max(least, 1)
        given[column.header] = max(min(column.width, max(share, floor)), 1)
        room -= given[column.header]
        least -= column.least
        ratios -= column.ratio
    widths = [given.get(c.header, c.width) for c in columns]
    return [
        replace(c, cells=c.fitted(w)) if c.fitted is not None and w < c.width else c
        for c, w in zip(columns, widths, strict=True)
    ], widths


def _cut(text: str, width: int, pad: bool) -> str:
    """The text in `width` cells: cut with '…' (rich's ellipsis overflow), or padded."""
    size = cell_len(text)
    if size > width:
        return set_cell_size(text, width - 1) + "…" if width > 0 else ""
    return text + " " * (width - size) if pad else text


def print_runs(console: Console, runs: Sequence[Run], *, wide: bool = False) -> list[str]:
    """Print the listing, one line per run; on a terminal (unless `wide`), fitted to its
    width. Returns the headers left out to fit (empty when nothing was)."""
    every = runs_columns(runs)
    if not console.is_terminal:  # plain text, whole, no trailing spaces (fast: no styles)
        widths = [c.width for c in every]
        rows = zip(*((c.header, *c.cells) for c in every), strict=True)
        text = "\n".join(
            (GAP * " ").join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )
        console.file.write(text + "\n")
        return []
    columns, widths = (every, [c.width for c in every]) if wide else fit(runs, console.width, every)
    status = next((i for i, c in enumerate(columns) if c.header == "STATUS"), -1)
    last = len(columns) - 1
    listing = Text()
    for row in range(-1, len(runs)):
        line = Text()
        for i, (column, width) in enumerate(zip(columns, widths, strict=True)):
            cell = column.header if row < 0 else column.cells[row]
            style = "bold" if row < 0 else STATUS_STYLES.get(cell, "") if i == status else ""
            line.append(_cut(cell, width, i < last) + ("" if i == last else GAP * " "), style)
        if not wide:
            line.truncate(console.width, overflow="ellipsis")  # a terminal too narrow for any fit
        listing.append_text(line)
        listing.append("\n")
    console.print(listing, end="", soft_wrap=True)
    shown = {c.header for c in columns}
    left = [c.header for c in every if c.header not in shown]
    return ["VERSION" if h == "NOTEBOOK@VERSION" and "NOTEBOOK" in shown else h for h in left]
