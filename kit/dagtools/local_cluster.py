"""The cluster, simulated: what Kubernetes would report about a locally run pod.

KubernetesPodOperator reads its pod back (pod_manager.read_pod) and cleans up after it
(post_complete_action -> cleanup: read the pod and its events, label it, delete it). With
`kit dag test` the pod is a local process or a Docker container (kit.dagtools.process,
docker_pod), so `LocalCluster` answers those calls from it, with the V1Pod a kubelet
would report:

  running                          phase Running, container running
  exited N                         phase Succeeded (N = 0) or Failed, terminated, exit N,
                                   reason Completed or Error
  killed by signal S (a process)   exit 128 + S, as a container's init (tini) reports it
  OOM-killed (a container)         reason OOMKilled, from `docker inspect`
  past activeDeadlineSeconds       phase Failed, reason DeadlineExceeded
  deleted (stopped by the run)     metadata.deletionTimestamp set

so that the operator's own cleanup and kit's finisher (dags/kit_finisher.py) run the same
code as against a real cluster. Runs where Airflow runs (the kubernetes client models).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from kit.dagtools.process import LocalPod

NODE = "localhost"
BASE_CONTAINER = "base"  # KubernetesPodOperator's name for the pod's container
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


def pod_status(local: LocalPod) -> Any:
    """The V1Pod a cluster would return for this stand-in now (spec from the request)."""
    from kubernetes.client import models as k8s

    code = local.exit_code
    started = local.started_at
    if code is None:
        state = k8s.V1ContainerState(running=k8s.V1ContainerStateRunning(started_at=started))
        phase, reason, message = "Running", None, None
    else:
        why = "OOMKilled" if local.oom_killed else ("Completed" if code == 0 else "Error")
        terminated = k8s.V1ContainerStateTerminated(
            exit_code=code,
            reason=why,
            started_at=started,
            finished_at=local.ended_at or datetime.now(UTC),
        )
        state = k8s.V1ContainerState(terminated=terminated)
        phase, reason, message = ("Succeeded" if code == 0 else "Failed"), None, None
        if local.timed_out:
            phase, reason, message = "Failed", "DeadlineExceeded", DEADLINE_MESSAGE
    request = local.request
    spec = copy.deepcopy(request.spec)
    spec.node_name = NODE
    container = next((c for c in spec.containers if c.name == BASE_CONTAINER), spec.containers[0])
    metadata = copy.deepcopy(request.metadata)
    metadata.creation_timestamp = started
    metadata.deletion_timestamp = local.deleted_at
    status = k8s.V1PodStatus(
        phase=phase,
        reason=reason,
        message=message,
        start_time=started,
        container_statuses=[
            k8s.V1ContainerStatus(
                name=container.name,
                image=container.image,
                image_id="",
                ready=code is None,
                restart_count=0,
                state=state,
            )
        ],
    )
    return k8s.V1Pod(metadata=metadata, spec=spec, status=status)


class LocalCluster:
    """Stands in for the operator's pod manager and Kubernetes API client for one pod."""

    def __init__(self, local: LocalPod) -> None:
        self.local = local

    # PodManager
    def read_pod(self, pod: Any) -> Any:
        """The pod as a cluster would report it now."""
        return pod_status(self.local)

    def read_pod_events(self, pod: Any) -> Any:
        """No events are recorded locally."""
        from kubernetes.client import models as k8s

        return k8s.CoreV1EventList(items=[])

    def delete_pod(self, pod: Any) -> None:
        """Deleting a finished pod: nothing to do (a running one is stopped, as deletion would)."""
        self.local.terminate()

    # CoreV1Api
    def patch_namespaced_pod(self, *args: Any, **kwargs: Any) -> None:
        """Labels (the operator marks a pod it has checked): nothing to keep locally."""
