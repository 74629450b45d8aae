"""Runs in the outputs bucket, newest first, a page at a time: what a listing costs is what
it shows, not what the bucket holds.

An indexed bucket (kit.run_contract: index/format.json) is listed from its index: each
entry's name sorts newest first and its metadata summarises the run, so a page of 50 runs
is one list request and no record is read. Entries still saying "running" are checked
against the run's folder (two small GETs each). A bucket not indexed yet is listed from
runs/ (one listing of everything, plus a read of each record that has no summary) until
`kit runs reindex` indexes it. Nothing here downloads an output notebook except
`RunStore.notebook`.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from kit.config import Settings
from kit.errors import NotFoundError, UsageError, did_you_mean
from kit.review.cache import RecordCache
from kit.review.reading import Found, Reader
from kit.review.run_view import (
    OUTPUT_FILE,
    RECORD_FILE,
    RUNNING,
    STATUSES,
    Run,
    parse_time,
)
from kit.run_contract import (
    KEY_SEP,
    LOST,
    index_prefix,
    key_time,
    names_prefix,
    run_url,
    runs_prefix,
    split_run_url,
)
from kit.storage import ObjectInfo, Storage, storage_for
from kit.storage.index import is_indexed

if TYPE_CHECKING:
    from nbformat import NotebookNode

DEFAULT_WORKERS = 32
MAX_PAGE = 1000  # objects per list request (the GCS maximum)
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


def check_after(after: str | None) -> str | None:
    """A listing position (`Page.after`), or UsageError."""
    if after is not None and (after.count(KEY_SEP) < 2 or key_time(after) is None):
        raise UsageError(f"--after {after!r} is not a position a listing printed")
    return after


@dataclass(frozen=True)
class Page:
    """Some runs, newest first, and where the next page starts (None: no more runs)."""

    runs: list[Run]
    after: str | None


@dataclass(frozen=True)
class _Query:
    name: str | None
    wanted: frozenset[str]
    since: datetime | None
    limit: int | None
    after: str | None

    def keeps(self, run: Run) -> bool:
        if self.wanted and run.status not in self.wanted:
            return False
        return self.since is None or (run.when is not None and run.when >= self.since)


class RunStore:
    """The runs in one outputs bucket.

    Records read are kept in memory by (URL, generation); with `cache_dir`, their bytes
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
        self.bucket = settings.outputs_bucket
        self.storage = storage or storage_for(self.bucket, retry_deadline=settings.retry_deadline)
        self.disk = RecordCache(cache_dir, self.bucket) if cache_dir else None
        self.workers = workers
        self.reader = Reader(self.storage, self.bucket, workers, self.disk)
        self.indexed: bool | None = None  # as of the last listing

    # -- layout -------------------------------------------------------------------------------

    def prefix(self, name: str | None = None, run_id: str | None = None) -> str:
        """runs/ , runs/<name>/ or runs/<name>/<run-id>/ in the outputs bucket."""
        return runs_prefix(self.bucket, name or "", run_id or "")

    def url(self, name: str, run_id: str, file: str) -> str:
        """Where one file of a run is stored."""
        return run_url(self.bucket, name, run_id, file)

    def _group(self, infos: Iterable[ObjectInfo]) -> dict[tuple[str, str], Found]:
        found: dict[tuple[str, str], Found] = {}
        for info in infos:
            parts = split_run_url(self.bucket, info.url)
            if parts is None:
                continue  # files the notebook wrote under its output prefix
            entry = found.setdefault((parts[0], parts[1]), Found())
            if parts[2] == RECORD_FILE:
                entry.record = info
            else:
                entry.output = info
        return found

    # -- listing ------------------------------------------------------------------------------

    def page(
        self,
        name: str | None = None,
        *,
        statuses: Collection[str] = (),
        since: datetime | None = None,
        limit: int | None = 50,
        after: str | None = None,
    ) -> Page:
        """Runs (of one notebook, or all) newest first: at most `limit` (None: all), from
        the position `after` (a previous page's `after`). NotFoundError for an unknown name."""
        query = _Query(name, check_statuses(statuses), since, limit, check_after(after))
        if name is not None and not _safe(name):
            raise NotFoundError(self._unknown_name(name))
        self.indexed = is_indexed(self.storage, self.bucket)
        runs: builtins.list[Run] = (
            self._from_index(query) if self.indexed else self._from_runs(query)
        )
        if self.disk:
            self.disk.save()
        if limit is not None and len(runs) > limit:
            return Page(runs[:limit], runs[limit - 1].key)
        return Page(runs, None)

    def list(
        self,
        name: str | None = None,
        *,
        statuses: Collection[str] = (),
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Run]:
        """Runs (of one notebook, or all), newest first; every one unless `limit`."""
        return self.page(name, statuses=statuses, since=since, limit=limit).runs

    def _entries(self, query: _Query) -> Iterator[tuple[str, ObjectInfo]]:
        """(key, entry) from the index, newest first, from the query's position on."""
        prefix = index_prefix(self.bucket, query.name or "")
        size = MAX_PAGE if query.limit is None or query.wanted else min(MAX_PAGE, query.limit + 1)
        start = prefix + query.after if query.after else None
        for info in self.storage.list(prefix, start_offset=start, page_size=size):
            key = info.url[len(prefix) :]
            if query.after is not None and key <= query.after:
                continue  # the start offset itself: already shown
            if query.since is not None and (key_time(key) or query.since) < query.since:
                return  # newest first: everything further is older
            yield key, info

    def _from_index(self, query: _Query) -> builtins.list[Run]:
        wanted = None if query.limit is None else query.limit + 1  # one more: is there a next?
        kept: builtins.list[Run] = []
        batch: builtins.list[tuple[str, ObjectInfo]] = []
        listed = False

        def flush() -> None:
            runs = self.reader.each(batch, lambda item: self.reader.entry(*item))
            kept.extend(r for r in runs if r is not None and query.keeps(r))
            batch.clear()

        for item in self._entries(query):
            listed = True
            batch.append(item)
            if wanted is not None and len(batch) >= wanted - len(kept):
                flush()
                if len(kept) >= wanted:
                    break
        flush()
        if query.name and not listed and query.after is None and query.since is None:
            raise NotFoundError(self._unknown_name(query.name))
        return kept[:wanted] if wanted is not None else kept

    def _from_runs(self, query: _Query) -> builtins.list[Run]:
        found = self._group(self.storage.list(self.prefix(query.name)))
        if query.name and not found:
            raise NotFoundError(self._unknown_name(query.name))
        if self.disk:
            records = [e.record.url for e in found.values() if e.record is not None]
            self.disk.forget_missing(self.prefix(query.name), records)
        if query.wanted and query.wanted <= {RUNNING, LOST}:  # no record to read
            found = {k: e for k, e in found.items() if e.record is None}
        runs = self.reader.each(found.items(), lambda item: self.reader.listed(*item))
        after = query.after
        shown = [r for r in sort_runs(runs) if query.keeps(r) and (after is None or r.key > after)]
        return shown if query.limit is None else shown[: query.limit + 1]

    def complete(self, runs: Iterable[Run]) -> builtins.list[Run]:
        """The same runs with their whole record read (for those listed from a summary)."""

        def full(run: Run) -> Run:
            if run.complete:
                return run
            try:
                return self.get(run.notebook, run.run_id)
            except NotFoundError:
                return run

        return self.reader.each(runs, full)

    # -- one run ------------------------------------------------------------------------------

    def get(self, name: str, run_id: str) -> Run:
        """One run, its record read; NotFoundError suggesting the closest run ids (or names)."""
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
        if entry.record is None:
            return self.reader.listed((name, run_id), entry)
        run = self.reader.record(name, run_id, entry.record, entry.output is not None)
        if self.disk:
            self.disk.save()
        return run

    def latest(self, name: str) -> Run:
        """The newest run of a notebook."""
        return self.page(name, limit=1).runs[0]

    def names(self) -> builtins.list[str]:
        """Every notebook name that has runs."""
        if is_indexed(self.storage, self.bucket):
            prefix = names_prefix(self.bucket)
            return sorted(info.url[len(prefix) :] for info in self.storage.list(prefix))
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
    return bool(part) and part not in (".", "..") and not set(part) & {"/", "\\", "\0", KEY_SEP}


def sort_runs(runs: Iterable[Run]) -> list[Run]:
    """Newest first, as the index lists them (kit.run_contract.index_key); runs without any
    time last."""
    return sorted(runs, key=lambda r: r.key)
