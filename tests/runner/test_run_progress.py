"""Live progress of `kit run`: a flushed line per cell start and end, the cells' own output
with --log-output, JSON lines for Cloud Logging, a progress bar on a terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from run_support import kit_env, run_kit

from kit.config import Settings

pytestmark = pytest.mark.slow
MakeNotebook = Callable[..., Path]


def test_each_cell_start_and_end_is_a_line_and_the_log_ends_with_the_status(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook("lines", "print('hello')\nprint('again')", "total = x + 1")
    done = run_kit("run", str(nb), "--run-id", "p1", "-p", "x", "2", env=kit_env(gcs_settings))
    assert done.returncode == 0, done.stderr
    output_url = f"{gcs_settings.outputs_bucket}/runs/lines/p1/output.ipynb"
    lines = done.stderr.splitlines()
    assert lines[0] == f"kit: run p1 of lines@{_version(done)} (3 code cells) -> {output_url}"
    # Cell 1 is the parameters cell; In [2] is papermill's injected-parameters cell.
    assert lines[1].startswith("kit: cell 1 started (+")
    assert lines[1].endswith("): x = 1")
    assert lines[2].startswith("kit: cell 1, In [1] done in ")
    assert re.search(r"peak RSS \d+\.\d MiB$", lines[2])
    assert lines[3].endswith("): print('hello')")
    assert lines[4].startswith("kit: cell 2, In [3] done in ")
    assert lines[5].endswith("): total = x + 1")
    assert lines[6].startswith("kit: cell 3, In [4] done in ")
    assert lines[7].startswith("kit: run succeeded after ")
    assert len(lines) == 8
    assert not any("hello" in line for line in lines[4:])  # no cell output without the flag
    assert done.stdout == f"succeeded: {output_url}\n"  # the last line of the task log


def _version(done: subprocess.CompletedProcess[str]) -> str:
    first = done.stderr.splitlines()[0]
    return first.split("@", 1)[1].split(" ", 1)[0]


def test_log_output_adds_the_cells_stdout_and_stderr_and_a_failure_names_its_cell(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook(
        "logged",
        "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)",
        "raise ValueError('boom')",
    )
    done = run_kit("run", str(nb), "--run-id", "p1", "--log-output", env=kit_env(gcs_settings))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert "[cell 2 stdout] to stdout" in lines
    assert "[cell 2 stderr] to stderr" in lines
    assert lines.index("[cell 2 stdout] to stdout") < next(
        i for i, line in enumerate(lines) if line.startswith("kit: cell 2, In [")
    )
    failed = next(line for line in lines if " failed in " in line)
    assert failed.startswith("kit: cell 3, In [3] failed in ")
    assert failed.endswith(": ValueError: boom")
    assert lines[-1].startswith("kit: run failed after ")
    assert done.stdout.startswith("failed: ")


def test_lines_are_flushed_while_the_run_goes_on(
    gcs_settings: Settings, make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    wait = f"import os, time\nwhile not os.path.exists({str(gate)!r}):\n    time.sleep(0.05)"
    nb = make_notebook("live", "print('first')", wait)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kit.cli.main", "run", str(nb), "--run-id", "p1"],
        env=kit_env(gcs_settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen.append(line)
            if line.startswith("kit: cell 3 started"):
                break
        assert seen[-1].startswith("kit: cell 3 started"), seen
        assert proc.poll() is None  # the line came while the cell still ran
    finally:
        gate.touch()
        proc.communicate(timeout=120)
    assert proc.returncode == 0


def test_json_format_prints_cloud_logging_entries(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook("structured", "print('out')", "1/0")
    env = kit_env(gcs_settings, KIT_LOG_FORMAT="json")
    done = run_kit("run", str(nb), "--run-id", "j1", "--log-output", env=env)
    assert done.returncode == 1
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    assert all({"severity", "message", "time", "event", "run_id"} <= set(e) for e in entries)
    assert {e["run_id"] for e in entries} == {"j1"}
    assert entries[0]["event"] == "run_started"
    started = [e["cell"] for e in entries if e["event"] == "cell_started"]
    assert started == [1, 2, 3]
    output = next(e for e in entries if e["event"] == "cell_output")
    assert (output["message"], output["cell"], output["severity"]) == ("out", 2, "INFO")
    failed = next(e for e in entries if e["event"] == "cell_failed")
    assert (failed["severity"], failed["cell"]) == ("ERROR", 3)
    assert failed["error"] == "ZeroDivisionError: division by zero"
    assert failed["peak_rss_bytes"] > 0
    last = entries[-1]
    assert (last["event"], last["status"], last["severity"]) == ("run_finished", "failed", "ERROR")
    assert done.stdout.startswith("failed: ")


def test_a_terminal_gets_a_progress_bar_of_cells(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook("bar", "pass", "pass")
    primary, secondary = pty.openpty()
    env = kit_env(gcs_settings, TERM="xterm-256color", COLUMNS="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kit.cli.main", "run", str(nb), "--run-id", "t1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=secondary,
        text=True,
    )
    os.close(secondary)
    shown = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    stdout, _ = proc.communicate(timeout=120)
    text = shown.decode(errors="replace")
    assert proc.returncode == 0
    assert "3/3" in text  # rich's bar: cells done of the notebook's code cells
    assert "━" in text
    assert "kit: cell 1 started" not in text  # a bar instead of lines
    assert stdout.startswith("succeeded: ")


def test_an_unknown_log_format_is_a_one_line_error(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    env = kit_env(gcs_settings, KIT_LOG_FORMAT="xml")
    done = run_kit("run", str(make_notebook("fmt", "pass")), "--run-id", "f1", env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "kit: error: KIT_LOG_FORMAT: log_format 'xml' must be one of auto, text, json"
    )
