"""One run's pages: `/runs/<name>/<run-id>` (the record, the run's files, then the executed
notebook inline), its `/notebook` (a whole page: what notifications link to), its
`/output.ipynb` and its `/files/<name>` (artifacts.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from kit.errors import UsageError
from kit.review.failure import Failure, failure_of
from kit.review.listing import RunStore
from kit.review.run_view import Run
from kit.review.web import artifacts
from kit.review.web.jinja import render
from kit.review.web.notebook import notebook_cells, notebook_html
from kit.run_contract import NOTEBOOK_TYPE

if TYPE_CHECKING:
    from nbformat import NotebookNode

COMPARE_CHOICES = 50  # the newest runs of the notebook offered to compare with
# A run\'s file, whatever it holds, runs nothing and loads nothing on this origin.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@dataclass(frozen=True)
class Loaded:
    """A run's executed notebook and where it stopped (cached while the run is immutable)."""

    notebook: NotebookNode
    failure: Failure | None


def load(store: RunStore, run: Run) -> Loaded:
    """Read and parse a run's executed notebook."""
    nb = store.notebook(run)
    return Loaded(nb, failure_of(run, nb.cells))


def run_page(
    store: RunStore, bucket: str, run: Run, loaded: Loaded | None, cells: str, problem: str = ""
) -> str:
    """The run record on top (failure linked to its cell), its files, the notebook below.

    loaded/cells: the notebook and its HTML, or None/"" when there is none or it cannot be
    shown (`problem` says why).
    """
    others = [
        r
        for r in store.page(run.notebook, limit=COMPARE_CHOICES + 1).runs
        if r.run_id != run.run_id
    ][:COMPARE_CHOICES]
    return render(
        "run.html",
        bucket=bucket,
        run=run,
        rec=run.record or {},
        failure=loaded.failure if loaded else None,
        cell_href="",
        target="",
        link=True,
        files=artifacts.artifacts(store, run),
        notebook_cells=cells,
        problem=problem,
        others=others,
    )


def whole_notebook(run: Run, loaded: Loaded) -> str:
    """The executed notebook as one page (for links to `/notebook#cell-N`)."""
    return notebook_html(
        loaded.notebook,
        loaded.failure,
        title=f"{run.notebook} / {run.run_id}",
    )


def cells_html(loaded: Loaded) -> str:
    """The notebook's cells for the run page."""
    return notebook_cells(loaded.notebook, loaded.failure)


def download(store: RunStore, run: Run) -> tuple[str, bytes, dict[str, str]]:
    """The output notebook as a file download: content type, bytes, headers."""
    filename = quote(f"{run.notebook}-{run.run_id}.ipynb", safe="")
    return (
        NOTEBOOK_TYPE,
        store.notebook_bytes(run),
        {"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


def file(
    store: RunStore, run: Run, name: str, *, attachment: bool
) -> tuple[str, bytes, dict[str, str]]:
    """One of the run's files: content type, bytes, headers (inline only for safe types)."""
    found = artifacts.find(store, run, name)
    if found.size > artifacts.MAX_BYTES:
        raise UsageError(
            f"{found.url} is {found.size:,} bytes, more than the review page serves; "
            "copy it with `gcloud storage cp`"
        )
    kind = found.content_type
    shown = kind if found.inline else "application/octet-stream"
    if kind in artifacts.TEXT_TYPES:
        shown = f"{kind}; charset=utf-8"
    disposition = "inline" if found.inline and not attachment else "attachment"
    filename = quote(found.name.rsplit("/", 1)[-1], safe="")
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{filename}",
        "Content-Security-Policy": FILE_CSP,
    }
    return shown, store.storage.read(found.url), headers
