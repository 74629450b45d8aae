"""The image runs as the DAG's pods run it, one case at a time, against the embedded GCS.

Each container is started from the pod KubernetesPodOperator rendered for
dags/notebooks.yaml (conftest.py's `pod`: its command, env, user, limits, securityContext
and volumes, through kit.dagtools.docker_pod's `docker run` flags), changing only what a
case is about: the notebook, a memory limit, the user.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pod_support import (
    WRITE_WARNINGS,
    Container,
    Exited,
    Start,
    grace_period,
    maybe_output,
    read_run_file,
    run_id_of,
    run_output,
    run_record,
    running_cell,
    stream_texts,
    variant,
)

from kit.config import Settings

pytestmark = pytest.mark.slow


def test_a_pod_reads_the_notebook_and_writes_only_to_its_volumes(
    start: Start, published: dict[str, str], settings: Settings
) -> None:
    container = start("whoami", published["whoami"])
    exited = container.wait()
    assert exited.code == 0, exited.log
    nb = run_output(settings, "whoami", container)
    seen = json.loads(stream_texts(nb).strip().splitlines()[-1])
    assert (seen["uid"], seen["gid"]) == (10001, 10001)
    assert seen["home"] == "/home/kit"
    for key in ("mplconfig", "mplcache", "ipython", "runtime"):
        assert seen[key].startswith(("/home/kit/", "/tmp/")), seen
    assert (container.volumes / "home" / "note.txt").read_text() == "written"
    assert not WRITE_WARNINGS.search(stream_texts(nb) + exited.log)


def test_an_arbitrary_uid_without_a_passwd_entry_runs(
    start: Start, published: dict[str, str], settings: Settings
) -> None:
    container = start("anyuid", published["whoami"], user=(54321, 54321))
    exited = container.wait()
    assert exited.code == 0, exited.log
    nb = run_output(settings, "whoami", container)
    seen = json.loads(stream_texts(nb).strip().splitlines()[-1])
    assert (seen["uid"], seen["gid"]) == (54321, 54321)
    assert seen["home"] == "/home/kit"
    assert run_record(settings, "whoami", container)["status"] == "succeeded"
    assert not WRITE_WARNINGS.search(stream_texts(nb) + exited.log)


# -------------------------------------------------------------------------------- SIGTERM


def _assert_killed(exited: Exited, settings: Settings, container: Container) -> None:
    # 143 is kit run's own exit for "killed": it wrote its record within the grace period
    # (past it, `docker stop` would have SIGKILLed it: 137).
    assert exited.code == 143, exited.log
    assert not exited.state["OOMKilled"]
    record = run_record(settings, "sleepy", container)
    assert record["status"] == "killed"
    assert record["reason"] == "received SIGTERM"
    run_output(settings, "sleepy", container)  # the output notebook is kept


def test_sigterm_at_the_first_instant_ends_the_container_with_nothing_half_written(
    start: Start, published: dict[str, str], settings: Settings, pod: dict[str, Any]
) -> None:
    container = start("sigterm-0", published["sleepy"], "-p", "seconds", "600")
    container.wait_running()
    container.stop(grace_period(pod))
    exited = container.wait()
    # tini is PID 1: the signal is never ignored. Before kit run holds it (its first
    # ~0.1 s of Python start-up) it ends kit run at once, before anything is claimed.
    assert exited.code == 143, exited.log
    output = read_run_file(settings, "sleepy", run_id_of(container), "output.ipynb")
    record = read_run_file(settings, "sleepy", run_id_of(container), "run.json")
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
    container.stop(grace_period(pod))
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
    container.stop(grace_period(pod))
    _assert_killed(container.wait(), settings, container)


def test_sigterm_mid_cell_keeps_what_ran(
    start: Start, published: dict[str, str], settings: Settings, pod: dict[str, Any]
) -> None:
    container = start("sigterm-mid", published["sleepy"], "-p", "seconds", "600")
    deadline = time.monotonic() + 180
    # The output notebook is saved as each cell starts: wait for the sleeping one.
    while not running_cell(maybe_output(settings, container), "time.sleep"):
        assert time.monotonic() < deadline, "the sleeping cell never started"
        assert container.proc.poll() is None, container.proc.communicate()[0]
        time.sleep(0.2)
    container.stop(grace_period(pod))
    _assert_killed(container.wait(), settings, container)
    nb = run_output(settings, "sleepy", container)
    assert "first cell ran" in stream_texts(nb)  # what ran before the stop is kept
    assert running_cell(nb, "time.sleep")


def test_timeout_is_recorded_as_timed_out(
    start: Start, published: dict[str, str], settings: Settings
) -> None:
    container = start("timeout", published["sleepy"], "-p", "seconds", "600", timeout="8")
    exited = container.wait()
    assert exited.code == 124, exited.log
    record = run_record(settings, "sleepy", container)
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
    record = run_record(settings, "hog", container)
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
