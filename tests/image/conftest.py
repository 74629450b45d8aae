"""The runtime image, built with Docker and run the way the pods run it.

`make test` builds the image first (`make image-for-tests`); the `image` fixture builds it
again, which is a no-op when nothing changed, so that `pytest tests/image` alone works
too. Where no Docker engine can be had (scripts/image.py exits 3), the tests that need
one skip with its one-line reason, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gcs_support import fresh_settings
from pod_support import (
    CHATTY,
    HOG,
    SLEEPY,
    SUMMARY,
    WHOAMI,
    Container,
    Start,
    dag_test,
    variant,
    write_notebook,
)

from kit import dev
from kit.config import Settings
from kit.publishing import publish_notebook

ROOT = Path(__file__).resolve().parents[2]
# RUNTIME_IMAGE, not KIT_*: kit refuses KIT_ variables it does not know.
IMAGE = os.environ.get("RUNTIME_IMAGE", "kit-runtime:local")
BUILD_TIMEOUT = 1800


@pytest.fixture(scope="session")
def image() -> str:
    """The image's tag, built from the working tree (cached layers make this quick)."""
    argv = [sys.executable, str(ROOT / "scripts" / "image.py"), "build", "--tag", IMAGE, "--quiet"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    if done.returncode == 3:
        reason = done.stderr.strip().splitlines()[-1]
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a Docker engine: {reason}")
        pytest.skip(reason)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stderr[-4000:]}"
    return IMAGE


@pytest.fixture(scope="session")
def settings(gcs_server: dev.Server) -> Settings:
    return fresh_settings(gcs_server, prefix="img")


@pytest.fixture(scope="session")
def environ(gcs_server: dev.Server, settings: Settings) -> dict[str, str]:
    """What a developer's shell has after `eval "$(kit dev env)"`, for these buckets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env.update(
        STORAGE_EMULATOR_HOST=gcs_server.url,
        GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT="false",
        KIT_MODULES_BUCKET=settings.modules_bucket,
        KIT_OUTPUTS_BUCKET=settings.outputs_bucket,
        KIT_DATA_BUCKET=settings.data_bucket,
    )
    return env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One AIRFLOW_HOME for the image tests' `kit dag test` runs (migrated by the first)."""
    return tmp_path_factory.mktemp("airflow")


@pytest.fixture(scope="session")
def dag_run(
    image: str, settings: Settings, environ: dict[str, str], airflow_home: Path
) -> dict[str, Any]:
    """`kit dag test kit_forecast --pods docker`: its output, attempts and rendered pods."""
    publish_notebook(ROOT / "notebooks" / "forecast.ipynb", settings=settings)
    home = airflow_home
    env = {**environ, "AIRFLOW_HOME": str(home)}
    done = subprocess.run(
        dag_test("kit_forecast", image), env=env, capture_output=True, text=True, timeout=900
    )
    pods = {p.parent.name: json.loads(p.read_text()) for p in home.glob("local-pods/*/pod.json")}
    return {
        "code": done.returncode,
        "out": done.stdout + done.stderr,
        "attempts": SUMMARY.findall(done.stdout),
        "pods": pods,
        "work": home / "local-pods",
    }


@pytest.fixture(scope="session")
def pod(dag_run: dict[str, Any]) -> dict[str, Any]:
    """One pod the real KubernetesPodOperator rendered for dags/notebooks.yaml."""
    assert dag_run["pods"], dag_run["out"][-3000:]
    return next(iter(dag_run["pods"].values()))


@pytest.fixture(scope="session")
def published(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The test notebooks, published to the modules bucket: name -> NAME@VERSION."""
    folder = tmp_path_factory.mktemp("notebooks")
    refs = {}
    for name, sources in (
        ("sleepy", SLEEPY),
        ("hog", HOG),
        ("whoami", WHOAMI),
        ("chatty", CHATTY),
    ):
        path = write_notebook(folder / f"{name}.ipynb", *sources)
        refs[name] = f"{name}@{publish_notebook(path, settings=settings).version}"
    return refs


@pytest.fixture
def start(
    image: str, pod: dict[str, Any], environ: dict[str, str], tmp_path: Path
) -> Iterator[Start]:
    """Start a container from the rendered pod; the case changes what it is about."""
    started: list[Container] = []

    def run(case: str, ref: str, *extra: str, timeout: str = "", **changes: Any) -> Container:
        timeout = timeout or pod["spec"]["containers"][0]["args"][4]  # the pod's --timeout
        args = [ref, "--run-id", f"{case}-{time.time_ns()}", "--timeout", timeout, *extra]
        container = Container(variant(pod, case, args=args, **changes), image, environ, tmp_path)
        started.append(container)
        return container

    yield run
    for container in started:
        if container.proc.poll() is None:
            container.proc.kill()
        container.wait(timeout=60)
