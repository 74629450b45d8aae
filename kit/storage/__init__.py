"""Storage behind one small interface, chosen by URL scheme (as papermill's I/O handlers are)."""

from __future__ import annotations

import os

from kit.errors import UsageError
from kit.storage.base import ObjectInfo, Storage, join, split_gs

__all__ = ["ObjectInfo", "Storage", "join", "split_gs", "storage_for"]

_cache: dict[tuple[str, float, str | None], Storage] = {}


def storage_for(url: str, *, retry_deadline: float = 60.0) -> Storage:
    """Return the storage that serves url: GCS for gs://, a local folder for file:// and paths.

    Backends are created on first use (never at import) and reused per process.
    """
    if url.startswith("gs://"):
        # Keyed by emulator too: tests and `kit dev` switch it within one process.
        key = ("gs", retry_deadline, os.environ.get("STORAGE_EMULATOR_HOST"))
        if key not in _cache:
            from kit.storage import credentials

            credentials.check()  # before the seconds google-cloud-storage takes to import
            from kit.storage.gcs import GCSStorage  # google-cloud-storage loads only when needed

            _cache[key] = GCSStorage(retry_deadline)
        return _cache[key]
    if "://" in url and not url.startswith("file://"):
        raise UsageError(f"unsupported URL scheme in {url} (use gs://, file:// or a path)")
    from kit.storage.local import LocalStorage

    return LocalStorage()
