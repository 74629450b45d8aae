"""The run record (run.json) `kit run` writes, last: what ran, with what, how it ended.

Its shape is the run contract's (kit.run_contract, schema "kit.run/2").
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import kit
from kit.metrics import collect
from kit.modelrun import located
from kit.run_contract import RUNNER, SCHEMA, cell_timings, iso
from kit.run_contract import airflow_context as contract_airflow
from kit.runner.outcome import Outcome
from kit.runner.source import Source


def airflow_context(environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The Airflow context the pod was given in env vars, or None outside Airflow."""
    return contract_airflow(dict(os.environ) if environ is None else environ)


def _cells(notebook: Mapping[str, Any] | None, peaks: Mapping[int, int]) -> list[dict[str, Any]]:
    """Per-cell timings from the executed notebook, with peaks the notebook could not keep
    (the cell whose kernel was killed ends before its metadata is written)."""
    cells: Sequence[Mapping[str, Any]] = (notebook or {}).get("cells") or []
    timings = cell_timings(cells)
    for entry in timings:
        if entry["peak_rss_bytes"] is None and entry["cell"] in peaks:
            entry["peak_rss_bytes"] = peaks[entry["cell"]]
    return timings


def build(
    *,
    run_id: str,
    source: Source,
    parameters: dict[str, Any],
    overridden: Sequence[str],
    outcome: Outcome,
    output_url: str,
    started: datetime,
    finished: datetime,
    notebook: dict[str, Any] | None,
    timeout: float | None = None,
    grace: float | None = None,
    peaks: Mapping[int, int] | None = None,
    pod_name: str | None = None,
    image: str | None = None,
) -> dict[str, Any]:
    """Assemble run.json from what happened; pod_name and image are the settings' (the DAG
    sets them in every pod)."""
    cells = _cells(notebook, peaks or {})
    measured = [c["peak_rss_bytes"] for c in cells if c["peak_rss_bytes"] is not None]
    error = dict(outcome.error) if outcome.error else None
    if error and notebook and (where := located(notebook.get("cells", []))):
        error["location"] = where  # a model module's file, line and function that raised
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "notebook": source.name,
        "version": source.version,
        "sha256": source.sha256,
        "source_url": source.url,
        "output_url": output_url,
        "status": outcome.status,
        "reason": outcome.reason,
        "written_by": RUNNER,
        "parameters": parameters,
        "overridden": sorted(overridden),
        "started_at": iso(started),
        "finished_at": iso(finished),
        "duration_seconds": round((finished - started).total_seconds(), 3),
        "timeout_seconds": timeout,
        "grace_seconds": grace,
        "host": socket.gethostname(),
        "pod": pod_name
        or (os.environ.get("HOSTNAME") if os.environ.get("KUBERNETES_SERVICE_HOST") else None),
        "image": image,
        "airflow": airflow_context(),
        "error": error,
        "stopped_at": outcome.stopped_at,
        "cells_not_run": outcome.cells_not_run,
        "cells": cells,
        "peak_rss_bytes": max(measured) if measured else None,
        "metrics": collect(notebook["cells"]) if notebook else {},
        "kit_version": kit.__version__,
    }


def dumps(record: dict[str, Any]) -> bytes:
    """Serialise a record; values a notebook passed that JSON lacks become strings."""
    return json.dumps(record, indent=2, sort_keys=True, default=str).encode()
