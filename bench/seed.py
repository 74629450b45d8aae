"""Many runs, fast: objects written straight into fake-gcs-server's filesystem backend.

Uploading 400,000 objects through the emulator's API takes most of an hour; writing them
where its filesystem backend keeps them takes well under a minute, and the running server
serves them at once (it reads its folder on every request). The layout is the emulator's
own: one file per object under <root>/<bucket>/<object name>, its attributes (content type,
custom metadata, checksums, generation) as JSON in the file's `user.metadata` extended
attribute, or in a `<file>.metadata` file beside it where the filesystem has none. `Layout`
finds which from an object the emulator itself wrote, and `check` reads seeded objects back
through the API before anything is measured.

The runs are what `kit run` leaves (kit.run_contract): output.ipynb, run.json with its
summary as metadata, and the two index entries, for a team whose 20 notebooks each run
50 times a day, plus a few running and lost ones.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import google_crc32c

from kit import run_contract as contract

NOTEBOOKS = (
    "forecast", "forecast-daily", "forecast-weekly", "sales-monthly", "sales-weekly",
    "churn", "demand-eu", "demand-us", "demand-apac", "inventory", "pricing", "returns",
    "traffic", "energy", "staffing", "revenue", "marketing-mix", "anomalies", "capacity",
    "supply",
)  # fmt: skip
STATUSES = ["succeeded"] * 95 + ["failed"] * 3 + ["killed", "timed_out"]
_ACL = [{"Entity": "projectOwner-test-project", "EntityID": "", "Role": "OWNER", "Domain": "",
         "Email": "", "ProjectTeam": None}]  # fmt: skip
_NEVER = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class Layout:
    """Where and how the emulator keeps one bucket's objects."""

    folder: Path
    xattr: bool
    made: set[str] = field(default_factory=set, compare=False)  # folders made so far

    @classmethod
    def of(cls, data_root: Path, bucket: str, probe: str) -> Layout:
        """The layout of `bucket`, from `probe`: an object the emulator wrote into it."""
        folder = data_root / bucket
        path = folder / probe
        try:
            os.getxattr(path, "user.metadata")
            return cls(folder, True)
        except OSError:
            if Path(f"{path}.metadata").exists():
                return cls(folder, False)
        raise RuntimeError(f"cannot tell how fake-gcs-server stored {path}")

    def put(
        self,
        name: str,
        data: bytes,
        content_type: str,
        metadata: Mapping[str, str] | None,
        when: datetime,
        generation: int,
    ) -> None:
        path = os.path.join(self.folder, name)
        parent = os.path.dirname(path)
        if parent not in self.made:
            os.makedirs(parent, exist_ok=True)
            self.made.add(parent)
        with open(path, "wb") as fh:
            fh.write(data)
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        crc = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        attrs = {
            "StorageClass": "STANDARD", "ContentType": content_type, "ContentEncoding": "",
            "ContentDisposition": "", "ContentLanguage": "", "CacheControl": "",
            "Crc32c": crc, "Md5Hash": md5, "Etag": md5, "ACL": _ACL,
            "Metadata": dict(metadata) if metadata else None, "Created": stamp,
            "Deleted": _NEVER, "Updated": stamp, "CustomTime": _NEVER,
            "Generation": generation, "RetentionMode": "", "RetentionRetainUntil": "",
        }  # fmt: skip
        encoded = json.dumps(attrs, separators=(",", ":")).encode()
        if self.xattr:
            os.setxattr(path, "user.metadata", encoded)
        else:
            Path(f"{path}.metadata").write_bytes(encoded)  # no extended attributes here


@dataclass(frozen=True)
class Plan:
    """The runs to seed: `count` over NOTEBOOKS, one every `every` seconds, ending now."""

    bucket: str
    count: int
    now: datetime
    notebooks: tuple[str, ...] = NOTEBOOKS
    running: int = 6  # the newest few have no record yet
    lost_every: int = 5000  # and now and then a run died without one

    @property
    def every(self) -> timedelta:
        return timedelta(days=1) / (50 * len(self.notebooks))

    def runs(self) -> Iterator[dict[str, Any]]:
        """Each run's record (or, for running and lost runs, its stand-in), newest first."""
        rnd = random.Random(0)
        for i in range(self.count):
            name = self.notebooks[i % len(self.notebooks)]
            started = self.now - self.every * (i + 1) - timedelta(seconds=rnd.random())
            kind = "running" if i < self.running else "lost" if i % self.lost_every == 7 else ""
            yield _record(rnd, self.bucket, name, started, i, kind)


def _record(
    rnd: random.Random, bucket: str, name: str, started: datetime, i: int, kind: str
) -> dict[str, Any]:
    if rnd.random() < 0.05:
        run_id = f"manual-{rnd.getrandbits(40):010x}"  # ids people type: no time in them
    else:
        run_id = f"{started:%Y%m%dT%H%M%S}-{rnd.getrandbits(32):08x}-m{i % 20}-t1"
    status = rnd.choice(STATUSES)
    duration = rnd.uniform(20, 400)
    output = contract.run_url(bucket, name, run_id, contract.OUTPUT_FILE)
    record: dict[str, Any] = {
        "schema": contract.SCHEMA, "run_id": run_id, "notebook": name,
        "version": "20260101T060000Z-0123456789ab", "sha256": "0" * 64,
        "source_url": f"gs://kit-modules/notebooks/{name}/20260101T060000Z-0123456789ab.ipynb",
        "output_url": output, "status": status,
        "reason": {"failed": "ValueError: bad data", "killed": "received SIGTERM",
                   "timed_out": "timed out after 3600 s"}.get(status),
        "written_by": contract.RUNNER,
        "parameters": {"dataset_url": f"gs://kit-data/{name}/{i % 20}.csv", "horizon": 30,
                       "run_date": f"{started:%Y-%m-%d}",
                       "output_prefix": contract.runs_prefix(bucket, name, run_id)},
        "overridden": ["dataset_url", "output_prefix", "run_date"],
        "started_at": contract.iso(started),
        "finished_at": contract.iso(started + timedelta(seconds=duration)),
        "duration_seconds": round(duration, 3), "timeout_seconds": 3600.0,
        "grace_seconds": 30.0, "host": "kit-runs-pool-1-abc", "pod": f"kit-{name}-{i}",
        "image": "europe-west1-docker.pkg.dev/p/kit/kit-runtime:1",
        "airflow": {"dag_id": f"kit_{name}", "run_id": f"scheduled__{started:%Y-%m-%dT%H:%M:%S}",
                    "task_id": name, "try_number": 1, "map_index": i % 20},
        "error": {"ename": "ValueError", "evalue": "bad data",
                  "traceback": ["Traceback ...", "ValueError: bad data"]}
        if status == "failed" else None,
        "stopped_at": {"cell": 9, "execution_count": 8, "source": "fit(df)"}
        if status != "succeeded" else None,
        "cells_not_run": 3 if status != "succeeded" else 0,
        "cells": [{"cell": c, "execution_count": c - 1, "source": f"step_{c}(df)",
                   "duration_seconds": round(rnd.uniform(0.01, 30), 3),
                   "peak_rss_bytes": rnd.randint(100, 900) * 2**20, "status": "completed"}
                  for c in range(2, 14)],
        "peak_rss_bytes": 900 * 2**20,
        "metrics": {"mape": rnd.uniform(1, 30), "coverage": rnd.random(), "n_train": 2725,
                    "holdout_rows": 180,
                    "forecast_tail": [{"ds": f"2026-02-{d:02d}", "yhat": rnd.random()}
                                      for d in range(1, 6)]},
        "kit_version": "0.1.0", "kubernetes": None,
    }  # fmt: skip
    if kind:
        record["_pending"] = kind
    return record


_STUB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def seed(layout: Layout, plan: Plan, index: bool = True, threads: int = 8) -> int:
    """Write the plan's runs (and, with index, their entries and index/format.json);
    the number of objects written. Files are created from a few threads: creating them
    is most of the time, and the system calls let other threads run."""
    with ThreadPoolExecutor(threads) as pool:
        done = list(pool.map(lambda job: layout.put(*job), _objects(plan, index), chunksize=64))
    return len(done)


def _objects(plan: Plan, index: bool) -> Iterator[tuple[Any, ...]]:
    """(name, data, content type, metadata, time, generation) of every object to seed."""
    gen = 1_700_000_000_000_000
    for record in plan.runs():
        name, run_id = record["notebook"], record["run_id"]
        started = contract.parse_time(record["started_at"]) or plan.now
        kind = record.pop("_pending", "")
        out_meta = contract.output_metadata(started, 3600, 30, record["version"])
        if kind == "lost":  # its deadline has passed: it died without a record
            out_meta = contract.output_metadata(started - timedelta(hours=2), 60, 30)
        key = contract.join("runs", name, run_id)
        gen += 1
        yield f"{key}/output.ipynb", _STUB, contract.NOTEBOOK_TYPE, out_meta, started, gen
        if kind:
            summary = contract.summary(
                contract.pending_record(
                    notebook=name, run_id=run_id, version=record["version"], started=started,
                    metadata=out_meta, parameters=record["parameters"],
                    overridden=record["overridden"],
                )
            )  # fmt: skip
        else:
            summary = contract.summary(record)
            body = json.dumps(record, sort_keys=True).encode()  # compact: C-speed
            gen += 1
            yield f"{key}/run.json", body, contract.RECORD_TYPE, summary, started, gen
        if not index:
            continue
        for url in contract.index_urls(plan.bucket, name, run_id, started):
            gen += 1
            entry = url.removeprefix(plan.bucket + "/")
            body = summary[contract.SUMMARY_META].encode()
            yield entry, body, contract.RECORD_TYPE, summary, started, gen
    if index:
        for name in plan.notebooks:
            gen += 1
            entry = contract.names_prefix(plan.bucket).removeprefix(plan.bucket + "/") + name
            yield entry, b"", "application/octet-stream", None, plan.now, gen
        marker = contract.format_url(plan.bucket).removeprefix(plan.bucket + "/")
        body = contract.format_body("bench/seed.py", plan.now)
        yield marker, body, contract.RECORD_TYPE, None, plan.now, gen + 1
