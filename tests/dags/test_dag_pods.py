"""Every DAG's pods, rendered by Airflow for a logical date, are what pool-1 should run."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import kubernetes_validate
import pytest
from dag_helpers import BASE_CONFIG, DAGS, LABEL_VALUE, env_of, load_dags, render

DATE = datetime(2026, 5, 4, tzinfo=UTC)
RUN_ID_RE = re.compile(r"20260504T000000Z-[0-9a-f]{8}(-m\d+)?-t1")


@pytest.fixture(scope="module")
def rendered(airflow_db: Path) -> dict[str, dict[int, tuple[Any, Any]]]:
    """{dag_id: {map_index: (V1Pod, operator)}} for every DAG of dags/."""
    return {dag_id: render(dag, DATE) for dag_id, dag in load_dags().items()}


@pytest.fixture(scope="module")
def config() -> Any:
    from kit_dag_config import load_config

    return load_config(DAGS / "notebooks.yaml", environ={})


def _notebook(config: Any, dag_id: str) -> Any:
    return next(n for n in config.notebooks if f"kit_{n.name}" == dag_id)


def test_every_dag_renders_one_pod_per_item(rendered: dict[str, Any], config: Any) -> None:
    assert rendered
    for dag_id, pods in rendered.items():
        notebook = _notebook(config, dag_id)
        expected = list(range(len(notebook.fan_out))) if notebook.fan_out else [-1]
        assert sorted(pods) == expected


def test_container_runs_kit_with_each_value_as_one_argument(
    rendered: dict[str, Any], config: Any
) -> None:
    from kit_dag_factory import COMMAND

    for dag_id, pods in rendered.items():
        notebook = _notebook(config, dag_id)
        run_ids = set()
        for index, (pod, _) in pods.items():
            container = pod.spec.containers[0]
            assert container.image == config.settings.image
            assert container.command == COMMAND == ["/opt/conda/bin/tini", "--", "kit", "run"]
            args = container.args
            assert args[:2] == [f"{notebook.name}@{notebook.version}", "--run-id"]
            assert RUN_ID_RE.fullmatch(args[2]), args[2]
            assert (f"-m{index}" in args[2]) is (index >= 0)
            run_ids.add(args[2])
            assert args[3:5] == ["--timeout", str(notebook.timeout)]
            pairs = args[5:]
            params = {**notebook.params, **(notebook.fan_out[index] if index >= 0 else {})}
            assert len(pairs) == 3 * len(params)
            rendered_params = {pairs[i + 1]: pairs[i + 2] for i in range(0, len(pairs), 3)}
            assert all(pairs[i] == "-p" for i in range(0, len(pairs), 3))
            assert rendered_params["run_date"] == "2026-05-04"  # {{ ds }}
            if "dataset_url" in params:
                assert rendered_params["dataset_url"].startswith("gs://kit-data/prophet-examples/")
            assert not any("{{" in a for a in args)
        assert len(run_ids) == len(pods)


def test_environment_carries_airflow_context_and_settings(
    rendered: dict[str, Any], config: Any
) -> None:
    for dag_id, pods in rendered.items():
        for index, (pod, _) in pods.items():
            env = env_of(pod)
            assert env["AIRFLOW_CTX_DAG_ID"] == dag_id
            assert env["AIRFLOW_CTX_DAG_RUN_ID"].startswith("manual__")
            assert env["AIRFLOW_CTX_TASK_ID"] == _notebook(config, dag_id).name
            assert env["AIRFLOW_CTX_TRY_NUMBER"] == "1"
            assert env["AIRFLOW_CTX_MAP_INDEX"] == str(index)
            assert env["KIT_MODULES_BUCKET"] == config.settings.modules_bucket
            assert env["KIT_OUTPUTS_BUCKET"] == config.settings.outputs_bucket
            assert env["KIT_DATA_BUCKET"] == config.settings.data_bucket
            assert env["KIT_IMAGE"] == config.settings.image
            assert env["KIT_POD_NAME"] == "metadata.name"  # downward API
            assert env["KIT_LOG_FORMAT"] == "json"  # progress lines as Cloud Logging entries


def test_pod_lands_on_pool_1_only(rendered: dict[str, Any]) -> None:
    for pods in rendered.values():
        for pod, _ in pods.values():
            terms = (
                pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
            )
            [term] = terms.node_selector_terms
            [requirement] = term.match_expressions
            assert (requirement.key, requirement.operator, requirement.values) == (
                "cloud.google.com/gke-nodepool",
                "In",
                ["pool-1"],
            )
            [toleration] = pod.spec.tolerations
            assert (toleration.key, toleration.operator, toleration.value, toleration.effect) == (
                "dedicated",
                "Equal",
                "pool-1",
                "NoSchedule",
            )


def test_resources_identity_and_labels(rendered: dict[str, Any], config: Any) -> None:
    for dag_id, pods in rendered.items():
        notebook = _notebook(config, dag_id)
        for pod, _ in pods.values():
            resources = pod.spec.containers[0].resources
            assert resources.requests == notebook.resources.requests
            assert resources.limits == notebook.resources.limits
            assert pod.spec.service_account_name == config.cluster.service_account == "kit-runner"
            assert pod.metadata.namespace == config.cluster.namespace
            assert pod.spec.restart_policy == "Never"
            assert pod.spec.active_deadline_seconds == notebook.timeout + 300
            labels = pod.metadata.labels
            assert labels["team"] == "data-science"
            assert labels["cost-center"] == "cc-1234"
            assert labels["notebook"] == notebook.name
            assert labels["notebook-version"] == notebook.version
            for value in labels.values():
                assert re.fullmatch(LABEL_VALUE, value), value
                assert len(value) <= 63, value
            run_id = pod.spec.containers[0].args[2]
            annotations = pod.metadata.annotations
            assert annotations["kit/output-url"] == (
                f"{config.settings.outputs_bucket}/runs/{notebook.name}/{run_id}/output.ipynb"
            )
            assert annotations["kit/console-url"].startswith(
                "https://console.cloud.google.com/storage/browser/_details/kit-outputs/runs/"
            )


def test_operator_settings(rendered: dict[str, Any], config: Any) -> None:
    for dag_id, pods in rendered.items():
        notebook = _notebook(config, dag_id)
        for _, operator in pods.values():
            assert operator.startup_timeout_seconds == 900
            assert operator.get_logs is True
            assert operator.log_events_on_failure is True
            assert operator.on_finish_action.value == "delete_pod"
            assert operator.retries == notebook.retries == 2
            assert operator.max_retry_delay == timedelta(hours=1)
            assert operator.execution_timeout == timedelta(seconds=3600 + 300 + 900 + 60)
            assert operator.owner == "data-science"


def test_retry_delay_doubles_up_to_max_retry_delay(rendered: dict[str, Any]) -> None:
    from dag_helpers import retry_delays

    for pods in rendered.values():
        for _, operator in pods.values():
            base = operator.retry_delay.total_seconds()
            cap = operator.max_retry_delay.total_seconds()
            delays = retry_delays(operator, tries=6)
            for attempt, delay in enumerate(delays, start=1):
                # Airflow adds a deterministic jitter of up to one more backoff step.
                low = base * 2 ** (attempt - 1)
                assert min(low, cap) <= delay <= min(2 * low, cap), (attempt, delays)
            assert delays[-1] == cap


def test_pods_pass_strict_kubernetes_validation(rendered: dict[str, Any]) -> None:
    from kubernetes.client import ApiClient

    version = kubernetes_validate.latest_version()
    for pods in rendered.values():
        for pod, _ in pods.values():
            manifest = ApiClient().sanitize_for_serialization(pod)
            kubernetes_validate.validate(manifest, version, strict=True)


def test_in_cluster_pod_also_validates(
    airflow_db: Path, write_config: Callable[[str], Path]
) -> None:
    from kit_dag_config import load_config
    from kit_dag_factory import build_dags
    from kubernetes.client import ApiClient

    path = write_config(BASE_CONFIG + "  - {name: plain_nb-, params: {a: '{{ ds_nodash }}'}}\n")
    dag = build_dags(load_config(path, environ={}))["kit_plain_nb-"]
    [(index, (pod, _))] = render(dag, DATE).items()
    assert index == -1
    assert pod.spec.containers[0].args[-3:] == ["-p", "a", "20260504"]
    assert pod.metadata.labels["notebook"] == "plain_nb"  # label values end alphanumeric
    assert pod.metadata.labels["airflow_kpo_in_cluster"] == "False"
    manifest = ApiClient().sanitize_for_serialization(pod)
    kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_log_output_and_log_format_reach_the_pod(
    airflow_db: Path, write_config: Callable[[str], Path]
) -> None:
    from kit_dag_config import load_config
    from kit_dag_factory import build_dags

    path = write_config(
        BASE_CONFIG.replace("retry_delay: 1s", "retry_delay: 1s\n  log_output: true").replace(
            "  data_bucket: gs://kit-data\n", "  data_bucket: gs://kit-data\n  log_format: text\n"
        )
        + "  - {name: chatty, params: {a: '1'}}\n  - {name: quiet, log_output: false}\n"
    )
    dags = build_dags(load_config(path, environ={}))
    [(_, (chatty, _))] = render(dags["kit_chatty"], DATE).items()
    args = chatty.spec.containers[0].args
    assert args[3:7] == ["--timeout", "3600", "--log-output", "-p"]
    assert env_of(chatty)["KIT_LOG_FORMAT"] == "text"
    [(_, (quiet, _))] = render(dags["kit_quiet"], DATE).items()
    assert "--log-output" not in quiet.spec.containers[0].args


def test_output_urls_follow_the_run_contract() -> None:
    from kit_dag_config import Settings
    from kit_dag_factory import output_urls
    from kit_run_contract import OUTPUT_FILE, run_url

    settings = Settings(
        project="p",
        image="i",
        modules_bucket="gs://m",
        outputs_bucket="gs://o/team/",
        data_bucket="gs://d",
    )
    url, console = output_urls(settings, "forecast", "r1")
    assert url == run_url("gs://o/team", "forecast", "r1", OUTPUT_FILE)
    assert url == "gs://o/team/runs/forecast/r1/output.ipynb"
    assert console.endswith("/o/team/runs/forecast/r1/output.ipynb?project=p")


def test_run_id_is_unique_per_attempt_and_a_safe_path_segment() -> None:
    from kit_dag_factory import kit_run_id

    runs = [
        SimpleNamespace(dag_id="kit_a", run_id=r, logical_date=when, run_after=DATE)
        for r, when in (("scheduled__2026-05-04T00:00:00+00:00", DATE), ("manual__x", None))
    ]
    ids = {
        kit_run_id(run, SimpleNamespace(map_index=index, try_number=attempt))
        for run in runs
        for index in (-1, 0, 1)
        for attempt in (1, 2)
    }
    assert len(ids) == 12
    assert all(re.fullmatch(r"[A-Za-z0-9._-]{1,128}", i) for i in ids)


def test_output_location_is_logged_before_and_after() -> None:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kit_dag_factory import KitPodOperator

    operator = KitPodOperator(
        task_id="t",
        image="i",
        annotations={
            "kit/output-url": "gs://o/runs/n/r/output.ipynb",
            "kit/console-url": "https://c",
        },
    )
    with (
        mock.patch.object(KubernetesPodOperator, "execute", return_value=None),
        mock.patch.object(type(operator), "log", new_callable=mock.PropertyMock) as log,
    ):
        operator.execute({})
    lines = [call.args[0] % call.args[1:] for call in log.return_value.info.call_args_list]
    assert lines[0] == "Output notebook: gs://o/runs/n/r/output.ipynb"
    assert lines[1] == "Output notebook in the Cloud console: https://c"
    assert "gs://o/runs/n/r/output.ipynb" in lines[-1]
