"""Failure semantics of `kit run`, each on a real notebook, a real kernel and the emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from record_support import assert_valid
from run_support import kit_env, run_kit

from kit import cells
from kit.config import Settings
from kit.errors import StorageError, UsageError
from kit.runner import run
from kit.storage import storage_for

pytestmark = pytest.mark.slow
MakeNotebook = Callable[..., Path]


def _output(settings: Settings, record: dict[str, Any]) -> dict[str, Any]:
    return json.loads(storage_for(record["output_url"]).read(record["output_url"]))


def _texts(cell: dict[str, Any]) -> str:
    return "".join(
        "".join(o.get("text", "")) for o in cell.get("outputs", []) if o["output_type"] == "stream"
    )


def test_success_records_version_parameters_metrics_and_context(
    gcs_settings: Settings, make_notebook: MakeNotebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "forecast")
    monkeypatch.setenv("AIRFLOW_CTX_TRY_NUMBER", "2")
    monkeypatch.setenv("AIRFLOW_CTX_MAP_INDEX", "1")
    nb = make_notebook(
        "metrics",
        "import kit\nkit.record('double', x * 2)\nkit.record('table', [{'k': label, 'v': 1.5}])",
        "import os\nprint(os.environ['KIT_RUN_ID'])",
    )
    result = run(gcs_settings, str(nb), "r1", cli_params=[("x", "21"), ("label", "b")])
    record = result.record
    assert result.status == "succeeded"
    assert result.exit_code == 0
    assert_valid(record)
    assert record["schema"] == "kit.run/2"
    assert record["notebook"] == "metrics"
    assert record["version"].startswith("adhoc-")
    assert len(record["sha256"]) == 64
    assert record["parameters"] == {"x": 21, "label": "b"}
    assert record["overridden"] == ["label", "x"]
    assert (record["stopped_at"], record["cells_not_run"]) == (None, 0)
    assert record["metrics"] == {"double": 42, "table": [{"k": "b", "v": 1.5}]}
    assert record["airflow"]["dag_id"] == "forecast"
    assert (record["airflow"]["try_number"], record["airflow"]["map_index"]) == (2, 1)
    assert record["output_url"] == f"{gcs_settings.outputs_bucket}/runs/metrics/r1/output.ipynb"
    out = _output(gcs_settings, record)
    assert "r1" in _texts(out["cells"][-1])
    stored = json.loads(storage_for(result.record_url).read(result.record_url))
    assert stored == json.loads(json.dumps(record))


def test_the_output_is_saved_while_the_run_goes_on(
    gcs_settings: Settings, make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    wait = f"import os, time\nwhile not os.path.exists({str(gate)!r}):\n    time.sleep(0.05)"
    nb = make_notebook("watched", "print('first cell')", wait)
    url = f"{gcs_settings.outputs_bucket}/runs/watched/r1/output.ipynb"
    store = storage_for(url)
    results = []
    worker = threading.Thread(target=lambda: results.append(run(gcs_settings, str(nb), "r1")))
    worker.start()
    seen = ""
    try:
        deadline = time.monotonic() + 120
        while "first cell" not in seen and time.monotonic() < deadline:
            if store.exists(url):
                seen = _texts(json.loads(store.read(url))["cells"][1])
            time.sleep(0.1)
    finally:
        gate.touch()  # the run can only end after this, so what we saw was mid-run
        worker.join(120)
    assert "first cell" in seen
    assert results[0].status == "succeeded"


def _executed(out: dict[str, Any], number: int) -> dict[str, Any]:
    """The executed notebook's cell that is source cell `number` (kit.cells)."""
    index = cells.executed_index(out["cells"], number)
    assert index is not None
    return out["cells"][index]


def test_a_raising_cell_fails_naming_its_source_number(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook("raises", "print('before')", "raise ValueError('boom')", "print('after')")
    result = run(gcs_settings, str(nb), "r1")
    assert (result.status, result.exit_code) == ("failed", 1)
    record = result.record
    assert_valid(record)
    assert (record["error"]["ename"], record["error"]["evalue"]) == ("ValueError", "boom")
    # Source cells: 1 parameters, 2 print('before'), 3 raise, 4 print('after').
    assert record["stopped_at"] == {
        "cell": 3,
        "execution_count": 3,  # no parameters given: papermill injects no cell
        "source": "raise ValueError('boom')",
    }
    assert record["cells_not_run"] == 1
    out = _output(gcs_settings, record)
    failing = _executed(out, 3)
    assert "raise ValueError" in "".join(failing["source"])
    assert any(o["output_type"] == "error" for o in failing["outputs"])
    assert "papermill-error-cell-tag" in out["cells"][0]["metadata"]["tags"]  # the banner
    assert not any("after" in _texts(c) for c in out["cells"])


def test_an_unknown_line_magic_fails_at_its_own_cell_with_the_message(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook("magic", "print('fine')", "%nosuchmagic", "print('after')")
    result = run(gcs_settings, str(nb), "r1")
    record = result.record
    assert_valid(record)
    assert result.status == "failed"
    # IPython prints the UsageError on stderr and leaves no error output.
    assert record["reason"] == "UsageError: Line magic function `%nosuchmagic` not found."
    assert record["stopped_at"]["cell"] == 3
    assert record["stopped_at"]["source"] == "%nosuchmagic"
    assert record["error"]["ename"] == "UsageError"


@pytest.mark.parametrize("stop", ["import sys\nsys.exit(0)", "raise SystemExit"])
def test_an_early_exit_succeeds_and_says_which_cell_stopped_the_run(
    gcs_settings: Settings, make_notebook: MakeNotebook, stop: str
) -> None:
    nb = make_notebook("exit0", "print('ran')", stop, "print('not ' + 'reached')", "pass")
    result = run(gcs_settings, str(nb), "r1")
    record = result.record
    assert_valid(record)
    assert result.status == "succeeded"
    assert record["reason"] == ("sys.exit(0)" if "sys" in stop else "sys.exit()")
    assert record["stopped_at"]["cell"] == 3
    assert record["cells_not_run"] == 2
    assert record["error"] is None
    assert not any(
        "not reached" in _texts(c) for c in _output(gcs_settings, result.record)["cells"]
    )


def test_sys_exit_nonzero_fails(gcs_settings: Settings, make_notebook: MakeNotebook) -> None:
    nb = make_notebook("exit3", "import sys\nsys.exit(3)")
    result = run(gcs_settings, str(nb), "r1")
    assert (result.status, result.record["reason"]) == ("failed", "sys.exit(3)")
    assert result.record["stopped_at"]["cell"] == 2


@pytest.mark.parametrize(
    "death",
    ["import os\nos._exit(1)", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"],
    ids=["os._exit", "sigkill"],
)
def test_a_dead_kernel_fails_and_keeps_every_output(
    gcs_settings: Settings, make_notebook: MakeNotebook, death: str
) -> None:
    nb = make_notebook(
        "dies",
        "print('first cell')",
        f"import sys, time\nprint('last words', flush=True)\ntime.sleep(0.5)\n{death}",
    )
    result = run(gcs_settings, str(nb), "r1")
    assert_valid(result.record)
    assert (result.status, result.record["reason"]) == ("failed", "kernel died")
    out = _output(gcs_settings, result.record)
    assert "first cell" in _texts(_executed(out, 2))
    assert "last words" in _texts(_executed(out, 3))
    assert result.record["stopped_at"]["cell"] == 3
    assert result.record["error"]["ename"] == "DeadKernelError"


def test_each_cell_records_its_duration_and_the_kernels_peak_memory(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    grow = "import time\nblock = bytearray(300 * 2**20)\ntime.sleep(0.3)\ndel block"
    nb = make_notebook("memory", "import time\ntime.sleep(0.5)", grow, "small = 1")
    record = run(gcs_settings, str(nb), "r1").record
    assert_valid(record)
    by_cell = {c["cell"]: c for c in record["cells"]}
    assert sorted(by_cell) == [1, 2, 3, 4]
    assert by_cell[2]["duration_seconds"] >= 0.5
    assert all(c["status"] == "completed" for c in record["cells"])
    # The reset high-water mark sees the 300 MiB in cell 3 only, though it was freed.
    assert by_cell[3]["peak_rss_bytes"] - by_cell[4]["peak_rss_bytes"] > 250 * 2**20
    assert by_cell[4]["peak_rss_bytes"] < by_cell[3]["peak_rss_bytes"]
    assert record["peak_rss_bytes"] == by_cell[3]["peak_rss_bytes"]
    out = _output(gcs_settings, record)  # the executed notebook carries the peaks too
    assert _executed(out, 3)["metadata"]["kit"]["peak_rss_bytes"] == by_cell[3]["peak_rss_bytes"]


def test_the_record_holds_every_parameter_and_a_none_default_takes_none(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook(
        "effective",
        "import kit\nkit.record('c_is_none', c is None)",
        params="horizon = 365\nc = None\nlabel = 'a'",
    )
    result = run(gcs_settings, str(nb), "r1", cli_params=[("horizon", "30"), ("c", "None")])
    record = result.record
    assert record["parameters"] == {"horizon": 30, "c": None, "label": "a"}
    assert record["overridden"] == ["c", "horizon"]
    assert record["metrics"] == {"c_is_none": True}


def test_an_adhoc_run_refuses_two_parameters_cells_as_publishing_does(
    gcs_settings: Settings, tmp_path: Path
) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_code_cell("a = 1", metadata={"tags": ["parameters"]}),
            new_code_cell("b = 2", metadata={"tags": ["parameters"]}),
        ]
    )
    path = tmp_path / "two.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(UsageError, match=r"2 cells tagged 'parameters' \(cells 1, 2\)"):
        run(gcs_settings, str(path), "r1")


def test_timeout_stops_the_run_as_timed_out(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook("slow", "print('started', flush=True)", "import time\ntime.sleep(120)")
    result = run(gcs_settings, str(nb), "r1", timeout=3)
    assert (result.status, result.exit_code) == ("timed_out", 124)
    assert result.record["reason"] == "timed out after 3 s"
    assert result.record["stopped_at"]["cell"] == 3
    assert_valid(result.record)
    # Every save of the output says when the run started and its deadline (start + 3 + 30).
    url = result.record["output_url"]
    meta = dict(storage_for(url).stat(url).metadata)
    assert meta["kit-started-at"] == result.record["started_at"]
    started = datetime.fromisoformat(meta["kit-started-at"])
    assert datetime.fromisoformat(meta["kit-deadline"]) == started + timedelta(seconds=33)
    assert meta["kit-version"] == result.record["version"]
    assert "started" in _texts(_output(gcs_settings, result.record)["cells"][1])


def test_a_run_id_is_never_reused(gcs_settings: Settings, make_notebook: MakeNotebook) -> None:
    nb = make_notebook("once", "pass")
    run(gcs_settings, str(nb), "attempt-1")
    with pytest.raises(
        UsageError, match=r"run id already used: .*/runs/once/attempt-1/output\.ipynb"
    ):
        run(gcs_settings, str(nb), "attempt-1")


@pytest.mark.parametrize("run_id", ["", "a/b", "../x", "x" * 200, "-lead"])
def test_bad_run_ids_are_refused(
    gcs_settings: Settings, make_notebook: MakeNotebook, run_id: str
) -> None:
    with pytest.raises(UsageError, match="invalid --run-id"):
        run(gcs_settings, str(make_notebook("nb", "pass")), run_id)


def test_cli_prints_one_line_with_the_output_url_and_exit_codes(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    ok = run_kit(
        "run",
        str(make_notebook("fine", "pass")),
        "--run-id",
        "c1",
        "-p",
        "x",
        "5",
        env=kit_env(gcs_settings),
    )
    assert ok.returncode == 0, ok.stderr
    assert (
        ok.stdout.strip() == f"succeeded: {gcs_settings.outputs_bucket}/runs/fine/c1/output.ipynb"
    )
    bad = run_kit(
        "run", str(make_notebook("bad", "1/0")), "--run-id", "c1", env=kit_env(gcs_settings)
    )
    assert bad.returncode == 1
    assert bad.stdout.strip().startswith("failed: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "nope", "1"], "unknown parameter 'nope'"),
        (["-p", "x", "ten"], "parameter x='ten' is not a valid int"),
        (["--params-json", "[]"], "must be a JSON object"),
        (["-p", "x"], "Option '-p' requires 2 arguments"),
    ],
)
def test_bad_parameters_exit_2_before_any_output_is_written(
    gcs_settings: Settings, make_notebook: MakeNotebook, args: list[str], message: str
) -> None:
    result = run_kit(
        "run",
        str(make_notebook("typed", "pass")),
        "--run-id",
        "p1",
        *args,
        env=kit_env(gcs_settings),
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    prefix = f"{gcs_settings.outputs_bucket}/runs/"
    assert list(storage_for(prefix).list(prefix)) == []


def test_unreachable_gcs_is_a_clear_error_before_any_kernel(
    gcs_settings: Settings, make_notebook: MakeNotebook, unused_port: int
) -> None:
    env = kit_env(gcs_settings, STORAGE_EMULATOR_HOST=f"http://127.0.0.1:{unused_port}")
    result = run_kit(
        "run", str(make_notebook("offline", "print('ran')")), "--run-id", "u1", env=env
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"kit: error: cannot reach the storage emulator at http://127.0.0.1:{unused_port} "
        "(STORAGE_EMULATOR_HOST); start it with `kit dev up`"
    )
    assert result.stdout == ""


def test_sigterm_stops_kernel_saves_output_and_records_killed(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook("long", "print('working', flush=True)", "import time\ntime.sleep(300)")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kit.cli.main", "run", str(nb), "--run-id", "k1"],
        env=kit_env(gcs_settings, KIT_GRACE_SECONDS="20"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    output_url = f"{gcs_settings.outputs_bucket}/runs/long/k1/output.ipynb"
    store = storage_for(output_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the sleeping cell has started
        if store.exists(output_url):
            cells = json.loads(store.read(output_url))["cells"]
            if "working" in _texts(cells[1]):
                break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the run never reached its sleeping cell")
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert stdout.strip() == f"killed: {output_url}"
    record = json.loads(store.read(output_url.replace("output.ipynb", "run.json")))
    assert (record["status"], record["reason"]) == ("killed", "received SIGTERM")
    assert "working" in _texts(json.loads(store.read(output_url))["cells"][1])


def test_parameter_values_that_look_like_options_reach_the_notebook_verbatim(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook("verbatim", "import kit\nkit.record('label', label)")
    result = run_kit(
        "run", str(nb), "--run-id", "v1", "-p", "label", "--help", env=kit_env(gcs_settings)
    )
    assert result.returncode == 0, result.stderr
    record_url = f"{gcs_settings.outputs_bucket}/runs/verbatim/v1/run.json"
    assert json.loads(storage_for(record_url).read(record_url))["metrics"] == {"label": "--help"}


def test_an_output_that_cannot_be_saved_stops_the_run_without_a_record(
    tmp_path: Path, make_notebook: MakeNotebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(outputs_bucket=str(tmp_path / "outputs"))
    output = tmp_path / "outputs" / "runs" / "unsaved" / "r1" / "output.ipynb"
    monkeypatch.setenv("UNSAVED_OUTPUT", str(output))
    # The cell turns the output's path into a folder: every save from then on fails, for real.
    # (A save still in flight may put the file back once: loop until the folder stands.)
    breaker = (
        "import os\np = os.environ['UNSAVED_OUTPUT']\nwhile not os.path.isdir(p):\n"
        "    try:\n        os.remove(p)\n    except FileNotFoundError:\n        pass\n"
        "    try:\n        os.mkdir(p)\n    except FileExistsError:\n        pass"
    )
    nb = make_notebook("unsaved", breaker, "print('never saved')", "print('nor this')")
    with pytest.raises(StorageError, match=r"cannot write .*runs/unsaved/r1/output\.ipynb"):
        run(settings, str(nb), "r1")
    assert not (output.parent / "run.json").exists()


def test_an_adhoc_file_whose_name_is_not_a_notebook_name_runs_with_name(
    gcs_settings: Settings, make_notebook: MakeNotebook
) -> None:
    path = make_notebook("My Forecast (v2)", "print(x)")
    refused = run_kit("run", str(path), "--run-id", "n1", env=kit_env(gcs_settings))
    assert refused.returncode == 2
    assert refused.stderr.strip().endswith(
        "file name 'My Forecast (v2)' is not a valid notebook name ([a-z0-9][a-z0-9_-]{0,62}); "
        "run it with --name my-forecast-v2"
    )
    ran = run_kit(
        "run", str(path), "--run-id", "n1", "--name", "my-forecast-v2", env=kit_env(gcs_settings)
    )
    assert ran.returncode == 0, ran.stderr
    expected = f"{gcs_settings.outputs_bucket}/runs/my-forecast-v2/n1/output.ipynb"
    assert ran.stdout.strip() == f"succeeded: {expected}"
    # A published notebook runs under its own name.
    published = run_kit(
        "run", "forecast", "--run-id", "n2", "--name", "other", env=kit_env(gcs_settings)
    )
    assert published.returncode == 2
    assert "--name applies to a notebook file or URL" in published.stderr


def test_run_help_lists_the_parameter_option() -> None:
    shown = run_kit("run", "--help", env=dict(os.environ))
    assert shown.returncode == 0
    assert "-p, --param KEY VALUE" in shown.stdout
    assert "--name TEXT" in shown.stdout
