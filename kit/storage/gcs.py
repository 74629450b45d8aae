"""Google Cloud Storage, through google-cloud-storage (and fake-gcs-server in development)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import storage as gcs
from google.cloud.storage.retry import DEFAULT_RETRY

from kit.errors import NotFoundError, PreconditionFailedError, StorageError
from kit.storage import credentials
from kit.storage.base import ObjectInfo, split_gs

T = TypeVar("T")


class GCSStorage:
    """gs:// URLs. Transient errors are retried with the client's retry policy.

    Every call passes DEFAULT_RETRY with a deadline: our writes are safe to repeat
    (conditional ones by generation, the others whole-object and idempotent).
    """

    def __init__(self, retry_deadline: float = 60.0) -> None:
        credentials.check()
        self._retry = DEFAULT_RETRY.with_deadline(retry_deadline)
        try:
            self._client = gcs.Client()
        except Exception as exc:  # google.auth raises several unrelated types
            raise StorageError(f"cannot create a GCS client: {exc}") from None

    def _call(self, url: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except gexc.PreconditionFailed:
            raise PreconditionFailedError(f"precondition failed for {url}") from None
        except gexc.NotFound:
            bucket, _ = split_gs(url)
            if not self._bucket_exists(bucket):
                raise NotFoundError(f"bucket gs://{bucket} does not exist (for {url})") from None
            raise NotFoundError(f"no object at {url}") from None
        except gexc.GoogleAPICallError as exc:
            raise StorageError(f"GCS error for {url}: {exc.message}") from None
        except (gexc.RetryError, OSError) as exc:
            raise StorageError(f"cannot reach GCS for {url}: {exc}") from None

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
        )

    def read(self, url: str) -> bytes:
        blob = self._blob(url)
        data: bytes = self._call(url, partial(blob.download_as_bytes, retry=self._retry))
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
                data: bytes = self._call(url, download)
            except PreconditionFailedError:
                continue  # replaced between stat and download: read the new one
            return data, info

    def stat(self, url: str) -> ObjectInfo:
        blob = self._blob(url)
        self._call(url, lambda: blob.reload(retry=self._retry))
        return self._info(url, blob)

    def exists(self, url: str) -> bool:
        blob = self._blob(url)
        return bool(self._call(url, lambda: blob.exists(retry=self._retry)))

    def write(
        self,
        url: str,
        data: bytes,
        *,
        if_generation_match: int | None = None,
        content_type: str | None = None,
    ) -> ObjectInfo:
        blob = self._blob(url)
        self._call(
            url,
            lambda: blob.upload_from_string(
                data,
                content_type=content_type or "application/octet-stream",
                if_generation_match=if_generation_match,
                retry=self._retry,
            ),
        )
        return self._info(url, blob)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        bucket, key = split_gs(prefix)
        blobs = self._call(
            prefix, lambda: list(self._client.list_blobs(bucket, prefix=key, retry=self._retry))
        )
        for blob in blobs:
            yield self._info(f"gs://{bucket}/{blob.name}", blob)

    def delete(self, url: str) -> None:
        blob = self._blob(url)
        self._call(url, lambda: blob.delete(retry=self._retry))
