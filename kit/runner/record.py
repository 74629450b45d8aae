"""The run record (run.json): what ran, with what, how it ended. Written last."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from datetime import datetime
from typing import Any

import kit
from kit.metrics import collect
from kit.modelrun import located
from kit.runner.outcome import Outcome
from kit.runner.source import Source

SCHEMA = 1
AIRFLOW_VARS = {
    "dag_id": "AIRFLOW_CTX_DAG_ID",
    "run_id": "AIRFLOW_CTX_DAG_RUN_ID",
    "task_id": "AIRFLOW_CTX_TASK_ID",
    "try_number": "AIRFLOW_CTX_TRY_NUMBER",
    "map_index": "AIRFLOW_CTX_MAP_INDEX",
}


def iso(ts: datetime) -> str:
    """UTC timestamp as ISO 8601 with a Z."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def airflow_context(environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The Airflow context the pod was given in env vars, or None outside Airflow."""
    env = dict(os.environ) if environ is None else environ
    ctx: dict[str, Any] = {key: env.get(var) for key, var in AIRFLOW_VARS.items()}
    if not any(ctx.values()):
        return None
    for key in ("try_number", "map_index"):
        if ctx[key] not in (None, ""):
            with contextlib.suppress(ValueError):
                ctx[key] = int(ctx[key])
    return ctx


def build(
    *,
    run_id: str,
    source: Source,
    parameters: dict[str, Any],
    outcome: Outcome,
    output_url: str,
    started: datetime,
    finished: datetime,
    notebook: dict[str, Any] | None,
) -> dict[str, Any]:
    """Assemble run.json from what happened."""
    error = dict(outcome.error) if outcome.error else None
    if error and notebook and error.get("cell_index") is not None and not error.get("ename"):
        error.update(_cell_error(notebook, int(error["cell_index"])))
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
        "parameters": parameters,
        "started_at": iso(started),
        "finished_at": iso(finished),
        "duration_seconds": round((finished - started).total_seconds(), 3),
        "host": socket.gethostname(),
        "pod": os.environ.get("KIT_POD_NAME")
        or (os.environ.get("HOSTNAME") if os.environ.get("KUBERNETES_SERVICE_HOST") else None),
        "image": os.environ.get("KIT_IMAGE"),
        "airflow": airflow_context(),
        "error": error,
        "metrics": collect(notebook["cells"]) if notebook else {},
        "kit_version": kit.__version__,
    }


def _cell_error(nb: dict[str, Any], index: int) -> dict[str, Any]:
    cells = nb.get("cells", [])
    if index >= len(cells):
        return {}
    for output in cells[index].get("outputs", []):
        if output.get("output_type") == "error":
            return {
                "ename": output.get("ename"),
                "evalue": output.get("evalue"),
                "traceback": output.get("traceback", []),
            }
    return {}


def dumps(record: dict[str, Any]) -> bytes:
    """Serialise a record; values a notebook passed that JSON lacks become strings."""
    return json.dumps(record, indent=2, sort_keys=True, default=str).encode()
