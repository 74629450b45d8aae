"""The same dags/ on every Airflow environment: identical pods, settings and config errors.

Runs in the notebook environment and starts tests/dags/render_pods.py in each Airflow
environment (2.11, 3.2, 3.3; `make env` builds them), all at once, then compares what
each rendered with what Airflow 2.11 (Cloud Composer 3's default) rendered.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kit.dagtools.versions import AIRFLOW_VERSIONS, DEFAULT_AIRFLOW, venv_python

ROOT = Path(__file__).resolve().parents[2]
RENDER = ROOT / "tests" / "dags" / "render_pods.py"
pytestmark = pytest.mark.airflow
IN_CLUSTER = """\
cluster: {mode: in_cluster, namespace: kit-runs, node_pool: pool-2, taint: "pool-2:NoExecute"}
settings:
  project: p-1
  image: registry.example/kit-runtime@sha256:0123
  modules_bucket: gs://kit-modules
  outputs_bucket: gs://kit-outputs
  data_bucket: gs://kit-data
defaults: {retries: 1, retry_delay: 30s, catchup: true, labels: {team: ds}}
notebooks:
  - name: plain
    schedule: "@daily"
    timezone: Europe/Paris
    start_date: 2026-03-01
    resources: {requests: {cpu: 500m}, limits: {memory: 1Gi, ephemeral-storage: 2Gi}}
    params: {day: "{{ ds_nodash }}", flag: true, ratio: 0.5}
  - {name: manual, schedule: null, catchup: false, max_active_runs: 3, tags: [adhoc]}
"""
BROKEN = (
    IN_CLUSTER.replace("retries: 1", "retries: -1").replace('"@daily"', '"61 6 * * *"')
    + "  - {name: manual, schedul: '@daily', labels: {notebook: x}, fan_out: [{}]}\n"
)


def _differences(base: Any, other: Any, path: str = "") -> list[str]:
    if isinstance(base, dict) and isinstance(other, dict):
        return [
            line
            for key in sorted(set(base) | set(other))
            for line in _differences(base.get(key), other.get(key), f"{path}.{key}")
        ]
    return [] if base == other else [f"{path}: {base!r} != {other!r}"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """{version: what render_pods.py printed there}, all versions rendered in parallel."""
    work = tmp_path_factory.mktemp("versions")
    configs = [ROOT / "dags" / "notebooks.yaml", work / "in_cluster.yaml", work / "broken.yaml"]
    configs[1].write_text(IN_CLUSTER)
    configs[2].write_text(BROKEN)
    procs = {}
    for version in AIRFLOW_VERSIONS:
        python = venv_python(ROOT, version)
        assert python.exists(), f"no Airflow {version} environment at {python}: run `make env`"
        out = work / f"{version}.json"
        argv = [str(python), str(RENDER), str(out), *map(str, configs)]
        log = (work / f"{version}.log").open("w")
        procs[version] = (subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT), out, log)
    results = {}
    for version, (proc, out, log) in procs.items():
        code = proc.wait(timeout=600)
        log.close()
        assert code == 0, f"Airflow {version}: {Path(log.name).read_text()[-3000:]}"
        results[version] = {
            str(key).replace(str(work), "<work>").replace(str(ROOT), "<repo>"): value
            for key, value in json.loads(out.read_text()).items()
        }
    return results


def test_each_environment_runs_its_airflow_version(rendered: dict[str, Any]) -> None:
    for version, result in rendered.items():
        assert result["versions"]["apache-airflow"].startswith(f"{version}."), result["versions"]


@pytest.mark.parametrize("version", [v for v in AIRFLOW_VERSIONS if v != DEFAULT_AIRFLOW])
def test_pods_settings_and_errors_match_airflow_2_11(
    version: str, rendered: dict[str, dict[str, Any]]
) -> None:
    base = {k: v for k, v in rendered[DEFAULT_AIRFLOW].items() if k != "versions"}
    other = {k: v for k, v in rendered[version].items() if k != "versions"}
    assert _differences(base, other) == []


def test_what_is_compared_is_rendered(rendered: dict[str, dict[str, Any]]) -> None:
    base = rendered[DEFAULT_AIRFLOW]
    forecast = base["<repo>/dags/notebooks.yaml"]["kit_forecast"]
    assert sorted(forecast["pods"]) == ["0", "1"]  # the fan-out, one pod per item
    pod = forecast["pods"]["0"]
    assert pod["operator"]["class"] == "KitGKEStartPodOperator"
    assert pod["spec"]["affinity"]["nodeAffinity"]
    assert pod["spec"]["tolerations"]
    assert pod["spec"]["securityContext"]
    assert pod["container"]["command"] == ["/opt/conda/bin/tini", "--", "kit", "run"]
    assert pod["container"]["args"][:2] == ["forecast@latest", "--run-id"]
    assert pod["container"]["env"]
    assert pod["container"]["resources"]["limits"]["memory"]
    plain = base["<work>/in_cluster.yaml"]["kit_plain"]
    assert plain["dag"]["catchup"] is True
    assert plain["dag"]["schedule"] == "0 0 * * *"
    assert plain["pods"]["-1"]["operator"]["class"] == "KitPodOperator"
    first_retry = plain["pods"]["-1"]["operator"]["retry_delays"][0]
    assert 30 <= first_retry <= 60  # retry_delay 30s, doubling
    assert plain["pods"]["-1"]["spec"]["tolerations"] == [
        {"effect": "NoExecute", "key": "pool-2", "operator": "Exists"}
    ]
    assert base["<work>/in_cluster.yaml"]["kit_manual"]["dag"]["catchup"] is False
    error = base["<work>/broken.yaml"]["error"]
    assert error.startswith("<config>: 5 problem(s):\n"), error
