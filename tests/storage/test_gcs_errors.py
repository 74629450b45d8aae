"""GCS-specific failure modes, against the real emulator."""

from __future__ import annotations

import socket

import pytest

from kit.dev import Server
from kit.errors import NotFoundError, StorageError
from kit.storage.gcs import GCSStorage


def test_missing_bucket_is_named(gcs_server: Server) -> None:
    store = GCSStorage(retry_deadline=5)
    with pytest.raises(NotFoundError, match=r"bucket gs://no-such-bucket-x does not exist"):
        store.write("gs://no-such-bucket-x/a.txt", b"x")


def test_unreachable_emulator_fails_fast_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    with pytest.raises(StorageError, match=rf"cannot reach the storage emulator at .*:{port}"):
        GCSStorage()


def test_bucket_url_without_object_is_refused(gcs_server: Server) -> None:
    with pytest.raises(StorageError, match="names a bucket"):
        GCSStorage().read("gs://kit-data")
