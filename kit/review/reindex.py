"""`kit runs reindex`: give every run in an outputs bucket its index entries, then mark it.

For buckets with runs written before the index (kit 0.1's schema-1 records, "kit.run/2"
records without a summary, runs whose runner died before indexing): one listing of runs/,
a read of each record that has no summary, and the entries that are missing or outdated,
written with the run contract's preconditions, so it is safe while runs are going on and
can be run again at any time. Until a bucket is marked, listings read runs/ instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kit.config import Settings
from kit.review.listing import RunStore
from kit.review.reading import Found
from kit.run_contract import (
    FINAL_STATUSES,
    INDEX_DIR,
    STARTED_META,
    SUMMARY_META,
    VERSION_META,
    index_urls,
    is_final,
    iso,
    join,
    names_prefix,
    parse_time,
    pending_record,
    read_summary,
    summary,
    upgrade,
    write_index,
)
from kit.storage import Storage
from kit.storage.index import StorageIndex, mark_indexed, register_name


@dataclass(frozen=True)
class Reindexed:
    """What `reindex` did."""

    runs: int  # runs found under runs/
    written: int  # runs whose entries were created or updated (0: all indexed already)
    notebooks: int


def _summary(store: RunStore, key: tuple[str, str], found: Found) -> dict[str, str]:
    """The summary a run's entries should carry, from its run.json, else its output."""
    name, run_id = key
    if found.record is not None:
        if read_summary(found.record.metadata) is not None:
            return {SUMMARY_META: found.record.metadata[SUMMARY_META]}
        run = store.reader.record(name, run_id, found.record, found.output is not None)
        record: dict[str, Any] = dict(run.record or {})
        with contextlib.suppress(ValueError):  # one this kit cannot read is listed "invalid"
            record = upgrade(record)
        record.update(notebook=name, run_id=run_id)
        if run.status not in FINAL_STATUSES:
            record["status"] = run.status  # invalid: listings read the record again
        return summary(record)
    out = found.output
    meta = dict(out.metadata) if out else {}
    started = parse_time(meta.get(STARTED_META)) or (out.updated if out else None)
    started = started or datetime.fromtimestamp(0, UTC)
    meta.setdefault(STARTED_META, iso(started))
    stand_in = pending_record(
        notebook=name,
        run_id=run_id,
        version=meta.get(VERSION_META),
        started=started,
        metadata=meta,
        parameters={},
        overridden=(),
    )
    return summary(stand_in)


def reindex(
    settings: Settings,
    storage: Storage | None = None,
    progress: Callable[[str], None] | None = None,
) -> Reindexed:
    """Index every run in the outputs bucket; then write index/format.json."""
    store = RunStore(settings, storage)
    bucket, io = store.bucket, StorageIndex(store.storage)
    found = store._group(store.storage.list(store.prefix()))
    if progress:
        progress(f"{len(found)} runs under {store.prefix()}")
    present = {
        info.url: dict(info.metadata) for info in store.storage.list(join(bucket, INDEX_DIR) + "/")
    }

    def one(item: tuple[tuple[str, str], Found]) -> bool:
        key, entry = item
        meta = _summary(store, key, entry)
        run = store.reader.listed(key, entry)
        urls = index_urls(bucket, key[0], key[1], run.when)
        if all(url in present for url in urls) and (
            not is_final(read_summary(meta)) or all(present[url] == meta for url in urls)
        ):
            return False  # indexed already (a running run's entries are its runner's)
        known = {url: 0 for url in urls if url not in present}
        write_index(io, urls, meta, known=known)
        return True

    written = sum(store.reader.each(found.items(), one))
    names = sorted({name for name, _ in found})
    registered = {info.url for info in store.storage.list(names_prefix(bucket))}
    for name in names:
        if names_prefix(bucket) + name not in registered:
            register_name(store.storage, bucket, name)
    mark_indexed(store.storage, bucket, "kit runs reindex")
    return Reindexed(runs=len(found), written=written, notebooks=len(names))
