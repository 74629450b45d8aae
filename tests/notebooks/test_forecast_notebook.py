"""The example forecast notebook: committed clean, and it runs end to end on local data."""

from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import papermill
import pytest

from kit.metrics import METRIC_MIME, collect

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "forecast.ipynb"
DATA = ROOT / "data" / "prophet-examples"
PARAMETERS = {
    "dataset_url": str,
    "horizon": int,
    "holdout": int,
    "run_date": str,
    "output_prefix": str,
    "interval_width": float,
}
FORECAST_COLUMNS = ["ds", "y", "yhat", "yhat_lower", "yhat_upper"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _read() -> Any:
    return nbformat.read(NOTEBOOK, as_version=4)


def _parameter_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]


def test_notebook_is_valid_clean_and_parameterised() -> None:
    nb = _read()
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"] == {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[-1].cell_type == "markdown"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {cell.id} has outputs"
            assert cell.execution_count is None, f"cell {cell.id} has an execution count"
            ast.parse(cell.source)  # plain Python, no magics

    (params,) = _parameter_cells(nb)
    assert params.cell_type == "code"
    values = {}
    for stmt in ast.parse(params.source).body:
        assert isinstance(stmt, ast.Assign), ast.unparse(stmt)
        (target,) = stmt.targets
        assert isinstance(target, ast.Name)
        values[target.id] = ast.literal_eval(stmt.value)
    assert list(values) == list(PARAMETERS)
    for name, kind in PARAMETERS.items():
        assert type(values[name]) is kind, name
    assert values["dataset_url"].startswith("gs://")
    assert values["output_prefix"].startswith("gs://")
    assert values["output_prefix"].endswith("/")
    assert 0 < values["interval_width"] < 1
    assert values["horizon"] > 0
    assert values["holdout"] > 0
    pd.Timestamp(values["run_date"])  # an ISO date


def _execute(tmp_path: Path, **parameters: Any) -> Any:
    return papermill.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "output.ipynb"),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )


@pytest.fixture
def _kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


@pytest.mark.slow
@pytest.mark.usefixtures("_kernel_env")
@pytest.mark.parametrize(
    ("dataset", "horizon", "holdout", "freq"),
    [
        ("example_wp_log_peyton_manning.csv", 30, 60, "D"),
        ("example_retail_sales.csv", 12, 24, "MS"),
    ],
)
def test_notebook_forecasts_local_data(
    tmp_path: Path, dataset: str, horizon: int, holdout: int, freq: str
) -> None:
    data = pd.read_csv(DATA / dataset, parse_dates=["ds"])
    out = tmp_path / "outputs"  # does not exist yet: the notebook creates it
    nb = _execute(
        tmp_path,
        dataset_url=str(DATA / dataset),
        horizon=horizon,
        holdout=holdout,
        output_prefix=f"{out}/",
    )

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("name") == "stderr"], "the notebook should run quietly"
    recorded = [o["data"][METRIC_MIME]["name"] for o in outputs if METRIC_MIME in o.get("data", {})]
    assert {"mape", "coverage", "n_train", "holdout_rows", "forecast_tail"} <= set(recorded)

    metrics = collect(nb.cells)
    assert math.isfinite(metrics["mape"])
    assert 0 < metrics["mape"] < 20  # percent; both series are forecastable to within a few %
    assert 0 <= metrics["coverage"] <= 1
    assert metrics["holdout_rows"] == holdout
    assert metrics["n_train"] == len(data) - holdout
    tail = metrics["forecast_tail"]
    assert len(tail) == 5
    assert set(tail[0]) == {"ds", "yhat", "yhat_lower", "yhat_upper"}

    forecast = pd.read_csv(out / "forecast.csv", parse_dates=["ds"])
    assert list(forecast.columns) == FORECAST_COLUMNS
    future = forecast[forecast["ds"] > data["ds"].max()]
    assert len(future) == horizon
    assert len(forecast) == len(data) + horizon
    assert future["y"].isna().all()
    assert future["ds"].tolist() == list(
        pd.date_range(data["ds"].max(), periods=horizon + 1, freq=freq)[1:]
    )
    assert (forecast["yhat_lower"] <= forecast["yhat"]).all()
    assert (forecast["yhat"] <= forecast["yhat_upper"]).all()
    assert tail[-1]["ds"] == f"{future['ds'].max():%Y-%m-%d}"

    assert (out / "forecast.png").read_bytes().startswith(PNG_MAGIC)


@pytest.mark.slow
@pytest.mark.usefixtures("_kernel_env")
def test_notebook_uses_only_data_up_to_run_date(tmp_path: Path) -> None:
    nb = _execute(
        tmp_path,
        dataset_url=str(DATA / "example_retail_sales.csv"),
        run_date="2010-12-31",
        horizon=6,
        holdout=12,
        output_prefix=f"{tmp_path}/out/",
    )
    metrics = collect(nb.cells)
    data = pd.read_csv(DATA / "example_retail_sales.csv", parse_dates=["ds"])
    known = data[data["ds"] <= "2010-12-31"]
    assert metrics["n_train"] == len(known) - 12
    forecast = pd.read_csv(tmp_path / "out" / "forecast.csv", parse_dates=["ds"])
    assert forecast["ds"].max() == pd.Timestamp("2011-06-01")
    assert forecast["y"].notna().sum() == len(known)


@pytest.mark.slow
@pytest.mark.usefixtures("_kernel_env")
def test_notebook_rejects_a_holdout_that_leaves_too_little_data(tmp_path: Path) -> None:
    with pytest.raises(papermill.PapermillExecutionError, match="fewer than 10 rows"):
        _execute(
            tmp_path,
            dataset_url=str(DATA / "example_air_passengers.csv"),
            holdout=140,
            output_prefix=f"{tmp_path}/out/",
        )
