"""papermill I/O through kit's storage: the scheme-keyed handler papermill saves with."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kit.errors import PreconditionFailedError, StorageError, UsageError
from kit.run_contract import NOTEBOOK_TYPE
from kit.storage import Storage

# Saves this long (characters) or longer go through a file (see OutputWriter); below it,
# one request from memory is cheaper than the disk.
SPOOL_FROM = 8 * 1024 * 1024
_CHUNK = 1024 * 1024
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

    Memory: a save of SPOOL_FROM characters or more is written to a file under TMPDIR (a
    chunk encoded at a time) and its text let go before it uploads, from the file, a
    chunk at a time; so while papermill builds its next save, no earlier one is in
    memory, and the runner never holds the notebook's text and its bytes at once. Only
    the newest save's file is kept, for `last()`.
    """

    def __init__(
        self, storage: Storage, url: str, metadata: Mapping[str, str] | None = None
    ) -> None:
        self.storage = storage
        self.url = url
        self.metadata = dict(metadata or {})
        self._last: str | Path | None = None  # the newest save handed over: text or file
        self._parsed: dict[str, Any] | None = None
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
            self._keep(body)

    # papermill's handler protocol ------------------------------------------------
    def read(self, path: str) -> str:
        return self.storage.read(path).decode()

    def write(self, buf: str, path: str) -> None:
        with self._cond:
            if self._error is not None:
                raise self._error
            self._pending = buf  # a save still waiting is superseded: let it go
            if not self._uploading:
                self._uploading = True
                threading.Thread(target=self._upload, name="kit-save", daemon=True).start()

    def listdir(self, path: str) -> list[str]:
        return [info.url for info in self.storage.list(path)]

    def pretty_path(self, path: str) -> str:
        return path

    # ------------------------------------------------------------------------------
    def _keep(self, newest: str | Path) -> None:
        """Remember the newest save (under the lock), dropping the one before."""
        previous, self._last, self._parsed = self._last, newest, None
        if isinstance(previous, Path) and previous != newest:
            previous.unlink(missing_ok=True)

    def _upload(self) -> None:
        while True:
            with self._cond:
                buf, self._pending = self._pending, None
                if buf is None or self._error is not None:
                    self._uploading = False
                    self._cond.notify_all()
                    return
            try:
                if len(buf) < SPOOL_FROM:
                    data = buf.encode()
                    info = self.storage.write(
                        self.url, data, content_type=NOTEBOOK_TYPE, metadata=self.metadata
                    )
                    newest: str | Path = buf
                else:
                    newest = _spool(buf)
                    del buf  # from here on the text is papermill's alone, or nobody's
                    info = self.storage.write_file(
                        self.url, newest, content_type=NOTEBOOK_TYPE, metadata=self.metadata
                    )
                with self._cond:
                    self._keep(newest)
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
        """The newest notebook stored (once `flush` returns), parsed once."""
        with self._cond:
            if self._parsed is None and self._last is not None:
                newest = self._last
                if isinstance(newest, Path):
                    with open(newest, "rb") as fh:
                        self._parsed = json.load(fh)
                else:
                    self._parsed = json.loads(newest)
            return self._parsed

    def close(self) -> None:
        """Remove the spool file of the newest save, if any (the run is recorded)."""
        with self._cond:
            if isinstance(self._last, Path):
                self._last.unlink(missing_ok=True)
            self._last = self._parsed = None


def _spool(text: str) -> Path:
    """The text, UTF-8 encoded a chunk at a time, in a new file under TMPDIR."""
    fd, name = tempfile.mkstemp(prefix="kit-save-", suffix=".ipynb")
    try:
        with os.fdopen(fd, "wb") as fh:
            for at in range(0, len(text), _CHUNK):
                fh.write(text[at : at + _CHUNK].encode())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


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
