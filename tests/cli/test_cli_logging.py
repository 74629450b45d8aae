"""kit's log: `kit -v` / KIT_LOG_LEVEL show what kit does, errors keep their causes, and
nothing is configured at import time."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from run_support import kit_env, run_kit

from kit.config import Settings

pytestmark = pytest.mark.slow


def test_verbose_run_logs_storage_calls_the_kernel_and_the_saves(
    gcs_settings: Settings, make_notebook: Callable[..., Path]
) -> None:
    nb = make_notebook("told", "print('hi')")
    done = run_kit("-v", "run", str(nb), "--run-id", "v1", env=kit_env(gcs_settings))
    assert done.returncode == 0, done.stderr
    output = f"{gcs_settings.outputs_bucket}/runs/told/v1/output.ipynb"
    record = output.replace("output.ipynb", "run.json")
    log = done.stderr
    assert re.search(rf"DEBUG kit\.storage\.gcs: write \d+ bytes if generation 0 to {output}", log)
    assert f"INFO kit.runner.papermill_io: claimed {output}" in log
    starting = (
        r"DEBUG kit\.runner\.kernel_manager: starting kernel python3: .* -m kit\.kernel_launcher"
    )
    assert re.search(starting, log)
    assert re.search(r"DEBUG kit\.runner\.kernel_manager: kernel stopped \(pid \d+", log)
    assert re.search(rf"DEBUG kit\.runner\.papermill_io: saved {output} \(generation \d+\)", log)
    assert f"INFO kit.runner: succeeded: recorded in {record}" in log
    assert "kit: cell 1 started" in log  # the progress lines are still there
    assert done.stdout == f"succeeded: {output}\n"


def test_kit_log_level_shows_the_same_without_the_flag(
    gcs_settings: Settings, make_notebook: Callable[..., Path]
) -> None:
    nb = make_notebook("leveled", "pass")
    env = kit_env(gcs_settings, KIT_LOG_LEVEL="info")
    done = run_kit("run", str(nb), "--run-id", "l1", env=env)
    assert done.returncode == 0, done.stderr
    assert "INFO kit.runner.papermill_io: claimed " in done.stderr
    assert "DEBUG" not in done.stderr


def test_by_default_a_run_prints_its_progress_and_no_log(
    gcs_settings: Settings, make_notebook: Callable[..., Path]
) -> None:
    done = run_kit(
        "run", str(make_notebook("quiet", "pass")), "--run-id", "q1", env=kit_env(gcs_settings)
    )
    assert done.returncode == 0, done.stderr
    assert all(line.startswith("kit: ") for line in done.stderr.splitlines()), done.stderr


def test_json_log_lines_when_the_log_format_is_json(
    gcs_settings: Settings, make_notebook: Callable[..., Path]
) -> None:
    nb = make_notebook("jsonlog", "pass")
    env = kit_env(gcs_settings, KIT_LOG_FORMAT="json")
    done = run_kit("--verbose", "run", str(nb), "--run-id", "j1", env=env)
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    logged = [e for e in entries if "logger" in e]
    assert {"severity", "message", "logger", "time"} <= set(logged[0])
    assert any(
        e["logger"] == "kit.runner.kernel_manager" and e["severity"] == "DEBUG" for e in logged
    )


def test_an_error_is_one_line_and_verbose_adds_its_causes(
    gcs_settings: Settings, unused_port: int
) -> None:
    env = kit_env(gcs_settings, STORAGE_EMULATOR_HOST=f"http://127.0.0.1:{unused_port}")
    quiet = run_kit("versions", "forecast", env=env)
    assert quiet.returncode == 1
    message = (
        f"kit: error: cannot reach the storage emulator at http://127.0.0.1:{unused_port} "
        "(STORAGE_EMULATOR_HOST); start it with `kit dev up`"
    )
    assert quiet.stderr == message + "\n"
    told = run_kit("-v", "versions", "forecast", env=env)
    assert told.returncode == 1
    lines = told.stderr.splitlines()
    assert message in lines
    assert "kit: caused by ConnectionRefusedError: [Errno 111] Connection refused" in lines
    assert "Traceback (most recent call last):" in lines


def test_a_bad_log_level_is_a_one_line_settings_error(gcs_settings: Settings) -> None:
    done = run_kit("runs", env=kit_env(gcs_settings, KIT_LOG_LEVEL="loud"))
    assert done.returncode == 2
    assert done.stderr == (
        "kit: error: KIT_LOG_LEVEL: log_level 'loud' must be one of DEBUG, INFO, WARNING, ERROR\n"
    )


def test_importing_kit_configures_no_logging() -> None:
    code = (
        "import logging, json\n"
        "import kit, kit.cli.main, kit.runner, kit.runner.execute, kit.runner.kernel_manager\n"
        "import kit.publishing, kit.review, kit.storage.gcs, kit.config, kit.dev\n"
        "names = ['', 'kit', 'papermill', 'google.api_core.retry']\n"
        "print(json.dumps({n: [logging.getLogger(n).level, len(logging.getLogger(n).handlers)]"
        " for n in names}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout) == {
        "": [logging.WARNING, 0],
        "kit": [logging.NOTSET, 0],
        "papermill": [logging.NOTSET, 0],
        "google.api_core.retry": [logging.NOTSET, 0],
    }
