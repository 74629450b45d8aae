"""kit.dagtools.docker_pod's translation of a pod manifest to `docker run` (no engine needed)."""

from __future__ import annotations

import itertools
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kit.dagtools.docker_pod import check_non_root, container_env, docker_run_argv, quantity
from kit.dagtools.process import LocalPodError


def manifest() -> dict[str, Any]:
    """The shape of the pods dags/kit_dag_factory.py renders (tests/dags has the real ones)."""
    return {
        "metadata": {"name": "forecast-ab12", "namespace": "kit-runs"},
        "spec": {
            "serviceAccountName": "kit-runner",
            "terminationGracePeriodSeconds": 60,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "home", "emptyDir": {}}],
            "containers": [
                {
                    "name": "base",
                    "command": ["/opt/conda/bin/tini", "--", "kit", "run"],
                    "args": ["forecast@latest", "--run-id", "r1", "-p", "a", "$(x); y"],
                    "env": [
                        {"name": "KIT_OUTPUTS_BUCKET", "value": "gs://o"},
                        {
                            "name": "KIT_POD_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        },
                    ],
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "2Gi"},
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


def _pairs(argv: list[str]) -> list[tuple[str, str]]:
    return list(itertools.pairwise(argv))


def test_the_pod_becomes_docker_run_flags(tmp_path: Path) -> None:
    environ = {
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:4443",
        "KIT_GRACE_SECONDS": "20",
        "KIT_POD_NAME": "from-the-shell",
        "GOOGLE_APPLICATION_CREDENTIALS": "/home/me/key.json",
        "PATH": "/usr/bin",
    }
    argv = docker_run_argv(manifest(), "kit-runtime:t", environ, tmp_path / "volumes")
    pairs = _pairs(argv)
    for flag in [
        ("--name", "kit-pod-forecast-ab12"),
        ("--network", "host"),
        ("--stop-timeout", "60"),
        ("--user", "10001:10001"),
        ("--group-add", "10001"),
        ("--memory", str(4 * 2**30)),
        ("--memory-swap", str(4 * 2**30)),
        ("--cpus", "2"),
        ("--cpu-shares", "512"),
        ("--security-opt", "no-new-privileges"),
        ("--entrypoint", "/opt/conda/bin/tini"),
    ]:
        assert flag in pairs, flag
    assert {"--read-only", "--cap-drop=ALL", "--sig-proxy=false"} <= set(argv)
    # The image, then the rest of the command and the args, one argument each.
    image = argv.index("kit-runtime:t")
    command = ["--", "kit", "run", "forecast@latest", "--run-id", "r1", "-p", "a", "$(x); y"]
    assert argv[image + 1 :] == command
    env = [value for flag, value in pairs if flag == "-e"]
    assert "KIT_POD_NAME=forecast-ab12" in env  # the downward API, not the shell's value
    assert "KIT_OUTPUTS_BUCKET=gs://o" in env
    assert "KIT_GRACE_SECONDS=20" in env
    assert "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false" in env
    assert not [e for e in env if e.startswith(("GOOGLE_APPLICATION_CREDENTIALS=", "PATH="))]
    # emptyDirs: fresh, world-writable folders, as the kubelet makes them.
    for name, path in (("tmp", "/tmp"), ("home", "/home/kit")):
        folder = tmp_path / "volumes" / name
        assert ("-v", f"{folder.resolve()}:{path}") in pairs
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777


def test_what_cannot_run_locally_is_refused(tmp_path: Path) -> None:
    pod = manifest()
    pod["spec"]["volumes"][0] = {"name": "tmp", "hostPath": {"path": "/"}}
    with pytest.raises(LocalPodError, match="volume tmp: only emptyDir volumes run locally"):
        docker_run_argv(pod, "i", {}, tmp_path)
    pod = manifest()
    pod["spec"]["securityContext"]["runAsUser"] = 0
    with pytest.raises(LocalPodError, match="runAsNonRoot is set but runAsUser is 0"):
        docker_run_argv(pod, "i", {}, tmp_path)
    pod = manifest()
    pod["spec"]["containers"][0]["env"] = [{"name": "S", "valueFrom": {"secretKeyRef": {}}}]
    with pytest.raises(LocalPodError, match="env S: only values and fieldRefs"):
        container_env(pod, {})


def test_memory_backed_empty_dir_is_a_tmpfs(tmp_path: Path) -> None:
    pod = manifest()
    pod["spec"]["volumes"][0]["emptyDir"] = {"medium": "Memory", "sizeLimit": "64Mi"}
    argv = docker_run_argv(pod, "i", {}, tmp_path)
    assert ("--tmpfs", f"/tmp:exec,mode=0777,size={64 * 2**20}") in _pairs(argv)


def test_run_as_non_root_without_a_uid_checks_the_images_user() -> None:
    pod = manifest()
    del pod["spec"]["securityContext"]["runAsUser"]
    check_non_root(pod, "10001:10001")
    with pytest.raises(LocalPodError, match="non-numeric user"):
        check_non_root(pod, "kit")
    with pytest.raises(LocalPodError, match="runs as root"):
        check_non_root(pod, "0")


@pytest.mark.parametrize(
    ("text", "value"),
    [("4Gi", 4 * 2**30), ("500m", Decimal("0.5")), ("2", 2), ("1.5Gi", 1.5 * 2**30), ("2e3", 2000)],
)
def test_quantity(text: str, value: float) -> None:
    assert quantity(text) == Decimal(str(value))


def test_a_bad_quantity_is_named() -> None:
    with pytest.raises(LocalPodError, match="not a Kubernetes quantity: '4GB'"):
        quantity("4GB")


def test_a_missing_image_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from kit.dagtools import runner

    with pytest.raises(SystemExit) as exited:
        runner.starter("docker", "kit-runtime:no-such-tag")
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "kit: error: --pods docker: no local image kit-runtime:no-such-tag: "
        "build it with `make image`\n"
    )
