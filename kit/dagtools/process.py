"""A pod's container, as a local process in the notebook environment.

The command's `kit` resolves to the notebook environment's console script (the image's
init, `tini --`, is dropped). The process gets the pod's rendered
environment plus the developer's emulator and KIT_* variables, its own process group
(stopping it stops its kernel too) and its own working directory with container.log.
Only the standard library: Airflow objects (V1Pod) are only read.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from kit.storage.emulator import EMULATOR_VAR, GCSFS_EMULATOR_VARS, emulator_env

# The image's ENV (image/Dockerfile), which the process would otherwise not have.
IMAGE_ENV = {"PYTHONUNBUFFERED": "1"}
# What a process needs from the developer's environment to run at all.
SYSTEM_VARS = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "TZ",
    "TERM",
)
# Local services and credentials: the emulator, gcloud's ADC.
PASSTHROUGH = (
    EMULATOR_VAR,
    *GCSFS_EMULATOR_VARS,
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "CLOUDSDK_CONFIG",
)
POD_ONLY = {"KIT_POD_NAME"}
# How long a stopped process may take to record its end (kit run writes run.json).
GRACE_SECONDS = 40


class LocalPodError(RuntimeError):
    """The pod cannot be stood in for locally (e.g. its command does not run kit)."""


@dataclass(frozen=True)
class LocalSettings:
    """Where the stand-in processes come from and where their logs go."""

    notebook_bin: Path  # bin/ of the notebook environment, holding the `kit` script
    work_dir: Path  # one working directory (and log) per pod under here
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass
class LocalPod:
    """One running (or finished) stand-in process."""

    name: str
    request: Any  # the V1Pod it stands in for
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    deadline: float | None
    proc: subprocess.Popen[bytes]
    lines: queue.SimpleQueue[str] = field(default_factory=queue.SimpleQueue)
    started: float = field(default_factory=time.monotonic)
    timed_out: bool = False
    pump: threading.Thread | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    deleted_at: datetime | None = None  # when the run stopped it, as deleting the pod would

    @property
    def exit_code(self) -> int | None:
        """The container's exit code as Kubernetes reports it (a signal S is 128 + S, as
        the image's init, tini, exits); None while it runs."""
        code = self.proc.poll()
        return None if code is None else (128 - code if code < 0 else code)

    @property
    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer ended it (known for containers only)."""
        return False

    @property
    def run_id(self) -> str:
        """The --run-id argument given to kit run."""
        return self.argv[self.argv.index("--run-id") + 1] if "--run-id" in self.argv else ""

    @property
    def notebook(self) -> str:
        """The notebook name of `kit run NAME@VERSION ...`."""
        ref = self.argv[self.argv.index("run") + 1] if "run" in self.argv[1:2] else ""
        return ref.split("@")[0]

    def terminate(self) -> None:
        """SIGTERM the process group (kit run and its kernel), as deleting the pod would."""
        if self.proc.poll() is None:
            if not self.timed_out:  # past its deadline a pod is stopped, not deleted
                self.deleted_at = self.deleted_at or datetime.now(UTC)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def kill(self) -> None:
        """Stop the process and its children; SIGKILL them if they outlive the grace time."""
        self.terminate()
        try:
            self.proc.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def wait(self, log: Any) -> int:
        """Stream the output into the task log until the process exits; its exit code."""
        while True:
            self._drain(log)
            if (
                self.deadline is not None
                and time.monotonic() > self.deadline
                and self.proc.poll() is None
            ):
                log.error("Pod %s exceeded its activeDeadlineSeconds; killing it", self.name)
                self.timed_out = True
                self.kill()
            try:
                code = self.proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                continue
        self.ended_at = self.ended_at or datetime.now(UTC)
        # A container ends with its init: what the runner left behind (a kernel whose
        # runner was SIGKILLed) goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.pump is not None:
            self.pump.join(timeout=5)
        self._drain(log)
        return code

    def _drain(self, log: Any) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                log.info("[%s] %s", self.name, self.lines.get_nowait())

    def _read(self, stream: IO[bytes]) -> None:
        with stream, self.log_path.open("ab") as out:
            for raw in stream:
                out.write(raw)
                out.flush()
                self.lines.put(raw.decode(errors="replace").rstrip("\n"))

    def start_pump(self) -> None:
        """Copy the process's output to its log file and to the task log, line by line."""
        assert self.proc.stdout is not None
        self.pump = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self.pump.start()


def local_argv(container: Any, notebook_bin: Path) -> list[str]:
    """The container's command + args with `kit` from the notebook environment."""
    command = [*(container.command or []), *(container.args or [])]
    if "kit" not in command:
        raise LocalPodError(
            f"the pod's command {command!r} does not run kit; only `kit ...` pods run locally"
        )
    # Everything before `kit` is the image's init (tini --).
    return [str(notebook_bin / "kit"), *command[command.index("kit") + 1 :]]


def downward_api(name: str, namespace: str, service_account: str, path: str) -> str:
    """A downward API fieldRef, answered for a pod that runs on this machine."""
    values = {
        "metadata.name": name,
        "metadata.namespace": namespace,
        "spec.serviceAccountName": service_account,
        "spec.nodeName": "localhost",
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    return str(values.get(path) or "")


def developer_vars(environ: Mapping[str, str]) -> dict[str, str]:
    """What a locally run pod gets from the developer: the emulator and KIT_* settings."""
    return emulator_env(
        {
            key: value
            for key, value in environ.items()
            if (key in PASSTHROUGH or key.startswith("KIT_")) and key not in POD_ONLY
        }
    )


def local_env(pod: Any, container: Any, environ: Mapping[str, str]) -> dict[str, str]:
    """The pod's environment, plus what the local process needs to reach local services."""
    env = {k: environ[k] for k in SYSTEM_VARS if k in environ}
    env.update(IMAGE_ENV)
    meta = pod.metadata
    for var in container.env or []:
        if var.value is not None:
            env[var.name] = var.value
        elif var.value_from is not None and var.value_from.field_ref is not None:
            path = var.value_from.field_ref.field_path
            account = pod.spec.service_account_name
            env[var.name] = downward_api(meta.name, meta.namespace, account, path)
    env.update(developer_vars(environ))
    env["HOSTNAME"] = meta.name
    return env


def start_pod(pod: Any, settings: LocalSettings) -> LocalPod:
    """Start the stand-in process for a built pod request (V1Pod)."""
    container = pod.spec.containers[0]
    argv = local_argv(container, settings.notebook_bin)
    if not Path(argv[0]).exists():
        raise LocalPodError(f"{argv[0]} not found: build the notebook environment (make env)")
    workdir = settings.work_dir / pod.metadata.name
    workdir.mkdir(parents=True, exist_ok=True)
    deadline = pod.spec.active_deadline_seconds
    env = local_env(pod, container, settings.environ)
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # Its own process group, so that stopping it also stops the kernel it starts.
        start_new_session=True,
    )
    local = LocalPod(
        name=pod.metadata.name,
        request=pod,
        argv=argv,
        env=env,
        log_path=workdir / "container.log",
        deadline=time.monotonic() + deadline if deadline else None,
        proc=proc,
    )
    local.start_pump()
    return local
