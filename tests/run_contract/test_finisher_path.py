"""What the Airflow-side finisher must write for a pod that died without run.json, done with
the DAGs' copy of the run contract and the standard library alone (urllib against the GCS
JSON API of fake-gcs-server): after it, listings show the run as the finisher recorded it,
from the index, without reading the record."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gcs_support import fresh_settings
from record_support import v2_record

from kit import dev
from kit import run_contract as contract
from kit.review.listing import RunStore
from kit.runner.index import RunIndex
from kit.storage import Storage, storage_for

DAGS = Path(__file__).resolve().parents[2] / "dags"

FINISHER = r"""
import json, sys, urllib.error, urllib.parse, urllib.request
sys.path.insert(0, {dags!r})
import kit_run_contract as c

HOST = {host!r}

def split(url):
    bucket, _, name = url[len("gs://"):].partition("/")
    return bucket, name

class JsonApi:
    # The two calls write_index needs, over the GCS JSON API (as Airflow's GCS hook would).
    def stat(self, url):
        bucket, name = split(url)
        path = f"{{HOST}}/storage/v1/b/{{bucket}}/o/{{urllib.parse.quote(name, safe='')}}"
        try:
            with urllib.request.urlopen(path) as resp:
                found = json.load(resp)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return c.Stored(int(found["generation"]), found.get("metadata") or {{}})

    def put(self, url, data, metadata, generation):
        bucket, name = split(url)
        meta = json.dumps({{"name": name, "metadata": dict(metadata),
                            "contentType": c.RECORD_TYPE}}).encode()
        body = (b"--b\r\nContent-Type: application/json\r\n\r\n" + meta
                + b"\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n" + data
                + b"\r\n--b--\r\n")
        query = urllib.parse.urlencode({{"uploadType": "multipart",
                                         "ifGenerationMatch": generation}})
        request = urllib.request.Request(
            f"{{HOST}}/upload/storage/v1/b/{{bucket}}/o?{{query}}", data=body, method="POST",
            headers={{"Content-Type": "multipart/related; boundary=b"}})
        try:
            with urllib.request.urlopen(request) as resp:
                return int(json.load(resp)["generation"])
        except urllib.error.HTTPError as exc:
            if exc.code == 412:
                return None
            raise

record = json.loads(sys.argv[1])
bucket, started = sys.argv[2], c.parse_time(record["started_at"])
api = JsonApi()
body = json.dumps(record).encode()
url = c.run_url(bucket, record["notebook"], record["run_id"], c.RECORD_FILE)
assert api.put(url, body, c.summary(record), 0) is not None  # written last, once
c.write_index(api, c.index_urls(bucket, record["notebook"], record["run_id"], started),
              c.summary(record))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("kit", "airflow"))))
"""


def test_a_stdlib_finisher_can_record_a_dead_pods_run_for_the_listings(
    gcs_server: dev.Server,
) -> None:
    settings = fresh_settings(gcs_server, prefix="fin")
    bucket = settings.outputs_bucket
    started = datetime(2026, 3, 1, 6, tzinfo=UTC)
    store = storage_for(bucket)
    # What the runner left: its entries ("running") and its last save; then its pod died.
    index = RunIndex(store, bucket, "forecast", "pod-dead-1", started)
    meta = contract.output_metadata(started, 60, 30, "v1")
    index.open(
        contract.pending_record(
            notebook="forecast",
            run_id="pod-dead-1",
            version="v1",
            started=started,
            metadata=meta,
            parameters={},
            overridden=[],
        )
    )
    store.write(
        contract.run_url(bucket, "forecast", "pod-dead-1", "output.ipynb"), b"{}", metadata=meta
    )
    assert [r.status for r in RunStore(settings).list("forecast")] == ["lost"]

    record = v2_record(
        run_id="pod-dead-1",
        notebook="forecast",
        status="failed",
        reason="OOMKilled",
        written_by=contract.FINISHER,
        output_url=contract.run_url(bucket, "forecast", "pod-dead-1", "output.ipynb"),
        started_at=contract.iso(started),
        kubernetes={"pod": "p", "container_exit_code": 137, "reason": "OOMKilled"},
    )
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-c", FINISHER.format(dags=str(DAGS), host=gcs_server.url),
         json.dumps(record), bucket],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []  # neither kit nor Airflow was imported

    reading = _Reads(store)
    (run,) = RunStore(settings, reading).list("forecast")  # type: ignore[arg-type]
    assert (run.status, run.reason, run.complete) == ("failed", "OOMKilled", False)
    assert reading.reads == []  # from the index entry the finisher wrote


class _Reads:
    """A storage that notes which objects are read."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.reads: list[str] = []

    def read(self, url: str) -> bytes:
        self.reads.append(url)
        return self.inner.read(url)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
