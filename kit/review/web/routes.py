"""Which page answers a request: a path and query in, a Response out (no HTTP here).

/                                        runs_page: filters (?notebook=&status=), charts,
                                         runs (50 a page, newest first; the next: &after=)
/compare?run=NAME/RUN&run=NAME/RUN       compare_page: what changed between two runs
/runs/<name>/<run-id>                    run_page: the record, files, the notebook inline
/runs/<name>/<run-id>/notebook           the executed notebook as a whole page (cell anchors)
/runs/<name>/<run-id>/output.ipynb       the executed notebook, to download
/runs/<name>/<run-id>/files/<file>       a file the run wrote (?download=1: as attachment)
/static/{review,record,notebook}.css     the stylesheets
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit.errors import NotFoundError, UsageError
from kit.review.listing import RunStore
from kit.review.run_view import Run
from kit.review.web import run_page
from kit.review.web.compare_page import compare_page
from kit.review.web.jinja import render, run_href, stylesheet
from kit.review.web.notebook import notebook_css
from kit.review.web.runs_page import runs_page

HTML = "text/html; charset=utf-8"
CSS = "text/css; charset=utf-8"
# The pages: no script at all; stylesheets, frames and forms from this server only. Style
# attributes are allowed: nbconvert colours tracebacks' 256-colour ANSI codes with them.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; frame-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# A whole rendered notebook: inline styles and data: images only; it can fetch nothing.
NOTEBOOK_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "media-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
Query = Mapping[str, "str | Sequence[str]"]


@dataclass(frozen=True)
class Response:
    """What to send: status, content type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _page(body: str, status: int = 200) -> Response:
    return Response(status, HTML, body.encode(), {"Content-Security-Policy": PAGE_CSP})


def _one(query: Query, key: str) -> str:
    value = query.get(key, "")
    return value if isinstance(value, str) else (value[0] if value else "")


def _all(query: Query, key: str) -> list[str]:
    value = query.get(key, [])
    return [value] if isinstance(value, str) else list(value)


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

    def handle(self, parts: Sequence[str], query: Query) -> Response:
        """Route a path (already split and unquoted) and a query; 404 for anything else.

        A query value is a string, or the list of a key's values (`?run=a&run=b`)."""
        try:
            if not parts:
                page = runs_page(
                    self.store,
                    self.bucket,
                    _one(query, "notebook"),
                    _one(query, "status"),
                    _one(query, "after") or None,
                )
                return _page(page)
            if len(parts) == 2 and parts[0] == "static":
                return self.static(parts[1])
            if list(parts) == ["compare"]:
                return _page(compare_page(self.store, self.bucket, _all(query, "run")))
            if parts[0] == "runs" and len(parts) >= 3:
                return self.run(self.store.get(parts[1], parts[2]), parts[3:], query)
            raise NotFoundError("no such page: /" + "/".join(parts))
        except (NotFoundError, UsageError) as exc:
            code = 404 if isinstance(exc, NotFoundError) else 400
            return self.error(code, str(exc))

    def error(self, code: int, message: str) -> Response:
        """An error page naming what was not found."""
        return _page(render("error.html", code=code, message=message, bucket=self.bucket), code)

    def static(self, name: str) -> Response:
        """The stylesheets."""
        if name in ("review.css", "record.css"):
            return Response(200, CSS, stylesheet(name).encode())
        if name == "notebook.css":
            return Response(200, CSS, notebook_css().encode())
        raise NotFoundError(f"no such page: /static/{name}")

    # -- one run ------------------------------------------------------------------------------

    def _key(self, run: Run) -> tuple[Any, ...]:
        return (run.notebook, run.run_id, run.status, run.started_at, run.finished_at)

    def _loaded(self, run: Run) -> run_page.Loaded:
        loaded: run_page.Loaded = self._notebooks.get(
            ("nb", *self._key(run)), lambda: run_page.load(self.store, run), run.status != "running"
        )
        return loaded

    def _html(self, kind: str, run: Run, make: Callable[[run_page.Loaded], str]) -> str:
        html: str = self._notebooks.get(
            (kind, *self._key(run)), lambda: make(self._loaded(run)), run.status != "running"
        )
        return html

    def run(self, run: Run, rest: Sequence[str], query: Query) -> Response:
        """A run's page, or one of its files."""
        if not rest:
            loaded, cells, problem = None, "", ""
            if run.has_output:
                try:
                    loaded = self._loaded(run)
                    cells = self._html("cells", run, run_page.cells_html)
                except (NotFoundError, UsageError) as exc:  # the record is still worth showing
                    problem = str(exc)
            body = run_page.run_page(self.store, self.bucket, run, loaded, cells, problem)
            return _page(body)
        if list(rest) == ["notebook"]:
            page = self._html("page", run, lambda loaded: run_page.whole_notebook(run, loaded))
            headers = {"Content-Security-Policy": NOTEBOOK_CSP, "X-Frame-Options": "SAMEORIGIN"}
            return Response(200, HTML, page.encode(), headers)
        if list(rest) == ["output.ipynb"]:
            return Response(200, *run_page.download(self.store, run))
        if rest[0] == "files" and len(rest) > 1:
            attachment = _one(query, "download") not in ("", "0")
            kind, data, headers = run_page.file(
                self.store, run, "/".join(rest[1:]), attachment=attachment
            )
            return Response(200, kind, data, headers)
        raise NotFoundError("no such page: " + "/".join([run_href(run), *rest]))
