"""`kit run` of model modules and percent scripts: the same runner, kernel, output and record.

Each run is real: published to the emulator, executed by a real kernel through papermill.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from run_support import kit_env

from kit.cells import executed_index
from kit.config import Settings
from kit.publishing import publish_notebook
from kit.runner import run
from kit.storage import storage_for

pytestmark = pytest.mark.slow

MODULE = '''\
"""Doubles a number, the way a model would: logs, prints, plots, records, returns."""
import logging
import os
import sys
import time
from datetime import date
from typing import Literal

import kit

log = logging.getLogger(__name__)


def check(x):
    if x < 0:
        raise ValueError(f"x must not be negative, got {x}")


class Model:
    def run(
        self,
        x: int = 2,  # the number
        mode: Literal["ok", "sleep", "die", "exit0", "exit3"] = "ok",
        as_of: date = date(2026, 11, 23),
    ):
        print(f"doubling {x} as of {as_of!r}", flush=True)
        print("a warning on stderr", file=sys.stderr, flush=True)
        log.info("log record from run(): mode=%s", mode)
        kit.record("double", x * 2)
        if mode == "sleep":
            if os.environ.get("DOUBLER_STARTED"):
                open(os.environ["DOUBLER_STARTED"], "w").close()
            time.sleep(300)
        if mode == "die":
            os.kill(os.getpid(), 9)
        if mode in ("exit0", "exit3"):
            sys.exit(int(mode[-1]))
        check(x)
        import matplotlib.pyplot as plt

        plt.plot([1, 2, 3], [x, 2 * x, 3 * x])
        plt.show()
        return {"double": x * 2, "as_of": as_of.isoformat()}
'''


@pytest.fixture
def module_path(tmp_path: Path) -> Path:
    path = tmp_path / "doubler.py"
    path.write_text(MODULE)
    return path


@pytest.fixture
def published(module_path: Path, gcs_settings: Settings) -> str:
    """The module published to the test's modules bucket: its `name@version`."""
    return publish_notebook(module_path, settings=gcs_settings).ref


def _output(record: dict[str, Any]) -> dict[str, Any]:
    return json.loads(storage_for(record["output_url"]).read(record["output_url"]))


def _source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else str(source)


def _outputs(cell: dict[str, Any], kind: str) -> str:
    found = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream" and output["name"] == kind:
            found.append("".join(output["text"]))
        elif kind in output.get("data", {}):
            data = output["data"][kind]
            found.append("".join(data) if isinstance(data, list) else json.dumps(data))
    return "".join(found)


def _stopped(nb: dict[str, Any], record: dict[str, Any]) -> int:
    """The executed notebook's index of the cell the record says the run stopped at."""
    index = executed_index(nb["cells"], record["stopped_at"]["cell"])
    assert index is not None
    return index


def _tagged(nb: dict[str, Any], tag: str) -> dict[str, Any]:
    (cell,) = [c for c in nb["cells"] if tag in c.get("metadata", {}).get("tags", [])]
    return cell


def test_a_published_module_runs_like_a_notebook(
    published: str, gcs_settings: Settings, module_path: Path
) -> None:
    result = run(gcs_settings, published, "m1", cli_params=[("x", "21"), ("as_of", "2026-01-31")])
    record = result.record
    assert (result.status, result.exit_code) == ("succeeded", 0)
    name, version = published.split("@")
    assert (record["notebook"], record["version"]) == (name, version)
    assert record["source_url"] == f"{gcs_settings.modules_bucket}/notebooks/{name}/{version}.py"
    assert {k: record["parameters"][k] for k in record["overridden"]} == {
        "x": 21,
        "as_of": "2026-01-31",
    }
    assert record["metrics"] == {"double": 42}
    assert record["error"] is None

    nb = _output(record)
    module_cell = _tagged(nb, "kit-module")
    assert module_cell["metadata"]["jupyter"] == {"source_hidden": True}
    assert _source(module_cell) == f"%%kit_module doubler.py doubler\n{module_path.read_text()}"
    parameters = _source(_tagged(nb, "parameters"))
    assert "x = 2  # the number" in parameters
    assert 'mode = "ok"  # one of "ok", "sleep", "die", "exit0", "exit3"' in parameters
    assert "x = 21" in _source(_tagged(nb, "injected-parameters"))
    run_cell = _tagged(nb, "kit-run")
    assert "doubling 21 as of datetime.date(2026, 1, 31)" in _outputs(run_cell, "stdout")
    stderr = _outputs(run_cell, "stderr")
    assert "a warning on stderr" in stderr
    assert "INFO doubler: log record from run(): mode=ok" in stderr
    assert _outputs(run_cell, "image/png")  # the figure run() showed
    assert "{'double': 42, 'as_of': '2026-01-31'}" in _outputs(run_cell, "text/plain")
    assert "double = 42" in _outputs(run_cell, "text/plain")  # kit.record, displayed


def test_a_module_run_record_has_the_shape_of_a_notebook_run(
    published: str, gcs_settings: Settings, make_notebook: Any
) -> None:
    module_record = run(gcs_settings, published, "shape-m").record
    notebook_record = run(gcs_settings, str(make_notebook("nb", "pass")), "shape-n").record
    assert set(module_record) == set(notebook_record)


def test_a_raise_names_the_modules_own_file_and_line(
    published: str, gcs_settings: Settings
) -> None:
    result = run(gcs_settings, published, "m-fail", cli_params=[("x", "-1")])
    record = result.record
    assert (result.status, result.exit_code) == ("failed", 1)
    assert record["reason"] == "ValueError: x must not be negative, got -1"
    line = MODULE.splitlines().index('        raise ValueError(f"x must not be negative, got {x}")')
    assert record["error"]["location"] == {
        "file": "doubler.py",
        "line": line + 1,
        "function": "check",
    }
    traceback = "\n".join(record["error"]["traceback"])
    assert "doubler.py:" in traceback
    assert f"doubler.py:{line + 1}" in traceback.replace("\x1b[32m", "").replace("\x1b[39m", "")
    nb = _output(record)
    failing = nb["cells"][_stopped(nb, record)]
    assert "kit-run" in failing["metadata"]["tags"]
    assert f"raised at doubler.py, line {line + 1}, in check" in _outputs(failing, "text/plain")


@pytest.mark.parametrize(
    ("mode", "status", "reason"),
    [
        ("die", "failed", "kernel died"),
        ("exit3", "failed", "sys.exit(3)"),
        ("exit0", "succeeded", "sys.exit(0)"),  # as a notebook cell calling sys.exit(0)
    ],
)
def test_kernel_death_and_sys_exit_behave_as_in_notebooks(
    published: str, gcs_settings: Settings, mode: str, status: str, reason: str | None
) -> None:
    result = run(gcs_settings, published, f"m-{mode}", cli_params=[("mode", mode)])
    assert (result.status, result.record["reason"]) == (status, reason)
    nb = _output(result.record)
    assert "doubling 2" in _outputs(_tagged(nb, "kit-run"), "stdout")  # output kept
    if status == "failed":
        assert "kit-run" in nb["cells"][_stopped(nb, result.record)]["metadata"]["tags"]


def test_a_timeout_stops_run_as_timed_out(published: str, gcs_settings: Settings) -> None:
    result = run(gcs_settings, published, "m-slow", cli_params=[("mode", "sleep")], timeout=5)
    assert (result.status, result.exit_code) == ("timed_out", 124)
    assert result.record["reason"] == "timed out after 5 s"
    nb = _output(result.record)
    assert "kit-run" in nb["cells"][_stopped(nb, result.record)]["metadata"]["tags"]
    assert "doubling 2" in _outputs(_tagged(nb, "kit-run"), "stdout")


def test_sigterm_during_run_records_killed(
    published: str, gcs_settings: Settings, tmp_path: Path
) -> None:
    name = published.split("@")[0]
    started = tmp_path / "started"
    command = [sys.executable, "-m", "kit.cli.main", "run", published, "--run-id", "m-k"]
    proc = subprocess.Popen(
        [*command, "-p", "mode", "sleep"],
        env=kit_env(gcs_settings, KIT_GRACE_SECONDS="20", DOUBLER_STARTED=str(started)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not started.exists() and time.monotonic() < deadline:  # run() is sleeping
        time.sleep(0.1)
    if not started.exists():
        proc.kill()
        pytest.fail(f"run() never started: {proc.communicate()[1]}")
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    output_url = f"{gcs_settings.outputs_bucket}/runs/{name}/m-k/output.ipynb"
    assert proc.returncode == 143, stderr
    assert stdout.strip() == f"killed: {output_url}"
    store = storage_for(output_url)
    record = json.loads(store.read(output_url.replace("output.ipynb", "run.json")))
    assert (record["status"], record["reason"]) == ("killed", "received SIGTERM")
    nb = json.loads(store.read(output_url))
    assert "kit-run" in nb["cells"][_stopped(nb, record)]["metadata"]["tags"]
    assert "doubling 2" in _outputs(_tagged(nb, "kit-run"), "stdout")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "moda", "ok"], "unknown parameter 'moda'; did you mean mode?"),
        (["-p", "x", "two"], "parameter x='two' is not a valid int"),
        (["-p", "as_of", "yesterday"], "parameter as_of='yesterday' is not a valid date"),
        (["-p", "mode", "fast"], 'parameter mode=\'fast\' is not one of "ok", "sleep"'),
        (["--params-json", '{"mode": "fast"}'], "parameter mode='fast' is not one of"),
    ],
)
def test_bad_parameters_exit_2_before_any_kernel(
    published: str, gcs_settings: Settings, args: list[str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kit.cli.main", "run", published, "--run-id", "bad", *args],
        env=kit_env(gcs_settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert message in done.stderr
    prefix = f"{gcs_settings.outputs_bucket}/runs/"
    assert list(storage_for(prefix).list(prefix)) == []


def test_an_unpublished_module_runs_from_its_path(
    module_path: Path, gcs_settings: Settings
) -> None:
    result = run(gcs_settings, str(module_path), "adhoc-1", cli_params=[("x", "4")])
    assert result.status == "succeeded"
    assert result.record["version"].startswith("adhoc-")
    assert result.record["metrics"] == {"double": 8}


def test_a_percent_script_is_published_and_run(tmp_path: Path, gcs_settings: Settings) -> None:
    script = tmp_path / "percent_demo.py"
    script.write_text(
        textwrap.dedent(
            """\
            # %% [markdown]
            # # A percent script

            # %% tags=["parameters"]
            horizon = 3  # periods

            # %%
            import kit
            kit.record("twice", horizon * 2)
            print("ran with", horizon)
            """
        )
    )
    ref = publish_notebook(script, settings=gcs_settings).ref
    result = run(gcs_settings, ref, "p1", cli_params=[("horizon", "5")])
    assert result.status == "succeeded"
    assert result.record["source_url"].endswith(".ipynb")
    assert result.record["metrics"] == {"twice": 10}
    adhoc = run(gcs_settings, str(script), "p2")
    assert adhoc.record["metrics"] == {"twice": 6}
