"""The storage interface every backend implements, and URL helpers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from kit.run_contract import join


@dataclass(frozen=True)
class ObjectInfo:
    """Metadata of one stored object. `generation` changes on every write."""

    url: str
    size: int
    generation: int
    updated: datetime | None = None
    content_type: str | None = None
    # Custom metadata stored with this generation (GCS object metadata), returned by listings.
    metadata: Mapping[str, str] = field(default_factory=dict)


class Storage(Protocol):
    """Bytes in, bytes out, keyed by URL. Implementations: GCS and a local folder.

    `if_generation_match` follows GCS: the write happens only when the
    object's current generation equals it, 0 meaning "must not exist yet";
    otherwise PreconditionFailedError.
    """

    def read(self, url: str) -> bytes:
        """Return the object's bytes; NotFoundError when absent."""
        ...

    def read_info(self, url: str) -> tuple[bytes, ObjectInfo]:
        """Return the bytes with the metadata of exactly that generation."""
        ...

    def write(
        self,
        url: str,
        data: bytes,
        *,
        if_generation_match: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Store bytes (and custom metadata) at url, atomically replacing any earlier object."""
        ...

    def write_file(
        self,
        url: str,
        path: Path,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Store a local file's bytes at url, reading it a chunk at a time (big objects)."""
        ...

    def list(
        self, prefix: str, *, start_offset: str | None = None, page_size: int | None = None
    ) -> Iterator[ObjectInfo]:
        """Every object whose URL starts with prefix, recursively, in name order.

        start_offset: only URLs equal to or after it. page_size: how many objects each
        request fetches (GCS); pages are fetched as the iterator is consumed.
        """
        ...

    def exists(self, url: str) -> bool:
        """Whether an object exists at url."""
        ...

    def stat(self, url: str) -> ObjectInfo:
        """The object's metadata; NotFoundError when absent."""
        ...

    def delete(self, url: str) -> None:
        """Remove the object; NotFoundError when absent."""
        ...


def split_gs(url: str) -> tuple[str, str]:
    """Split gs://bucket/key into (bucket, key)."""
    if not url.startswith("gs://"):
        raise ValueError(f"not a gs:// URL: {url}")
    bucket, _, key = url[len("gs://") :].partition("/")
    return bucket, key


__all__ = ["ObjectInfo", "Storage", "join", "split_gs"]
