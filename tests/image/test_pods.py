"""The image runs as the DAG's pods run it, against the embedded GCS.

First `kit dag test kit_forecast --pods docker` runs the production DAG with each pod as a
container of the image (command, args, env, user, limits, securityContext and volumes from
the pod KubernetesPodOperator renders). Its rendered pods (pod.json) then drive the other
cases through the same translation to `docker run` flags, changing only what a case is
about (the notebook, a memory limit, the user).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from gcs_support import fresh_settings
from nbformat.v4 import new_code_cell, new_notebook
from pod_support import Container, Exited, variant

from kit import dev
from kit.config import Settings
from kit.publishing import publish_notebook
from kit.storage import storage_for

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / ".venv" / "bin" / "kit"
DATE = "2026-05-04"
SUMMARY = re.compile(r"^  (\S+?)(?:\[(\d+)\])? try (\d+): exit (\d+) run (\S+) -> (\S+)$", re.M)
# What a read-only root would make the kernel, IPython or matplotlib print.
WRITE_WARNINGS = re.compile(
    r"Read-only file system|not a writable|MPLCONFIGDIR|Permission denied|temporary cache",
    re.IGNORECASE,
)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def settings(gcs_server: dev.Server) -> Settings:
    return fresh_settings(gcs_server, prefix="img")


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One AIRFLOW_HOME for this module's `kit dag test` runs (migrated by the first)."""
    return tmp_path_factory.mktemp("airflow")


def dag_test(dag_id: str, image: str) -> list[str]:
    """`kit dag test DAG_ID --pods docker` with the image under test."""
    return [str(KIT), "dag", "test", dag_id, "--date", DATE, "--pods", "docker", "--image", image]


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
def pod(dag_run: dict[str, Any]) -> dict[str, Any]:
    """One pod the real KubernetesPodOperator rendered for dags/notebooks.yaml."""
    assert dag_run["pods"], dag_run["out"][-3000:]
    return next(iter(dag_run["pods"].values()))


def _notebook(path: Path, *sources: str, params: str = "seconds = 1") -> Path:
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


@pytest.fixture(scope="module")
def published(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The test notebooks, published to the modules bucket: name -> NAME@VERSION."""
    folder = tmp_path_factory.mktemp("notebooks")
    refs = {}
    for name, sources in (("sleepy", SLEEPY), ("hog", HOG), ("whoami", WHOAMI)):
        path = _notebook(folder / f"{name}.ipynb", *sources)
        refs[name] = f"{name}@{publish_notebook(path, settings=settings).version}"
    return refs


Start = Callable[..., Container]


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


def _run_id(container: Container) -> str:
    return container.argv[container.argv.index("--run-id") + 1]


def _read(settings: Settings, name: str, run_id: str, file: str) -> bytes | None:
    url = settings.url("outputs_bucket", "runs", name, run_id, file)
    store = storage_for(url)
    return store.read(url) if store.exists(url) else None


def _record(settings: Settings, name: str, container: Container) -> dict[str, Any]:
    data = _read(settings, name, _run_id(container), "run.json")
    assert data is not None, f"no run.json for {_run_id(container)}"
    return dict(json.loads(data))


def _output(settings: Settings, name: str, container: Container) -> dict[str, Any]:
    data = _read(settings, name, _run_id(container), "output.ipynb")
    assert data is not None, f"no output.ipynb for {_run_id(container)}"
    return dict(json.loads(data))


def _texts(nb: dict[str, Any]) -> str:
    return "".join(
        "".join(o.get("text", ""))
        for cell in nb["cells"]
        for o in cell.get("outputs", [])
        if o["output_type"] == "stream"
    )


def _grace(pod: dict[str, Any]) -> int:
    return int(pod["spec"]["terminationGracePeriodSeconds"])


# ------------------------------------------------------------------------ the DAG's pods


def test_the_dag_runs_its_pods_as_containers_of_the_image(
    dag_run: dict[str, Any], settings: Settings
) -> None:
    assert dag_run["code"] == 0, dag_run["out"][-4000:]
    attempts = dag_run["attempts"]
    assert sorted(a[1] for a in attempts) == ["0", "1"], dag_run["out"][-2000:]
    for task, _index, try_number, code, run_id, output_url in attempts:
        assert (task, try_number, code) == ("forecast", "1", "0")
        assert output_url == f"{settings.outputs_bucket}/runs/forecast/{run_id}/output.ipynb"
        record = json.loads(_read(settings, "forecast", run_id, "run.json") or b"{}")
        assert record["status"] == "succeeded"
        assert record["pod"].startswith("forecast-")
        nb = json.loads(_read(settings, "forecast", run_id, "output.ipynb") or b"{}")
        outputs = [o for cell in nb["cells"] for o in cell.get("outputs", [])]
        # Inline plots: the kernel's inline backend embedded them in the notebook.
        assert any("image/png" in o.get("data", {}) for o in outputs)
        assert not [o for o in outputs if o["output_type"] == "error"]
        # No write to the read-only root: nothing warned in the notebook or the log.
        assert not WRITE_WARNINGS.search(_texts(nb)), _texts(nb)
        for suffix in ("forecast.csv", "forecast.png"):
            assert _read(settings, "forecast", run_id, suffix)
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


def test_a_pod_reads_the_notebook_and_writes_only_to_its_volumes(
    start: Start, published: dict[str, str], settings: Settings
) -> None:
    container = start("whoami", published["whoami"])
    exited = container.wait()
    assert exited.code == 0, exited.log
    nb = _output(settings, "whoami", container)
    seen = json.loads(_texts(nb).strip().splitlines()[-1])
    assert (seen["uid"], seen["gid"]) == (10001, 10001)
    assert seen["home"] == "/home/kit"
    for key in ("mplconfig", "mplcache", "ipython", "runtime"):
        assert seen[key].startswith(("/home/kit/", "/tmp/")), seen
    assert (container.volumes / "home" / "note.txt").read_text() == "written"
    assert not WRITE_WARNINGS.search(_texts(nb) + exited.log)


def test_an_arbitrary_uid_without_a_passwd_entry_runs(
    start: Start, published: dict[str, str], settings: Settings
) -> None:
    container = start("anyuid", published["whoami"], user=(54321, 54321))
    exited = container.wait()
    assert exited.code == 0, exited.log
    nb = _output(settings, "whoami", container)
    seen = json.loads(_texts(nb).strip().splitlines()[-1])
    assert (seen["uid"], seen["gid"]) == (54321, 54321)
    assert seen["home"] == "/home/kit"
    assert _record(settings, "whoami", container)["status"] == "succeeded"
    assert not WRITE_WARNINGS.search(_texts(nb) + exited.log)


# -------------------------------------------------------------------------------- SIGTERM


def _assert_killed(exited: Exited, settings: Settings, container: Container) -> None:
    # 143 is kit run's own exit for "killed": it wrote its record within the grace period
    # (past it, `docker stop` would have SIGKILLed it: 137).
    assert exited.code == 143, exited.log
    assert not exited.state["OOMKilled"]
    record = _record(settings, "sleepy", container)
    assert record["status"] == "killed"
    assert record["reason"] == "received SIGTERM"
    _output(settings, "sleepy", container)  # the output notebook is kept


def test_sigterm_at_the_first_instant_ends_the_container_with_nothing_half_written(
    start: Start, published: dict[str, str], settings: Settings, pod: dict[str, Any]
) -> None:
    container = start("sigterm-0", published["sleepy"], "-p", "seconds", "600")
    container.wait_running()
    container.stop(_grace(pod))
    exited = container.wait()
    # tini is PID 1: the signal is never ignored. Before kit run holds it (its first
    # ~0.1 s of Python start-up) it ends kit run at once, before anything is claimed.
    assert exited.code == 143, exited.log
    output = _read(settings, "sleepy", _run_id(container), "output.ipynb")
    record = _read(settings, "sleepy", _run_id(container), "run.json")
    assert (output is None) == (record is None), "an output without a record, or the reverse"
    if record is not None:
        assert json.loads(record)["status"] == "killed"


def test_sigterm_at_0_3_s_is_recorded_as_killed(
    start: Start, published: dict[str, str], settings: Settings, pod: dict[str, Any]
) -> None:
    container = start("sigterm-03", published["sleepy"], "-p", "seconds", "600")
    container.wait_running()
    time.sleep(0.3)  # after the container's process started
    # On a loaded machine Python may still be starting: then wait until kit run holds the
    # signal (tests/runner/test_early_signal.py shows it holds it before any I/O).
    while container.kit_sigterm() == "default":
        assert container.proc.poll() is None, "the container ended by itself"
        time.sleep(0.005)
    container.stop(_grace(pod))
    _assert_killed(container.wait(), settings, container)


def test_sigterm_at_2_s_is_recorded_as_killed(
    start: Start, published: dict[str, str], settings: Settings, pod: dict[str, Any]
) -> None:
    container = start("sigterm-2", published["sleepy"], "-p", "seconds", "600")
    container.wait_running()
    time.sleep(2.0)
    while container.kit_sigterm() == "default":  # only on a very loaded machine
        assert container.proc.poll() is None, "the container ended by itself"
        time.sleep(0.005)
    container.stop(_grace(pod))
    _assert_killed(container.wait(), settings, container)


def test_sigterm_mid_cell_keeps_what_ran(
    start: Start, published: dict[str, str], settings: Settings, pod: dict[str, Any]
) -> None:
    container = start("sigterm-mid", published["sleepy"], "-p", "seconds", "600")
    deadline = time.monotonic() + 180
    # The output notebook is saved as each cell starts: wait for the sleeping one.
    while not _running_cell(_maybe_output(settings, container), "time.sleep"):
        assert time.monotonic() < deadline, "the sleeping cell never started"
        assert container.proc.poll() is None, container.proc.communicate()[0]
        time.sleep(0.2)
    container.stop(_grace(pod))
    _assert_killed(container.wait(), settings, container)
    nb = _output(settings, "sleepy", container)
    assert "first cell ran" in _texts(nb)  # what ran before the stop is kept
    assert _running_cell(nb, "time.sleep")


def _running_cell(nb: dict[str, Any], text: str) -> bool:
    return any(
        text in "".join(cell["source"]) and cell["metadata"].get("papermill", {}).get("start_time")
        for cell in nb["cells"]
    )


def _maybe_output(settings: Settings, container: Container) -> dict[str, Any]:
    data = _read(settings, "sleepy", _run_id(container), "output.ipynb")
    return json.loads(data) if data else {"cells": []}


def test_timeout_is_recorded_as_timed_out(
    start: Start, published: dict[str, str], settings: Settings
) -> None:
    container = start("timeout", published["sleepy"], "-p", "seconds", "600", timeout="8")
    exited = container.wait()
    assert exited.code == 124, exited.log
    record = _record(settings, "sleepy", container)
    assert record["status"] == "timed_out"
    assert record["reason"] == "timed out after 8 s"


# --------------------------------------------------------------------------------- memory


def test_a_memory_limit_that_kills_the_kernel_fails_the_run_with_a_record(
    start: Start, published: dict[str, str], settings: Settings
) -> None:
    # The cell asks for 3 GiB under a 1 GiB limit: the kernel is the largest process of
    # the container, so the OOM killer takes it, and kit run records the failure.
    container = start("oom-kernel", published["hog"], memory="1Gi")
    exited = container.wait()
    assert exited.code == 1, exited.log
    record = _record(settings, "hog", container)
    assert (record["status"], record["reason"]) == ("failed", "kernel died")
    assert "killed by signal 9" in record["error"]["evalue"]
    assert exited.state["OOMKilled"] is True  # an OOM kill happened in the container


def test_a_memory_limit_that_kills_the_runner_shows_as_oomkilled(
    start: Start, published: dict[str, str], settings: Settings
) -> None:
    # Under 64 MiB kit run itself cannot start: the container ends as the kubelet would
    # report it, OOMKilled with exit 137.
    container = start("oom-runner", published["sleepy"], memory="64Mi")
    exited = container.wait()
    assert exited.code == 137, exited.log
    assert exited.state["OOMKilled"] is True
    assert exited.state["ExitCode"] == 137


# ------------------------------------------------------------------------------- storage


def test_unreachable_gcs_is_one_line_and_exit_1(
    image: str, pod: dict[str, Any], environ: dict[str, str], tmp_path: Path, unused_port: int
) -> None:
    env = {**environ, "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{unused_port}"}
    args = ["forecast@latest", "--run-id", "unreachable", "--timeout", "60"]
    exited = Container(variant(pod, "nogcs", args=args), image, env, tmp_path).wait()
    assert exited.code == 1, exited.log
    lines = exited.log.strip().splitlines()
    assert len(lines) == 1, exited.log
    assert lines[0].startswith("kit: error: ")
    assert f"127.0.0.1:{unused_port}" in lines[0]


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


def test_an_oomkilled_pod_fails_its_task_as_the_kubelet_reports_it(
    image: str,
    published: dict[str, str],
    environ: dict[str, str],
    airflow_home: Path,
    tmp_path: Path,
) -> None:
    entry = "  - {{name: whoami, version: {whoami}, resources: {{limits: {{memory: 64Mi}}}}}}\n"
    config = _config(tmp_path / "notebooks.yaml", published, entry)
    env = {**environ, "AIRFLOW_HOME": str(airflow_home), "KIT_DAGS_CONFIG": str(config)}
    done = subprocess.run(
        dag_test("kit_whoami", image), env=env, capture_output=True, text=True, timeout=600
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    assert "returned a failure: container terminated with reason OOMKilled, exit code 137" in out
    [attempt] = SUMMARY.findall(done.stdout)
    assert attempt[3] == "137"
    assert not _containers("kit-pod-whoami-")


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
        record = json.loads(_read(settings, "sleepy", attempt[4], "run.json") or b"{}")
        assert record["status"] == "killed"
