"""`kit.runs()` and `kit.load_run()` as a notebook calls them."""

from __future__ import annotations

import pandas as pd
import pytest
from review_support import ReviewRuns

import kit
from kit.errors import NotFoundError


def test_runs_is_a_dataframe_newest_first(review_env: ReviewRuns) -> None:
    frame = kit.runs("demo")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:8]) == [
        "run_id",
        "notebook",
        "version",
        "status",
        "started_at",
        "finished_at",
        "duration_seconds",
        "parameters",
    ]
    assert {"mape", "coverage", "n_train"} <= set(frame.columns)
    assert "forecast_tail" not in frame.columns  # tables are not columns
    assert isinstance(frame["started_at"].dtype, pd.DatetimeTZDtype)
    assert str(frame["started_at"].dt.tz) == "UTC"
    assert frame["duration_seconds"].dtype == "float64"
    assert len(frame) == 14
    assert frame.iloc[-1]["run_id"] == "hist-01"
    ok_b = frame.set_index("run_id").loc["ok-b"]
    assert ok_b["status"] == "succeeded"
    assert ok_b["parameters"] == {"horizon": 9, "fail": False, "sleep": 0.0}  # defaults too
    assert ok_b["mape"] == pytest.approx(2.9)
    running = frame.set_index("run_id").loc["running-1"]
    assert running["status"] == "running"
    assert pd.isna(running["reason"])
    lost = frame.set_index("run_id").loc["lost-1"]
    assert lost["status"] == "lost"
    assert "no run.json by its deadline" in lost["reason"]


def test_runs_filters_and_all_notebooks(review_env: ReviewRuns) -> None:
    assert list(kit.runs(status="failed")["run_id"]) == ["fail-1"]
    assert set(kit.runs(status=["killed", "timed_out"])["run_id"]) == {"killed-1", "slow-1"}
    assert set(kit.runs()["notebook"]) == {"demo", "sales"}
    recent = kit.runs("demo", since="1d")
    assert not recent["run_id"].str.startswith("hist-").any()
    empty = kit.runs("sales", status="failed")
    assert empty.empty
    assert "run_id" in empty.columns
    with pytest.raises(NotFoundError, match="did you mean demo"):
        kit.runs("demo2")


def test_load_run_gives_record_metrics_and_notebook(review_env: ReviewRuns) -> None:
    run = kit.load_run("demo", "ok-a")
    assert run.record["schema"] == "kit.run/2"
    assert run.record["status"] == run.status == "succeeded"
    assert run.metrics["mape"] == pytest.approx(2.5)
    assert run.metrics["forecast_tail"][0]["step"] == 0
    assert run.notebook.nbformat == 4
    assert any("kit.record" in c.source for c in run.notebook.cells)
    assert run.failure is None
    html = run._repr_html_()
    assert "demo" in html
    assert "ok-a" in html
    assert "st-succeeded" in html
    assert "mape" in html
    assert "LoadedRun(demo/ok-a, succeeded" in repr(run)


def test_load_run_of_a_failed_run_names_the_failure(review_env: ReviewRuns) -> None:
    run = kit.load_run("demo", "fail-1")
    assert run.status == "failed"
    assert run.failure is not None
    assert run.failure.ename == "ValueError"
    assert "def fit" in run.failure.source
    assert "\x1b[" not in run.failure.traceback_text
    assert (run.failure.cell_number, run.failure.execution_count) == (4, 4)
    html = run._repr_html_()
    assert "Failed at cell 4, In [4]" in html
    assert 'id="kit-failure-link"' not in html  # no link to a cell that is not there
    with pytest.raises(NotFoundError, match="did you mean fail-1"):
        kit.load_run("demo", "fail-9")
