"""The outputs bucket, as the Airflow side reads and writes it (runs/<name>/<run-id>/...).

gs:// goes through the google provider's GCSHook (its Airflow connection, default
google_cloud_default: on Composer the environment's service account). The client honours
STORAGE_EMULATOR_HOST, so against a local fake-gcs-server a connection whose extra says
`"is_anonymous": true` is all it takes (`kit dag test` defines one). file:// URLs and
plain paths are a local folder, as `kit run` treats them. Records are created, never
replaced: if_generation_match=0 on GCS, O_EXCL on a folder.

Imports the provider lazily: parsing the DAG files must not pay for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from kit_run_contract import RECORD_TYPE, Stored

GCS = "gs://"
PRECONDITION_FAILED = 412


class OutputsStore(Protocol):
    """What the finisher and the notifiers need of the outputs bucket."""

    def exists(self, url: str) -> bool:
        """Whether the object exists."""

    def read(self, url: str) -> tuple[bytes, dict[str, str]] | None:
        """The object's bytes and custom metadata, or None when it does not exist."""

    def create(self, url: str, data: bytes, content_type: str) -> bool:
        """Write a new object; False (and nothing written) when it exists already."""

    def stat(self, url: str) -> Stored | None:
        """The object's generation and metadata (the run index's IndexStore)."""

    def put(
        self, url: str, data: bytes, metadata: Mapping[str, str], generation: int
    ) -> int | None:
        """Write if the object's generation is `generation` (0: absent); None when not."""


def _split(url: str) -> tuple[str, str]:
    bucket, _, name = url[len(GCS) :].partition("/")
    return bucket, name


class GCSStore:
    """gs:// through GCSHook's storage client (created on first use)."""

    def __init__(self, gcp_conn_id: str) -> None:
        self.gcp_conn_id = gcp_conn_id
        self._client: Any = None

    def _bucket(self, url: str) -> tuple[Any, str]:
        """The storage client's bucket object holding url, and the object's name."""
        if self._client is None:
            from airflow.providers.google.cloud.hooks.gcs import GCSHook

            self._client = GCSHook(gcp_conn_id=self.gcp_conn_id).get_conn()
        bucket, name = _split(url)
        return self._client.bucket(bucket), name

    def exists(self, url: str) -> bool:
        bucket, name = self._bucket(url)
        return bool(bucket.blob(name).exists())

    def read(self, url: str) -> tuple[bytes, dict[str, str]] | None:
        bucket, name = self._bucket(url)
        blob = bucket.get_blob(name)
        if blob is None:
            return None
        return bytes(blob.download_as_bytes()), dict(blob.metadata or {})

    def create(self, url: str, data: bytes, content_type: str) -> bool:
        try:
            bucket, name = self._bucket(url)
            bucket.blob(name).upload_from_string(
                data, content_type=content_type, if_generation_match=0
            )
        except Exception as exc:  # google.api_core's PreconditionFailed: the object exists
            if getattr(exc, "code", None) == PRECONDITION_FAILED:
                return False
            raise
        return True

    def stat(self, url: str) -> Stored | None:
        bucket, name = self._bucket(url)
        blob = bucket.get_blob(name)
        return None if blob is None else Stored(int(blob.generation), dict(blob.metadata or {}))

    def put(
        self, url: str, data: bytes, metadata: Mapping[str, str], generation: int
    ) -> int | None:
        bucket, name = self._bucket(url)
        blob = bucket.blob(name)
        blob.metadata = dict(metadata)
        try:
            blob.upload_from_string(data, content_type=RECORD_TYPE, if_generation_match=generation)
        except Exception as exc:  # PreconditionFailed: someone else wrote it first
            if getattr(exc, "code", None) == PRECONDITION_FAILED:
                return None
            raise
        return int(blob.generation)


# kit's local storage format (kit/storage/local.py): an object's custom metadata is a
# hidden JSON file beside it, its generation the file's mtime in ns, writers serialised
# by an flock on .kit-storage.lock in the first existing ancestor. A contract test
# writes here and reads with kit's LocalStorage.
_LOCK_NAME = ".kit-storage.lock"


def _meta_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.kit-meta.json")


def _read_meta(path: Path) -> dict[str, str]:
    try:
        raw = json.loads(_meta_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    anchor = path.parent
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    with open(anchor / _LOCK_NAME, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class FolderStore:
    """A local folder (file:// URL or path), as `kit run` writes to it."""

    @staticmethod
    def _path(url: str) -> Path:
        return Path(url[len("file://") :] if url.startswith("file://") else url)

    def exists(self, url: str) -> bool:
        return self._path(url).is_file()

    def read(self, url: str) -> tuple[bytes, dict[str, str]] | None:
        path = self._path(url)
        return (path.read_bytes(), _read_meta(path)) if path.is_file() else None

    def create(self, url: str, data: bytes, content_type: str) -> bool:
        path = self._path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return True

    def stat(self, url: str) -> Stored | None:
        path = self._path(url)
        try:
            return Stored(path.stat().st_mtime_ns, _read_meta(path))
        except FileNotFoundError:
            return None

    def put(
        self, url: str, data: bytes, metadata: Mapping[str, str], generation: int
    ) -> int | None:
        path = self._path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            try:
                current = path.stat().st_mtime_ns
            except FileNotFoundError:
                current = 0
            if current != generation:
                return None
            _meta_path(path).write_text(json.dumps(dict(metadata)), encoding="utf-8")
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            if os.stat(tmp).st_mtime_ns <= current:
                os.utime(tmp, ns=(current + 1, current + 1))
            os.replace(tmp, path)
            return path.stat().st_mtime_ns


def store_for(url: str, gcp_conn_id: str) -> OutputsStore:
    """The store that holds url: GCS for gs://, else a local folder."""
    return GCSStore(gcp_conn_id) if url.startswith(GCS) else FolderStore()
