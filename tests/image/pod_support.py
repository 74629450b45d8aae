"""Run the image as a pod runs it: `docker run` flags from a rendered pod manifest.

The translation is kit.dagtools.docker_pod's, the one `kit dag test --pods docker` uses;
the manifests come from that command's own run of the production DAG (pod.json in each
pod's folder). Imported by name (pytest puts tests/image on sys.path).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from kit.config import Settings
from kit.dagtools.docker_pod import container_name, docker_run_argv
from kit.storage import storage_for

SIGTERM_BIT = 1 << (15 - 1)  # in /proc/PID/status signal masks

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / ".venv" / "bin" / "kit"
DATE = "2026-05-04"
SUMMARY = re.compile(r"^  (\S+?)(?:\[(\d+)\])? try (\d+): exit (\d+) run (\S+) -> (\S+)$", re.M)
# What a read-only root would make the kernel, IPython or matplotlib print.
WRITE_WARNINGS = re.compile(
    r"Read-only file system|not a writable|MPLCONFIGDIR|Permission denied|temporary cache",
    re.IGNORECASE,
)


def dag_test(dag_id: str, image: str) -> list[str]:
    """`kit dag test DAG_ID --pods docker` with the image under test."""
    return [str(KIT), "dag", "test", dag_id, "--date", DATE, "--pods", "docker", "--image", image]


@dataclass(frozen=True)
class Exited:
    """How a container ended: its exit code, its output and Docker's final state."""

    code: int
    log: str
    state: dict[str, Any]


def variant(
    manifest: Mapping[str, Any],
    case: str,
    args: list[str] | None = None,
    memory: str | None = None,
    user: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The rendered pod with its own name and, where a case says so, other args, memory
    limit or user; everything else (command, env, securityContext, volumes) unchanged."""
    pod = copy.deepcopy(dict(manifest))
    pod["metadata"]["name"] = f"{pod['metadata']['name']}-{case}"[:63]
    container = pod["spec"]["containers"][0]
    if args is not None:
        container["args"] = args
    if memory is not None:
        container["resources"]["limits"]["memory"] = memory
        container["resources"]["requests"]["memory"] = memory
    if user is not None:
        pod["spec"]["securityContext"].update(
            runAsUser=user[0], runAsGroup=user[1], fsGroup=user[1]
        )
    return pod


class Container:
    """One pod's container, started in the background from its manifest."""

    def __init__(
        self, pod: Mapping[str, Any], image: str, environ: Mapping[str, str], work: Path
    ) -> None:
        self.name = container_name(pod)
        self.volumes = work / pod["metadata"]["name"] / "volumes"
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True, check=False)
        self.argv = docker_run_argv(pod, image, environ, self.volumes)
        self.started = time.monotonic()
        self.pid: int | None = None  # tini's, on this host
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def inspect(self) -> dict[str, Any]:
        done = subprocess.run(
            ["docker", "inspect", "--format", "{{json .State}}", self.name],
            capture_output=True,
            text=True,
            check=False,
        )
        return dict(json.loads(done.stdout)) if done.returncode == 0 else {}

    def wait_running(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.inspect().get("Pid"):
            assert time.monotonic() < deadline, f"{self.name} did not start"
            assert self.proc.poll() is None, f"{self.name} ended before it ran"
            time.sleep(0.01)

    def kit_sigterm(self) -> str:
        """How `kit run` (tini's child) treats SIGTERM now, from /proc: "blocked" (held from
        its first line, before any I/O), "caught" (the runner's handler), or "default"."""
        self.pid = self.pid or self.inspect().get("Pid")
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            kit = children.read_text().split()[0]
            status = Path(f"/proc/{kit}/status").read_text()
        except (OSError, IndexError):
            return "default"
        masks = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if int(masks.get("SigBlk", "0"), 16) & SIGTERM_BIT:
            return "blocked"
        return "caught" if int(masks.get("SigCgt", "0"), 16) & SIGTERM_BIT else "default"

    def stop(self, grace: float) -> None:
        """What deleting the pod does: SIGTERM, then SIGKILL after the grace period."""
        subprocess.run(["docker", "stop", "--time", str(int(grace)), self.name], check=True)

    def wait(self, timeout: float = 600) -> Exited:
        """Wait for the end; the container is removed once its state is read."""
        log, _ = self.proc.communicate(timeout=timeout)
        state = self.inspect()
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True, check=False)
        return Exited(self.proc.returncode, log, state)


def write_notebook(path: Path, *sources: str, params: str = "seconds = 1") -> Path:
    cells = [new_code_cell(params, metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(s) for s in sources]
    nb = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, path)
    return path


SLEEPY = (
    "print('first cell ran', flush=True)",
    "import time\nprint('sleeping', flush=True)\ntime.sleep(float(seconds))",
)
# Output the runner keeps (papermill holds every output and saves the notebook) while the
# kernel holds little: at a memory limit the OOM killer takes the runner, not the kernel.
CHATTY = (
    "print('warming up', flush=True)",
    "import time\nfor i in range(5000):\n    print('x' * 100_000)\n    time.sleep(0.002)",
)
HOG = ("chunks = []\nfor _ in range(48):\n    chunks.append(b'\\x01' * (64 * 1024**2))",)
WHOAMI = (
    "import json, os, pathlib, tempfile\n"
    "import matplotlib, matplotlib.pyplot as plt\n"
    "from IPython.paths import get_ipython_dir\n"
    "from jupyter_core.paths import jupyter_runtime_dir\n"
    "plt.plot([1, 2, 3])\nplt.show()\n"
    "home = pathlib.Path.home()\n(home / 'note.txt').write_text('written')\n"
    "print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'home': str(home),\n"
    "    'tmp': tempfile.gettempdir(), 'mplconfig': matplotlib.get_configdir(),\n"
    "    'mplcache': matplotlib.get_cachedir(), 'ipython': get_ipython_dir(),\n"
    "    'runtime': jupyter_runtime_dir()}))",
)


Start = Callable[..., Container]


def run_id_of(container: Container) -> str:
    return container.argv[container.argv.index("--run-id") + 1]


def read_run_file(settings: Settings, name: str, run_id: str, file: str) -> bytes | None:
    url = settings.url("outputs_bucket", "runs", name, run_id, file)
    store = storage_for(url)
    return store.read(url) if store.exists(url) else None


def run_record(settings: Settings, name: str, container: Container) -> dict[str, Any]:
    data = read_run_file(settings, name, run_id_of(container), "run.json")
    assert data is not None, f"no run.json for {run_id_of(container)}"
    return dict(json.loads(data))


def run_output(settings: Settings, name: str, container: Container) -> dict[str, Any]:
    data = read_run_file(settings, name, run_id_of(container), "output.ipynb")
    assert data is not None, f"no output.ipynb for {run_id_of(container)}"
    return dict(json.loads(data))


def stream_texts(nb: dict[str, Any]) -> str:
    return "".join(
        "".join(o.get("text", ""))
        for cell in nb["cells"]
        for o in cell.get("outputs", [])
        if o["output_type"] == "stream"
    )


def grace_period(pod: dict[str, Any]) -> int:
    return int(pod["spec"]["terminationGracePeriodSeconds"])


def running_cell(nb: dict[str, Any], text: str) -> bool:
    return any(
        text in "".join(cell["source"]) and cell["metadata"].get("papermill", {}).get("start_time")
        for cell in nb["cells"]
    )


def maybe_output(settings: Settings, container: Container) -> dict[str, Any]:
    data = read_run_file(settings, "sleepy", run_id_of(container), "output.ipynb")
    return json.loads(data) if data else {"cells": []}
