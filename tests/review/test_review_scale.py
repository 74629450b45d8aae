"""Many runs without an index: one listing call, each record read once, and the on-disk
record cache. How fast that is, and how many records are read at once, is measured by the
bench (measurement 6, runs from before the index), not asserted here."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from record_support import v1_record, v2_record
from review_support import Counting

from kit import dev
from kit.config import Settings
from kit.review.listing import RunStore
from kit.storage import storage_for

RUNS = 400


@pytest.fixture(scope="module")
def many(gcs_server: dev.Server) -> Settings:
    """An outputs bucket with RUNS run records (a few with an output notebook)."""
    from google.cloud import storage as gcs

    name = f"rv-many-{uuid.uuid4().hex[:10]}"
    gcs.Client().create_bucket(name)
    settings = Settings(outputs_bucket=f"gs://{name}", retry_deadline=10.0)
    store = storage_for(settings.outputs_bucket)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def write(i: int) -> None:
        run_id = f"scheduled-{i:05d}"
        base = f"gs://{name}/runs/forecast/{run_id}"
        started = start + timedelta(hours=i)
        fields = {
            "run_id": run_id,
            "output_url": f"{base}/output.ipynb",
            "status": "failed" if i % 50 == 7 else "succeeded",
            "parameters": {"horizon": 30 + i % 5},
            "started_at": started.isoformat().replace("+00:00", "Z"),
            "finished_at": (started + timedelta(seconds=61)).isoformat().replace("+00:00", "Z"),
            "metrics": {"mape": 3 + (i % 7) / 10, "coverage": 0.8},
        }
        # Records of both schemas: buckets keep what kit 0.1 wrote.
        record = v1_record(**fields) if i % 2 else v2_record(**fields)
        store.write(f"{base}/run.json", json.dumps(record).encode())
        if i % 100 == 0:
            store.write(f"{base}/output.ipynb", b"{}")
            store.write(f"{base}/forecast.csv", b"ds,y\n")  # what the notebook wrote

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(write, range(RUNS)))
    return settings


def test_many_runs_one_listing_each_record_read_once(many: Settings) -> None:
    counting = Counting(storage_for(many.outputs_bucket))
    store = RunStore(many, counting)  # type: ignore[arg-type]
    runs = store.list("forecast")
    assert len(runs) == RUNS
    assert runs[0].run_id == f"scheduled-{RUNS - 1:05d}"  # newest first
    assert len(counting.lists) == 1
    assert len(counting.reads) == RUNS
    assert sorted(counting.reads) == sorted(set(counting.reads))  # none read twice
    assert all(u.endswith("/run.json") for u in counting.reads)
    assert len([r for r in runs if r.status == "failed"]) == 8


def test_the_disk_cache_spares_reading_records_again(many: Settings, tmp_path: Path) -> None:
    first = Counting(storage_for(many.outputs_bucket))
    RunStore(many, first, cache_dir=tmp_path).list()  # type: ignore[arg-type]
    assert len(first.reads) == RUNS
    cache_files = list(tmp_path.iterdir())
    assert len(cache_files) == 1
    assert cache_files[0].stat().st_mode & 0o077 == 0  # private to the user

    again = Counting(storage_for(many.outputs_bucket))
    runs = RunStore(many, again, cache_dir=tmp_path).list()  # type: ignore[arg-type]
    assert len(runs) == RUNS
    assert again.reads == []  # every generation matched

    # A record that changes (new generation) is read again; a corrupt cache is ignored.
    url = many.url("outputs_bucket", "runs", "forecast", "scheduled-00003", "run.json")
    record = json.loads(storage_for(url).read(url))
    storage_for(url).write(url, json.dumps({**record, "status": "killed"}).encode())
    third = Counting(storage_for(many.outputs_bucket))
    runs = RunStore(many, third, cache_dir=tmp_path).list()  # type: ignore[arg-type]
    assert third.reads == [url]
    assert next(r for r in runs if r.run_id == "scheduled-00003").status == "killed"
    cache_files[0].write_text("{broken")
    fourth = Counting(storage_for(many.outputs_bucket))
    assert len(RunStore(many, fourth, cache_dir=tmp_path).list()) == RUNS  # type: ignore[arg-type]
    assert len(fourth.reads) == RUNS
