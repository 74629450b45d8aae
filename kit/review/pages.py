"""The review page's content: routes from a path and query to a response (no HTTP here).

/                                       notebooks, filters (?notebook=&status=), charts, runs
                                        (50 a page, newest first; the next: &after=)
/runs/<name>/<run-id>                   the run record, the executed notebook in an iframe
/runs/<name>/<run-id>/notebook          the executed notebook as HTML (failing cell anchored)
/runs/<name>/<run-id>/output.ipynb      the executed notebook, to download
/static/review.css                      the stylesheet
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from kit.errors import NotFoundError, UsageError, did_you_mean
from kit.review import chart
from kit.review.failure import Failure, failure_of
from kit.review.html import notebook_html
from kit.review.listing import RunStore
from kit.review.record import STATUSES, Run
from kit.review.render import render, run_href
from kit.review.styles import PAGE_CSS

PAGE_ROWS = 50
HTML = "text/html; charset=utf-8"
# The page itself: no script at all, styles and frames from this server only.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# A rendered notebook: inline styles and data: images only; it can fetch nothing.
NOTEBOOK_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "media-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


@dataclass(frozen=True)
class Response:
    """What to send: status, content type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _page(body: str, status: int = 200) -> Response:
    return Response(status, HTML, body.encode(), {"Content-Security-Policy": PAGE_CSP})


class _LRU:
    """A small thread-safe cache of rendered notebooks (they are immutable once a run ends)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], Any], cache: bool = True) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()
        if cache:
            with self._lock:
                self._data[key] = value
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
        return value


class ReviewPages:
    """Builds the review page's responses from the runs in one outputs bucket."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.bucket = store.settings.outputs_bucket
        self._notebooks = _LRU(64)

    def handle(self, parts: Sequence[str], query: Mapping[str, str]) -> Response:
        """Route a path (already split and unquoted) and a query; 404 for anything else."""
        try:
            if not parts:
                return self.index(
                    query.get("notebook", ""), query.get("status", ""), query.get("after")
                )
            if list(parts) == ["static", "review.css"]:
                return Response(200, "text/css; charset=utf-8", PAGE_CSS.encode())
            if parts[0] == "runs" and len(parts) in (3, 4):
                run = self.store.get(parts[1], parts[2])
                if len(parts) == 3:
                    return self.run_page(run)
                if parts[3] == "notebook":
                    return self.notebook_page(run)
                if parts[3] == "output.ipynb":
                    return self.download(run)
            raise NotFoundError("no such page: /" + "/".join(parts))
        except (NotFoundError, UsageError) as exc:
            code = 404 if isinstance(exc, NotFoundError) else 400
            return self.error(code, str(exc))

    def error(self, code: int, message: str) -> Response:
        """An error page naming what was not found."""
        return _page(render("error.html", code=code, message=message, bucket=self.bucket), code)

    # -- index --------------------------------------------------------------------------------

    def _href(self, notebook: str, status: str, after: str | None = None) -> str:
        pairs = (("notebook", notebook), ("status", status), ("after", after))
        query = urlencode({k: v for k, v in pairs if v})
        return "/" + (f"?{query}" if query else "")

    def index(self, notebook: str, status: str, after: str | None = None) -> Response:
        """A page of runs (newest first, filtered), with the metric charts of its notebooks.

        Costs what it shows: one page of the run index, and the list of notebook names.
        """
        if status and status not in STATUSES:
            raise UsageError(f"unknown status {status!r}{did_you_mean(status, STATUSES)}")
        with ThreadPoolExecutor(1) as pool:  # the notebooks' names, while the page is read
            listed = pool.submit(self.store.names)
            page = self.store.page(
                notebook or None, statuses=[status] if status else [], limit=PAGE_ROWS, after=after
            )
            runs = page.runs
            names = sorted({*listed.result(), *(r.notebook for r in runs)})
        notebook_filters = _filter_links(names, notebook, lambda n: self._href(n, status))
        status_filters = _filter_links(STATUSES, status, lambda s: self._href(notebook, s))
        charted = [notebook] if notebook else sorted({r.notebook for r in runs})
        body = render(
            "index.html",
            bucket=self.bucket,
            notebook_filters=notebook_filters,
            status_filters=status_filters,
            charts=[self._charts(n, [r for r in runs if r.notebook == n]) for n in charted],
            rows=runs,
            next_href=self._href(notebook, status, page.after) if page.after else None,
            newest_href=self._href(notebook, status) if after else None,
        )
        return _page(body)

    @staticmethod
    def _charts(notebook: str, runs: list[Run]) -> dict[str, Any]:
        charts = []
        for metric in chart.numeric_metrics(runs):
            pts = chart.points(runs, metric)
            charts.append(
                {
                    "metric": metric,
                    "latest": pts[-1].value if pts else None,
                    "svg": chart.svg(metric, pts, run_href),
                }
            )
        return {"notebook": notebook, "charts": charts}

    # -- one run ------------------------------------------------------------------------------

    def _key(self, run: Run) -> tuple[Any, ...]:
        return (run.notebook, run.run_id, run.status, run.started_at, run.finished_at)

    def _loaded(self, run: Run) -> tuple[Any, Failure | None]:
        def load() -> tuple[Any, Failure | None]:
            nb = self.store.notebook(run)
            return nb, failure_of(run, nb.cells)

        loaded: tuple[Any, Failure | None] = self._notebooks.get(
            ("nb", *self._key(run)), load, run.status != "running"
        )
        return loaded

    def run_page(self, run: Run) -> Response:
        """The run record on top (failure linked to its cell), the notebook below."""
        failure, problem = None, ""
        if run.has_output:
            try:
                failure = self._loaded(run)[1]
            except (NotFoundError, UsageError) as exc:  # the record is still worth showing
                problem = str(exc)
        href = run_href(run) + "/notebook"
        body = render(
            "run.html",
            bucket=self.bucket,
            run=run,
            rec=run.record or {},
            failure=failure,
            cell_href=href,
            target="notebook",
            link=True,
            problem=problem,
        )
        return _page(body)

    def notebook_page(self, run: Run) -> Response:
        """The executed notebook as HTML, to show in the run page's sandboxed iframe."""

        def make() -> str:
            nb, failure = self._loaded(run)
            return notebook_html(nb, failure, title=f"{run.notebook} / {run.run_id}")

        html = self._notebooks.get(("html", *self._key(run)), make, run.status != "running")
        return Response(
            200,
            HTML,
            html.encode(),
            {"Content-Security-Policy": NOTEBOOK_CSP, "X-Frame-Options": "SAMEORIGIN"},
        )

    def download(self, run: Run) -> Response:
        """The output notebook as a file download."""
        filename = quote(f"{run.notebook}-{run.run_id}.ipynb", safe="")
        return Response(
            200,
            "application/x-ipynb+json",
            self.store.notebook_bytes(run),
            {"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
        )


def _filter_links(
    values: Sequence[str], current: str, href: Callable[[str], str]
) -> list[dict[str, Any]]:
    """One row of filter links: "All", then each value (no counts: that would mean
    reading every run)."""
    return [
        {"value": "", "label": "All", "active": not current, "href": href("")},
        *({"value": v, "label": v, "active": v == current, "href": href(v)} for v in values),
    ]
