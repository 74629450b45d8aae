"""A SIGTERM that reaches `kit run` before it has read anything still ends with a record.

`kit run` holds SIGTERM/SIGINT from its first line (kit.cli.main) and its runner takes
them over before any I/O: a pod deleted at once is recorded as killed, never lost and
never a bare exit. The signal is sent while it is provably held (the process's SigBlk).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kit.cli.main import main
from kit.config import Settings
from kit.storage import storage_for

pytestmark = pytest.mark.slow
SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def _mask(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1], 16)
    return 0


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
    )
    deadline = time.monotonic() + 60
    # Held, and not yet taken over by the runner's handler: nothing has been read yet.
    while not _mask(proc.pid, "SigBlk") & SIGTERM_BIT:
        assert time.monotonic() < deadline, "kit run never held SIGTERM"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.001)
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


def test_a_kit_run_that_ends_early_gives_the_signals_back() -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    with pytest.raises(SystemExit) as exited:
        main(["run", "x.ipynb", "--run-id", "not a valid id"])
    assert exited.value.code == 2
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == before
