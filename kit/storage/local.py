"""A local folder that behaves like a bucket: for file:// URLs and plain paths."""

from __future__ import annotations

import fcntl
import json
import logging
import mimetypes
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from kit.errors import NotFoundError, PreconditionFailedError, StorageError
from kit.storage.base import ObjectInfo

_LOCK_NAME = ".kit-storage.lock"
log = logging.getLogger(__name__)


def to_path(url: str) -> Path:
    """The filesystem path of a file:// URL or plain path."""
    return Path(url[len("file://") :] if url.startswith("file://") else url)


def _meta_path(path: Path) -> Path:
    """Where an object's custom metadata is kept: a hidden file beside it (never listed)."""
    return path.with_name(f".{path.name}.kit-meta.json")


def _read_meta(path: Path) -> dict[str, str]:
    try:
        raw = json.loads(_meta_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


class LocalStorage:
    """Objects are files; generation is the file's mtime in ns, kept strictly increasing.

    Preconditions are made atomic with an flock on a lock file at the folder root
    (the first existing ancestor), which serialises writers across processes. Custom
    metadata lives in a hidden file beside the object, written just before it.
    """

    def _info(self, url: str, path: Path, st: os.stat_result | None = None) -> ObjectInfo:
        st = st or path.stat()
        return ObjectInfo(
            url=url,
            size=st.st_size,
            generation=st.st_mtime_ns,
            updated=datetime.fromtimestamp(st.st_mtime, UTC),
            content_type=mimetypes.guess_type(path.name)[0],
            metadata=_read_meta(path),
        )

    @contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        anchor = path.parent
        while not anchor.exists() and anchor != anchor.parent:
            anchor = anchor.parent
        with open(anchor / _LOCK_NAME, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self, url: str) -> bytes:
        return self.read_info(url)[0]

    def read_info(self, url: str) -> tuple[bytes, ObjectInfo]:
        log.debug("read %s", url)
        path = to_path(url)
        try:
            with open(path, "rb") as fh:
                # fstat, not stat: a concurrent writer may already have replaced the path.
                return fh.read(), self._info(url, path, os.fstat(fh.fileno()))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NotFoundError(f"no object at {url}") from exc

    def stat(self, url: str) -> ObjectInfo:
        path = to_path(url)
        if not path.is_file():
            raise NotFoundError(f"no object at {url}")
        return self._info(url, path)

    def exists(self, url: str) -> bool:
        return to_path(url).is_file()

    def _check(self, url: str, path: Path, expected: int | None) -> int:
        current = path.stat().st_mtime_ns if path.is_file() else 0
        if expected is not None and current != expected:
            raise PreconditionFailedError(
                f"precondition failed for {url}: generation is {current}, expected {expected}"
            )
        return current

    def write(
        self,
        url: str,
        data: bytes,
        *,
        if_generation_match: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        condition = "" if if_generation_match is None else f" if generation {if_generation_match}"
        log.debug("write %d bytes%s to %s", len(data), condition, url)

        def fill(fh: BinaryIO) -> None:
            fh.write(data)

        return self._replace(url, fill, if_generation_match, metadata)

    def write_file(
        self,
        url: str,
        path: Path,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        def fill(fh: BinaryIO) -> None:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, fh)

        return self._replace(url, fill, None, metadata)

    def _replace(
        self,
        url: str,
        fill: Callable[[BinaryIO], None],
        if_generation_match: int | None,
        metadata: Mapping[str, str] | None,
    ) -> ObjectInfo:
        """Write a new generation of url atomically: metadata first, then the bytes `fill`
        writes to a temporary file, renamed over the object."""
        path = to_path(url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked(path):
                previous = self._check(url, path, if_generation_match)
                if metadata:
                    _meta_path(path).write_text(json.dumps(dict(metadata)), encoding="utf-8")
                else:
                    with suppress(FileNotFoundError):
                        _meta_path(path).unlink()
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
                with os.fdopen(fd, "wb") as fh:
                    fill(fh)
                if os.stat(tmp).st_mtime_ns <= previous:
                    # Coarse filesystem clocks can repeat a timestamp; generations must not.
                    os.utime(tmp, ns=(previous + 1, previous + 1))
                os.replace(tmp, path)
                return self._info(url, path)
        except OSError as exc:
            raise StorageError(f"cannot write {url}: {exc.strerror or exc}") from exc

    def list(
        self, prefix: str, *, start_offset: str | None = None, page_size: int | None = None
    ) -> Iterator[ObjectInfo]:
        del page_size  # one directory walk serves any page
        log.debug("list %s", prefix)
        root = to_path(prefix)
        # A prefix may end inside a file name ("runs/fore"), as on GCS.
        base = root if prefix.endswith("/") or root.is_dir() else root.parent
        if not base.is_dir():
            return
        stem = prefix[len("file://") :] if prefix.startswith("file://") else prefix
        scheme = "file://" if prefix.startswith("file://") else ""
        found = []
        for dirpath, _dirs, filenames in os.walk(base):
            for name in filenames:
                if name.startswith("."):  # lock files and in-flight temporaries
                    continue
                path = os.path.join(dirpath, name)
                if path.startswith(stem):
                    found.append(path)
        start = to_path(start_offset).as_posix() if start_offset else ""
        for path in sorted(found):  # name order, as GCS lists
            if path >= start:
                yield self._info(scheme + path, Path(path))

    def delete(self, url: str) -> None:
        log.debug("delete %s", url)
        path = to_path(url)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise NotFoundError(f"no object at {url}") from exc
        with suppress(FileNotFoundError):
            _meta_path(path).unlink()
