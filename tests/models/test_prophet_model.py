"""models/prophet_model.py: the forecast notebook's model as a model module, same results.

Both run with `kit run` on local data (local output folders): the module's metrics and
forecast must equal the notebook's, and a bad holdout fails at the module's own line.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kit.config import Settings
from kit.runner import run

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "models" / "prophet_model.py"
NOTEBOOK = ROOT / "notebooks" / "forecast.ipynb"
DATA = ROOT / "data" / "prophet-examples"
PARAMS = [("horizon", "12"), ("holdout", "24"), ("run_date", "2014-12-31")]

pytestmark = pytest.mark.slow


def test_the_module_forecasts_and_records_exactly_what_the_notebook_does(tmp_path: Path) -> None:
    settings = Settings(outputs_bucket=str(tmp_path / "outputs"))
    dataset = [("dataset_url", str(DATA / "example_retail_sales.csv"))]
    module = run(settings, str(MODULE), "same-1", cli_params=[*dataset, *PARAMS])
    notebook = run(settings, str(NOTEBOOK), "same-1", cli_params=[*dataset, *PARAMS])
    assert (module.status, notebook.status) == ("succeeded", "succeeded")
    assert module.record["metrics"] == notebook.record["metrics"]
    assert set(module.record["metrics"]) == {
        "mape",
        "coverage",
        "n_train",
        "holdout_rows",
        "forecast_tail",
    }
    runs = tmp_path / "outputs" / "runs"
    module_csv = pd.read_csv(runs / "prophet_model" / "same-1" / "forecast.csv")
    notebook_csv = pd.read_csv(runs / "forecast" / "same-1" / "forecast.csv")
    pd.testing.assert_frame_equal(module_csv, notebook_csv)
    assert (runs / "prophet_model" / "same-1" / "forecast.png").stat().st_size > 0


def test_a_holdout_too_large_fails_at_the_modules_line(tmp_path: Path) -> None:
    settings = Settings(outputs_bucket=str(tmp_path / "outputs"))
    params = [("dataset_url", str(DATA / "example_air_passengers.csv")), ("holdout", "140")]
    result = run(settings, str(MODULE), "too-big", cli_params=params)
    assert result.status == "failed"
    assert "fewer than 10 rows" in result.record["reason"]
    location = result.record["error"]["location"]
    line = MODULE.read_text().splitlines()[location["line"] - 1]
    assert (location["file"], location["function"]) == ("prophet_model.py", "Model.load")
    assert line.strip() == "raise ValueError("
