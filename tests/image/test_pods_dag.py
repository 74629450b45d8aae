"""The DAG's pods, run as containers of the image by `kit dag test --pods docker`.

The production DAG (dags/notebooks.yaml) over two datasets, then DAGs of the tests' own
notebooks: a pod that is OOMKilled, and Ctrl-C while two pods run. The rendered pods of the
first run drive tests/image/test_pods_run.py (conftest.py's `pod`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from pod_support import (
    SUMMARY,
    WRITE_WARNINGS,
    dag_test,
    read_run_file,
    stream_texts,
)

from kit.config import Settings

pytestmark = pytest.mark.slow


def test_the_dag_runs_its_pods_as_containers_of_the_image(
    dag_run: dict[str, Any], settings: Settings
) -> None:
    assert dag_run["code"] == 0, dag_run["out"][-4000:]
    attempts = dag_run["attempts"]
    assert sorted(a[1] for a in attempts) == ["0", "1"], dag_run["out"][-2000:]
    for task, _index, try_number, code, run_id, output_url in attempts:
        assert (task, try_number, code) == ("forecast", "1", "0")
        assert output_url == f"{settings.outputs_bucket}/runs/forecast/{run_id}/output.ipynb"
        record = json.loads(read_run_file(settings, "forecast", run_id, "run.json") or b"{}")
        assert record["status"] == "succeeded"
        assert record["pod"].startswith("forecast-")
        nb = json.loads(read_run_file(settings, "forecast", run_id, "output.ipynb") or b"{}")
        outputs = [o for cell in nb["cells"] for o in cell.get("outputs", [])]
        # Inline plots: the kernel's inline backend embedded them in the notebook.
        assert any("image/png" in o.get("data", {}) for o in outputs)
        assert not [o for o in outputs if o["output_type"] == "error"]
        # No write to the read-only root: nothing warned in the notebook or the log.
        assert not WRITE_WARNINGS.search(stream_texts(nb)), stream_texts(nb)
        for suffix in ("forecast.csv", "forecast.png"):
            assert read_run_file(settings, "forecast", run_id, suffix)
    for name, manifest in dag_run["pods"].items():
        log = (dag_run["work"] / name / "container.log").read_text()
        assert not WRITE_WARNINGS.search(log), log
        # The kernel's own files went to the pod's HOME volume (an emptyDir).
        home = dag_run["work"] / name / "volumes" / "home"
        assert (home / ".cache" / "matplotlib").is_dir() or (
            home / ".config" / "matplotlib"
        ).is_dir()
        sc = manifest["spec"]["containers"][0]["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True


# ------------------------------------------------------------------- failures, as Airflow sees


def _config(path: Path, published: dict[str, str], entries: str) -> Path:
    versions = {name: ref.split("@")[1] for name, ref in published.items()}
    path.write_text(
        "cluster: {mode: in_cluster, namespace: kit-runs}\n"
        "settings: {project: p-1, image: registry.example/kit-runtime@sha256:0123}\n"
        "defaults: {retry_delay: 1s}\n"
        "notebooks:\n" + entries.format(**versions)
    )
    return path


def _containers(prefix: str) -> list[str]:
    done = subprocess.run(
        ["docker", "ps", "-a", "--filter", "label=kit.pod", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [n for n in done.stdout.split() if n.startswith(prefix)]


def test_a_runner_the_oom_killer_takes_ends_with_the_finishers_record(
    image: str,
    published: dict[str, str],
    environ: dict[str, str],
    settings: Settings,
    airflow_home: Path,
    tmp_path: Path,
) -> None:
    """A real OOM kill: the notebook's output grows the runner (papermill keeps it all)
    past the container's memory limit. The container ends OOMKilled (Docker's state, as
    the kubelet reports it), kit run never writes run.json, and the Airflow side does."""
    entry = "  - {{name: chatty, version: {chatty}, resources: {{limits: {{memory: 400Mi}}}}}}\n"
    config = _config(tmp_path / "notebooks.yaml", published, entry)
    env = {**environ, "AIRFLOW_HOME": str(airflow_home), "KIT_DAGS_CONFIG": str(config)}
    done = subprocess.run(
        dag_test("kit_chatty", image), env=env, capture_output=True, text=True, timeout=600
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    [attempt] = SUMMARY.findall(done.stdout)
    assert attempt[3] == "137", out[-3000:]
    assert not _containers("kit-pod-chatty-")
    record = json.loads(read_run_file(settings, "chatty", attempt[4], "run.json") or b"{}")
    assert (record["status"], record["written_by"]) == ("failed", "finisher"), out[-3000:]
    assert record["reason"] == "pod OOMKilled at the 400Mi memory limit"
    assert record["kubernetes"]["reason"] == "OOMKilled"
    assert record["kubernetes"]["container_exit_code"] == 137
    assert record["kubernetes"]["limits"] == {"memory": "400Mi"}
    # The output's last save shows the cell that was running.
    assert record["stopped_at"]["cell"] == 3
    assert record["stopped_at"]["source"] == "import time"
    assert f"wrote {settings.outputs_bucket}/runs/chatty/{attempt[4]}/run.json" in out


def test_ctrl_c_stops_every_container_and_each_run_records_killed(
    image: str,
    published: dict[str, str],
    environ: dict[str, str],
    settings: Settings,
    airflow_home: Path,
    tmp_path: Path,
) -> None:
    entry = (
        "  - {{name: sleepy, version: {sleepy}, params: {{seconds: 600}},\n"
        "     fan_out: [{{seconds: 601}}, {{seconds: 602}}]}}\n"
    )
    config = _config(tmp_path / "notebooks.yaml", published, entry)
    env = {**environ, "AIRFLOW_HOME": str(airflow_home), "KIT_DAGS_CONFIG": str(config)}
    runner = subprocess.Popen(
        dag_test("kit_sleepy", image),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a terminal of its own: Ctrl-C reaches the whole group
    )
    deadline = time.monotonic() + 300
    while len(_containers("kit-pod-sleepy-")) < 2:
        assert time.monotonic() < deadline, "the two containers never ran"
        assert runner.poll() is None, runner.communicate()[0][-3000:]
        time.sleep(0.5)
    time.sleep(3)  # well into the run: kit run is executing its cells
    os.killpg(runner.pid, signal.SIGINT)
    out, _ = runner.communicate(timeout=300)
    assert runner.returncode == 130, out[-3000:]
    assert "interrupted; every local process was stopped" in out
    assert not _containers("kit-pod-sleepy-")
    attempts = SUMMARY.findall(out)
    assert len(attempts) == 2, out[-3000:]
    for attempt in attempts:
        assert attempt[3] == "143"  # kit run's own exit: it recorded the stop
        record = json.loads(read_run_file(settings, "sleepy", attempt[4], "run.json") or b"{}")
        assert record["status"] == "killed"
