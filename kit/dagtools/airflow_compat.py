"""The Airflow names kit.dagtools uses whose import path depends on the Airflow version.

kit.dagtools runs inside an Airflow environment (2.11, 3.2 or 3.3; see versions.py). Airflow
3 moved these names to the Task SDK (`airflow.sdk`) and DAG bundles; this module is the
only place in kit.dagtools that knows. Import it only where Airflow is installed.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow import __version__ as AIRFLOW_VERSION

AIRFLOW_V3 = int(AIRFLOW_VERSION.split(".", 1)[0]) >= 3

if AIRFLOW_V3:
    from airflow.sdk import timezone
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowRescheduleException,
    )
else:
    from airflow.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowRescheduleException,
    )
    from airflow.utils import timezone

__all__ = [
    "AIRFLOW_V3",
    "AIRFLOW_VERSION",
    "AirflowException",
    "AirflowFailException",
    "AirflowRescheduleException",
    "dag_bag",
    "run_dag_test",
    "timezone",
]


def dag_bag(folder: Path) -> Any:
    """Parse a DAG folder as the scheduler would (its helper modules importable by name)."""
    if AIRFLOW_V3:
        from airflow.dag_processing.dagbag import BundleDagBag

        return BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name="dags-folder")
    from airflow.models.dagbag import DagBag

    # What BundleDagBag does on Airflow 3 (Airflow 2 adds only its configured DAGS_FOLDER).
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    return DagBag(dag_folder=str(folder), include_examples=False)


def run_dag_test(dag: Any, logical_date: datetime | None) -> Any:
    """dag.test() for one logical date (None: now); the DagRun it ran."""
    if not AIRFLOW_V3:
        # dag.test() first deletes an earlier run of the same date, and its notes refer to
        # the FAB provider's users table: on Airflow 2 that model must be loaded (the
        # webserver and `airflow db` load it; a bare dag.test() does not).
        import airflow.providers.fab.auth_manager.models  # noqa: F401
    if logical_date is None:
        return dag.test()
    # Airflow 2 calls the logical date execution_date.
    return (
        dag.test(logical_date=logical_date) if AIRFLOW_V3 else dag.test(execution_date=logical_date)
    )
