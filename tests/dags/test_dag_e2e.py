"""End to end on the embedded GCS: kit publish, then `kit dag test` runs real notebooks.

`kit dag test` runs the production DAG with dag.test(); each pod's command runs as
`.venv/bin/kit run ...` in the notebook environment against the emulator.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dag_helpers import (
    BASE_CONFIG,
    KIT,
    REPO,
    airflow_major_minor,
    embedded_gcs,
    gcs_read,
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
    # The task log streams kit run's progress: a line as each cell starts and ends.
    assert re.search(r"kit: cell \d+ started \(\+[\d.]+s\): ", out)
    assert re.search(r"kit: cell \d+, In \[\d+\] done in [\d.]+s .*peak RSS", out)


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
