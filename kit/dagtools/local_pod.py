"""Stand in for pods during dag.test(): swap KubernetesPodOperator's execution.

While `local_pods()` is active, KubernetesPodOperator.execute (which every kit DAG
operator, GKEStartPodOperator included, inherits) builds the pod exactly as in
production with build_pod_request_obj(), then runs its container as a local process
(kit.dagtools.process) or a Docker container of the runtime image (kit.dagtools.docker_pod)
instead of creating the pod. on_kill and Ctrl-C stop every
process, as deleting the pods would. Once a process ends, the operator's own
post_complete_action runs, as execute_sync runs it, against kit.dagtools.local_cluster:
the pod status a kubelet would report, so that the provider's cleanup and kit's finisher
see what they would see on a cluster.

Fan-out runs in parallel. dag.test() runs one task instance at a time, so the first
call for a mapped item starts its process and reschedules the task (Airflow's
reschedule mode, AirflowRescheduleException) instead of waiting: dag.test() then starts
the sibling items, whose processes run concurrently, and waits on each when it picks the
task up again. The DAG file is untouched; only the operator's execution is swapped.
"""

from __future__ import annotations

import contextlib
import copy
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from kit.dagtools.local_cluster import LocalCluster, pod_status
from kit.dagtools.process import LocalPod, LocalSettings, start_pod

RESCHEDULE_AFTER = timedelta(seconds=1)

Key = tuple[str, str, str, int, int]
# How a pod starts: a local process (kit.dagtools.process) or a container (docker_pod).
Starter = Callable[[Any, LocalSettings], LocalPod]


class NoCluster:
    """What build_pod_request_obj() asks the operator's Kubernetes hook, answered without a
    cluster. Set as the operator's `hook` (which shadows the cached property), so that the
    pod request is built on every cncf-kubernetes version; newer ones can instead skip the
    cluster with build_pod_request_obj(dry_run=True), which Composer's 10.14 lacks."""

    is_in_cluster = False

    def get_namespace(self) -> None:
        """No namespace from a kubeconfig: the operator's own `namespace` applies."""


NO_CLUSTER = NoCluster()


class Registry:
    """The stand-in pods of this process, by task instance attempt."""

    def __init__(self) -> None:
        self.pods: dict[Key, LocalPod] = {}
        self.settings: LocalSettings | None = None
        self.start: Starter = start_pod
        self.interrupted = False

    def interrupt(self) -> None:
        """Stop every process and start no more: the local run was interrupted."""
        self.interrupted = True
        for pod in list(self.pods.values()):
            pod.terminate()

    def kill_all(self) -> None:
        """Stop every process, waiting for each (nothing outlives the local run)."""
        for pod in list(self.pods.values()):
            pod.terminate()
        for pod in list(self.pods.values()):
            pod.kill()


REGISTRY = Registry()


def _key(ti: Any) -> Key:
    return (ti.dag_id, ti.run_id, ti.task_id, int(ti.map_index), int(ti.try_number))


def _slots_taken(key: Key) -> int:
    """Running processes of the same task in the same DAG run."""
    return sum(1 for k, p in REGISTRY.pods.items() if k[:3] == key[:3] and p.proc.poll() is None)


def _execute(self: Any, context: Any, **_sentinel: Any) -> None:
    """KubernetesPodOperator.execute, locally: start or await the stand-in process.
    (Airflow 2 also passes a keyword sentinel meant for Airflow's own wrapper of execute.)"""
    from kit.dagtools.airflow_compat import (
        AirflowException,
        AirflowFailException,
        AirflowRescheduleException,
    )

    assert REGISTRY.settings is not None, "local_pods() is not active"
    if REGISTRY.interrupted:
        raise AirflowFailException("the local run was interrupted")
    ti = context["ti"]
    key = _key(ti)
    pod = REGISTRY.pods.get(key)
    if pod is None and _slots_taken(key) >= (self.max_active_tis_per_dagrun or float("inf")):
        # dag.test() does not enforce max_active_tis_per_dagrun (max_parallel); wait for a
        # running sibling to finish, as the scheduler would.
        raise AirflowRescheduleException(datetime.now(UTC) + RESCHEDULE_AFTER)
    # Let dag.test() start the sibling items of a fan-out before anyone waits.
    reschedule = pod is None and ti.map_index >= 0
    if pod is None:
        # The same pod, without asking a cluster whether we are inside it.
        self.hook = NO_CLUSTER
        request = self.build_pod_request_obj(context)
        pod = REGISTRY.pods[key] = REGISTRY.start(request, REGISTRY.settings)
        self.log.info("Pod %s runs locally (pid %d): %s", pod.name, pod.proc.pid, pod.argv)
        self.log.info("Its output is also in %s", pod.log_path)
    if persist_link := getattr(self, "_persist_pod_link", None):
        # What GKEStartPodOperator records when it creates the pod (and Airflow clears
        # when a rescheduled task resumes); its "Kubernetes Pod" link would otherwise log
        # "XCom not found" after every call.
        persist_link(context=context, pod=pod.request)
    # The operator's pod and its view of the cluster: this stand-in (on_kill, the finisher).
    self.pod, self.pod_request_obj = pod.request, pod.request
    self.pod_manager = self.client = LocalCluster(pod)
    if reschedule:
        raise AirflowRescheduleException(datetime.now(UTC) + RESCHEDULE_AFTER)
    code = pod.wait(self.log)
    try:
        # What execute_sync does once the pod is done: the operator's own cleanup (which
        # fails the task for a failed pod) and whatever kit's operators add to it.
        self.post_complete_action(
            pod=pod.request, remote_pod=pod_status(pod), context=context, result=None
        )
    finally:
        if REGISTRY.interrupted:
            raise AirflowFailException(f"pod {pod.name}: the local run was interrupted")
    if code != 0:
        raise AirflowException(f"pod {pod.name} (kit run, run id {pod.run_id}) exited {code}")


def _on_kill(self: Any) -> None:
    """KubernetesPodOperator.on_kill, locally. Airflow calls it when the task process gets
    SIGTERM; that ends the whole local run, like deleting its pods."""
    REGISTRY.interrupt()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    # Airflow's task runner would catch a KeyboardInterrupt as one task's failure and go
    # on with the next; stop every process instead and let dag.test() wind down.
    if REGISTRY.interrupted:
        raise KeyboardInterrupt  # a second Ctrl-C: stop waiting
    REGISTRY.interrupt()


def _own_env_vars(render: Any) -> Any:
    """KubernetesPodOperator.render_template_fields, rendering a copy of env_vars.

    dag.test() runs every attempt in this one process. cncf-kubernetes 10.14 (Composer's)
    turns env_vars into V1EnvVar objects once, in __init__, and renders them in place, so a
    retry would run with the first attempt's values (AIRFLOW_CTX_TRY_NUMBER=1); 10.25 keeps
    the templates. A worker runs each attempt in a fresh process, as this copy does."""

    def render_template_fields(self: Any, context: Any, jinja_env: Any = None) -> Any:
        self.env_vars = copy.deepcopy(self.env_vars)
        return render(self, context, jinja_env)

    return render_template_fields


@contextlib.contextmanager
def local_pods(settings: LocalSettings, start: Starter = start_pod) -> Iterator[Registry]:
    """Swap KubernetesPodOperator's execution for local pods; stop them all on exit."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    saved = (
        KubernetesPodOperator.execute,
        KubernetesPodOperator.on_kill,
        KubernetesPodOperator.render_template_fields,
    )
    in_main = threading.current_thread() is threading.main_thread()
    previous_sigint = signal.getsignal(signal.SIGINT) if in_main else None
    if previous_sigint is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)
    REGISTRY.settings, REGISTRY.interrupted, REGISTRY.pods = settings, False, {}
    REGISTRY.start = start
    KubernetesPodOperator.execute = _execute
    KubernetesPodOperator.on_kill = _on_kill
    KubernetesPodOperator.render_template_fields = _own_env_vars(saved[2])
    try:
        yield REGISTRY
    finally:
        (
            KubernetesPodOperator.execute,
            KubernetesPodOperator.on_kill,
            KubernetesPodOperator.render_template_fields,
        ) = saved
        if previous_sigint is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous_sigint)
        REGISTRY.kill_all()
        REGISTRY.settings = None
