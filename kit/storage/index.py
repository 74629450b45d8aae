"""The run index over kit's storage: the run contract's IndexStore, and its bookkeeping."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime

from kit import run_contract as contract
from kit.errors import NotFoundError, PreconditionFailedError
from kit.run_contract import RECORD_TYPE, Stored
from kit.storage.base import Storage


class StorageIndex:
    """Index entries through any kit storage (GCS or a local folder)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def stat(self, url: str) -> Stored | None:
        try:
            info = self.storage.stat(url)
        except NotFoundError:
            return None
        return Stored(info.generation, dict(info.metadata))

    def put(
        self, url: str, data: bytes, metadata: Mapping[str, str], generation: int
    ) -> int | None:
        try:
            info = self.storage.write(
                url,
                data,
                if_generation_match=generation,
                content_type=RECORD_TYPE,
                metadata=metadata,
            )
        except PreconditionFailedError:
            return None
        return info.generation


def register_name(storage: Storage, bucket: str, notebook: str) -> None:
    """index/names/<notebook>, created once: how listings learn which notebooks have runs."""
    with contextlib.suppress(PreconditionFailedError):
        storage.write(contract.names_prefix(bucket) + notebook, b"", if_generation_match=0)


def is_indexed(storage: Storage, bucket: str) -> bool:
    """Whether every run in the bucket has its index entries (index/format.json exists)."""
    return storage.exists(contract.format_url(bucket))


def mark_indexed(storage: Storage, bucket: str, written_by: str) -> None:
    """Write index/format.json (once): from now on the bucket is listed from its index."""
    body = contract.format_body(written_by, datetime.now(UTC))
    with contextlib.suppress(PreconditionFailedError):
        storage.write(
            contract.format_url(bucket), body, if_generation_match=0, content_type=RECORD_TYPE
        )


def mark_if_empty(storage: Storage, bucket: str, written_by: str) -> bool:
    """Mark a bucket that has no runs yet (nothing to index); True when it is marked.

    For a new outputs bucket: its listings use the index from the first run on. A bucket
    that already has runs is marked by `kit runs reindex`, once they all have entries.
    """
    if is_indexed(storage, bucket):
        return True
    if next(iter(storage.list(contract.runs_prefix(bucket), page_size=1)), None) is not None:
        return False
    mark_indexed(storage, bucket, written_by)
    return True
