"""`kit.runs()` and `kit.load_run()` as a notebook calls them."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from fanout_support import PEYTON, RETAIL, SERIES, write_fanout
from gcs_support import fresh_settings
from review_support import ReviewRuns

import kit
from kit import dev
from kit.errors import NotFoundError

README = Path(__file__).resolve().parents[2] / "README.md"


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
    params = dict(ok_b["parameters"])
    assert params.pop("output_prefix").endswith("/runs/demo/ok-b/")  # set by kit run
    assert params == {"horizon": 9, "fail": False, "sleep": 0.0}  # defaults too
    assert ok_b["mape"] == pytest.approx(2.9)
    running = frame.set_index("run_id").loc["running-1"]
    assert running["status"] == "running"
    assert pd.isna(running["reason"])
    lost = frame.set_index("run_id").loc["lost-1"]
    assert lost["status"] == "lost"
    assert "no run.json by its deadline" in lost["reason"]


def test_runs_has_a_column_per_parameter_and_whole_numbers_stay_whole(
    review_env: ReviewRuns,
) -> None:
    frame = kit.runs("demo").set_index("run_id")
    params = [c for c in frame.columns if c.startswith("param_")]
    assert params == ["param_horizon", "param_fail", "param_sleep"]
    assert list(frame.columns).index("param_sleep") < list(frame.columns).index("mape")
    assert frame["param_horizon"].dtype == "Int64"  # whole numbers, with gaps:
    assert pd.isna(frame.loc["running-1", "param_horizon"])  # (a run with no record here)
    assert frame.loc["ok-b", "param_horizon"] == 9
    assert frame.loc["hist-03", "param_horizon"] == 9  # kit 0.1's records too
    assert frame["param_fail"].dtype == "boolean"  # the old records have none: a gap
    assert frame.loc["fail-1", "param_fail"]
    assert pd.isna(frame.loc["hist-01", "param_fail"])
    assert frame["param_sleep"].dtype == "float64"
    assert frame["n_train"].dtype == "Int64"  # failed and running runs recorded none
    assert frame.loc["ok-b", "n_train"] == 36
    assert pd.isna(frame.loc["fail-1", "n_train"])
    assert frame["mape"].dtype == "float64"
    assert frame["param_horizon"].sum() > 0  # analysable as numbers


def test_readme_plots_one_line_per_series_in_time_order(
    gcs_server: dev.Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README's plotting example, run as written against fan-out runs of `forecast`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = fresh_settings(gcs_server, prefix="plot")
    write_fanout(settings)
    for key in ("KIT_MODULES_BUCKET", "KIT_OUTPUTS_BUCKET", "KIT_DATA_BUCKET"):
        monkeypatch.setenv(key, getattr(settings, key[4:].lower()))
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    example = next(b for b in blocks if ".plot(" in b)
    plt.close("all")
    exec(compile(example, "README.md", "exec"), {})  # our own README, as a user runs it
    axes = plt.gca()
    lines = {line.get_label(): line for line in axes.get_lines()}
    assert set(lines) == {PEYTON, RETAIL}  # one line per dataset, in the legend
    assert [t.get_text() for t in axes.get_legend().get_texts()] == sorted(lines)
    for series in SERIES:
        line = lines[series.url]
        times = list(line.get_xdata())
        assert times == sorted(times)  # in time order, not newest first
        succeeded = series.mape[:2] if series.url == PEYTON else series.mape
        assert list(line.get_ydata()) == pytest.approx(list(succeeded))
    frame = kit.runs("forecast")
    assert frame["param_dataset_url"].notna().all()  # the lost run's too (its index entry)
    assert frame["param_horizon"].dtype == "int64"
    assert frame["holdout_rows"].dtype == "Int64"  # the failed and the lost run have none
    assert frame["n_train"].dropna().tolist() == [259, 258, 2726, 257, 2725]
    plt.close("all")


def test_runs_filters_and_all_notebooks(review_env: ReviewRuns) -> None:
    failed = list(kit.runs(status="failed")["run_id"])
    assert failed[0] == "fail-1"
    assert [r[:10] for r in failed[1:]] == ["scheduled-"]  # notebook forecast's fan-out
    assert set(kit.runs(status=["killed", "timed_out"])["run_id"]) == {"killed-1", "slow-1"}
    assert set(kit.runs()["notebook"]) == {"demo", "sales", "forecast"}
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
