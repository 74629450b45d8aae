"""`kit runs ...` as a user types it, against the session's real runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from review_support import ReviewRuns

from kit.cli.main import main


def kit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    return int(exc.value.code or 0), captured.out, captured.err


def _ids(text: str) -> list[str]:
    return re.findall(r"^(\S+)\s", text, flags=re.M)[1:]  # first column, header skipped


def test_runs_lists_every_run_newest_first(
    review_env: ReviewRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = kit(capsys, "runs")
    assert code == 0
    header = out.splitlines()[0].split()
    assert header[:3] == ["RUN", "ID", "NOTEBOOK@VERSION"]
    ids = _ids(out)
    assert ids[0] == "running-1"  # the latest activity
    assert ids[-1] == "hist-01"
    for line in out.splitlines():
        if line.startswith("ok-b "):
            assert "demo@adhoc-" in line
            assert "succeeded" in line
            assert "horizon=9" in line
            for metric in ("mape=2.9", "coverage=0.86", "n_train=36"):
                assert metric in line
        if line.startswith("slow-1 "):
            assert "sales@adhoc-" in line
            assert "timed_out" in line
        if line.startswith("running-1 "):
            assert " running " in line


def test_runs_filters_by_name_status_and_time(
    review_env: ReviewRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ids(kit(capsys, "runs", "demo", "--status", "failed")[1]) == ["fail-1"]
    assert set(_ids(kit(capsys, "runs", "sales")[1])) == {"ok-1", "slow-1"}
    recent = _ids(kit(capsys, "runs", "demo", "--since", "1d")[1])
    assert "ok-a" in recent
    assert not [i for i in recent if i.startswith("hist-")]
    code, out, err = kit(capsys, "runs", "demo", "--status", "timed_out")
    assert code == 0
    assert out == ""
    assert "no runs match" in err


def test_runs_json_prints_the_records(
    review_env: ReviewRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = kit(capsys, "runs", "--status", "killed,timed_out,running", "--json")
    assert code == 0
    records = {r["run_id"]: r for r in json.loads(out)}
    assert set(records) == {"killed-1", "slow-1", "running-1"}
    assert records["killed-1"]["schema"] == "kit.run/2"
    assert records["killed-1"]["status"] == "killed"
    assert records["slow-1"]["status"] == "timed_out"
    assert records["running-1"]["status"] == "running"
    assert records["running-1"]["output_url"].endswith("/runs/demo/running-1/output.ipynb")


def test_show_a_failed_run_prints_the_failing_cell_and_traceback(
    review_env: ReviewRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = kit(capsys, "runs", "show", "demo", "fail-1")
    assert code == 0
    assert "\x1b[" not in out  # ANSI codes stripped
    # Source cells: 1 markdown, 2 parameters, 3 load, 4 fit (In [2] was the injected cell).
    assert (
        "Failed at cell 4, In [4]: ValueError: holdout is larger than the data (28 rows); "
        "2 later code cells did not run"
    ) in out
    assert "def fit(values):" in out  # the cell's source
    assert "Traceback (most recent call last)" in out
    assert "----> " in out
    assert review_env.url("demo", "fail-1", "output.ipynb") in out
    assert "fail" in out
    assert "True" in out or "true" in out  # the parameter


def test_show_a_succeeded_run_prints_record_and_metrics(
    review_env: ReviewRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = kit(capsys, "runs", "show", "demo", "ok-a")
    assert code == 0
    assert "succeeded" in out
    assert re.search(r"mape\s+2\.5", out)
    assert "forecast_tail (3 rows)" in out
    assert "Failed" not in out
    assert review_env.url("demo", "ok-a", "output.ipynb") in out
    code, out, _ = kit(capsys, "runs", "show", "demo", "killed-1", "--json")
    assert json.loads(out)["reason"] == "received SIGTERM"


def test_pull_downloads_executed_notebooks(
    review_env: ReviewRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = kit(capsys, "runs", "pull", "demo", "ok-b", "--to", str(tmp_path))
    assert code == 0
    path = tmp_path / "demo" / "ok-b.ipynb"
    assert out.strip() == str(path)
    nb = nbformat.read(path, as_version=4)
    assert any("mean level of the whole history" in c.source for c in nb.cells)
    code, out, _ = kit(capsys, "runs", "pull", "sales", "--latest", "--to", str(tmp_path))
    assert code == 0
    assert len(out.splitlines()) == 1
    code, out, _ = kit(capsys, "runs", "pull", "sales", "--to", str(tmp_path))
    assert sorted(p.name for p in (tmp_path / "sales").iterdir()) == ["ok-1.ipynb", "slow-1.ipynb"]
    code, _, err = kit(capsys, "runs", "pull", "sales", "ok-1", "--latest")
    assert code == 2
    assert "not both" in err


def test_diff_shows_parameters_version_metrics_and_cells(
    review_env: ReviewRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = kit(capsys, "runs", "diff", "demo", "ok-a", "ok-b")
    assert code == 0
    assert "\x1b[" not in out  # no colour when not a terminal
    assert re.search(r"version: adhoc-\w+ -> adhoc-\w+", out)
    assert "horizon: 5 -> 9  (+4)" in out
    assert "mape: 2.5 -> 2.9  (+0.4)" in out
    assert "cells:" in out
    assert "+      # mean level of the whole history" in out or "whole history" in out
    assert "loaded 20 rows" in out  # an output that changed
    assert "loaded 36 rows" in out


def test_html_renders_the_record_above_the_notebook(
    review_env: ReviewRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "fail.html"
    code, out, _ = kit(capsys, "runs", "html", "demo", "fail-1", "-o", str(target))
    assert code == 0
    assert out.strip() == str(target)
    page = target.read_text()
    link = re.search(r'<a [^>]*id="kit-failure-link"[^>]*>', page)
    assert link, "the failure is linked"
    cell = re.search(r'href="#cell-(\d+)"', link[0])
    assert cell, link[0]
    failed = re.search(r'<div [^>]*class="kit-cell kit-failed"[^>]*>', page)
    assert failed
    assert f'id="cell-{cell[1]}"' in failed[0]
    assert page.index("kit-record") < page.index('id="cell-1"')  # record on top
    assert "<script" not in page  # no CDN, renders offline


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("runs", "dmeo"), "no runs of notebook 'dmeo'"),
        (("runs", "show", "demo", "fail-2"), "no run 'fail-2' of notebook 'demo'"),
        (("runs", "show", "sale", "ok-1"), "did you mean sales?"),
        (("runs", "diff", "demo", "ok-a", "ok-c"), "did you mean ok-"),
        (("runs", "html", "demo", "hist-1"), "did you mean hist-01"),
        (("runs", "show", "demo", "killed"), "did you mean killed-1?"),  # a prefix
        (("runs", "sal"), "did you mean sales?"),
        (("runs", "--status", "faild"), "did you mean failed"),
        (("runs", "--since", "yesterday"), "7d"),
    ],
)
def test_unknown_names_are_one_line_errors_with_suggestions(
    review_env: ReviewRuns,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    needle: str,
) -> None:
    code, out, err = kit(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("kit: error: ")
    assert needle in err
    if "dmeo" in args:
        assert "did you mean demo?" in err


def test_kit_runs_in_a_subprocess(review_runs: ReviewRuns) -> None:
    result = review_runs.kit("runs", "demo", "--status", "failed", "--json")
    assert result.returncode == 0, result.stderr
    assert [r["run_id"] for r in json.loads(result.stdout)] == ["fail-1"]
    missing = review_runs.kit("runs", "show", "demo", "nope")
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0
