"""Render every DAG's pods on this Airflow version and print what must not differ by version.

    <airflow env>/bin/python tests/dags/render_pods.py OUT.json CONFIG [CONFIG ...]

For each notebooks.yaml: the pods that Airflow renders with dag.test() (as in
test_dag_pods.py), reduced to what matters (placement, resources, command, arguments,
environment, security context, labels, annotations ...), the operator's and the DAG's
settings, or the config's error lines, written as JSON to OUT.json (Airflow logs to stdout).
tests/dagtools/test_airflow_versions.py runs this in each Airflow environment and compares.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dag_helpers import DAGS, migrated_db, render, retry_delays  # noqa: E402

DATE = datetime(2026, 5, 4, tzinfo=UTC)
# The Airflow run id (dag.test() names it after the logical date on Airflow 2, after the
# wall clock on Airflow 3) and the part of kit's run id that hashes it.
RUN_ID_HASH = re.compile(r"(20260504T000000Z-)[0-9a-f]{8}")
PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
# Labels the operator adds from Airflow's side; kit's own labels are compared.
AIRFLOW_LABELS = {"airflow_version", "run_id", "try_number"}


def _mask(value: Any, run_id: str) -> Any:
    """The value with this run's ids replaced by placeholders (recursively)."""
    if isinstance(value, str):
        return RUN_ID_HASH.sub(r"\1<hash>", value.replace(run_id, "<run_id>"))
    if isinstance(value, list):
        return [_mask(v, run_id) for v in value]
    if isinstance(value, dict):
        return {k: _mask(v, run_id) for k, v in value.items()}
    return value


def _pod(pod: Any, operator: Any) -> dict[str, Any]:
    from kubernetes.client import ApiClient

    manifest = ApiClient().sanitize_for_serialization(pod)
    spec, meta = manifest["spec"], manifest["metadata"]
    [container] = spec["containers"]
    labels = {k: v for k, v in meta.get("labels", {}).items() if k not in AIRFLOW_LABELS}
    kept = {
        "namespace": meta.get("namespace"),
        "labels": labels,
        "annotations": meta.get("annotations"),
        "spec": {k: v for k, v in spec.items() if k not in ("containers",)},
        "container": {k: v for k, v in container.items() if k != "name"},
        "operator": {
            "class": type(operator).__name__,
            "retries": operator.retries,
            "retry_delay": operator.retry_delay.total_seconds(),
            "max_retry_delay": operator.max_retry_delay.total_seconds(),
            "retry_delays": retry_delays(operator),
            "execution_timeout": operator.execution_timeout.total_seconds(),
            "startup_timeout_seconds": operator.startup_timeout_seconds,
            "get_logs": operator.get_logs,
            "log_events_on_failure": operator.log_events_on_failure,
            "on_finish_action": str(getattr(operator.on_finish_action, "value", "")),
            "deferrable": operator.deferrable,
            "max_active_tis_per_dagrun": operator.max_active_tis_per_dagrun,
        },
    }
    return _mask(kept, _run_id(pod))


def _run_id(pod: Any) -> str:
    env = {e.name: e.value for e in pod.spec.containers[0].env if e.value is not None}
    return str(env["AIRFLOW_CTX_DAG_RUN_ID"])


def _dag(dag: Any) -> dict[str, Any]:
    # The Task SDK's timetable (Airflow 3) exposes these; Airflow 2's keeps them private,
    # and spells a preset such as @daily out as its cron expression.
    timetable = dag.timetable
    expression = getattr(timetable, "expression", getattr(timetable, "_expression", None))
    expression = PRESETS.get(expression, expression)
    timezone = getattr(timetable, "timezone", getattr(timetable, "_timezone", None))
    return {
        "schedule": expression,
        "timezone": str(timezone) if expression else None,
        "start_date": dag.start_date.isoformat(),
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "tags": sorted(dag.tags),
        "description": dag.description,
        "tasks": [t.task_id for t in dag.tasks],
    }


def describe(config: Path) -> dict[str, Any]:
    """What this Airflow makes of one notebooks.yaml."""
    from kit_dag_config import NotebooksConfigError, load_config
    from kit_dag_factory import build_dags

    # dag.test() on Airflow 3 re-parses the DAG folder, which reads $KIT_DAGS_CONFIG.
    os.environ["KIT_DAGS_CONFIG"] = str(config)
    try:
        dags = build_dags(load_config(config, environ={}))
    except NotebooksConfigError as exc:
        return {"error": str(exc).replace(str(config), "<config>")}
    return {
        dag_id: {
            "dag": _dag(dag),
            "pods": {str(i): _pod(pod, op) for i, (pod, op) in sorted(render(dag, DATE).items())},
        }
        for dag_id, dag in sorted(dags.items())
    }


def main(out: str, configs: list[str]) -> None:
    home = Path(tempfile.mkdtemp(prefix="kit-render-pods-"))
    os.environ.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )
    sys.path.insert(0, str(DAGS))
    migrated_db(home)
    from importlib import metadata

    result: dict[str, Any] = {config: describe(Path(config)) for config in configs}
    result["versions"] = {
        name: metadata.version(name)
        for name in (
            "apache-airflow",
            "apache-airflow-providers-cncf-kubernetes",
            "apache-airflow-providers-google",
            "pydantic",
        )
    }
    Path(out).write_text(json.dumps(result, sort_keys=True, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
