"""Run records in tests: complete example records, and the check that every record the
tests write (the runner's, the helpers', the finisher's) is valid per the JSON Schema
kit/run_contract.schema.json. conftest.py runs that check over the emulator's buckets and
the session's temporary folders once the tests are done.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "kit" / "run_contract.schema.json"

# Records a test writes broken on purpose (to see them shown as "invalid"): URL or path.
ON_PURPOSE_INVALID: set[str] = set()


def invalid_on_purpose(where: str | Path) -> str:
    """Mark a record the test writes malformed on purpose; returns it as a string."""
    ON_PURPOSE_INVALID.add(str(where))
    return str(where)


@functools.cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(record: Any) -> list[str]:
    """What makes a record invalid per the JSON Schema (empty when it is valid)."""
    validator = _validator()
    found = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
    if not found:
        return []
    # oneOf over the versions: report against the version the record claims.
    version = record.get("schema") if isinstance(record, dict) else None
    branch = "v2" if version == "kit.run/2" else "v1"
    sub = validator.evolve(schema={"$ref": f"#/$defs/{branch}", **_defs()})
    detailed = [
        f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}"
        for e in sub.iter_errors(record)
    ]
    return detailed or [found[0].message]


def _defs() -> dict[str, Any]:
    return {"$defs": json.loads(SCHEMA_FILE.read_text())["$defs"]}


def assert_valid(record: Any) -> None:
    """Fail with every schema problem of record."""
    found = problems(record)
    assert not found, "run.json does not match kit/run_contract.schema.json:\n" + "\n".join(found)


# What both schemas hold, as kit writes it.
_COMMON: dict[str, Any] = {
    "run_id": "r1",
    "notebook": "forecast",
    "version": "20260101T000000Z-0123456789ab",
    "sha256": "0" * 64,
    "source_url": "gs://kit-modules/notebooks/forecast/20260101T000000Z-0123456789ab.ipynb",
    "output_url": "gs://kit-outputs/runs/forecast/r1/output.ipynb",
    "status": "succeeded",
    "reason": None,
    "parameters": {"horizon": 30},
    "started_at": "2026-01-01T06:00:00.000000Z",
    "finished_at": "2026-01-01T06:01:01.000000Z",
    "duration_seconds": 61.0,
    "host": "pod-1",
    "pod": None,
    "image": None,
    "airflow": None,
    "error": None,
    "metrics": {},
    "kit_version": "0.1.0",
}


def v2_record(**fields: Any) -> dict[str, Any]:
    """A complete "kit.run/2" record of a succeeded run; fields override."""
    added = {
        "written_by": "runner",
        "overridden": [],
        "timeout_seconds": 3600.0,
        "grace_seconds": 30.0,
        "stopped_at": None,
        "cells_not_run": 0,
        "cells": [],
        "peak_rss_bytes": None,
    }
    return {"schema": "kit.run/2", **_COMMON, **added, **fields}


def v1_record(**fields: Any) -> dict[str, Any]:
    """A complete schema-1 record, as kit 0.1 wrote it; fields override."""
    return {"schema": 1, **_COMMON, **fields}


def _is_record(key: str) -> bool:
    parts = key.split("/")
    return len(parts) >= 4 and parts[-4] == "runs" and parts[-1] == "run.json"


def _check(where: str, data: bytes) -> list[str]:
    if where in ON_PURPOSE_INVALID:
        return []
    try:
        record = json.loads(data)
    except ValueError as exc:
        return [f"{where}: not JSON: {exc}"]
    return [f"{where}: {p}" for p in problems(record)]


def bucket_problems() -> Iterator[str]:
    """Schema problems of every run.json in every bucket of the emulator in use."""
    from google.cloud import storage as gcs

    client = gcs.Client()
    for bucket in client.list_buckets():
        for blob in client.list_blobs(bucket.name, prefix=""):
            if _is_record(blob.name):
                yield from _check(f"gs://{bucket.name}/{blob.name}", blob.download_as_bytes())


def folder_problems(root: Path, skip: Path | None = None) -> Iterator[str]:
    """Schema problems of every runs/<name>/<run-id>/run.json file below root."""
    for path in root.rglob("run.json"):
        if skip is not None and skip in path.parents:
            continue
        if _is_record(path.as_posix()):
            yield from _check(str(path), path.read_bytes())
