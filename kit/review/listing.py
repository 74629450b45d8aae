"""Read run records from the outputs bucket: one listing call per prefix, records read concurrently.

Nothing here downloads an output notebook except `RunStore.notebook`: a listing only
reads run.json files. A run with an output notebook but no run.json is "running" until the
deadline stored with its output (kit.run_contract) has passed, then "lost".
"""

from __future__ import annotations

import builtins
import re
import threading
from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from kit.config import Settings
from kit.errors import NotFoundError, UsageError, did_you_mean
from kit.review.cache import RecordCache
from kit.review.record import (
    OUTPUT_FILE,
    RECORD_FILE,
    RUNNING,
    STATUSES,
    Run,
    parse_record,
    parse_time,
    pending,
)
from kit.run_contract import LOST, run_url, runs_prefix, split_run_url
from kit.storage import ObjectInfo, Storage, storage_for

if TYPE_CHECKING:
    from nbformat import NotebookNode

DEFAULT_WORKERS = 32
_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`30m`, `12h`, `7d`, `2w` ago, or an ISO date/datetime; UsageError otherwise."""
    now = now or datetime.now(UTC)
    if match := _SINCE.match(text):
        return now - timedelta(**{_UNITS[match[2]]: float(match[1])})
    moment = parse_time(text.strip())
    if moment is None:
        raise UsageError(f"--since {text!r}: use a duration like 7d, 12h, 30m or an ISO date")
    return moment


def check_statuses(statuses: Collection[str]) -> frozenset[str]:
    """Validate status filter values (UsageError naming the closest status)."""
    for status in statuses:
        if status not in STATUSES:
            raise UsageError(
                f"unknown status {status!r}{did_you_mean(status, STATUSES)} "
                f"(statuses: {', '.join(STATUSES)})"
            )
    return frozenset(statuses)


@dataclass
class _Found:
    record: ObjectInfo | None = None
    output: ObjectInfo | None = None


class RunStore:
    """The runs in one outputs bucket.

    Parsed records are kept in memory by (URL, generation); with `cache_dir`, their bytes
    are also kept on disk across processes (see kit.review.cache).
    """

    def __init__(
        self,
        settings: Settings,
        storage: Storage | None = None,
        workers: int = DEFAULT_WORKERS,
        cache_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage or storage_for(
            settings.outputs_bucket, retry_deadline=settings.retry_deadline
        )
        self.workers = workers
        self.disk = RecordCache(cache_dir, settings.outputs_bucket) if cache_dir else None
        self._cache: dict[tuple[str, int], Run] = {}
        self._lock = threading.Lock()

    # -- layout -------------------------------------------------------------------------------

    def prefix(self, name: str | None = None, run_id: str | None = None) -> str:
        """runs/ , runs/<name>/ or runs/<name>/<run-id>/ in the outputs bucket."""
        return runs_prefix(self.settings.outputs_bucket, name or "", run_id or "")

    def url(self, name: str, run_id: str, file: str) -> str:
        """Where one file of a run is stored."""
        return run_url(self.settings.outputs_bucket, name, run_id, file)

    def _group(self, infos: Iterable[ObjectInfo]) -> dict[tuple[str, str], _Found]:
        found: dict[tuple[str, str], _Found] = {}
        for info in infos:
            parts = split_run_url(self.settings.outputs_bucket, info.url)
            if parts is None:
                continue  # files the notebook wrote under its output prefix
            entry = found.setdefault((parts[0], parts[1]), _Found())
            if parts[2] == RECORD_FILE:
                entry.record = info
            else:
                entry.output = info
        return found

    # -- reading ------------------------------------------------------------------------------

    def _read(self, key: tuple[str, str], entry: _Found) -> Run:
        name, run_id = key
        output_url = self.url(name, run_id, OUTPUT_FILE)
        if entry.record is None:
            return pending(
                notebook=name,
                run_id=run_id,
                record_url=self.url(name, run_id, RECORD_FILE),
                output_url=output_url,
                updated_at=entry.output.updated if entry.output else None,
                metadata=entry.output.metadata if entry.output else None,
            )
        cache_key = (entry.record.url, entry.record.generation)
        with self._lock:
            cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        data = self.disk.get(*cache_key) if self.disk else None
        if data is None:
            data = self.storage.read(entry.record.url)
            if self.disk:
                self.disk.put(*cache_key, data)
        run = parse_record(
            data,
            notebook=name,
            run_id=run_id,
            record_url=entry.record.url,
            output_url=output_url,
            has_output=entry.output is not None,
        )
        with self._lock:
            self._cache[cache_key] = run
        return run

    def _load(self, found: dict[tuple[str, str], _Found]) -> list[Run]:
        items = list(found.items())
        if len(items) <= 1 or self.workers <= 1:
            return [self._read(k, e) for k, e in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            return list(pool.map(lambda item: self._read(*item), items))

    def list(
        self,
        name: str | None = None,
        *,
        statuses: Collection[str] = (),
        since: datetime | None = None,
    ) -> list[Run]:
        """Runs (of one notebook, or all), newest first; NotFoundError for an unknown name."""
        wanted = check_statuses(statuses)
        if name is not None and not _safe(name):
            raise NotFoundError(self._unknown_name(name))
        found = self._group(self.storage.list(self.prefix(name)))
        if name and not found:
            raise NotFoundError(self._unknown_name(name))
        if self.disk:
            records = [e.record.url for e in found.values() if e.record is not None]
            self.disk.forget_missing(self.prefix(name), records)
        if wanted and wanted <= {RUNNING, LOST}:  # no record to read
            found = {k: e for k, e in found.items() if e.record is None}
        runs = self._load(found)
        if self.disk:
            self.disk.save()
        if wanted:
            runs = [r for r in runs if r.status in wanted]
        if since is not None:
            runs = [r for r in runs if r.when is not None and r.when >= since]
        return sort_runs(runs)

    def get(self, name: str, run_id: str) -> Run:
        """One run; NotFoundError suggesting the closest run ids (or names)."""
        if not (_safe(name) and _safe(run_id)):
            raise NotFoundError(f"no run {name}/{run_id} in {self.prefix()}")
        found = self._group(self.storage.list(self.prefix(name, run_id)))
        entry = found.get((name, run_id))
        if entry is None:
            ids = {k[1] for k in self._group(self.storage.list(self.prefix(name)))}
            if not ids:
                raise NotFoundError(self._unknown_name(name))
            raise NotFoundError(
                f"no run {run_id!r} of notebook {name!r} in {self.prefix(name)}"
                f"{did_you_mean(run_id, ids)}"
            )
        return self._read((name, run_id), entry)

    def latest(self, name: str) -> Run:
        """The newest run of a notebook."""
        return self.list(name)[0]

    def names(self) -> builtins.list[str]:
        """Every notebook name that has runs."""
        return sorted({k[0] for k in self._group(self.storage.list(self.prefix()))})

    def _unknown_name(self, name: str) -> str:
        return f"no runs of notebook {name!r} in {self.prefix()}{did_you_mean(name, self.names())}"

    def notebook_bytes(self, run: Run) -> bytes:
        """The executed notebook's bytes (as far as it got, for a running run)."""
        if not run.has_output:
            raise NotFoundError(f"run {run.notebook}/{run.run_id} has no output notebook")
        return self.storage.read(self.url(run.notebook, run.run_id, OUTPUT_FILE))

    def notebook(self, run: Run) -> NotebookNode:
        """The executed notebook, parsed with nbformat (version 4)."""
        import nbformat

        data = self.notebook_bytes(run)
        try:
            nb: NotebookNode = nbformat.reads(  # type: ignore[no-untyped-call]
                data.decode("utf-8"), as_version=4
            )
            return nb
        except Exception as exc:  # nbformat raises several unrelated types
            where = self.url(run.notebook, run.run_id, OUTPUT_FILE)
            raise UsageError(f"{where}: not a readable notebook: {exc}") from exc


def _safe(part: str) -> bool:
    """A path segment that stays inside its folder (no separators, no dot-dirs)."""
    return bool(part) and part not in (".", "..") and not set(part) & {"/", "\\", "\0"}


def sort_runs(runs: Iterable[Run]) -> list[Run]:
    """Newest first; runs without any time last; ties by run id, descending."""
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(runs, key=lambda r: (r.when or epoch, r.run_id), reverse=True)
