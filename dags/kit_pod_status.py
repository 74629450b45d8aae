"""Why a kit pod ended, in words a data scientist understands, from the pod Kubernetes reports.

The finisher (kit_finisher.py) reads the pod's last status (a kubernetes.client V1Pod, or
None once the pod is gone) and asks `pod_end` what happened to the notebook's container:

    OOMKilled                       pod OOMKilled at the 4Gi memory limit
    Evicted (kubelet, node pressure) evicted: node memory pressure (it used 3900Mi, request 2Gi)
    DisruptionTarget conditions     node lost: gke-...-pool-1-x (PodGC: node no longer exists)
    ErrImagePull, ImagePullBackOff  image not pulled: ErrImagePull: rpc error: ...
    PodScheduled False              no node for 15m (Unschedulable: 0/3 nodes are available: ...)
    DeadlineExceeded                deadline exceeded: ... activeDeadlineSeconds (3900 s)
    a terminated container          container exited 137 (SIGKILL)

The pod is only read (duck-typed: the kubernetes client's model attributes), so this module
needs nothing but the standard library.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

BASE_CONTAINER = "base"  # KubernetesPodOperator's name for the pod's main container
IMAGE_PULL = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
# DisruptionTarget condition reasons (Kubernetes >= 1.26) and what they mean for a notebook.
DISRUPTIONS = {
    "DeletionByPodGC": "node lost",  # its node no longer exists
    "DeletionByTaintManager": "node lost",  # its node became unreachable (NoExecute taint)
    "PreemptionByScheduler": "preempted by a higher-priority pod",
    "EvictionByEvictionAPI": "evicted (node drain or scale-down)",
    "TerminationByKubelet": "stopped by the node",  # node-pressure eviction or node shutdown
}
# What the kubelet's eviction message names (pkg/kubelet/eviction: "The node was low on
# resource: memory. ...") as a data scientist would say it.
PRESSURE = {
    "memory": "node memory pressure",
    "ephemeral-storage": "node disk pressure",
    "nodefs": "node disk pressure",
    "imagefs": "node disk pressure",
    "pids": "node PID pressure",
}
LOW_ON = re.compile(r"low on resource: ([\w-]+)")
USING = re.compile(r"Container \S+ was using ([^\s,]+), request is ([^\s,]+)")
MESSAGE_WIDTH = 300


@dataclass(frozen=True)
class PodEnd:
    """How the notebook's container ended (or that it has not)."""

    reason: str  # for the run record: what a data scientist reads
    kubernetes_reason: str | None  # Kubernetes' own word: OOMKilled, Evicted, ...
    exit_code: int | None = None
    node: str | None = None
    running: bool = False  # the container still runs: kit run may yet record its own end
    finished: datetime | None = None  # when the container terminated, if it did


def duration(seconds: float) -> str:
    """15m, 1h5m, 2m30s, 45s."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    parts.append(f"{secs}s" if secs or not (hours or minutes) else "")
    return "".join(parts)


def _short(text: str | None) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= MESSAGE_WIDTH else line[: MESSAGE_WIDTH - 1] + "…"


def _container(pod: Any, name: str) -> tuple[Any, Any]:
    """(the container's spec, its status) in the pod; either may be None."""
    spec = (
        next((c for c in (pod.spec.containers or []) if c.name == name), None) if pod.spec else None
    )
    statuses = (pod.status.container_statuses or []) if pod.status else []
    return spec, next((s for s in statuses if s.name == name), None)


def limits(pod: Any, name: str = BASE_CONTAINER) -> dict[str, str]:
    """The container's resource limits as Kubernetes quantities ({"memory": "4Gi", ...})."""
    spec, _ = _container(pod, name)
    found = getattr(getattr(spec, "resources", None), "limits", None) or {}
    return {str(k): str(v) for k, v in found.items()}


def _signal(code: int) -> str:
    if code > 128:
        try:
            return f" ({signal.Signals(code - 128).name})"
        except ValueError:
            return ""
    return ""


def _condition(pod: Any, kind: str) -> Any:
    conditions = (pod.status.conditions or []) if pod.status else []
    return next((c for c in conditions if c.type == kind), None)


def _evicted(message: str | None) -> str:
    low = LOW_ON.search(message or "")
    cause = PRESSURE.get(low.group(1), f"node low on {low.group(1)}") if low else _short(message)
    using = USING.search(message or "")
    detail = f" (it used {using.group(1)}, request {using.group(2)})" if using else ""
    return f"evicted: {cause or 'by the kubelet'}{detail}"


def _terminated(pod: Any, state: Any, name: str) -> tuple[str, str | None]:
    code, why = state.exit_code, state.reason
    if why == "OOMKilled":
        limit = limits(pod, name).get("memory")
        at = f"at the {limit} memory limit" if limit else "(no memory limit: the node ran out)"
        return f"pod OOMKilled {at}", why
    if why in ("ContainerCannotRun", "StartError"):
        return f"container could not start: {why}: {_short(state.message)}", why
    text = f"container exited {code}{_signal(code)}"
    if pod.metadata is not None and pod.metadata.deletion_timestamp is not None:
        grace = pod.spec.termination_grace_period_seconds if pod.spec else None
        after = f" after the {grace} s grace period" if grace is not None and code == 137 else ""
        text = f"pod deleted; {text}{after}"
    elif code == 0:
        text += " without writing run.json"
    return text, why or "Error"


def _waiting(state: Any, waited: str) -> tuple[str, str]:
    why, message = state.reason or "Waiting", _short(state.message)
    detail = f"{why}: {message}" if message else why
    if why in IMAGE_PULL:
        return f"image not pulled: {detail}", why
    return f"container not started{waited} ({detail})", why


def pod_end(pod: Any, *, container: str = BASE_CONTAINER, now: datetime | None = None) -> PodEnd:
    """What ended the pod (V1Pod), for its run record; `running` when nothing has yet."""
    now = now or datetime.now(UTC)
    status = pod.status
    node = pod.spec.node_name if pod.spec else None
    phase, pod_reason = (status.phase, status.reason) if status else (None, None)
    message = status.message if status else None
    _, container_status = _container(pod, container)
    state = container_status.state if container_status else None
    terminated = state.terminated if state else None
    exit_code = terminated.exit_code if terminated else None

    finished = terminated.finished_at if terminated else None

    def end(reason: str, kubernetes_reason: str | None, running: bool = False) -> PodEnd:
        return PodEnd(reason, kubernetes_reason, exit_code, node, running, finished)

    # What the pod as a whole went through outranks how its container happened to exit.
    if pod_reason == "DeadlineExceeded":
        deadline = pod.spec.active_deadline_seconds if pod.spec else None
        limit = f" activeDeadlineSeconds ({deadline} s)" if deadline else " activeDeadlineSeconds"
        return end(f"deadline exceeded: the pod ran longer than its{limit}", pod_reason)
    if pod_reason == "Evicted":
        return end(_evicted(message), pod_reason)
    disruption = _condition(pod, "DisruptionTarget")
    if disruption is not None and disruption.status == "True":
        what = DISRUPTIONS.get(disruption.reason, f"disrupted ({disruption.reason})")
        where = f": {node}" if what == "node lost" and node else ""
        return end(f"{what}{where} ({_short(disruption.message)})", disruption.reason)
    if pod_reason in ("NodeLost", "Terminated", "Shutdown", "NodeShutdown") or phase == "Unknown":
        what = "node lost" if pod_reason == "NodeLost" or phase == "Unknown" else "node shut down"
        detail = _short(message) or "the node stopped reporting the pod's state"
        return end(f"{what}: {node or 'its node'} ({detail})", pod_reason or "Unknown")
    if terminated is not None:
        return end(*_terminated(pod, terminated, container))
    if state is not None and state.running is not None:
        return end(f"container still running on {node or 'its node'}", None, running=True)
    created = pod.metadata.creation_timestamp if pod.metadata else None
    waited = f" after {duration((now - created).total_seconds())}" if created else ""
    if state is not None and state.waiting is not None:
        return end(*_waiting(state.waiting, waited))
    scheduled = _condition(pod, "PodScheduled")
    if scheduled is not None and scheduled.status == "False":
        since = f" for {duration((now - created).total_seconds())}" if created else ""
        detail = f"{scheduled.reason or 'Unschedulable'}: {_short(scheduled.message)}"
        return end(f"no node{since} ({detail})", scheduled.reason or "Unschedulable")
    return end(f"pod not started{waited} ({phase or 'Pending'})", phase or "Pending")
