"""`kit dag test --pods docker` translates the pods Airflow renders, and reads quantities as
Kubernetes does (its own parse_quantity is the reference)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from dag_helpers import load_dags, render

from kit.dagtools.docker_pod import docker_run_argv, quantity

DATE = datetime(2026, 5, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["4Gi", "2Gi", "512Mi", "1.5Gi", "500m", "2", "0.25", "1e3", "2G", "100M", "1k", "10n"]
)
def test_quantities_read_as_kubernetes_reads_them(text: str) -> None:
    from kubernetes.utils import parse_quantity

    assert quantity(text) == Decimal(parse_quantity(text))


def test_the_rendered_pods_run_as_restricted_containers(airflow_db: Path, tmp_path: Path) -> None:
    from kubernetes.client import ApiClient

    for dag in load_dags().values():
        for pod, _ in render(dag, DATE).values():
            manifest = ApiClient().sanitize_for_serialization(pod)
            argv = docker_run_argv(manifest, "kit-runtime:local", {}, tmp_path / pod.metadata.name)
            pairs = set(itertools.pairwise(argv))
            assert {"--read-only", "--cap-drop=ALL"} <= set(argv)
            assert {("--user", "10001:10001"), ("--security-opt", "no-new-privileges")} <= pairs
            for name, path in (("tmp", "/tmp"), ("home", "/home/kit")):
                folder = (tmp_path / pod.metadata.name / name).resolve()
                assert ("-v", f"{folder}:{path}") in pairs
            image = argv.index("kit-runtime:local")
            assert argv[image - 2 : image] == ["--entrypoint", "/opt/conda/bin/tini"]
            assert argv[image + 1 :] == ["--", "kit", "run", *pod.spec.containers[0].args]
