"""The baseline of measurement 3: one DAG file that spells out, by hand, the DAGs and pod
tasks that dags/ builds from notebooks.yaml.

    write(config, path): a DAG file with the same DAGs as `config` gives kit_notebooks.py,
    each written out as a DAG author would without kit: a `with DAG(...)` block whose
    GKEStartPodOperator (or KubernetesPodOperator) has every argument as a literal, the
    Kubernetes objects built inline, the fan-out as `.partial(...).expand(arguments=...)`.

Runs in the Airflow environment (bench/dag_parse_driver.py), where it reads the values
(not the code) from kit's own validated config, so both files describe the same pods; the
driver checks that they do before timing them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

HEADER = '''"""{count} DAGs, one pod task each, written out by hand (bench measurement 3)."""

import hashlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.google.cloud.operators.kubernetes_engine import GKEStartPodOperator
from kubernetes.client import models as k8s

try:  # Airflow 3
    from airflow.sdk import DAG, CronTriggerTimetable

    BACKOFF = 2.0
except ImportError:  # Airflow 2
    from airflow.models.dag import DAG
    from airflow.timetables.trigger import CronTriggerTimetable

    BACKOFF = True

SETTINGS = SimpleNamespace(**{settings!r})


def kit_run_id(dag_run, ti):
    when = dag_run.logical_date or dag_run.run_after
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(f"{{dag_run.dag_id}}\\n{{dag_run.run_id}}".encode()).hexdigest()[:8]
    mapped = f"-m{{ti.map_index}}" if ti.map_index is not None and ti.map_index >= 0 else ""
    return f"{{stamp}}-{{digest}}{{mapped}}-t{{ti.try_number}}"

'''

BLOCK = """
with DAG(
    dag_id={dag_id!r},
    description={description!r},
    doc_md={doc_md!r},
    schedule={schedule},
    start_date=datetime({start.year}, {start.month}, {start.day}, tzinfo=ZoneInfo({tz!r})),
    catchup={catchup!r},
    max_active_runs={max_active_runs!r},
    tags={tags!r},
    user_defined_macros={{"kit_run_id": kit_run_id, "kit": SETTINGS}},
    jinja_environment_kwargs={{"keep_trailing_newline": True}},
):
    {operator}.partial(
        task_id={task_id!r},
        namespace={namespace!r},
        image={image!r},
        cmds={cmds!r},
        env_vars={env_vars!r},
        pod_runtime_info_envs=[
            k8s.V1EnvVar(
                name="KIT_POD_NAME",
                value_from=k8s.V1EnvVarSource(
                    field_ref=k8s.V1ObjectFieldSelector(field_path="metadata.name")
                ),
            )
        ],
        labels={labels!r},
        annotations={annotations!r},
        container_resources=k8s.V1ResourceRequirements(
            requests={requests!r}, limits={limits!r}
        ),
        service_account_name={service_account!r},
        affinity=k8s.V1Affinity(
            node_affinity=k8s.V1NodeAffinity(
                required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(
                    node_selector_terms=[
                        k8s.V1NodeSelectorTerm(
                            match_expressions=[
                                k8s.V1NodeSelectorRequirement(
                                    key="cloud.google.com/gke-nodepool",
                                    operator="In",
                                    values=[{node_pool!r}],
                                )
                            ]
                        )
                    ]
                )
            )
        ),
        tolerations=[
            k8s.V1Toleration(
                key={taint_key!r},
                operator={taint_op!r},
                value={taint_value!r},
                effect={taint_effect!r},
            )
        ],
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=10001,
            run_as_group=10001,
            fs_group=10001,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        container_security_context=k8s.V1SecurityContext(
            allow_privilege_escalation=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
            read_only_root_filesystem=True,
        ),
        volumes=[
            k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource()),
            k8s.V1Volume(name="home", empty_dir=k8s.V1EmptyDirVolumeSource()),
        ],
        volume_mounts=[
            k8s.V1VolumeMount(name="tmp", mount_path="/tmp"),
            k8s.V1VolumeMount(name="home", mount_path="/home/kit"),
        ],
        image_pull_policy="IfNotPresent",
        active_deadline_seconds={deadline!r},
        execution_timeout=timedelta(seconds={execution_timeout!r}),
        startup_timeout_seconds={startup_timeout!r},
        termination_grace_period=60,
        get_logs=True,
        log_events_on_failure=True,
        log_pod_spec_on_failure=False,
        on_finish_action="delete_pod",
        deferrable={deferrable!r},
        owner={owner!r},
        retries={retries!r},
        retry_delay=timedelta(seconds={retry_delay!r}),
        retry_exponential_backoff=BACKOFF,
        max_retry_delay=timedelta(seconds={max_retry_delay!r}),
{connection}        max_active_tis_per_dagrun={max_parallel!r},
    ).expand(arguments={arguments!r})
"""


def _block(config: Any, notebook: Any) -> str:
    """One DAG, from the values kit's factory gives the same notebook."""
    from kit_dag_factory import _connection, _doc, build_dag, kit_arguments, pod_kwargs

    kwargs = pod_kwargs(config, notebook)
    dag = build_dag(config, notebook)
    [toleration] = kwargs["tolerations"]
    connection = "".join(f"        {k}={v!r},\n" for k, v in _connection(config.cluster).items())
    schedule = (
        f"CronTriggerTimetable({notebook.schedule!r}, timezone={notebook.timezone!r})"
        if notebook.schedule
        else "None"
    )
    resources = kwargs["container_resources"]
    return BLOCK.format(
        dag_id=dag.dag_id,
        description=dag.description,
        doc_md=_doc(config, notebook),
        schedule=schedule,
        start=notebook.start_date,
        tz=notebook.timezone,
        catchup=notebook.catchup,
        max_active_runs=notebook.max_active_runs,
        tags=["kit", *notebook.tags],
        operator="GKEStartPodOperator" if config.cluster.mode == "gke" else "KubernetesPodOperator",
        task_id=kwargs["task_id"],
        namespace=kwargs["namespace"],
        image=kwargs["image"],
        cmds=kwargs["cmds"],
        env_vars=kwargs["env_vars"],
        labels=kwargs["labels"],
        annotations=kwargs["annotations"],
        requests=resources.requests,
        limits=resources.limits,
        service_account=kwargs["service_account_name"],
        node_pool=config.cluster.node_pool,
        taint_key=toleration.key,
        taint_op=toleration.operator,
        taint_value=toleration.value,
        taint_effect=toleration.effect,
        deadline=kwargs["active_deadline_seconds"],
        execution_timeout=kwargs["execution_timeout"].total_seconds(),
        startup_timeout=kwargs["startup_timeout_seconds"],
        deferrable=kwargs["deferrable"],
        owner=kwargs["owner"],
        retries=kwargs["retries"],
        retry_delay=kwargs["retry_delay"].total_seconds(),
        max_retry_delay=kwargs["max_retry_delay"].total_seconds(),
        connection=connection,
        max_parallel=notebook.max_parallel,
        arguments=[kit_arguments(notebook, item) for item in notebook.fan_out or [{}]],
    )


def write(config_path: Path, out: Path) -> int:
    """Write the hand-written equivalent of a notebooks.yaml; the number of DAGs."""
    from kit_dag_config import load_config

    config = load_config(config_path, environ={})
    settings = config.settings.model_dump()
    blocks = [_block(config, notebook) for notebook in config.notebooks]
    out.write_text(HEADER.format(count=len(blocks), settings=settings) + "".join(blocks))
    return len(blocks)
