"""Turn the validated notebooks.yaml into one DAG per notebook, each run one pod.

Each DAG has a single task: a KubernetesPodOperator (or GKEStartPodOperator when the
pods live in a separate GKE cluster, as Composer 3 requires) whose container runs
`kit run NAME@VERSION --run-id ID -p KEY VALUE ...` on node pool pool-1. A fan-out list
maps that task over parameter sets with dynamic task mapping: one pod per item.

Imports: Airflow, its providers (the kubernetes client models are the KPO's own API
types), the standard library, yaml and pydantic only; nothing here reaches the network.
The Airflow names whose import path depends on the version come from kit_airflow_compat.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, timedelta
from functools import partial
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.google.cloud.operators.kubernetes_engine import GKEStartPodOperator
from kit_airflow_compat import DAG, DOUBLING_BACKOFF, CronTriggerTimetable, timezone
from kit_dag_config import Cluster, Config, Notebook, Settings, load_config
from kit_dag_notify import callbacks
from kit_finisher import FinishesAttempts
from kit_run_contract import OUTPUT_FILE, run_url
from kubernetes.client import Configuration
from kubernetes.client import models as k8s_models

# The image's ENTRYPOINT, spelled out so that the pod spec says what runs (and does not
# silently change with the image): tini as PID 1 forwards SIGTERM to `kit run "$@"` from
# the container's first instant. Arguments are a list: no shell parses them.
COMMAND = ["/opt/conda/bin/tini", "--", "kit", "run"]
# The root filesystem is read-only; the pod's writable places are empty, per-pod volumes:
# /tmp, and HOME (IPython, Jupyter's runtime files, matplotlib's config and font cache).
SCRATCH = {"tmp": "/tmp", "home": "/home/kit"}
# `kit run --timeout T` stops the notebook itself and records the failure; the pod's
# activeDeadlineSeconds (T + GRACE) is the backstop; the task's execution_timeout adds
# the time a node needs to scale up from zero and pull the image.
GRACE_SECONDS = 300
RUN_ID = "{{ kit_run_id(dag_run, ti) }}"
OUTPUT_ANNOTATION = "kit/output-url"
CONSOLE_ANNOTATION = "kit/console-url"
DAG_ID_PREFIX = "kit_"


class _Models:
    """kubernetes.client.models (the KPO's API types), each bound to one client
    Configuration. Without it, every model copies the client's default Configuration, whose
    logger set-up clears the logging module's caches: with 11 models a DAG that was half of
    a 100-entry parse on Airflow 3.3 (0.33 s against 0.12 s; bench/results.md, #3). The
    models and the pods are the same either way."""

    configuration = Configuration()

    def __getattr__(self, name: str) -> Any:
        return partial(getattr(k8s_models, name), local_vars_configuration=self.configuration)


k8s = _Models()


def kit_run_id(dag_run: Any, ti: Any) -> str:
    """The run id of one attempt: unique per DAG run, mapped item and try; [A-Za-z0-9-] only.

    Example: 20260501T060000Z-3fa2c1d0-m1-t2 (date of the run, hash of the Airflow
    run_id, map index when fanned out, try number).
    """
    when = dag_run.logical_date or dag_run.run_after
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(f"{dag_run.dag_id}\n{dag_run.run_id}".encode()).hexdigest()[:8]
    mapped = f"-m{ti.map_index}" if ti.map_index is not None and ti.map_index >= 0 else ""
    return f"{stamp}-{digest}{mapped}-t{ti.try_number}"


def output_urls(settings: Settings, notebook: str, run_id: str) -> tuple[str, str]:
    """The output notebook's URL and its Cloud console page (empty when not on GCS)."""
    url = run_url(settings.outputs_bucket, notebook, run_id, OUTPUT_FILE)
    if not url.startswith("gs://"):
        return url, ""
    console = "https://console.cloud.google.com/storage/browser/_details/"
    return url, f"{console}{url[len('gs://') :]}?project={settings.project}"


class _LogsOutputLocation:
    """Logs where the output notebook is, before the pod starts and once it is done."""

    annotations: dict[str, str]
    log: Any

    def execute(self, context: Any, **kwargs: Any) -> Any:
        # kwargs: Airflow 2 passes a "called by a task instance" sentinel, which the
        # operator's own execute (wrapped by Airflow's metaclass, unlike this mixin) takes.
        url, console = (
            self.annotations.get(OUTPUT_ANNOTATION),
            self.annotations.get(CONSOLE_ANNOTATION),
        )
        self.log.info("Output notebook: %s", url)
        if console:
            self.log.info("Output notebook in the Cloud console: %s", console)
        result = super().execute(context, **kwargs)  # type: ignore[misc]
        self.log.info("Run finished. Output notebook: %s %s", url, console or "")
        return result


class KitPodOperator(_LogsOutputLocation, FinishesAttempts, KubernetesPodOperator):  # type: ignore[misc]
    """A KubernetesPodOperator that logs where the output notebook is and ends every
    attempt with a run record (kit_finisher)."""


class KitGKEStartPodOperator(
    _LogsOutputLocation,
    FinishesAttempts,
    GKEStartPodOperator,  # type: ignore[misc]
):
    """GKEStartPodOperator (a KubernetesPodOperator for a GKE cluster other than the
    environment's own), with the same logging and finisher."""


def _label_value(text: str) -> str:
    # Notebook names may end in '-' or '_', label values may not.
    return text.rstrip("-_")


def kit_arguments(notebook: Notebook, item: dict[str, str] | None = None) -> list[str]:
    """The container's arguments: one list element per token, values still Jinja templates."""
    params = {**notebook.params, **(item or {})}
    args = [
        f"{notebook.name}@{notebook.version}",
        "--run-id",
        RUN_ID,
        "--timeout",
        str(notebook.timeout),
    ]
    if notebook.log_output:
        args.append("--log-output")  # the cells' own stdout and stderr in the task log
    for key, value in params.items():
        args += ["-p", key, value]
    return args


def _env(config: Config) -> dict[str, str]:
    """The container's variables: the Airflow context (templated) and the kit settings.

    A plain mapping on purpose: Airflow renders it into fresh V1EnvVar objects per task
    instance, whereas V1EnvVar objects would be shared by every mapped item and rendered
    in place by the first one.
    """
    s = config.settings
    return {
        "AIRFLOW_CTX_DAG_ID": "{{ dag.dag_id }}",
        "AIRFLOW_CTX_DAG_RUN_ID": "{{ run_id }}",
        "AIRFLOW_CTX_TASK_ID": "{{ ti.task_id }}",
        "AIRFLOW_CTX_TRY_NUMBER": "{{ ti.try_number }}",
        "AIRFLOW_CTX_MAP_INDEX": "{{ ti.map_index }}",
        "KIT_MODULES_BUCKET": s.modules_bucket,
        "KIT_OUTPUTS_BUCKET": s.outputs_bucket,
        "KIT_DATA_BUCKET": s.data_bucket,
        "KIT_PROJECT": s.project,
        "KIT_IMAGE": s.image,
        "KIT_NAMESPACE": config.cluster.namespace,
        "KIT_LOG_FORMAT": s.log_format,
    }


# The pod's own name, from the downward API: kit records it in run.json.
POD_NAME_ENV = k8s.V1EnvVar(
    name="KIT_POD_NAME",
    value_from=k8s.V1EnvVarSource(field_ref=k8s.V1ObjectFieldSelector(field_path="metadata.name")),
)


def _placement(cluster: Cluster) -> dict[str, Any]:
    """Required node affinity on the pool, and the toleration for its taint."""
    term = k8s.V1NodeSelectorTerm(
        match_expressions=[
            k8s.V1NodeSelectorRequirement(
                key="cloud.google.com/gke-nodepool", operator="In", values=[cluster.node_pool]
            )
        ]
    )
    key, value, effect = cluster.taint
    return {
        "affinity": k8s.V1Affinity(
            node_affinity=k8s.V1NodeAffinity(
                required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(
                    node_selector_terms=[term]
                )
            )
        ),
        "tolerations": [
            k8s.V1Toleration(
                key=key, operator="Equal" if value else "Exists", value=value or None, effect=effect
            )
        ],
    }


def _connection(cluster: Cluster) -> dict[str, Any]:
    if cluster.mode == "gke":
        return {
            "project_id": cluster.project,
            "location": cluster.location,
            "cluster_name": cluster.cluster_name,
            "gcp_conn_id": cluster.gcp_conn_id,
            "use_internal_ip": cluster.use_internal_ip,
            "use_dns_endpoint": cluster.use_dns_endpoint,
        }
    kwargs: dict[str, Any] = {"in_cluster": cluster.mode == "in_cluster"}
    if cluster.mode == "kubeconfig":
        kwargs.update(config_file=cluster.config_file, cluster_context=cluster.cluster_context)
    if cluster.kubernetes_conn_id:
        kwargs["kubernetes_conn_id"] = cluster.kubernetes_conn_id
    return kwargs


def pod_kwargs(config: Config, notebook: Notebook) -> dict[str, Any]:
    """Operator arguments shared by every pod of a notebook (all but `arguments`)."""
    cluster, deadline = config.cluster, notebook.timeout + GRACE_SECONDS
    url, console = output_urls(config.settings, notebook.name, RUN_ID)
    return {
        "task_id": notebook.name,
        "namespace": cluster.namespace,
        "image": config.settings.image,
        "cmds": list(COMMAND),
        "env_vars": _env(config),
        "pod_runtime_info_envs": [POD_NAME_ENV],
        "labels": {
            "app.kubernetes.io/name": "kit",
            "notebook": _label_value(notebook.name),
            "notebook-version": notebook.version,
            **notebook.labels,
        },
        "annotations": {
            OUTPUT_ANNOTATION: url,
            CONSOLE_ANNOTATION: console,
            # A notebook is not restartable: the autoscaler must not move it to scale down.
            "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
        },
        "container_resources": k8s.V1ResourceRequirements(
            requests=dict(notebook.resources.requests), limits=dict(notebook.resources.limits)
        ),
        "service_account_name": cluster.service_account,
        **_placement(cluster),
        "security_context": k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=10001,
            run_as_group=10001,
            fs_group=10001,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        "container_security_context": k8s.V1SecurityContext(
            allow_privilege_escalation=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
            read_only_root_filesystem=True,
        ),
        "volumes": [
            k8s.V1Volume(name=name, empty_dir=k8s.V1EmptyDirVolumeSource()) for name in SCRATCH
        ],
        "volume_mounts": [
            k8s.V1VolumeMount(name=name, mount_path=path) for name, path in SCRATCH.items()
        ],
        "image_pull_policy": "IfNotPresent",
        "active_deadline_seconds": deadline,
        "execution_timeout": timedelta(seconds=deadline + notebook.startup_timeout + 60),
        "startup_timeout_seconds": notebook.startup_timeout,
        "termination_grace_period": 60,
        "get_logs": True,
        "log_events_on_failure": True,
        # The provider logs the container states and events of a failed pod; the finisher
        # records why it ended. Dumping the whole V1Pod into the error too buries both.
        "log_pod_spec_on_failure": False,
        # A killed task deletes its pod: what on_kill does on every provider version (newer
        # ones add on_kill_action, default delete_pod; Composer's 10.14 rejects that key).
        "on_finish_action": "delete_pod",
        "deferrable": cluster.deferrable,
        # The finisher's connection to the outputs bucket (the environment's own account).
        "outputs_conn_id": cluster.gcp_conn_id,
        **callbacks(config, notebook),
        "owner": notebook.owner,
        "retries": notebook.retries,
        "retry_delay": timedelta(seconds=notebook.retry_delay),
        "retry_exponential_backoff": DOUBLING_BACKOFF,
        "max_retry_delay": timedelta(seconds=notebook.max_retry_delay),
        **_connection(cluster),
    }


def _doc(config: Config, notebook: Notebook) -> str:
    url, _ = output_urls(config.settings, notebook.name, "<run-id>")
    params = "\n".join(f"- `{k}` = `{v}`" for k, v in notebook.params.items()) or "- (none)"
    items = (
        f"\n\nFanned out over {len(notebook.fan_out)} parameter sets, one pod each."
        if notebook.fan_out
        else ""
    )
    return (
        f"Runs `kit run {notebook.name}@{notebook.version}` in a pod on node pool "
        f"`{config.cluster.node_pool}`.\n\nParameters:\n{params}{items}\n\n"
        f"Output notebook of each attempt: `{url}`.\n\nDefined in `{config.path.name}`."
    )


def build_dag(config: Config, notebook: Notebook) -> DAG:
    """The DAG of one notebook."""
    schedule = (
        CronTriggerTimetable(notebook.schedule, timezone=notebook.timezone)
        if notebook.schedule
        else None
    )
    with DAG(
        dag_id=f"{DAG_ID_PREFIX}{notebook.name}",
        description=notebook.description or f"Runs the {notebook.name} notebook with kit run.",
        doc_md=_doc(config, notebook),
        schedule=schedule,
        start_date=timezone.parse(notebook.start_date.isoformat(), timezone=notebook.timezone),
        catchup=notebook.catchup,
        max_active_runs=notebook.max_active_runs,
        tags=["kit", *notebook.tags],
        user_defined_macros={"kit_run_id": kit_run_id, "kit": config.settings},
        # Parameter values are data: keep a trailing newline a user put there.
        jinja_environment_kwargs={"keep_trailing_newline": True},
    ) as dag:
        operator = KitGKEStartPodOperator if config.cluster.mode == "gke" else KitPodOperator
        kwargs = pod_kwargs(config, notebook)
        if notebook.fan_out:
            operator.partial(**kwargs, max_active_tis_per_dagrun=notebook.max_parallel).expand(
                arguments=[kit_arguments(notebook, item) for item in notebook.fan_out]
            )
        else:
            operator(**kwargs, arguments=kit_arguments(notebook))
    return dag


def build_dags(config: Config | None = None) -> dict[str, DAG]:
    """Every DAG of notebooks.yaml ($KIT_DAGS_CONFIG overrides its path), by dag_id."""
    config = config or load_config()
    return {dag.dag_id: dag for dag in (build_dag(config, n) for n in config.notebooks)}
