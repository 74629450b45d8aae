"""papermill I/O through kit's storage: the scheme-keyed handler papermill saves with."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from kit.errors import PreconditionFailedError, StorageError, UsageError
from kit.run_contract import NOTEBOOK_TYPE
from kit.storage import Storage

log = logging.getLogger(__name__)


class OutputWriter:
    """Saves the output notebook to one URL, in the background, newest content first.

    papermill saves twice per cell; waiting for each upload would add a round trip to
    GCS between every two cells. `write` hands the content to a short-lived uploader
    thread and returns; a save that arrives while one is uploading replaces any save
    still waiting, so the object always moves forward to the newest state. Each upload
    replaces the whole object, so a retried upload never leaves it half-written.
    `flush` waits until the newest content is stored; an upload that failed for good
    is raised by the next `write` (papermill then stops) and by `flush`. Every save carries
    the same object metadata (when the run started, its deadline: see kit.run_contract).
    """

    def __init__(
        self, storage: Storage, url: str, metadata: Mapping[str, str] | None = None
    ) -> None:
        self.storage = storage
        self.url = url
        self.metadata = dict(metadata or {})
        self._last: str | None = None
        self._pending: str | None = None
        self._uploading = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()

    def claim(self, nb: dict[str, Any]) -> None:
        """Create the output only if this run id was never used: retries never overwrite."""
        body = json.dumps(nb, indent=1)
        try:
            self.storage.write(
                self.url,
                body.encode(),
                if_generation_match=0,
                content_type=NOTEBOOK_TYPE,
                metadata=self.metadata,
            )
        except PreconditionFailedError as exc:
            raise UsageError(
                f"run id already used: {self.url} exists; each attempt needs a new --run-id"
            ) from exc
        log.info("claimed %s", self.url)
        with self._cond:
            self._last = body

    # papermill's handler protocol ------------------------------------------------
    def read(self, path: str) -> str:
        return self.storage.read(path).decode()

    def write(self, buf: str, path: str) -> None:
        with self._cond:
            if self._error is not None:
                raise self._error
            self._last = self._pending = buf
            if not self._uploading:
                self._uploading = True
                threading.Thread(target=self._upload, name="kit-save", daemon=True).start()

    def listdir(self, path: str) -> list[str]:
        return [info.url for info in self.storage.list(path)]

    def pretty_path(self, path: str) -> str:
        return path

    # ------------------------------------------------------------------------------
    def _upload(self) -> None:
        while True:
            with self._cond:
                buf, self._pending = self._pending, None
                if buf is None or self._error is not None:
                    self._uploading = False
                    self._cond.notify_all()
                    return
            try:
                info = self.storage.write(
                    self.url, buf.encode(), content_type=NOTEBOOK_TYPE, metadata=self.metadata
                )
            except BaseException as exc:  # the storage layer already retried what it could
                log.debug("saving %s failed: %s", self.url, exc)
                with self._cond:
                    self._error = exc
            else:
                log.debug("saved %s (generation %d)", self.url, info.generation)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the newest content is stored; raise the error that stopped it."""
        with self._cond:
            done = self._cond.wait_for(lambda: not self._uploading, timeout)
            if self._error is not None:
                raise self._error
            if not done:
                raise StorageError(f"{self.url}: still saving after {timeout:g} s")

    def register(self) -> None:
        """Make papermill save this run's output through us (LIFO: we win over gcsfs)."""
        from papermill.iorw import papermill_io

        papermill_io.register(self.url, self)

    def last(self) -> dict[str, Any] | None:
        """The newest notebook handed to us (stored once `flush` returns)."""
        with self._cond:
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
