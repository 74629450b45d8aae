"""A SIGTERM that reaches `kit run` before it has read anything still ends with a record.

`kit run` holds SIGTERM/SIGINT from its first line (kit.cli.main) and its runner takes
them over before any I/O: a pod deleted at once is recorded as killed, never lost and
never a bare exit. Both halves are checked without racing the process: the CLI holds the
signals whenever the runner is called, and a SIGTERM pending from the very start (the
process begins with it blocked, as it is from kit's first line) ends as `killed`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kit.cli.main import main
from kit.config import Settings
from kit.storage import storage_for

pytestmark = pytest.mark.slow


def test_a_sigterm_before_the_notebook_is_read_is_recorded_as_killed(
    gcs_settings: Settings, make_notebook: Callable[..., Path]
) -> None:
    nb = make_notebook("early", "import time\ntime.sleep(300)")
    source = f"{gcs_settings.modules_bucket}/adhoc/early.ipynb"
    storage_for(source).write(source, nb.read_bytes(), content_type="application/json")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KIT_")},
        "KIT_MODULES_BUCKET": gcs_settings.modules_bucket,
        "KIT_OUTPUTS_BUCKET": gcs_settings.outputs_bucket,
        "KIT_DATA_BUCKET": gcs_settings.data_bucket,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kit.cli.main", "run", source, "--run-id", "e1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # SIGTERM blocked from the first instruction, then sent at once: it is pending
        # before Python has even started, let alone read the notebook.
        preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}),
    )
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    output_url = f"{gcs_settings.outputs_bucket}/runs/early/e1/output.ipynb"
    assert proc.returncode == 143, stderr
    assert stdout.strip() == f"killed: {output_url}"
    store = storage_for(output_url)
    record = json.loads(store.read(output_url.replace("output.ipynb", "run.json")))
    assert (record["status"], record["reason"]) == ("killed", "received SIGTERM")
    assert record["error"] is None  # no cell ever started
    assert json.loads(store.read(output_url))["cells"]  # the claimed output is kept


def test_the_cli_holds_the_stop_signals_until_the_runner_takes_them_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kit.runner

    seen: list[set[int]] = []

    def runner(*_args: Any, **_kwargs: Any) -> Any:
        seen.append({int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, set())})
        return SimpleNamespace(status="succeeded", output_url="gs://o/x", record={}, exit_code=0)

    monkeypatch.setattr(kit.runner, "run", runner)
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    with pytest.raises(SystemExit) as exited:
        main(["run", "x.ipynb", "--run-id", "r1"])
    assert exited.value.code == 0
    assert {int(signal.SIGTERM), int(signal.SIGINT)} <= seen[0]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == before


def test_a_kit_run_that_ends_early_gives_the_signals_back() -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    with pytest.raises(SystemExit) as exited:
        main(["run", "x.ipynb", "--run-id", "not a valid id"])
    assert exited.value.code == 2
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == before
