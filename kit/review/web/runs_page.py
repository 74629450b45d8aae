"""The runs page (`/`): runs newest first, filters by notebook and status, a chart per
metric with a line per series (chart.py), and checkboxes to compare two runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from kit.errors import UsageError, did_you_mean
from kit.review import formatting as fmt
from kit.review.listing import RunStore
from kit.review.run_view import STATUSES, Run
from kit.review.web import chart
from kit.review.web.jinja import render

PAGE_ROWS = 50


def href(notebook: str, status: str, after: str | None = None) -> str:
    """The runs page with these filters (and listing position)."""
    pairs = (("notebook", notebook), ("status", status), ("after", after))
    query = urlencode({k: v for k, v in pairs if v})
    return "/" + (f"?{query}" if query else "")


def runs_page(
    store: RunStore, bucket: str, notebook: str, status: str, after: str | None = None
) -> str:
    """A page of runs (newest first, filtered), with the metric charts of its notebooks.

    Costs what it shows: one page of the run index, and the list of notebook names.
    """
    if status and status not in STATUSES:
        raise UsageError(f"unknown status {status!r}{did_you_mean(status, STATUSES)}")
    with ThreadPoolExecutor(1) as pool:  # the notebooks' names, while the page is read
        listed = pool.submit(store.names)
        page = store.page(
            notebook or None, statuses=[status] if status else [], limit=PAGE_ROWS, after=after
        )
        runs = page.runs
        names = sorted({*listed.result(), *(r.notebook for r in runs)})
    charted = [notebook] if notebook else sorted({r.notebook for r in runs})
    return render(
        "index.html",
        bucket=bucket,
        notebook_filters=_filter_links(names, notebook, lambda n: href(n, status)),
        status_filters=_filter_links(STATUSES, status, lambda s: href(notebook, s)),
        charts=[charts(n, [r for r in runs if r.notebook == n]) for n in charted],
        rows=runs,
        # What tells the runs apart shows first and whole (as in `kit runs`).
        shown_parameters=fmt.tell_apart([r.chosen_parameters() for r in runs]),
        next_href=href(notebook, status, page.after) if page.after else None,
        newest_href=href(notebook, status) if after else None,
    )


def charts(notebook: str, runs: list[Run]) -> dict[str, Any]:
    """A notebook's charts, one per numeric metric, sharing its series and their colours."""
    series_of, labels = chart.group(runs, lambda v: fmt.file_name(v, 48))
    return {
        "notebook": notebook,
        "charts": [
            chart.chart(metric, runs, series_of, labels) for metric in chart.numeric_metrics(runs)
        ],
    }


def _filter_links(
    values: Sequence[str], current: str, link: Callable[[str], str]
) -> list[dict[str, Any]]:
    """One row of filter links: "All", then each value (no counts: that would mean
    reading every run)."""
    return [
        {"value": "", "label": "All", "active": not current, "href": link("")},
        *({"value": v, "label": v, "active": v == current, "href": link(v)} for v in values),
    ]
