"""The DAGs' pods pass Kubernetes' Pod Security Standard "restricted", control by control.

The controls are those of https://kubernetes.io/docs/concepts/security/pod-security-standards
(restricted = baseline + its own), checked on the manifests the real KubernetesPodOperator
renders, the way Pod Security Admission reads them. The checker is tested on pods that
break each control, so that a pass means something.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dag_helpers import load_dags, render

DATE = datetime(2026, 5, 4, tzinfo=UTC)
BASELINE_CAPS = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(kind) or []


def violations(pod: dict[str, Any]) -> list[str]:
    """Every control of the restricted profile (baseline included) this manifest breaks."""
    spec, found = pod["spec"], []
    psc = spec.get("securityContext") or {}
    contexts = [(c["name"], c.get("securityContext") or {}) for c in _containers(spec)]
    # ---- baseline
    if (psc.get("windowsOptions") or {}).get("hostProcess") or any(
        (sc.get("windowsOptions") or {}).get("hostProcess") for _, sc in contexts
    ):
        found.append("HostProcess")
    if any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")):
        found.append("Host Namespaces")
    if any(sc.get("privileged") for _, sc in contexts):
        found.append("Privileged Containers")
    for name, sc in contexts:
        if set((sc.get("capabilities") or {}).get("add") or []) - BASELINE_CAPS:
            found.append(f"Capabilities (baseline): {name}")
    if any("hostPath" in v for v in spec.get("volumes") or []):
        found.append("HostPath Volumes")
    if any(p.get("hostPort") for c in _containers(spec) for p in c.get("ports") or []):
        found.append("Host Ports")
    profiles = [psc.get("appArmorProfile")] + [sc.get("appArmorProfile") for _, sc in contexts]
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if any(p and p.get("type") not in ("RuntimeDefault", "Localhost") for p in profiles) or any(
        k.startswith(APPARMOR_PREFIX) and v != "runtime/default" and not v.startswith("localhost/")
        for k, v in annotations.items()
    ):
        found.append("AppArmor")
    for options in [psc.get("seLinuxOptions")] + [sc.get("seLinuxOptions") for _, sc in contexts]:
        if options and (
            options.get("type", "") not in SELINUX_TYPES
            or options.get("user")
            or options.get("role")
        ):
            found.append("SELinux")
    if any(sc.get("procMount", "Default") != "Default" for _, sc in contexts):
        found.append("/proc Mount Type")
    seccomps = [(psc.get("seccompProfile") or {}).get("type")]
    seccomps += [(sc.get("seccompProfile") or {}).get("type") for _, sc in contexts]
    if "Unconfined" in seccomps:
        found.append("Seccomp (baseline)")
    if any(s["name"] not in SAFE_SYSCTLS for s in psc.get("sysctls") or []):
        found.append("Sysctls")
    # ---- restricted
    for volume in spec.get("volumes") or []:
        if not set(volume) - {"name"} <= RESTRICTED_VOLUMES:
            found.append(f"Volume Types: {volume['name']}")
    for name, sc in contexts:
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"Privilege Escalation: {name}")
        if not (
            sc.get("runAsNonRoot") is True
            or (psc.get("runAsNonRoot") is True and sc.get("runAsNonRoot") is not False)
        ):
            found.append(f"Running as Non-root: {name}")
        if sc.get("runAsUser") == 0:
            found.append(f"Running as Non-root user: {name}")
        container_seccomp = (sc.get("seccompProfile") or {}).get("type")
        if (container_seccomp or seccomps[0]) not in ("RuntimeDefault", "Localhost"):
            found.append(f"Seccomp (restricted): {name}")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            found.append(f"Capabilities (restricted): {name} does not drop ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"Capabilities (restricted): {name} adds more than NET_BIND_SERVICE")
    if psc.get("runAsUser") == 0:
        found.append("Running as Non-root user: pod")
    return found


@pytest.fixture(scope="module")
def manifests(airflow_db: Path) -> list[dict[str, Any]]:
    """Every rendered pod of dags/, as the JSON manifest the Kubernetes API receives."""
    from kubernetes.client import ApiClient

    pods = [p for dag in load_dags().values() for p, _ in render(dag, DATE).values()]
    assert pods
    return [ApiClient().sanitize_for_serialization(pod) for pod in pods]


def test_pods_pass_the_restricted_pod_security_standard(manifests: list[dict[str, Any]]) -> None:
    for pod in manifests:
        assert violations(pod) == [], pod["metadata"]["name"]


def test_pods_run_as_a_numeric_non_root_user_on_a_read_only_root(
    manifests: list[dict[str, Any]],
) -> None:
    for pod in manifests:
        psc = pod["spec"]["securityContext"]
        [container] = pod["spec"]["containers"]
        sc = container["securityContext"]
        assert psc["runAsNonRoot"] is True
        assert isinstance(psc["runAsUser"], int)
        assert psc["runAsUser"] > 0
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["readOnlyRootFilesystem"] is True
        # The writable places are fresh emptyDirs: /tmp, and HOME (/home/kit in the image).
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        assert set(mounts) == {"/tmp", "/home/kit"}
        assert all(v == {"name": v["name"], "emptyDir": {}} for v in mounts.values())


def _broken(pod: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(pod)
    *parents, last = path.split(".")
    node = broken
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    node[last] = value
    return broken


@pytest.mark.parametrize(
    ("path", "value", "control"),
    [
        ("spec.securityContext.windowsOptions", {"hostProcess": True}, "HostProcess"),
        ("spec.hostNetwork", True, "Host Namespaces"),
        ("spec.hostPID", True, "Host Namespaces"),
        ("spec.containers.0.securityContext.privileged", True, "Privileged Containers"),
        ("spec.containers.0.securityContext.capabilities", {"add": ["SYS_ADMIN"]}, "Capabilities"),
        ("spec.volumes", [{"name": "h", "hostPath": {"path": "/"}}], "HostPath Volumes"),
        ("spec.containers.0.ports", [{"containerPort": 80, "hostPort": 80}], "Host Ports"),
        ("spec.securityContext.appArmorProfile", {"type": "Unconfined"}, "AppArmor"),
        ("spec.securityContext.seLinuxOptions", {"user": "root"}, "SELinux"),
        ("spec.containers.0.securityContext.procMount", "Unmasked", "/proc Mount Type"),
        ("spec.securityContext.seccompProfile", {"type": "Unconfined"}, "Seccomp"),
        ("spec.securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}], "Sysctls"),
        ("spec.volumes", [{"name": "n", "nfs": {"server": "s", "path": "/"}}], "Volume Types"),
        ("spec.containers.0.securityContext.allowPrivilegeEscalation", True, "Privilege Esc"),
        ("spec.securityContext.runAsNonRoot", False, "Running as Non-root"),
        ("spec.containers.0.securityContext.runAsUser", 0, "Running as Non-root user"),
        ("spec.securityContext.seccompProfile", None, "Seccomp (restricted)"),
        ("spec.containers.0.securityContext.capabilities", {"drop": []}, "does not drop ALL"),
    ],
)
def test_the_checker_catches_each_control(
    manifests: list[dict[str, Any]], path: str, value: Any, control: str
) -> None:
    found = violations(_broken(manifests[0], path, value))
    assert any(v.startswith(control) or control in v for v in found), found
