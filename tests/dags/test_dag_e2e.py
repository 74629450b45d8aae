"""End to end on the embedded GCS: kit publish, then `kit dag test` runs real notebooks.

`kit dag test` runs the production DAG with dag.test(); each pod's command runs as
`.venv/bin/kit run ...` in the notebook environment against the emulator.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dag_helpers import (
    BASE_CONFIG,
    KIT,
    REPO,
    Inbox,
    airflow_major_minor,
    embedded_gcs,
    gcs_read,
    mail_body,
    run_cli,
)
from record_support import assert_valid

SUMMARY = re.compile(r"^  (\S+?)(?:\[(\d+)\])? try (\d+): exit (\d+) run (\S+) -> (\S+)$", re.M)

ECHO_NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    },
    "cells": [
        {
            "cell_type": "code",
            "id": "parameters",
            "metadata": {"tags": ["parameters"]},
            "execution_count": None,
            "outputs": [],
            "source": 'value = "default"\noutput_prefix = ""\n',
        },
        {
            "cell_type": "code",
            "id": "echo",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": (
                "import json\n\nimport fsspec\n\n"
                'with fsspec.open(output_prefix + "value.json", "w") as out:\n'
                '    json.dump({"value": value}, out)\n'
            ),
        },
    ],
}


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An embedded GCS of this module's own (kit dev up); the environment `kit dev env`
    gives a shell."""
    with embedded_gcs(tmp_path_factory.mktemp("gcs")) as env:
        yield env


def progress(log: str) -> list[dict[str, Any]]:
    """kit run's JSON progress events in a task log (`[pod] {...}` lines; Airflow 3's log
    adds the logger's name after the message)."""
    decoder, events = json.JSONDecoder(), []
    for line in log.splitlines():
        start = line.find('{"severity"')
        if start >= 0:
            with contextlib.suppress(ValueError):
                events.append(decoder.raw_decode(line[start:])[0])
    return events


def dag_test(dag_id: str, env: dict[str, str]) -> tuple[str, list[tuple[Any, ...]], float]:
    """`kit dag test DAG_ID --airflow <this environment's version>`: its output, the
    summary's attempts and the seconds it took."""
    started = time.monotonic()
    argv = [KIT, "dag", "test", dag_id, "--date", "2026-05-04", "--airflow", airflow_major_minor()]
    out = run_cli(argv, env)
    return out, SUMMARY.findall(out), time.monotonic() - started


@pytest.mark.slow
def test_forecast_fans_out_over_two_datasets(airflow_db: Path, gcs: dict[str, str]) -> None:
    run_cli([KIT, "publish", str(REPO / "notebooks" / "forecast.ipynb")], gcs)
    out, attempts, seconds = dag_test("kit_forecast", gcs)
    print(f"\nkit dag test kit_forecast (2 datasets in parallel): {seconds:.1f}s")
    assert "DAG run manual__" in out
    assert ": success" in out
    assert sorted(a[1] for a in attempts) == ["0", "1"]
    datasets = {"0": "example_wp_log_peyton_manning.csv", "1": "example_retail_sales.csv"}
    for task, index, try_number, code, run_id, output_url in attempts:
        assert (task, try_number, code) == ("forecast", "1", "0")
        assert output_url == f"gs://kit-outputs/runs/forecast/{run_id}/output.ipynb"
        record = json.loads(gcs_read(gcs, output_url.replace("output.ipynb", "run.json")))
        assert_valid(record)
        assert record["status"] == "succeeded"
        assert record["run_id"] == run_id
        assert record["airflow"]["dag_id"] == "kit_forecast"
        assert record["airflow"]["map_index"] == int(index)
        assert record["parameters"]["dataset_url"].endswith("/" + datasets[index])
        assert record["parameters"]["run_date"] == "2026-05-04"
        assert record["pod"].startswith("forecast-")
        assert json.loads(gcs_read(gcs, output_url))["cells"]
        assert gcs_read(gcs, output_url.replace("output.ipynb", "forecast.csv"))
    # The task log streams kit run's progress, a JSON line (KIT_LOG_FORMAT=json, for Cloud
    # Logging) as each cell starts and ends.
    started = [e for e in progress(out) if e["event"] == "cell_started"]
    assert started
    assert all(e["message"].startswith(f"cell {e['cell']} started (+") for e in started)
    finished = [e for e in progress(out) if e["event"] == "cell_finished"]
    assert finished
    assert all("peak RSS" in e["message"] for e in finished)
    assert {e["run_id"] for e in finished} == {a[4] for a in attempts}


@pytest.mark.slow
def test_a_model_module_is_scheduled_and_run_like_a_notebook(
    airflow_db: Path, gcs: dict[str, str]
) -> None:
    run_cli([KIT, "publish", str(REPO / "models" / "prophet_model.py")], gcs)
    out, attempts, seconds = dag_test("kit_prophet_model", gcs)
    print(f"\nkit dag test kit_prophet_model (2 datasets in parallel): {seconds:.1f}s")
    assert ": success" in out
    assert sorted(a[1] for a in attempts) == ["0", "1"]
    for task, _index, try_number, code, run_id, output_url in attempts:
        assert (task, try_number, code) == ("prophet_model", "1", "0")
        record = json.loads(gcs_read(gcs, output_url.replace("output.ipynb", "run.json")))
        assert record["status"] == "succeeded"
        assert record["source_url"].endswith(f"/notebooks/prophet_model/{record['version']}.py")
        assert record["airflow"]["dag_id"] == "kit_prophet_model"
        assert record["parameters"]["run_date"] == "2026-05-04"
        assert {"mape", "coverage", "n_train", "holdout_rows", "forecast_tail"} <= set(
            record["metrics"]
        )
        assert gcs_read(gcs, output_url.replace("output.ipynb", "forecast.csv"))
        assert run_id in output_url


HOSTILE = 'it\'s "quoted" $(touch {marker}) `touch {marker}`; rm -rf {marker} && echo\nline 2\n'


@pytest.mark.slow
def test_hostile_parameter_reaches_the_notebook_unchanged(
    airflow_db: Path, gcs: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    value = HOSTILE.format(marker=marker)
    notebook = tmp_path / "echo.ipynb"
    notebook.write_text(json.dumps(ECHO_NOTEBOOK))
    run_cli([KIT, "publish", str(notebook)], gcs)
    config = tmp_path / "notebooks.yaml"
    # JSON is YAML: the value is written exactly, its quotes and newlines escaped.
    config.write_text(BASE_CONFIG + f"  - name: echo\n    params: {{value: {json.dumps(value)}}}\n")
    _, [attempt], _ = dag_test("kit_echo", {**gcs, "KIT_DAGS_CONFIG": str(config)})
    output_url = attempt[5]
    written = json.loads(gcs_read(gcs, output_url.replace("output.ipynb", "value.json")))
    assert written["value"] == value
    record = json.loads(gcs_read(gcs, output_url.replace("output.ipynb", "run.json")))
    assert_valid(record)
    assert record["parameters"]["value"] == value
    assert not marker.exists()


CRASH_NOTEBOOK = {
    **ECHO_NOTEBOOK,
    "cells": [
        {**ECHO_NOTEBOOK["cells"][0], "source": "seconds = 0\n"},
        *(
            {"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None}
            | {"outputs": [], "source": source}
            for i, source in enumerate(
                [
                    'print("warming up", flush=True)\n',
                    "import time\ntime.sleep(float(seconds))\n",
                    'raise ValueError(f"bad value: {seconds}")\n',
                ]
            )
        ),
    ],
}
REVIEW = "https://kit-review.example.com"
POD_STARTED = re.compile(r"Pod (\S+) runs locally \(pid (\d+)\): (.*)$")


@pytest.mark.slow
def test_a_killed_runner_ends_with_a_finisher_record_and_each_failure_sends_one_mail(
    airflow_db: Path, gcs: dict[str, str], inbox: Inbox, tmp_path: Path
) -> None:
    """Two items of one DAG run fail: item 0 in its own cell (kit run records it), item 1
    because its runner is SIGKILLed mid-cell (the finisher records it). Each sends one mail
    with its failing cell; `kit runs` shows both reasons."""
    notebook = tmp_path / "crash.ipynb"
    notebook.write_text(json.dumps(CRASH_NOTEBOOK))
    run_cli([KIT, "publish", str(notebook)], gcs)
    config = tmp_path / "notebooks.yaml"
    settings = f"  data_bucket: gs://kit-data\n  review_url: {REVIEW}\n"
    config.write_text(
        BASE_CONFIG.replace("  data_bucket: gs://kit-data\n", settings)
        + "  - name: crash\n    log_output: true\n    fan_out: [{seconds: '0'}, {seconds: '600'}]\n"
        + "    notify: [{email: [ds@example.com]}]\n"
    )
    env = {**gcs, "KIT_DAGS_CONFIG": str(config)}
    env["AIRFLOW_CONN_SMTP_DEFAULT"] = os.environ["AIRFLOW_CONN_SMTP_DEFAULT"]
    argv = [KIT, "dag", "test", "kit_crash", "--date", "2026-05-04"]
    runner = subprocess.Popen(
        [*argv, "--airflow", airflow_major_minor()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in runner.stdout or ()])
    reader.start()
    seen: list[str] = []
    sleeper: tuple[str, int] | None = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # until item 1's runner is in its sleeping cell
        with contextlib.suppress(queue.Empty):
            line = lines.get(timeout=1)
            seen.append(line)
            if (found := POD_STARTED.search(line)) and "'600'" in found.group(3):
                sleeper = (found.group(1), int(found.group(2)))
            if sleeper and f"[{sleeper[0]}]" in line and '"source": "import time"' in line:
                break
        assert runner.poll() is None or not lines.empty(), "\n".join(seen[-50:])
    assert sleeper is not None, "\n".join(seen[-50:])
    os.kill(sleeper[1], signal.SIGKILL)  # the runner dies without a word: no run.json
    assert runner.wait(timeout=300) == 1
    reader.join(timeout=30)
    while not lines.empty():
        seen.append(lines.get())
    out = "\n".join(seen)
    attempts = {a[1]: a for a in SUMMARY.findall(out)}
    assert sorted(attempts) == ["0", "1"], out[-3000:]
    assert attempts["0"][3] == "1"
    assert attempts["1"][3] == "137"
    records = {
        index: json.loads(gcs_read(gcs, attempt[5].replace("output.ipynb", "run.json")))
        for index, attempt in attempts.items()
    }
    for record in records.values():
        assert_valid(record)
    raised, killed = records["0"], records["1"]
    assert (raised["written_by"], raised["status"]) == ("runner", "failed")
    assert raised["reason"] == "ValueError: bad value: 0"
    assert raised["stopped_at"]["cell"] == 4
    assert (killed["written_by"], killed["status"]) == ("finisher", "failed")
    assert killed["reason"] == "container exited 137 (SIGKILL)"
    assert killed["stopped_at"]["cell"] == 3
    assert killed["stopped_at"]["source"] == "import time"
    assert killed["cells_not_run"] == 1
    assert killed["kubernetes"]["container_exit_code"] == 137
    assert killed["kubernetes"]["pod"] == sleeper[0]
    assert killed["parameters"]["seconds"] == 600  # as the runner cast it (papermill metadata)
    assert killed["airflow"]["map_index"] == 1
    # log_output: the cells' own output is in the task log too.
    assert any(e["event"] == "cell_output" and e["message"] == "warming up" for e in progress(out))
    # One mail per failed task instance, each naming its run, reason and failing cell.
    mails = {m["Subject"]: mail_body(m) for m in inbox.messages}
    assert sorted(mails) == [
        "kit: crash failed: ValueError: bad value: 0",
        "kit: crash failed: container exited 137 (SIGKILL)",
    ]
    for subject, (cell, index) in {
        "kit: crash failed: ValueError: bad value: 0": (4, "0"),
        "kit: crash failed: container exited 137 (SIGKILL)": (3, "1"),
    }.items():
        run_id = attempts[index][4]
        assert f"<td>{run_id}</td>" in mails[subject]
        assert re.search(rf"<td>cell {cell}(, In \[\d+\])?: \w", mails[subject])
        assert f"{REVIEW}/runs/crash/{run_id}/notebook#cell-{cell}</td>" in mails[subject]
    # kit runs (the notebook side) lists both as failed and shows each reason and cell.
    listing = run_cli([KIT, "runs", "crash"], gcs)
    assert all(f"{a[4]}  crash@" in listing for a in attempts.values()), listing
    shown = run_cli([KIT, "runs", "show", "crash", attempts["1"][4]], gcs)
    assert "container exited 137 (SIGKILL)" in shown
    assert "recorded by the Airflow finisher, node localhost, exit 137 (Error)" in shown
    assert (
        "Failed at cell 3: container exited 137 (SIGKILL); 1 later code cell did not run" in shown
    )
