"""Turning what a listing returned into runs: summaries, records (cached), pending runs.

Shared by the two ways RunStore lists: from the index (kit.run_contract's index entries,
newest first) and, for a bucket not indexed yet, from runs/ itself.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from kit.errors import NotFoundError
from kit.review.cache import RecordCache
from kit.review.run_view import Run, from_summary, parse_record, pending
from kit.run_contract import (
    DEADLINE_META,
    KEY_SEP,
    OUTPUT_FILE,
    RECORD_FILE,
    STARTED_META,
    VERSION_META,
    is_final,
    read_summary,
    run_url,
)
from kit.storage import ObjectInfo, Storage

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Found:
    """What a listing of runs/ showed of one run: its record and its output, if any."""

    record: ObjectInfo | None = None
    output: ObjectInfo | None = None


class Reader:
    """Reads run records, keeping parsed ones by (URL, generation) in memory and, with a
    RecordCache, their bytes on disk across processes."""

    def __init__(self, storage: Storage, bucket: str, workers: int, disk: RecordCache | None):
        self.storage = storage
        self.bucket = bucket
        self.workers = workers
        self.disk = disk
        self._parsed: dict[tuple[str, int], Run] = {}
        self._lock = threading.Lock()

    def urls(self, name: str, run_id: str) -> tuple[str, str]:
        """(record URL, output URL) of a run."""
        return (
            run_url(self.bucket, name, run_id, RECORD_FILE),
            run_url(self.bucket, name, run_id, OUTPUT_FILE),
        )

    def each(self, items: Iterable[T], read: Callable[[T], R]) -> list[R]:
        """read(item) for every item, concurrently (records and stats are small GETs)."""
        todo = list(items)
        if len(todo) <= 1 or self.workers <= 1:
            return [read(item) for item in todo]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(todo))) as pool:
            return list(pool.map(read, todo))

    def record(self, name: str, run_id: str, info: ObjectInfo, has_output: bool) -> Run:
        """The run from its run.json (this generation), read once."""
        key = (info.url, info.generation)
        with self._lock:
            cached = self._parsed.get(key)
        if cached is not None:
            return cached
        data = self.disk.get(*key) if self.disk else None
        if data is None:
            data = self.storage.read(info.url)
            if self.disk:
                self.disk.put(*key, data)
        run = parse_record(
            data,
            notebook=name,
            run_id=run_id,
            record_url=info.url,
            output_url=self.urls(name, run_id)[1],
            has_output=has_output,
        )
        with self._lock:
            self._parsed[key] = run
        return run

    def listed(self, key: tuple[str, str], found: Found) -> Run:
        """A run from a listing of runs/: its summary when run.json has a complete one,
        else its record, else (no run.json) running or lost from its output's metadata."""
        name, run_id = key
        record_url, output_url = self.urls(name, run_id)
        if found.record is None:
            out = found.output
            return pending(
                notebook=name,
                run_id=run_id,
                record_url=record_url,
                output_url=output_url,
                updated_at=out.updated if out else None,
                metadata=out.metadata if out else None,
            )
        summary = read_summary(found.record.metadata)
        if is_final(summary) and summary and not summary.get("partial"):
            run = from_summary(summary, record_url=record_url, output_url=output_url)
            if (run.notebook, run.run_id) == key:
                return run
        return self.record(name, run_id, found.record, found.output is not None)

    def entry(self, position: str, info: ObjectInfo) -> Run | None:
        """A run from its index entry; one still running (or partial, or unreadable) is
        looked up in its folder, where run.json may have landed since."""
        summary = read_summary(info.metadata)
        if summary is None:  # a newer kit's, or damaged: the run's folder tells
            parts = position.split(KEY_SEP, 2)
            if len(parts) != 3:
                return None
            summary = {"notebook": parts[1], "run_id": parts[2]}
        name, run_id = str(summary.get("notebook")), str(summary["run_id"])
        record_url, output_url = self.urls(name, run_id)
        if is_final(summary) and not summary.get("partial"):
            return from_summary(
                summary, record_url=record_url, output_url=output_url, position=position
            )
        output = self._stat(output_url)
        # Usually absent: asked as a yes/no (a missing object's stat also looks at the bucket).
        record = self._stat(record_url) if self.storage.exists(record_url) else None
        if record is not None:
            run = self.record(name, run_id, record, output is not None)
            return dataclasses.replace(run, position=position)
        meta: Mapping[str, str] = (
            output.metadata
            if output
            else {
                STARTED_META: str(summary.get("started_at") or ""),
                DEADLINE_META: str(summary.get("deadline") or ""),
                VERSION_META: str(summary.get("version") or ""),
            }
        )
        run = pending(
            notebook=name,
            run_id=run_id,
            record_url=record_url,
            output_url=output_url,
            updated_at=output.updated if output else info.updated,
            metadata={k: v for k, v in meta.items() if v},
            has_output=output is not None,
            position=position,
        )
        # What it was started with, as its index entry says (a listing shows it, running
        # or lost, like any run's).
        params = summary.get("parameters")
        if isinstance(params, dict):
            given = tuple(str(k) for k in summary.get("overridden") or ())
            run = dataclasses.replace(run, parameters=params, overridden=given)
        return run

    def _stat(self, url: str) -> ObjectInfo | None:
        try:
            return self.storage.stat(url)
        except NotFoundError:
            return None
