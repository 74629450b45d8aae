"""The Airflow names (and one value) kit's DAGs use that depend on the Airflow version.

kit's DAG files run unchanged on Airflow 2.11 (Cloud Composer 3's default build, and
Composer 2) and on Airflow 3.x. Airflow 3 moved the DAG-authoring API to the Task SDK
(`airflow.sdk`); Airflow 2 has it in `airflow.models` and `airflow.utils`. This module is
the only place in dags/ that knows: everything else imports these names from here.

What belongs here later: callback and notifier base classes, which moved the same way
(Airflow 2: `airflow.notifications.basenotifier.BaseNotifier`; Airflow 3:
`airflow.sdk.BaseNotifier`). The providers' own modules (KubernetesPodOperator,
GKEStartPodOperator, the SMTP and Slack notifiers) keep one path on every version.
"""

from __future__ import annotations

from airflow import __version__ as AIRFLOW_VERSION

AIRFLOW_V3 = int(AIRFLOW_VERSION.split(".", 1)[0]) >= 3

if AIRFLOW_V3:
    from airflow.sdk import DAG, CronTriggerTimetable, timezone
else:
    from airflow.models.dag import DAG
    from airflow.timetables.trigger import CronTriggerTimetable
    from airflow.utils import timezone

# `retry_exponential_backoff` that doubles the delay on each retry. Airflow 2 takes a bool
# (True: x2); Airflow 3 takes the multiplier and reads True as 1, i.e. no backoff at all.
DOUBLING_BACKOFF: bool | float = 2.0 if AIRFLOW_V3 else True

__all__ = [
    "AIRFLOW_V3",
    "AIRFLOW_VERSION",
    "DAG",
    "DOUBLING_BACKOFF",
    "CronTriggerTimetable",
    "timezone",
]
