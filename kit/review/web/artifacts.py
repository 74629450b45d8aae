"""The files a run wrote beside its executed notebook, and how the review page serves them.

A run's files are the objects under its folder, `runs/<name>/<run-id>/` (where `kit run`
points the notebook's `output_prefix`), other than output.ipynb and run.json. Only what
that listing holds is served: a name is looked up in it, never joined into a URL, so
nothing outside the run's folder can be asked for. Images, PDFs and text show in the
browser; anything else, and anything that could run script (HTML, SVG), downloads.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from urllib.parse import quote

from kit.errors import NotFoundError, did_you_mean
from kit.review.listing import RunStore
from kit.review.run_view import Run
from kit.run_contract import OUTPUT_FILE, RECORD_FILE

# Shown in the browser; everything else is sent as an attachment (and with nosniff).
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/json",
    }
)
TEXT_TYPES = frozenset({"text/plain", "text/csv", "application/json"})
MAX_BYTES = 200 * 1024 * 1024  # served from memory: bigger files are for `gcloud storage cp`


@dataclass(frozen=True)
class Artifact:
    """One file of a run: its name inside the run's folder, size and content type."""

    name: str
    url: str
    size: int
    content_type: str

    @property
    def inline(self) -> bool:
        """Whether the browser may show it (else it downloads)."""
        return self.content_type in INLINE_TYPES

    def href(self, run_href: str) -> str:
        """Its path on the review page."""
        return f"{run_href}/files/{quote(self.name)}"


def content_type(name: str, stored: str | None = None) -> str:
    """The type to serve a file as: from its name (as the browser expects), else as stored."""
    guessed, _ = mimetypes.guess_type(name, strict=False)
    found = guessed or stored or "application/octet-stream"
    return found.split(";")[0].strip().lower()


def artifacts(store: RunStore, run: Run) -> list[Artifact]:
    """The run's files, by name (its executed notebook and record left out)."""
    folder = store.prefix(run.notebook, run.run_id)
    found = []
    for info in store.storage.list(folder):
        name = info.url[len(folder) :]
        if not name or name in (OUTPUT_FILE, RECORD_FILE) or name.endswith("/"):
            continue
        found.append(Artifact(name, info.url, info.size, content_type(name, info.content_type)))
    return sorted(found, key=lambda a: a.name)


def find(store: RunStore, run: Run, name: str) -> Artifact:
    """One of the run's files, by its name in the listing (NotFoundError otherwise)."""
    files = artifacts(store, run)
    for artifact in files:
        if artifact.name == name:
            return artifact
    names = [a.name for a in files]
    where = store.prefix(run.notebook, run.run_id)
    raise NotFoundError(f"no file {name!r} in {where}{did_you_mean(name, names)}")
