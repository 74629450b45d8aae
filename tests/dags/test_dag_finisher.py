"""The finisher hooks into the provider's own KubernetesPodOperator code, on the version this
Airflow environment pins (cncf-kubernetes 10.14 or 10.25): deferrable re-entry, on_kill, and
the sync path (run by the local stand-in, tests/dags/test_dag_local_runner.py). Only the
cluster is simulated (`Cluster` below answers the API calls the operator makes); the
records go to the embedded GCS, through the google provider's GCSHook."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dag_helpers import BASE_CONFIG
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException
from record_support import assert_valid, v2_record

OUTPUTS = "gs://kit-outputs"
FAILED = r"Pod failed|returned a failure"  # the provider's own error


class Cluster:
    """The Kubernetes API as the operator calls it, serving one pod (None: it is gone)."""

    is_in_cluster = False

    def __init__(self, pod: Any) -> None:
        self.pod = pod
        self.deleted: list[str] = []

    def _current(self) -> Any:
        if self.pod is None:
            raise ApiException(status=404, reason="Not Found")
        return self.pod

    # the operator's hook
    def get_pod(self, name: str, namespace: str) -> Any:
        return self._current()

    def get_namespace(self) -> None:
        return None

    # its PodManager
    def read_pod(self, pod: Any) -> Any:
        return self._current()

    def await_pod_completion(self, pod: Any, *args: Any, **kwargs: Any) -> Any:
        return self._current()

    def read_pod_events(self, pod: Any) -> Any:
        return k8s.CoreV1EventList(items=[])

    def delete_pod(self, pod: Any) -> None:
        self.deleted.append(pod.metadata.name)

    # its CoreV1Api client
    def read_namespaced_pod_log(self, **kwargs: Any) -> Iterator[bytes]:
        return iter([b"kit: cell 3 started (+2.0s): model.fit(df)\n"])

    def patch_namespaced_pod(self, **kwargs: Any) -> None:
        return None

    def delete_namespaced_pod(self, **kwargs: Any) -> None:
        self.deleted.append(kwargs["name"])


@pytest.fixture
def run_id() -> str:
    return f"20260504T060000Z-{uuid.uuid4().hex[:8]}-t1"


def operator(kind: str, run_id: str, tmp_path: Path, outputs: str = OUTPUTS) -> Any:
    """A kit operator as the factory makes it for one entry, rendered for one attempt."""
    from kit_dag_config import load_config
    from kit_dag_factory import KitGKEStartPodOperator, KitPodOperator, kit_arguments, pod_kwargs

    gke = "  mode: gke\n  project: p-1\n  location: europe-west1\n  cluster_name: kit-runs\n"
    text = BASE_CONFIG.replace(
        "  mode: in_cluster\n", gke if kind == "gke" else "  mode: in_cluster\n"
    )
    config_path = tmp_path / "notebooks.yaml"
    config_path.write_text(text.replace("gs://kit-outputs", outputs) + "  - name: forecast\n")
    config = load_config(config_path, environ={})
    [notebook] = config.notebooks
    kwargs = pod_kwargs(config, notebook)
    kwargs["env_vars"] = {
        **kwargs["env_vars"],
        "AIRFLOW_CTX_DAG_ID": "kit_forecast",
        "AIRFLOW_CTX_TRY_NUMBER": "1",
        "AIRFLOW_CTX_MAP_INDEX": "-1",
    }
    args = [a.replace("{{ kit_run_id(dag_run, ti) }}", run_id) for a in kit_arguments(notebook)]
    cls = KitGKEStartPodOperator if kind == "gke" else KitPodOperator
    return cls(**kwargs, arguments=args)


def with_status(request: Any, status: Any) -> Any:
    pod = copy.deepcopy(request)
    pod.spec.node_name = "gke-kit-runs-pool-1-3f2a-xk2p"
    pod.status = status
    return pod


def oom_killed() -> Any:
    state = k8s.V1ContainerState(
        terminated=k8s.V1ContainerStateTerminated(
            exit_code=137, reason="OOMKilled", finished_at=datetime.now(UTC)
        )
    )
    return k8s.V1PodStatus(
        phase="Failed",
        container_statuses=[
            k8s.V1ContainerStatus(
                name="base", image="i", image_id="", ready=False, restart_count=0, state=state
            )
        ],
    )


def output_notebook(run_id: str) -> None:
    """The runner's last save: cell 3 (In [2]) started and never finished."""
    from google.cloud import storage

    cells: list[dict[str, Any]] = [
        {"cell_type": "code", "source": "horizon = 30", "metadata": {"tags": ["parameters"]}},
        {
            "cell_type": "code",
            "source": "horizon = 365",
            "metadata": {"tags": ["injected-parameters"], "papermill": {"start_time": "t"}},
            "execution_count": 1,
        },
        {"cell_type": "markdown", "source": "# Fit", "metadata": {}},
        {
            "cell_type": "code",
            "source": "df = load()\n",
            "execution_count": 1,
            "metadata": {
                "papermill": {"start_time": "t", "duration": 1.5, "status": "completed"},
                "kit": {"peak_rss_bytes": 300 * 2**20},
            },
        },
        {
            "cell_type": "code",
            "source": "model.fit(df)",
            "execution_count": 2,
            "metadata": {"papermill": {"start_time": "t", "status": "running"}},
        },
        {"cell_type": "code", "source": "model.plot()", "metadata": {}},
    ]
    nb = {"cells": cells, "metadata": {"papermill": {"parameters": {"horizon": 365}}}}
    blob = storage.Client().bucket("kit-outputs").blob(f"runs/forecast/{run_id}/output.ipynb")
    blob.metadata = {
        "kit-started-at": "2026-05-04T06:01:00.000000Z",
        "kit-version": "20260501T060000Z-0123456789ab",
    }
    blob.upload_from_string(json.dumps(nb), content_type="application/x-ipynb+json")


def stored_record(run_id: str) -> dict[str, Any] | None:
    from google.cloud import storage

    blob = storage.Client().bucket("kit-outputs").get_blob(f"runs/forecast/{run_id}/run.json")
    return None if blob is None else dict(json.loads(blob.download_as_bytes()))


def attach(op: Any, cluster: Cluster) -> Any:
    from kit.dagtools.local_pod import NO_CLUSTER

    op.hook = NO_CLUSTER
    request = op.build_pod_request_obj()
    op.hook = op.pod_manager = op.client = cluster
    return request


@pytest.mark.parametrize("kind", ["kubernetes", "gke"])
def test_a_deferred_pod_that_was_oomkilled_ends_with_a_finisher_record(
    outputs_gcs: dict[str, str], kind: str, run_id: str, tmp_path: Path
) -> None:
    op = operator(kind, run_id, tmp_path)
    cluster = Cluster(None)
    cluster.pod = with_status(attach(op, cluster), oom_killed())
    output_notebook(run_id)
    event = {"status": "failed", "name": cluster.pod.metadata.name, "namespace": "kit-runs"}
    event.update(message="Pod failed", last_log_time=None)
    with pytest.raises(Exception, match=FAILED):
        op.trigger_reentry({}, event)
    assert cluster.deleted == [cluster.pod.metadata.name]  # the provider's own cleanup ran
    record = stored_record(run_id)
    assert record is not None
    assert_valid(record)
    assert (record["status"], record["written_by"]) == ("failed", "finisher")
    assert record["reason"] == "pod OOMKilled at the 4Gi memory limit"
    assert record["stopped_at"] == {"cell": 4, "execution_count": 2, "source": "model.fit(df)"}
    assert record["cells_not_run"] == 1
    assert [c["cell"] for c in record["cells"]] == [3, 4]
    assert record["peak_rss_bytes"] == 300 * 2**20
    assert record["started_at"] == "2026-05-04T06:01:00.000000Z"
    assert record["version"] == "20260501T060000Z-0123456789ab"
    assert record["parameters"] == {"horizon": 365}
    assert record["airflow"]["dag_id"] == "kit_forecast"
    assert record["kubernetes"]["container_exit_code"] == 137
    assert record["kubernetes"]["node"] == "gke-kit-runs-pool-1-3f2a-xk2p"
    assert record["kubernetes"]["limits"] == {"cpu": "2", "memory": "4Gi"}


def test_a_deferred_pod_gone_before_reentry_is_recorded(
    outputs_gcs: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    op = operator("kubernetes", run_id, tmp_path)
    cluster = Cluster(None)
    attach(op, cluster)
    output_notebook(run_id)
    event = {"status": "error", "name": "forecast-x", "namespace": "kit-runs", "message": "gone"}
    with pytest.raises(Exception, match=r"[Nn]ot [Ff]ound|gone"):
        op.trigger_reentry({}, event)
    record = stored_record(run_id)
    assert record is not None
    assert record["reason"].startswith("pod deleted while the notebook ran;")
    assert record["stopped_at"]["cell"] == 4


def test_the_runners_record_is_never_replaced(
    outputs_gcs: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    from google.cloud import storage
    from kit_attempt import attempt_of
    from kit_finisher import record_attempt
    from kit_pod_status import pod_end
    from kit_run_store import store_for

    op = operator("kubernetes", run_id, tmp_path)
    cluster = Cluster(None)
    cluster.pod = with_status(attach(op, cluster), oom_killed())
    runners = v2_record(run_id=run_id, status="failed", reason="kernel died")
    blob = storage.Client().bucket("kit-outputs").blob(f"runs/forecast/{run_id}/run.json")
    blob.upload_from_string(json.dumps(runners), content_type="application/json")
    event = {"status": "failed", "name": cluster.pod.metadata.name, "namespace": "kit-runs"}
    with pytest.raises(Exception, match=FAILED):
        op.trigger_reentry({}, {**event, "message": "Pod failed"})
    # Even a finisher that missed it cannot overwrite it: if_generation_match=0.
    attempt = attempt_of(cluster.pod)
    assert attempt is not None
    store = store_for(OUTPUTS, "google_cloud_default")
    now = datetime.now(UTC)
    end = pod_end(cluster.pod)
    assert record_attempt(store, attempt, end, None, killed=False, started=None, now=now) is None
    assert stored_record(run_id) == runners


def _unschedulable(created: datetime) -> Any:
    condition = k8s.V1PodCondition(
        type="PodScheduled",
        status="False",
        reason="Unschedulable",
        message="0/1 nodes are available: 1 node(s) had untolerated taint.",
    )
    return k8s.V1PodStatus(phase="Pending", conditions=[condition])


@pytest.mark.parametrize("kind", ["kubernetes", "gke"])
def test_on_kill_of_a_pod_that_never_got_a_node_records_killed(
    outputs_gcs: dict[str, str], kind: str, run_id: str, tmp_path: Path
) -> None:
    op = operator(kind, run_id, tmp_path)
    cluster = Cluster(None)
    request = attach(op, cluster)
    cluster.pod = with_status(request, _unschedulable(datetime.now(UTC)))
    cluster.pod.spec.node_name = None
    cluster.pod.metadata.creation_timestamp = datetime.now(UTC) - timedelta(minutes=6)
    op.pod = cluster.pod
    op.on_kill()
    assert cluster.deleted == [cluster.pod.metadata.name]  # the provider deleted it
    record = stored_record(run_id)
    assert record is not None
    assert_valid(record)
    assert record["status"] == "killed"
    assert record["reason"] == (
        "task stopped; no node for 6m "
        "(Unschedulable: 0/1 nodes are available: 1 node(s) had untolerated taint.)"
    )
    assert record["kubernetes"]["reason"] == "Unschedulable"


def test_on_kill_leaves_a_running_runner_to_record_its_own_end(
    outputs_gcs: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    op = operator("kubernetes", run_id, tmp_path)
    cluster = Cluster(None)
    running = k8s.V1ContainerState(
        running=k8s.V1ContainerStateRunning(started_at=datetime.now(UTC))
    )
    status = k8s.V1PodStatus(
        phase="Running",
        container_statuses=[
            k8s.V1ContainerStatus(
                name="base", image="i", image_id="", ready=True, restart_count=0, state=running
            )
        ],
    )
    cluster.pod = with_status(attach(op, cluster), status)
    op.pod = cluster.pod
    op.on_kill()
    assert cluster.deleted == [cluster.pod.metadata.name]
    assert stored_record(run_id) is None  # kit run got SIGTERM: it records `killed` itself


def test_a_finisher_that_cannot_write_leaves_the_tasks_outcome_alone(
    outputs_gcs: dict[str, str], run_id: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    op = operator("kubernetes", run_id, tmp_path, outputs="gs://no-such-bucket-kit")
    cluster = Cluster(None)
    cluster.pod = with_status(attach(op, cluster), oom_killed())
    event = {"status": "failed", "name": cluster.pod.metadata.name, "namespace": "kit-runs"}
    with pytest.raises(Exception, match=FAILED):  # the operator's own failure, unchanged
        op.trigger_reentry({}, {**event, "message": "Pod failed"})
    out, err = capfd.readouterr()
    assert "kit: could not finish this attempt's run record" in out + err


def _index_entries(run_id: str) -> dict[str, dict[str, Any]]:
    """Every index entry of the run in the outputs bucket: its name and its summary."""
    from google.cloud import storage
    from kit_run_contract import read_summary

    found = {}
    for blob in storage.Client().list_blobs("kit-outputs", prefix="index/"):
        if run_id in blob.name:
            found[blob.name] = read_summary(blob.metadata) or {}
    return found


def test_a_finisher_record_updates_the_index_entries_the_runner_created(
    outputs_gcs: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    from kit_run_contract import index_urls, parse_time, pending_record, summary, write_index
    from kit_run_store import store_for

    op = operator("kubernetes", run_id, tmp_path)
    cluster = Cluster(None)
    cluster.pod = with_status(attach(op, cluster), oom_killed())
    output_notebook(run_id)
    started = parse_time("2026-05-04T06:01:00.000000Z")  # the output's kit-started-at
    assert started is not None
    running = pending_record(
        notebook="forecast",
        run_id=run_id,
        version="v",
        started=started,
        metadata={},
        parameters={},
        overridden=[],
    )
    urls = index_urls(OUTPUTS, "forecast", run_id, started)
    write_index(store_for(OUTPUTS, "google_cloud_default"), urls, summary(running))
    event = {"status": "failed", "name": cluster.pod.metadata.name, "namespace": "kit-runs"}
    with pytest.raises(Exception, match=FAILED):
        op.trigger_reentry({}, {**event, "message": "Pod failed"})
    entries = _index_entries(run_id)
    assert sorted(entries) == sorted(u.removeprefix(OUTPUTS + "/") for u in urls)
    for found in entries.values():
        assert (found["status"], found["written_by"]) == ("failed", "finisher")
        assert found["reason"] == "pod OOMKilled at the 4Gi memory limit"


def test_a_pod_whose_runner_never_started_gets_index_entries_and_a_listed_name(
    outputs_gcs: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    from google.cloud import storage

    op = operator("kubernetes", run_id, tmp_path)
    cluster = Cluster(None)
    request = attach(op, cluster)
    cluster.pod = with_status(request, _unschedulable(datetime.now(UTC)))
    cluster.pod.spec.node_name = None
    cluster.pod.metadata.creation_timestamp = datetime.now(UTC) - timedelta(minutes=6)
    op.pod = cluster.pod
    op.on_kill()
    entries = _index_entries(run_id)
    assert len(entries) == 2  # index/runs/ and index/notebooks/forecast/
    assert {e["status"] for e in entries.values()} == {"killed"}
    assert storage.Client().bucket("kit-outputs").get_blob("index/names/forecast") is not None


def test_the_folder_store_writes_objects_as_kits_local_storage_reads_them(
    tmp_path: Path,
) -> None:
    from kit_run_store import FolderStore

    from kit.storage.local import LocalStorage

    url = f"file://{tmp_path}/index/runs/k"
    folder, kit_side = FolderStore(), LocalStorage()
    assert folder.stat(url) is None
    first = folder.put(url, b"{}", {"kit-summary": '{"status":"running"}'}, 0)
    assert first is not None
    assert folder.put(url, b"{}", {}, 0) is None  # the precondition holds
    info = kit_side.stat(url)
    assert (info.generation, dict(info.metadata)) == (
        first,
        {"kit-summary": '{"status":"running"}'},
    )
    written = kit_side.write(url, b"[]", if_generation_match=first, metadata={"a": "b"})
    seen = folder.stat(url)
    assert seen is not None
    assert (seen.generation, dict(seen.metadata)) == (written.generation, {"a": "b"})
