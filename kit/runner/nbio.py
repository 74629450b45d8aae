"""papermill I/O through kit's storage: the scheme-keyed handler papermill saves with."""

from __future__ import annotations

import json
import threading
from typing import Any

from kit.errors import PreconditionFailedError, UsageError
from kit.storage import Storage

NOTEBOOK_TYPE = "application/x-ipynb+json"


class OutputWriter:
    """Saves the output notebook to one URL, remembering the last saved content.

    papermill calls `write` after every cell (and during long cells); each call
    replaces the whole object, so a retried upload can never leave it half-written.
    """

    def __init__(self, storage: Storage, url: str) -> None:
        self.storage = storage
        self.url = url
        self._last: str | None = None
        self._lock = threading.Lock()

    def claim(self, nb: dict[str, Any]) -> None:
        """Create the output only if this run id was never used: retries never overwrite."""
        body = json.dumps(nb, indent=1)
        try:
            self.storage.write(
                self.url, body.encode(), if_generation_match=0, content_type=NOTEBOOK_TYPE
            )
        except PreconditionFailedError:
            raise UsageError(
                f"run id already used: {self.url} exists; each attempt needs a new --run-id"
            ) from None
        self._last = body

    # papermill's handler protocol ------------------------------------------------
    def read(self, path: str) -> str:
        return self.storage.read(path).decode()

    def write(self, buf: str, path: str) -> None:
        with self._lock:
            self.storage.write(path, buf.encode(), content_type=NOTEBOOK_TYPE)
            self._last = buf

    def listdir(self, path: str) -> list[str]:
        return [info.url for info in self.storage.list(path)]

    def pretty_path(self, path: str) -> str:
        return path

    # ------------------------------------------------------------------------------
    def register(self) -> None:
        """Make papermill save this run's output through us (LIFO: we win over gcsfs)."""
        from papermill.iorw import papermill_io

        papermill_io.register(self.url, self)

    def last(self) -> dict[str, Any] | None:
        """The notebook as last saved (what a reviewer will see)."""
        with self._lock:
            return json.loads(self._last) if self._last else None


class PreparedSource:
    """Serves the prepared notebook to papermill under its source URL.

    papermill records its input in the output's metadata: given a URL it keeps the URL;
    given a notebook object it would embed a second copy of the whole notebook.
    """

    def __init__(self, url: str, nb: dict[str, Any]) -> None:
        self.url = url
        self._text = json.dumps(nb)

    def read(self, path: str) -> str:
        return self._text

    def write(self, buf: str, path: str) -> None:
        raise PermissionError(f"{path} is a run's source; it is never written")

    def listdir(self, path: str) -> list[str]:
        return [self.url]

    def pretty_path(self, path: str) -> str:
        return path

    def register(self) -> None:
        """Make papermill read the source through us (exact URL, LIFO)."""
        from papermill.iorw import papermill_io

        papermill_io.register(self.url, self)
