"""kit.dagtools runs the real DAG with dag.test(), each pod as a local process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from dag_helpers import BASE_CONFIG, REPO, invocations

DATE = datetime(2026, 5, 4, tzinfo=UTC)


def _local_run(
    config: Path, fake_kit: Path, work_dir: Path, environ: dict[str, str]
) -> tuple[str, float]:
    """dag.test() of the config's only DAG with the fake kit; (state, seconds)."""
    from kit_dag_config import load_config
    from kit_dag_factory import build_dags

    from kit.dagtools.airflow_compat import run_dag_test
    from kit.dagtools.local_pod import local_pods
    from kit.dagtools.process import LocalSettings

    [dag] = build_dags(load_config(config, environ={})).values()
    settings = LocalSettings(notebook_bin=fake_kit, work_dir=work_dir, environ=environ)
    started = time.monotonic()
    with local_pods(settings):
        dag_run = run_dag_test(dag, DATE)
    return str(dag_run.state), time.monotonic() - started


def test_fan_out_items_run_in_parallel(
    airflow_db: Path, fake_kit: Path, tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    meet = tmp_path / "meet"
    config = write_config(
        BASE_CONFIG
        + f"  - name: fan\n    params: {{meet: '{meet}', meet_count: 2}}\n"
        + "    fan_out: [{dataset: a.csv}, {dataset: b.csv}]\n"
    )
    state, seconds = _local_run(config, fake_kit, tmp_path / "pods", dict(os.environ))
    assert state.endswith("success")
    calls = invocations(tmp_path / "pods")
    assert sorted(c["env"]["AIRFLOW_CTX_MAP_INDEX"] for c in calls) == ["0", "1"]
    # Both processes were running at the same time: each waited for the other to start
    # (run one after another, the first would give up waiting). How much time parallel
    # items save is measurement 5 of the bench, not a test.
    assert [c["met"] for c in calls] == [True, True]
    print(f"\nfan-out of 2 items: dag.test() {seconds:.1f}s")


def test_max_parallel_is_honoured(
    airflow_db: Path, fake_kit: Path, tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    config = write_config(
        BASE_CONFIG
        + "  - name: one_at_a_time\n    params: {sleep: 2}\n    max_parallel: 1\n"
        + "    fan_out: [{dataset: a.csv}, {dataset: b.csv}]\n"
    )
    state, _ = _local_run(config, fake_kit, tmp_path / "pods", dict(os.environ))
    assert state.endswith("success")
    first, second = sorted(invocations(tmp_path / "pods"), key=lambda c: c["started"])
    assert first["finished"] <= second["started"]


HOSTILE = 'it\'s "quoted" $(touch {marker}) `touch {marker}`; rm -rf {marker} && echo\nline 2\n'


def test_hostile_parameter_reaches_the_process_unchanged(
    airflow_db: Path, fake_kit: Path, tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    marker = tmp_path / "pwned"
    value = HOSTILE.format(marker=marker)
    # JSON is YAML: the value is written exactly, newlines and quotes escaped.
    config = write_config(
        BASE_CONFIG + f"  - name: echo\n    params: {{value: {json.dumps(value)}}}\n"
    )
    environ = {
        **os.environ,
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9",
        "KIT_DATA_BUCKET": "gs://local-data",
        "AIRFLOW__CORE__SOMETHING": "not for pods",
    }
    state, _ = _local_run(config, fake_kit, tmp_path / "pods", environ)
    assert state.endswith("success")
    [call] = invocations(tmp_path / "pods")
    argv = call["argv"]
    assert argv[0] == "run"  # `kit run`, the image's _entrypoint.sh dropped
    assert argv[argv.index("-p") : argv.index("-p") + 3] == ["-p", "value", value]
    assert not marker.exists()
    env = call["env"]
    assert env["KIT_POD_NAME"] == env["HOSTNAME"]
    assert env["AIRFLOW_CTX_DAG_ID"] == "kit_echo"
    assert env["AIRFLOW_CTX_TASK_ID"] == "echo"
    assert env["AIRFLOW_CTX_MAP_INDEX"] == "-1"
    assert env["STORAGE_EMULATOR_HOST"] == "http://127.0.0.1:9"
    assert env["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] == "false"
    assert env["KIT_DATA_BUCKET"] == "gs://local-data"  # the developer's, over the DAG's
    assert env["KIT_OUTPUTS_BUCKET"] == "gs://kit-outputs"
    assert not any(k.startswith("AIRFLOW__") or k == "AIRFLOW_HOME" for k in env)


def _dagtools(dag_id: str, config: Path, fake_kit: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env.update(KIT_DAGS_CONFIG=str(config), KIT_NOTEBOOK_PYTHON=str(fake_kit / "python"))
    return subprocess.run(
        [sys.executable, "-m", "kit.dagtools", "test", dag_id, "--date", "2026-05-04"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_command_line_reports_each_attempt_and_fails_fast(
    airflow_db: Path, fake_kit: Path, tmp_path: Path
) -> None:
    config = tmp_path / "notebooks.yaml"
    config.write_text(
        BASE_CONFIG
        + "  - {name: ok, params: {x: '{{ ds }}'}}\n"
        + "  - {name: bad, retries: 3, params: {exit: 3}}\n"
    )
    done = _dagtools("kit_ok", config, fake_kit)
    assert done.returncode == 0, done.stderr
    assert "DAG run manual__" in done.stdout
    assert ": success" in done.stdout
    assert "  ok try 1: exit 0 run 20260504T000000Z-" in done.stdout
    assert "-> gs://kit-outputs/runs/ok/20260504T000000Z-" in done.stdout

    done = _dagtools("kit_bad", config, fake_kit)
    # Local runs drop retries (unless --retries): the failure is reported at once.
    assert done.returncode == 1, done.stderr
    assert "  bad try 1: exit 3 run" in done.stdout
    assert "try 2" not in done.stdout

    done = _dagtools("kit_nope", config, fake_kit)
    assert done.returncode == 2
    assert "no DAG 'kit_nope'" in done.stderr
    assert "kit_bad, kit_ok" in done.stderr


def test_a_failed_attempt_is_retried_as_its_own_run(
    airflow_db: Path, fake_kit: Path, tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    # What `kit dag test --retries` keeps (runner.run drops retries otherwise).
    config = write_config(BASE_CONFIG + "  - {name: flaky, retries: 1, params: {exit: 3}}\n")
    state, _ = _local_run(config, fake_kit, tmp_path / "pods", dict(os.environ))
    assert state.endswith("failed")
    calls = sorted(invocations(tmp_path / "pods"), key=lambda c: c["started"])
    assert [c["env"]["AIRFLOW_CTX_TRY_NUMBER"] for c in calls] == ["1", "2"]
    run_ids = [c["argv"][c["argv"].index("--run-id") + 1] for c in calls]
    assert [r[-3:] for r in run_ids] == ["-t1", "-t2"]
    assert calls[0]["finished"] + 1 <= calls[1]["started"]  # retry_delay: 1s


def test_deadline_and_exit_stop_processes(fake_kit: Path, tmp_path: Path) -> None:
    from kit.dagtools.local_pod import local_pods
    from kit.dagtools.process import LocalSettings, start_pod

    def pod(name: str, deadline: int | None) -> SimpleNamespace:
        container = SimpleNamespace(
            command=["/usr/local/bin/_entrypoint.sh", "kit", "run"],
            args=["x@latest", "--run-id", name, "-p", "sleep", "30"],
            env=[],
        )
        return SimpleNamespace(
            metadata=SimpleNamespace(name=name, namespace="ns"),
            spec=SimpleNamespace(
                containers=[container], active_deadline_seconds=deadline, service_account_name="s"
            ),
        )

    settings = LocalSettings(notebook_bin=fake_kit, work_dir=tmp_path, environ=dict(os.environ))
    log = SimpleNamespace(info=lambda *a: None, error=lambda *a: None)
    late = start_pod(pod("late", 1), settings)
    assert late.wait(log) != 0
    assert late.timed_out
    with local_pods(settings) as registry:
        running = start_pod(pod("running", None), settings)
        registry.pods[("d", "r", "t", -1, 1)] = running
    assert running.proc.poll() is not None  # stopped with the run, not orphaned


def _alive(marker: str) -> list[int]:
    """Pids of processes whose command line contains marker."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_text():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_ctrl_c_stops_every_process(airflow_db: Path, fake_kit: Path, tmp_path: Path) -> None:
    marker = f"marker-{uuid.uuid4().hex}"  # tmp_path's name repeats in concurrent sessions
    config = tmp_path / "notebooks.yaml"
    config.write_text(
        BASE_CONFIG
        + f"  - name: slowpoke\n    params: {{sleep: 120, tag: {marker}}}\n"
        + "    fan_out: [{n: '1'}, {n: '2'}]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env.update(KIT_DAGS_CONFIG=str(config), KIT_NOTEBOOK_PYTHON=str(fake_kit / "python"))
    runner = subprocess.Popen(
        [sys.executable, "-m", "kit.dagtools", "test", "kit_slowpoke"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while len(_alive(marker)) < 2 and time.monotonic() < deadline and runner.poll() is None:
        time.sleep(0.5)
    assert len(_alive(marker)) == 2, "both items should be running"
    runner.send_signal(signal.SIGINT)
    output, _ = runner.communicate(timeout=60)
    assert runner.returncode == 130, output
    assert "interrupted; every local process was stopped" in output
    assert _alive(marker) == []
