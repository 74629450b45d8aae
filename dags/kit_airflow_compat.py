"""The Airflow names (and one value) kit's DAGs use that depend on the Airflow version.

kit's DAG files run unchanged on Airflow 2.11 (Cloud Composer 3's default build, and
Composer 2) and on Airflow 3.x. Airflow 3 moved the DAG-authoring API to the Task SDK
(`airflow.sdk`); Airflow 2 has it in `airflow.models` and `airflow.utils`. This module is
the only place in dags/ that knows: everything else imports these names from here.

Also here: the notifier base class (Airflow 2: `airflow.notifications.basenotifier`;
Airflow 3: `airflow.sdk`), the exceptions an operator raises to defer or reschedule, and
how a task instance asks for its previous run's state. The providers' own modules
(KubernetesPodOperator, GKEStartPodOperator, GCSHook, the SMTP and Slack notifiers) keep
one path on every version.
"""

from __future__ import annotations

from typing import Any

from airflow import __version__ as AIRFLOW_VERSION

AIRFLOW_V3 = int(AIRFLOW_VERSION.split(".", 1)[0]) >= 3

if AIRFLOW_V3:
    from airflow.sdk import DAG, BaseNotifier, CronTriggerTimetable, timezone
    from airflow.sdk.exceptions import AirflowRescheduleException, TaskDeferred
else:
    from airflow.exceptions import AirflowRescheduleException, TaskDeferred
    from airflow.models.dag import DAG
    from airflow.notifications.basenotifier import BaseNotifier
    from airflow.timetables.trigger import CronTriggerTimetable
    from airflow.utils import timezone

# `retry_exponential_backoff` that doubles the delay on each retry. Airflow 2 takes a bool
# (True: x2); Airflow 3 takes the multiplier and reads True as 1, i.e. no backoff at all.
DOUBLING_BACKOFF: bool | float = 2.0 if AIRFLOW_V3 else True


def previous_state(ti: Any) -> str | None:
    """The state of this task (same map index) in the DAG run before this one, if any.
    Airflow 2 asks the metadata DB; Airflow 3's task instance asks the API server."""
    found = ti.get_previous_ti(map_index=ti.map_index) if AIRFLOW_V3 else ti.get_previous_ti()
    state = getattr(found, "state", None)
    return None if state is None else str(getattr(state, "value", state))


__all__ = [
    "AIRFLOW_V3",
    "AIRFLOW_VERSION",
    "DAG",
    "DOUBLING_BACKOFF",
    "AirflowRescheduleException",
    "BaseNotifier",
    "CronTriggerTimetable",
    "TaskDeferred",
    "previous_state",
    "timezone",
]
