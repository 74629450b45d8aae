"""8. The runtime image: its size, each layer, and a pod's run against `kit run` outside.

The image is built by scripts/image.py (`make image`: image/Dockerfile on the local
stand-in base; cached layers are reused). Size: Docker's uncompressed size, and the bytes
of `docker save | gzip -c`, close to what a node pulls on every scale-up from zero. Time:
the two-cell notebook of measurement 1, published to the bench's GCS, run (a) as a pod runs
it, `docker run` with the DAG pod's flags (kit.dagtools.docker_pod: user, limits,
read-only root, emptyDirs, no capabilities) to the container's end, and (b) as `kit run`
outside a container, alternating.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.core import (
    KIT,
    ROOT,
    WORK,
    BenchError,
    Figure,
    Section,
    Target,
    alternate,
    samples_table,
    shown,
    stats,
)
from bench.core import run as run_cmd
from bench.m1_overhead import tiny_notebook
from bench.stage import Stage
from kit.dagtools.docker_pod import docker_run_argv

TITLE = "Runtime image: size and start-up"
IMAGE = "kit-runtime:local"
NAME = "bench-tiny-image"
MB = 1_000_000
BUILD_TIMEOUT = 1800.0
# The pod the DAG renders (dags/kit_dag_factory.py, notebooks.yaml's default resources),
# as far as `docker run` sees it; tests/dags checks the real one, tests/image runs it.
POD: dict[str, Any] = {
    "metadata": {"name": "bench-pod"},
    "spec": {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 60,
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "home", "emptyDir": {}}],
        "containers": [
            {
                "name": "base",
                "command": ["/opt/conda/bin/tini", "--", "kit", "run"],
                "resources": {
                    "requests": {"cpu": "1", "memory": "2Gi"},
                    "limits": {"cpu": "2", "memory": "4Gi"},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                    "readOnlyRootFilesystem": True,
                },
                "volumeMounts": [
                    {"name": "tmp", "mountPath": "/tmp"},
                    {"name": "home", "mountPath": "/home/kit"},
                ],
            }
        ],
    },
}


def build(section: Section, env: dict[str, str]) -> float:
    """`make image`'s build; seconds (with whatever layers were cached)."""
    argv = [sys.executable, str(ROOT / "scripts" / "image.py"), "build", "--tag", IMAGE, "--quiet"]
    started = time.perf_counter()
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
    )
    if done.returncode != 0:  # 3: no Docker engine here; its last line says why
        raise BenchError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "build")
    section.commands.append(shown(argv))
    return time.perf_counter() - started


def layers() -> list[tuple[int, str]]:
    """(bytes, instruction) of every layer that holds files, base first."""
    done = subprocess.run(
        ["docker", "history", "--no-trunc", "--human=false", "--format", "{{json .}}", IMAGE],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    found = [(int(r["Size"]), " ".join(r["CreatedBy"].split())) for r in reversed(rows)]
    return [(size, created) for size, created in found if size > 0]


def _short(instruction: str) -> str:
    text = instruction.removeprefix("/bin/bash -o pipefail -c ").replace("#(nop) ", "")
    return (
        (text[:110] + " …") if len(text) > 110 else text or "(the imported Debian root filesystem)"
    )


def _size(count: int) -> str:
    return f"{count / MB:,.1f} MB" if count >= MB else f"{count / 1000:,.1f} kB"


def measure(stage: Stage, quick: bool) -> Section:
    reps = 2 if quick else 5
    section = Section(8, TITLE)
    env = stage.env()
    built = build(section, env)
    inspect = ["docker", "image", "inspect", "--format", "{{.Size}}", IMAGE]
    size = int(run_cmd(inspect, env).stdout.strip())
    save = ["bash", "-o", "pipefail", "-c", f"docker save {IMAGE} | gzip -c | wc -c"]
    gzipped = int(run_cmd(save, env, timeout=900).stdout.strip())
    found = layers()

    path = WORK / "tiny-image.ipynb"
    path.write_bytes(tiny_notebook())
    version = stage.publish(path, NAME)
    scratch = WORK / "m8-volumes"

    def pod_argv(i: int) -> list[str]:
        pod = json.loads(json.dumps(POD))
        pod["metadata"]["name"] = f"bench-{stage.token}-c{i}".lower()
        pod["spec"]["containers"][0]["args"] = [
            f"{NAME}@{version}",
            "--run-id",
            f"{stage.token}-c{i}",
        ]
        argv = docker_run_argv(pod, IMAGE, env, scratch / str(i))
        return [argv[0], argv[1], "--rm", *argv[2:]]

    def kit_argv(i: int) -> list[str]:
        return [str(KIT), "run", f"{NAME}@{version}", "--run-id", f"{stage.token}-k{i}"]

    floor = ["docker", "run", "--rm", "--network", "host", "--entrypoint", "true", IMAGE]
    samples = alternate(
        {
            "(a) docker run, the pod's flags": lambda i: run_cmd(pod_argv(i), env).seconds,
            "(b) kit run, outside a container": lambda i: run_cmd(kit_argv(i), env).seconds,
            "(c) docker run of `true`": lambda i: run_cmd(floor, env).seconds,
        },
        reps,
        label="#8",
    )
    shutil.rmtree(scratch, ignore_errors=True)
    a, b, c = (statistics.median(v) for v in samples.values())
    section.figures = [
        Figure("image size, uncompressed", size / MB, "MB", Target("<=", 600, "MB")),
        Figure(
            "image size, gzipped (docker save | gzip)", gzipped / MB, "MB", Target("<=", 220, "MB")
        ),
        Figure("(a) docker run → end of the two-cell notebook, median", a, "s"),
        Figure("(b) kit run outside a container, median", b, "s"),
        Figure("a/b (in a container / outside)", a / b, "x", Target("<=", 1.5)),
        Figure(
            "(c) docker run of `true`, median",
            c,
            "s",
            note="information: Docker's own start and stop",
        ),
        Figure("image build in this run", built, "s", note="information: cached layers reused"),
    ]
    example = pod_argv(0)
    section.commands += [
        shown(inspect),
        shown(save),
        "docker history --no-trunc --human=false IMAGE",
        shown(example)
        .replace(f"{stage.token}-c0", "<run-id>")
        .replace(str(scratch / "0"), "<volumes>"),
        shown(kit_argv(0)).replace("-k0", "-k<i>"),
        shown(floor),
    ]
    rows = ["| layer (base first) | size |", "|---|---:|"]
    rows += [f"| `{_short(created)}` | {_size(bytes_)} |" for bytes_, created in found]
    section.details = [
        f"Image `{IMAGE}` from image/Dockerfile on the local stand-in base (image/README.md, "
        f'"The local build"): {size / MB:,.1f} MB uncompressed, {gzipped / MB:,.1f} MB '
        "gzipped. Its layers that hold files:",
        "\n".join(rows),
        f"Start-up: medians of {reps} runs each after one warm-up round, the order rotating "
        "every round. (a) is the whole `docker run` of the pod's container (create, start, "
        "kit run, stop, remove) with the flags `kit dag test --pods docker` gives the DAG's "
        "pods; (b) the same notebook with `.venv/bin/kit run`; (c) Docker's own cost for a "
        "container that does nothing.",
        samples_table(samples),
        f"In a container minus outside: {a - b:+.3f} s, of which Docker's own start and stop "
        f"(c) {c:.3f} s.",
    ]
    section.data = {
        "image": IMAGE,
        "size_bytes": size,
        "gzipped_bytes": gzipped,
        "layers": [{"bytes": s, "created_by": cb} for s, cb in found],
        "build_seconds": round(built, 1),
        **{k: stats(v) for k, v in samples.items()},
    }
    return section
