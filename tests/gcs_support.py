"""Helpers for tests that need GCS: fresh buckets on the session's emulator."""

from __future__ import annotations

import uuid

from kit import dev
from kit.config import Settings


def fresh_settings(server: dev.Server, prefix: str = "t") -> Settings:
    """Settings naming three new, empty buckets; the data bucket holds the example datasets."""
    from google.cloud import storage as gcs

    client = gcs.Client()
    names = {
        f: f"{prefix}-{f.split('_')[0]}-{uuid.uuid4().hex[:12]}"
        for f in ("modules_bucket", "outputs_bucket", "data_bucket")
    }
    for name in names.values():
        client.create_bucket(name)
    settings = Settings(**{f: f"gs://{n}" for f, n in names.items()}, retry_deadline=10.0)
    dev.provision(server, settings)
    return settings
