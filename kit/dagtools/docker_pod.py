"""A pod's container, as a Docker container of the runtime image (`kit dag test --pods docker`).

The model is kfp.local's DockerRunner: each task's container runs in the local Docker
engine, with what the pod spec says rather than what is convenient. Here the spec is the
V1Pod that KubernetesPodOperator built (build_pod_request_obj), translated flag by flag:

  command / args / env         --entrypoint and arguments / -e (downward API answered locally)
  securityContext              --user uid:gid, --group-add fsGroup, --read-only, --cap-drop,
                               --cap-add, --security-opt no-new-privileges, seccomp
  resources.limits             --memory (= --memory-swap: no swap, as on a node), --cpus
  resources.requests.cpu       --cpu-shares, as the kubelet sets cpu.shares
  emptyDir volumes             a fresh mode-0777 directory bind-mounted at the mount path
                               (an emptyDir is an empty world-writable directory; docker's
                               --tmpfs copies the image directory's mode instead)
  terminationGracePeriod       `docker stop --time`: SIGTERM, then SIGKILL after the grace

plus --network host, so that the container reaches the embedded GCS on 127.0.0.1. The
container's image is the locally built one (`make image`), not the registry image the pod
names. Talks to Docker through its CLI; only the standard library (the pod is a dict: the
manifest the Kubernetes API would receive, so tests in the notebook environment can use the
same translation).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from kit.dagtools.process import (
    GRACE_SECONDS,
    LocalPod,
    LocalPodError,
    LocalSettings,
    developer_vars,
    downward_api,
)

DEFAULT_IMAGE = "kit-runtime:local"
# Host paths mean nothing inside a container: these developer settings stay outside.
HOST_ONLY = {"GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG"}
SUFFIXES: dict[str, Decimal] = {
    **{s: Decimal(1024) ** n for n, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), 1)},
    **{s: Decimal(1000) ** n for n, s in enumerate(("k", "M", "G", "T", "P", "E"), 1)},
    **{s: Decimal(1000) ** -n for n, s in enumerate(("m", "u", "n"), 1)},
}
QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def quantity(text: str | int | float) -> Decimal:
    """A Kubernetes resource quantity ("4Gi", "500m", "1.5", "2e9") as a number."""
    match = QUANTITY.match(str(text).strip())
    if not match or (match.group(2) and match.group(2) not in SUFFIXES):
        raise LocalPodError(f"not a Kubernetes quantity: {text!r}")
    return Decimal(match.group(1)) * SUFFIXES.get(match.group(2), Decimal(1))


def container_env(pod: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """The container's variables, plus the developer's emulator and KIT_* settings."""
    meta, spec = pod["metadata"], pod["spec"]
    env: dict[str, str] = {}
    for var in spec["containers"][0].get("env") or []:
        if var.get("value") is not None:
            env[var["name"]] = str(var["value"])
        elif ref := (var.get("valueFrom") or {}).get("fieldRef"):
            account = spec.get("serviceAccountName") or ""
            path = ref["fieldPath"]
            env[var["name"]] = downward_api(meta["name"], meta.get("namespace"), account, path)
        else:
            raise LocalPodError(f"env {var['name']}: only values and fieldRefs run locally")
    env.update({k: v for k, v in developer_vars(environ).items() if k not in HOST_ONLY})
    return env


def _security_flags(pod: Mapping[str, Any]) -> list[str]:
    spec = pod["spec"]
    pod_ctx = spec.get("securityContext") or {}
    ctx = {**pod_ctx, **(spec["containers"][0].get("securityContext") or {})}
    flags: list[str] = []
    if ctx.get("runAsNonRoot") and ctx.get("runAsUser") == 0:
        # What the kubelet refuses to start (CreateContainerConfigError).
        raise LocalPodError("runAsNonRoot is set but runAsUser is 0: the pod would not start")
    if (uid := ctx.get("runAsUser")) is not None:
        gid = ctx.get("runAsGroup")
        flags += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
    for group in [pod_ctx.get("fsGroup"), *(pod_ctx.get("supplementalGroups") or [])]:
        if group is not None:
            flags += ["--group-add", str(group)]
    if ctx.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    caps = ctx.get("capabilities") or {}
    flags += [f"--cap-drop={c}" for c in caps.get("drop") or []]
    flags += [f"--cap-add={c}" for c in caps.get("add") or []]
    if ctx.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    if ctx.get("privileged"):
        flags.append("--privileged")
    seccomp = (ctx.get("seccompProfile") or {}).get("type")
    if seccomp == "Unconfined":
        flags += ["--security-opt", "seccomp=unconfined"]
    elif seccomp not in (None, "RuntimeDefault"):  # RuntimeDefault is Docker's default profile
        raise LocalPodError(f"seccompProfile {seccomp} does not run locally")
    return flags


def _resource_flags(container: Mapping[str, Any]) -> list[str]:
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    flags: list[str] = []
    if "memory" in limits:
        memory = str(int(quantity(limits["memory"])))
        flags += ["--memory", memory, "--memory-swap", memory]
    if "cpu" in limits:
        flags += ["--cpus", f"{quantity(limits['cpu']):f}"]
    if "cpu" in requests:
        flags += ["--cpu-shares", str(max(2, int(quantity(requests["cpu"]) * 1024)))]
    return flags


def _volume_flags(pod: Mapping[str, Any], volumes_dir: Path) -> list[str]:
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    flags: list[str] = []
    for mount in pod["spec"]["containers"][0].get("volumeMounts") or []:
        volume = volumes.get(mount["name"], {})
        if "emptyDir" not in volume:
            raise LocalPodError(f"volume {mount['name']}: only emptyDir volumes run locally")
        suffix = ":ro" if mount.get("readOnly") else ""
        empty_dir = volume["emptyDir"] or {}
        if empty_dir.get("medium") == "Memory":
            size = (
                f",size={int(quantity(empty_dir['sizeLimit']))}" if "sizeLimit" in empty_dir else ""
            )
            flags += ["--tmpfs", f"{mount['mountPath']}:exec,mode=0777{size}"]
            continue
        host = volumes_dir / mount["name"]
        host.mkdir(parents=True, exist_ok=True)
        host.chmod(0o777)  # what the kubelet creates: empty and writable by any uid
        flags += ["-v", f"{host.resolve()}:{mount['mountPath']}{suffix}"]
    return flags


def container_name(pod: Mapping[str, Any]) -> str:
    """The Docker container's name: the pod's, prefixed, in Docker's alphabet."""
    return "kit-pod-" + re.sub(r"[^A-Za-z0-9_.-]", "-", pod["metadata"]["name"])


def docker_run_argv(
    pod: Mapping[str, Any],
    image: str,
    environ: Mapping[str, str],
    volumes_dir: Path,
    docker: str = "docker",
) -> list[str]:
    """`docker run ...` for the pod's first container, as the kubelet would run it."""
    container = pod["spec"]["containers"][0]
    command, args = container.get("command") or [], container.get("args") or []
    argv = [docker, "run", "--name", container_name(pod), "--network", "host"]
    argv += ["--label", f"kit.pod={pod['metadata']['name']}", "--sig-proxy=false"]
    if (grace := pod["spec"].get("terminationGracePeriodSeconds")) is not None:
        argv += ["--stop-timeout", str(grace)]
    argv += _security_flags(pod) + _resource_flags(container)
    argv += _volume_flags(pod, volumes_dir)
    if container.get("workingDir"):
        argv += ["--workdir", container["workingDir"]]
    for key, value in container_env(pod, environ).items():
        argv += ["-e", f"{key}={value}"]
    if command:
        argv += ["--entrypoint", command[0]]
    return [*argv, image, *command[1:], *args]


def check_image(image: str, docker: str = "docker") -> str:
    """The image's USER; LocalPodError if the image is not here (nothing can be pulled)."""
    done = subprocess.run(
        [docker, "image", "inspect", "--format", "{{.Config.User}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise LocalPodError(f"no local image {image}: build it with `make image`")
    return done.stdout.strip()


def check_non_root(pod: Mapping[str, Any], image_user: str) -> None:
    """The kubelet's runAsNonRoot check when the pod names no runAsUser: the image's USER
    must be a numeric uid other than 0."""
    spec = pod["spec"]
    ctx = {
        **(spec.get("securityContext") or {}),
        **(spec["containers"][0].get("securityContext") or {}),
    }
    if not ctx.get("runAsNonRoot") or ctx.get("runAsUser") is not None:
        return
    uid = image_user.split(":")[0]
    if not uid.isdigit():
        raise LocalPodError(f"image has non-numeric user ({uid or 'root'}), cannot verify non-root")
    if int(uid) == 0:
        raise LocalPodError("runAsNonRoot is set but the image runs as root")


@dataclass
class DockerPod(LocalPod):
    """A pod running as a Docker container; LocalPod's process is its `docker run`."""

    container: str = ""
    pod_args: list[str] = field(default_factory=list)  # the container's command + args
    docker: str = "docker"
    grace: float = GRACE_SECONDS
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def notebook(self) -> str:
        """The notebook name of `kit run NAME@VERSION ...`."""
        args = self.pod_args
        return args[args.index("run") + 1].split("@")[0] if "run" in args[:-1] else ""

    @property
    def oom_killed(self) -> bool:
        """Docker's final state says the OOM killer struck in the container."""
        return bool(self.state.get("OOMKilled"))

    @property
    def exit_code(self) -> int | None:
        """The container's exit code from Docker's final state (once reaped)."""
        code = self.state.get("ExitCode")
        return code if isinstance(code, int) and self.state else super().exit_code

    def terminate(self) -> None:
        """`docker stop`: SIGTERM, then SIGKILL after the grace period, as deleting the pod."""
        if self.proc.poll() is None:
            if not self.timed_out:  # past its deadline a pod is stopped, not deleted
                self.deleted_at = self.deleted_at or datetime.now(UTC)
            subprocess.Popen(
                [self.docker, "stop", "--time", str(int(self.grace)), self.container],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def kill(self) -> None:
        """Stop the container; `docker kill` it if it outlives the grace period."""
        self.terminate()
        try:
            self.proc.wait(timeout=self.grace + 10)
        except subprocess.TimeoutExpired:
            subprocess.run([self.docker, "kill", self.container], capture_output=True, check=False)
            self.proc.wait()
        self.reap()

    def wait(self, log: Any) -> int:
        code = super().wait(log)
        self.reap()
        return code

    def reap(self) -> None:
        """Keep the container's final state (OOMKilled, exit code), then remove it."""
        if not self.state:
            done = subprocess.run(
                [self.docker, "inspect", "--format", "{{json .State}}", self.container],
                capture_output=True,
                text=True,
                check=False,
            )
            with contextlib.suppress(ValueError):
                self.state = json.loads(done.stdout) if done.returncode == 0 else {}
        subprocess.run([self.docker, "rm", "-f", self.container], capture_output=True, check=False)


def start_pod(pod: Any, settings: LocalSettings, image: str = DEFAULT_IMAGE) -> DockerPod:
    """Start the container for a built pod request (V1Pod) in the background."""
    from kubernetes.client import ApiClient

    manifest: dict[str, Any] = ApiClient().sanitize_for_serialization(pod)
    name = manifest["metadata"]["name"]
    workdir = settings.work_dir / name
    workdir.mkdir(parents=True, exist_ok=True)
    # What ran, for a developer to read or re-run by hand.
    (workdir / "pod.json").write_text(json.dumps(manifest, indent=2) + "\n")
    check_non_root(manifest, check_image(image))
    argv = docker_run_argv(manifest, image, settings.environ, workdir / "volumes")
    subprocess.run(["docker", "rm", "-f", container_name(manifest)], capture_output=True)
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches the runner, which stops the container itself
    )
    deadline = manifest["spec"].get("activeDeadlineSeconds")
    grace = manifest["spec"].get("terminationGracePeriodSeconds")
    container = manifest["spec"]["containers"][0]
    running = DockerPod(
        name=name,
        request=pod,
        argv=argv,
        env=container_env(manifest, settings.environ),
        log_path=workdir / "container.log",
        deadline=None if deadline is None else time.monotonic() + deadline,
        proc=proc,
        container=container_name(manifest),
        pod_args=[*(container.get("command") or []), *(container.get("args") or [])],
        grace=GRACE_SECONDS if grace is None else float(grace),
    )
    running.start_pump()
    return running
