"""Google Cloud Storage, through google-cloud-storage (and fake-gcs-server in development)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import storage as gcs
from google.cloud.storage.retry import DEFAULT_RETRY

from kit.errors import NotFoundError, PreconditionFailedError, StorageError
from kit.storage import credentials
from kit.storage.base import ObjectInfo, split_gs
from kit.storage.emulator import EMULATOR_VAR

T = TypeVar("T")
log = logging.getLogger(__name__)
# Bytes per request of a file upload (a multiple of 256 KiB): the client's default reads
# 100 MiB at a time into memory.
UPLOAD_CHUNK = 8 * 1024 * 1024


class GCSStorage:
    """gs:// URLs. Transient errors are retried with the client's retry policy.

    Every call passes DEFAULT_RETRY with a deadline: our writes are safe to repeat
    (conditional ones by generation, the others whole-object and idempotent).
    """

    def __init__(self, retry_deadline: float = 60.0) -> None:
        credentials.check()
        emulator = os.environ.get(EMULATOR_VAR)
        self._retry = DEFAULT_RETRY.with_deadline(retry_deadline)
        try:
            self._client = gcs.Client()
        except Exception as exc:  # google.auth raises several unrelated types
            raise StorageError(f"cannot create a GCS client: {exc}") from exc
        log.debug(
            "GCS client for project %s%s, retrying for %gs",
            self._client.project,
            f" on the emulator at {emulator}" if emulator else "",
            retry_deadline,
        )

    def _call(self, op: str, url: str, fn: Callable[[], T]) -> T:
        log.debug("%s %s", op, url)
        try:
            return fn()
        except gexc.PreconditionFailed as exc:
            raise PreconditionFailedError(f"precondition failed for {url}") from exc
        except gexc.NotFound as exc:
            bucket, _ = split_gs(url)
            if not self._bucket_exists(bucket):
                raise NotFoundError(f"bucket gs://{bucket} does not exist (for {url})") from exc
            raise NotFoundError(f"no object at {url}") from exc
        except gexc.GoogleAPICallError as exc:
            raise StorageError(f"GCS error for {url}: {exc.message}") from exc
        except (gexc.RetryError, OSError) as exc:
            raise StorageError(f"cannot reach GCS for {url}: {exc}") from exc

    def _bucket_exists(self, bucket: str) -> bool:
        try:
            return bool(self._client.bucket(bucket).exists(retry=self._retry))
        except Exception:
            return True  # unknown: report the object as missing rather than guess

    def _blob(self, url: str) -> Any:
        bucket, key = split_gs(url)
        if not key:
            raise StorageError(f"{url} names a bucket, not an object")
        return self._client.bucket(bucket).blob(key)

    @staticmethod
    def _info(url: str, blob: Any) -> ObjectInfo:
        return ObjectInfo(
            url=url,
            size=int(blob.size or 0),
            generation=int(blob.generation or 0),
            updated=blob.updated,
            content_type=blob.content_type,
            metadata=dict(blob.metadata or {}),
        )

    def read(self, url: str) -> bytes:
        blob = self._blob(url)
        data: bytes = self._call("read", url, partial(blob.download_as_bytes, retry=self._retry))
        return data

    def read_info(self, url: str) -> tuple[bytes, ObjectInfo]:
        # Pin the download to the generation we stat'ed, so bytes and metadata agree.
        while True:
            info = self.stat(url)
            blob = self._blob(url)
            download = partial(
                blob.download_as_bytes, if_generation_match=info.generation, retry=self._retry
            )
            try:
                data: bytes = self._call(f"read generation {info.generation} of", url, download)
            except PreconditionFailedError:
                log.debug("%s changed since its stat: reading it again", url)
                continue  # replaced between stat and download: read the new one
            return data, info

    def stat(self, url: str) -> ObjectInfo:
        blob = self._blob(url)
        self._call("stat", url, lambda: blob.reload(retry=self._retry))
        return self._info(url, blob)

    def exists(self, url: str) -> bool:
        blob = self._blob(url)
        return bool(self._call("exists", url, lambda: blob.exists(retry=self._retry)))

    def write(
        self,
        url: str,
        data: bytes,
        *,
        if_generation_match: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        blob = self._blob(url)
        if metadata:
            blob.metadata = dict(metadata)
        condition = "" if if_generation_match is None else f" if generation {if_generation_match}"
        self._call(
            f"write {len(data)} bytes{condition} to",
            url,
            lambda: blob.upload_from_string(
                data,
                content_type=content_type or "application/octet-stream",
                if_generation_match=if_generation_match,
                retry=self._retry,
            ),
        )
        return self._info(url, blob)

    def write_file(
        self,
        url: str,
        path: Path,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        blob = self._blob(url)
        blob.chunk_size = UPLOAD_CHUNK  # resumable, a chunk in memory at a time
        if metadata:
            blob.metadata = dict(metadata)
        self._call(
            "upload",
            url,
            lambda: blob.upload_from_filename(
                str(path),
                content_type=content_type or "application/octet-stream",
                retry=self._retry,
            ),
        )
        return self._info(url, blob)

    def list(
        self, prefix: str, *, start_offset: str | None = None, page_size: int | None = None
    ) -> Iterator[ObjectInfo]:
        bucket, key = split_gs(prefix)
        offset = split_gs(start_offset)[1] if start_offset else None
        # One request per page, made only when the caller reads that far.
        pages = self._client.list_blobs(
            bucket, prefix=key, start_offset=offset, page_size=page_size, retry=self._retry
        ).pages
        while (page := self._call("list", prefix, lambda: next(pages, None))) is not None:
            for blob in page:
                yield self._info(f"gs://{bucket}/{blob.name}", blob)

    def delete(self, url: str) -> None:
        blob = self._blob(url)
        self._call("delete", url, lambda: blob.delete(retry=self._retry))
