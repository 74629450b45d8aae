"""What one attempt of a kit task ran, and the run record the finisher writes for it.

An attempt is read from its pod: `kit run`'s arguments (as kit_dag_factory.kit_arguments
builds them) and the pod's KIT_* and AIRFLOW_CTX_* variables. Its record (schema
kit.run/2, `written_by: finisher`) adds how the pod ended (kit_pod_status) and what the
output notebook's last save shows: the cell that was running, the cells that never ran,
each started cell's time and peak memory. Only the standard library.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kit_pod_status import BASE_CONTAINER, PodEnd, limits
from kit_run_contract import (
    FAILED,
    FINISHER,
    KILLED,
    OUTPUT_FILE,
    SCHEMA,
    STARTED_META,
    VERSION_META,
    airflow_context,
    cell_ref,
    cell_timings,
    iso,
    not_run,
    parse_time,
    run_url,
    stopped_cell,
)


@dataclass(frozen=True)
class Attempt:
    """What a pod was asked to run: `kit run`'s arguments and the pod's KIT_* variables."""

    notebook: str
    version: str
    run_id: str
    timeout: float | None
    params: dict[str, str]
    outputs_bucket: str
    env: dict[str, str]
    pod: str | None
    namespace: str | None
    image: str | None
    limits: dict[str, str]

    def url(self, file: str) -> str:
        """Where one file of this attempt's run is (OUTPUT_FILE or RECORD_FILE)."""
        return run_url(self.outputs_bucket, self.notebook, self.run_id, file)


def parse_arguments(args: list[str]) -> tuple[str, str, dict[str, str], float | None] | None:
    """(NAME@VERSION, run id, parameters, timeout) of `kit run`'s arguments as
    kit_dag_factory.kit_arguments builds them; None for anything else."""
    if not args or "--run-id" not in args:
        return None
    run_id, timeout, params = "", None, {}
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--run-id":
            run_id = next(rest, "")
        elif arg == "--timeout":
            timeout = float(next(rest, "0")) or None
        elif arg == "-p":
            key = next(rest, "")
            params[key] = next(rest, "")
    return (args[0], run_id, params, timeout) if run_id else None


def attempt_of(pod: Any) -> Attempt | None:
    """The attempt a pod (V1Pod, the request or the pod as read back) runs; None if it
    does not run kit."""
    container = next((c for c in pod.spec.containers if c.name == BASE_CONTAINER), None)
    if container is None:
        return None
    parsed = parse_arguments(list(container.args or []))
    env = {e.name: e.value for e in (container.env or []) if e.value is not None}
    if parsed is None or not env.get("KIT_OUTPUTS_BUCKET"):
        return None
    ref, run_id, params, timeout = parsed
    notebook, _, version = ref.partition("@")
    return Attempt(
        notebook=notebook,
        version=version,
        run_id=run_id,
        timeout=timeout,
        params=params,
        outputs_bucket=env["KIT_OUTPUTS_BUCKET"],
        env=env,
        pod=pod.metadata.name,
        namespace=pod.metadata.namespace,
        image=container.image,
        limits=limits(pod),
    )


def gone(*, created: bool, error: BaseException | None, output: bool) -> PodEnd:
    """How an attempt ended whose pod cannot be read (never created, or deleted)."""
    if not created:
        text = " ".join(str(error or "no pod was created").split())[:300]
        return PodEnd(f"pod not created: {text}", "NotCreated")
    if output:
        return PodEnd(
            "pod deleted while the notebook ran; kit run was stopped before it could record "
            "its end (SIGKILL after the grace period, or its node was lost)",
            "Deleted",
        )
    return PodEnd("pod deleted before kit run started", "Deleted")


def _cells(notebook: Mapping[str, Any] | None) -> dict[str, Any]:
    """stopped_at, cells_not_run, cells and peak_rss_bytes from the last saved output."""
    cells = list((notebook or {}).get("cells") or [])
    at = stopped_cell(cells, completed=False)
    timings = cell_timings(cells)
    peaks = [c["peak_rss_bytes"] for c in timings if c["peak_rss_bytes"] is not None]
    return {
        "stopped_at": cell_ref(cells, at) if at is not None else None,
        "cells_not_run": not_run(cells, at) if at is not None else 0,
        "cells": timings,
        "peak_rss_bytes": max(peaks) if peaks else None,
    }


def build_record(
    attempt: Attempt,
    end: PodEnd,
    output: tuple[bytes, dict[str, str]] | None,
    *,
    killed: bool,
    started: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """run.json for an attempt whose pod ended without one (schema kit.run/2)."""
    notebook: dict[str, Any] | None = None
    meta: dict[str, str] = {}
    if output is not None:
        meta = output[1]
        try:
            notebook = json.loads(output[0])
        except ValueError:
            notebook = None
    papermill = ((notebook or {}).get("metadata") or {}).get("papermill") or {}
    injected = papermill.get("parameters")
    params = dict(injected) if isinstance(injected, dict) else dict(attempt.params)
    started = parse_time(meta.get(STARTED_META)) or started
    finished = end.finished or now
    version = meta.get(VERSION_META) or (attempt.version if attempt.version != "latest" else None)
    return {
        "schema": SCHEMA,
        "run_id": attempt.run_id,
        "notebook": attempt.notebook,
        "version": version,
        "sha256": None,
        "source_url": None,
        "output_url": attempt.url(OUTPUT_FILE),
        "status": KILLED if killed else FAILED,
        "reason": f"task stopped; {end.reason}" if killed else end.reason,
        "written_by": FINISHER,
        "parameters": params,
        "overridden": sorted(params),
        "started_at": iso(started) if started else None,
        "finished_at": iso(finished),
        "duration_seconds": round((finished - started).total_seconds(), 3) if started else None,
        "timeout_seconds": attempt.timeout,
        "grace_seconds": None,
        "host": None,
        "pod": attempt.pod,
        "image": attempt.env.get("KIT_IMAGE") or attempt.image,
        "airflow": airflow_context(attempt.env),
        "error": None,
        **_cells(notebook),
        "metrics": {},
        "kit_version": None,
        "kubernetes": {
            "pod": attempt.pod,
            "namespace": attempt.namespace,
            "node": end.node,
            "container_exit_code": end.exit_code,
            "reason": end.kubernetes_reason,
            "limits": attempt.limits or None,
        },
    }
