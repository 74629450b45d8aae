"""Runs written straight into a bucket the way `kit run` (or the finisher) leaves them:
run.json with its summary, and the two index entries (kit.run_contract)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from record_support import v2_record

from kit import run_contract as contract
from kit.config import Settings
from kit.storage import ObjectInfo, Storage, storage_for
from kit.storage.index import StorageIndex, register_name

T0 = datetime(2026, 3, 1, 6, tzinfo=UTC)


def write_run(
    settings: Settings,
    name: str,
    run_id: str,
    started: datetime,
    *,
    status: str = "succeeded",
    index: bool = True,
    final_entries: bool = True,
    **fields: Any,
) -> dict[str, Any]:
    """A finished run: output.ipynb, run.json (with its summary), and its index entries
    (left saying "running" with final_entries=False: a runner that died in between)."""
    bucket = settings.outputs_bucket
    store = storage_for(bucket)
    output = contract.run_url(bucket, name, run_id, contract.OUTPUT_FILE)
    fields.setdefault("reason", None if status == "succeeded" else f"{status} on purpose")
    record = v2_record(
        run_id=run_id,
        notebook=name,
        status=status,
        output_url=output,
        started_at=contract.iso(started),
        finished_at=contract.iso(started + timedelta(seconds=61)),
        **fields,
    )
    urls = contract.index_urls(bucket, name, run_id, started)
    io = StorageIndex(store)
    if index:
        pending = contract.pending_record(
            notebook=name,
            run_id=run_id,
            version=record["version"],
            started=started,
            metadata=contract.output_metadata(started, 3600, 30),
            parameters=record["parameters"],
            overridden=[],
        )
        contract.write_index(io, urls, contract.summary(pending))
        register_name(store, bucket, name)
    store.write(output, b"{}", metadata=contract.output_metadata(started, 3600, 30))
    store.write(
        contract.run_url(bucket, name, run_id, contract.RECORD_FILE),
        json.dumps(record).encode(),
        content_type=contract.RECORD_TYPE,
        metadata=contract.summary(record),
    )
    if index and final_entries:
        contract.write_index(io, urls, contract.summary(record))
    return record


class Counting:
    """A storage that records its list requests, the objects they yielded, reads and stats."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.lists: list[str] = []
        self.yielded = 0
        self.reads: list[str] = []
        self.stats: list[str] = []
        self._lock = threading.Lock()

    def list(self, prefix: str, **kwargs: Any) -> Iterator[ObjectInfo]:
        self.lists.append(prefix)
        for info in self.inner.list(prefix, **kwargs):
            with self._lock:
                self.yielded += 1
            yield info

    def read(self, url: str) -> bytes:
        with self._lock:
            self.reads.append(url)
        return self.inner.read(url)

    def stat(self, url: str) -> ObjectInfo:
        with self._lock:
            self.stats.append(url)
        return self.inner.stat(url)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
