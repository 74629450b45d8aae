"""Why a pod ended, read from the pod Kubernetes reports: each pod-level failure a notebook
run can meet, as real kubernetes.client objects (V1Pod, V1ContainerStatus, ...), mapped to
the reason its run record gives. The finisher's record for each is valid per the schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kit_attempt import Attempt, build_record, gone
from kit_pod_status import duration, pod_end
from kubernetes.client import models as k8s
from record_support import assert_valid

NOW = datetime(2026, 5, 4, 6, 30, tzinfo=UTC)
NODE = "gke-kit-runs-pool-1-3f2a-xk2p"


def pod(
    *,
    phase: str = "Failed",
    reason: str | None = None,
    message: str | None = None,
    state: Any = None,
    conditions: list[Any] | None = None,
    node: str | None = NODE,
    deleted: bool = False,
    created: datetime = NOW - timedelta(minutes=20),
    memory: str = "4Gi",
) -> Any:
    """A kit pod as the API server returns it: spec as the DAG renders it, and a status."""
    container = k8s.V1Container(
        name="base",
        image="europe-west1-docker.pkg.dev/p/kit/kit-runtime@sha256:0123",
        resources=k8s.V1ResourceRequirements(
            requests={"cpu": "1", "memory": "2Gi"}, limits={"cpu": "2", "memory": memory}
        ),
    )
    statuses = None
    if state is not None:
        statuses = [
            k8s.V1ContainerStatus(
                name="base",
                image=container.image,
                image_id="",
                ready=state.running is not None,
                restart_count=0,
                state=state,
            )
        ]
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(
            name="forecast-8xk2p",
            namespace="kit-runs",
            creation_timestamp=created,
            deletion_timestamp=NOW - timedelta(seconds=61) if deleted else None,
        ),
        spec=k8s.V1PodSpec(
            containers=[container],
            node_name=node,
            active_deadline_seconds=3900,
            termination_grace_period_seconds=60,
        ),
        status=k8s.V1PodStatus(
            phase=phase,
            reason=reason,
            message=message,
            conditions=conditions,
            container_statuses=statuses,
            start_time=created + timedelta(minutes=1),
        ),
    )


def terminated(code: int, reason: str, message: str | None = None) -> Any:
    return k8s.V1ContainerState(
        terminated=k8s.V1ContainerStateTerminated(
            exit_code=code,
            reason=reason,
            message=message,
            started_at=NOW - timedelta(minutes=18),
            finished_at=NOW - timedelta(minutes=1),
        )
    )


def waiting(reason: str, message: str | None = None) -> Any:
    return k8s.V1ContainerState(waiting=k8s.V1ContainerStateWaiting(reason=reason, message=message))


def condition(kind: str, status: str, reason: str, message: str) -> Any:
    return k8s.V1PodCondition(type=kind, status=status, reason=reason, message=message)


PULL = (
    'rpc error: code = NotFound desc = failed to pull and unpack image "europe-west1-docker'
    '.pkg.dev/p/kit/kit-runtime:nope": not found'
)
UNSCHEDULABLE = (
    "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
    "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
)
EVICTION = (
    "The node was low on resource: memory. Threshold quantity: 100Mi, available: 12Mi. "
    "Container base was using 3900Mi, request is 2Gi, has larger consumption of memory. "
)

# case -> (pod, reason, Kubernetes' reason, exit code)
CASES: dict[str, tuple[Any, str, str, int | None]] = {
    "the OOM killer takes the whole container": (
        pod(state=terminated(137, "OOMKilled")),
        "pod OOMKilled at the 4Gi memory limit",
        "OOMKilled",
        137,
    ),
    "SIGKILL after the grace period of a deleted pod": (
        pod(state=terminated(137, "Error"), deleted=True),
        "pod deleted; container exited 137 (SIGKILL) after the 60 s grace period",
        "Error",
        137,
    ),
    "the runner is killed without the pod being deleted": (
        pod(state=terminated(137, "Error")),
        "container exited 137 (SIGKILL)",
        "Error",
        137,
    ),
    "eviction under node memory pressure": (
        pod(reason="Evicted", message=EVICTION, state=terminated(137, "Error")),
        "evicted: node memory pressure (it used 3900Mi, request 2Gi)",
        "Evicted",
        137,
    ),
    "eviction under node disk pressure": (
        pod(reason="Evicted", message="The node was low on resource: ephemeral-storage. "),
        "evicted: node disk pressure",
        "Evicted",
        None,
    ),
    "a pod deleted before the runner starts": (
        pod(phase="Pending", state=waiting("ContainerCreating"), deleted=True),
        "container not started after 20m (ContainerCreating)",
        "ContainerCreating",
        None,
    ),
    "ErrImagePull": (
        pod(phase="Pending", state=waiting("ErrImagePull", PULL)),
        f"image not pulled: ErrImagePull: {PULL}",
        "ErrImagePull",
        None,
    ),
    "ImagePullBackOff": (
        pod(phase="Pending", state=waiting("ImagePullBackOff", "Back-off pulling image")),
        "image not pulled: ImagePullBackOff: Back-off pulling image",
        "ImagePullBackOff",
        None,
    ),
    "no node within the startup timeout (pool-1 scales from zero)": (
        pod(
            phase="Pending",
            node=None,
            created=NOW - timedelta(minutes=15),
            conditions=[condition("PodScheduled", "False", "Unschedulable", UNSCHEDULABLE)],
        ),
        f"no node for 15m (Unschedulable: {UNSCHEDULABLE})",
        "Unschedulable",
        None,
    ),
    "activeDeadlineSeconds": (
        pod(
            reason="DeadlineExceeded",
            message="Pod was active on the node longer than the specified deadline",
            state=terminated(143, "Error"),
        ),
        "deadline exceeded: the pod ran longer than its activeDeadlineSeconds (3900 s)",
        "DeadlineExceeded",
        143,
    ),
    "a lost node, its pods deleted by the pod garbage collector": (
        pod(
            conditions=[
                condition(
                    "DisruptionTarget", "True", "DeletionByPodGC", "PodGC: node no longer exists"
                )
            ],
            state=terminated(137, "Error"),
        ),
        f"node lost: {NODE} (PodGC: node no longer exists)",
        "DeletionByPodGC",
        137,
    ),
    "an unreachable node, its pods evicted by the taint manager": (
        pod(
            phase="Running",
            conditions=[
                condition(
                    "DisruptionTarget",
                    "True",
                    "DeletionByTaintManager",
                    "Taint manager: deleting due to NoExecute taint",
                )
            ],
            deleted=True,
        ),
        f"node lost: {NODE} (Taint manager: deleting due to NoExecute taint)",
        "DeletionByTaintManager",
        None,
    ),
    "a node that stopped reporting": (
        pod(
            phase="Unknown",
            reason="NodeLost",
            message=f"Node {NODE} which was running pod is unresponsive",
        ),
        f"node lost: {NODE} (Node {NODE} which was running pod is unresponsive)",
        "NodeLost",
        None,
    ),
    "a node shut down (spot VM reclaimed)": (
        pod(
            reason="Terminated",
            message="Pod was terminated in response to imminent node shutdown.",
            state=terminated(143, "Error"),
        ),
        f"node shut down: {NODE} (Pod was terminated in response to imminent node shutdown.)",
        "Terminated",
        143,
    ),
    "an exit without a record": (
        pod(phase="Succeeded", state=terminated(0, "Completed")),
        "container exited 0 without writing run.json",
        "Completed",
        0,
    ),
}


def attempt(limits: dict[str, str] | None = None) -> Attempt:
    env = {
        "KIT_OUTPUTS_BUCKET": "gs://kit-outputs",
        "KIT_IMAGE": "europe-west1-docker.pkg.dev/p/kit/kit-runtime@sha256:0123",
        "AIRFLOW_CTX_DAG_ID": "kit_forecast",
        "AIRFLOW_CTX_DAG_RUN_ID": "scheduled__2026-05-04T06:00:00+00:00",
        "AIRFLOW_CTX_TASK_ID": "forecast",
        "AIRFLOW_CTX_TRY_NUMBER": "1",
        "AIRFLOW_CTX_MAP_INDEX": "-1",
    }
    return Attempt(
        notebook="forecast",
        version="latest",
        run_id="20260504T060000Z-3fa2c1d0-t1",
        timeout=3600.0,
        params={"horizon": "30"},
        outputs_bucket="gs://kit-outputs",
        env=env,
        pod="forecast-8xk2p",
        namespace="kit-runs",
        image=None,
        limits=limits or {"cpu": "2", "memory": "4Gi"},
    )


@pytest.mark.parametrize("case", CASES)
def test_each_pod_level_end_has_its_reason_and_a_valid_record(case: str) -> None:
    the_pod, reason, kubernetes_reason, exit_code = CASES[case]
    end = pod_end(the_pod, now=NOW)
    assert (end.reason, end.kubernetes_reason, end.exit_code) == (
        reason,
        kubernetes_reason,
        exit_code,
    )
    assert not end.running
    record = build_record(attempt(), end, None, killed=False, started=None, now=NOW)
    assert_valid(record)
    assert (record["status"], record["reason"], record["written_by"]) == (
        "failed",
        reason,
        "finisher",
    )
    assert record["kubernetes"] == {
        "pod": "forecast-8xk2p",
        "namespace": "kit-runs",
        "node": the_pod.spec.node_name,
        "container_exit_code": exit_code,
        "reason": kubernetes_reason,
        "limits": {"cpu": "2", "memory": "4Gi"},
    }


def test_a_running_container_has_not_ended() -> None:
    running = k8s.V1ContainerState(running=k8s.V1ContainerStateRunning(started_at=NOW))
    end = pod_end(pod(phase="Running", state=running, deleted=True), now=NOW)
    assert end.running


def test_oom_without_a_memory_limit_says_the_node_ran_out() -> None:
    the_pod = pod(state=terminated(137, "OOMKilled"))
    the_pod.spec.containers[0].resources.limits.pop("memory")
    assert pod_end(the_pod).reason == "pod OOMKilled (no memory limit: the node ran out)"


@pytest.mark.parametrize(
    ("created", "output", "reason"),
    [
        (False, False, "pod not created: pods is forbidden: exceeded quota"),
        (True, False, "pod deleted before kit run started"),
        (True, True, "pod deleted while the notebook ran; kit run was stopped before"),
    ],
)
def test_a_pod_that_is_gone(created: bool, output: bool, reason: str) -> None:
    end = gone(
        created=created, error=RuntimeError("pods is forbidden: exceeded quota"), output=output
    )
    assert end.reason.startswith(reason)
    record = build_record(attempt(), end, None, killed=True, started=None, now=NOW)
    assert_valid(record)
    assert record["status"] == "killed"
    assert record["reason"] == f"task stopped; {end.reason}"


def test_durations_read_as_people_write_them() -> None:
    assert [duration(s) for s in (0, 45, 150, 900, 3900, 7200)] == [
        "0s",
        "45s",
        "2m30s",
        "15m",
        "1h5m",
        "2h",
    ]
