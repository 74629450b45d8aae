"""Pure pieces of kit.review: failures, formatting, charts, diffs, records, the server's guards."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from record_support import v1_record, v2_record

from kit.config import Settings
from kit.errors import UsageError, did_you_mean
from kit.review import formatting as fmt
from kit.review.diff import MISSING, changes
from kit.review.failure import failure_of, strip_ansi
from kit.review.run_view import Run, parse_record
from kit.review.server import is_loopback, make_server
from kit.review.web import chart
from kit.review.web.jinja import render, short_version

TRACEBACK = [
    "\x1b[31m----\x1b[39m",
    "\x1b[31mValueError\x1b[39m: \x1b[1;32mbad\x1b[0m",
]


def _cell(
    outputs: list[dict[str, Any]] | None = None, *tags: str, count: int = 3, **meta: Any
) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "source": ["x = 1\n", "y = 2"],
        "outputs": outputs or [],
        "metadata": {"papermill": meta, "tags": list(tags)},
        "execution_count": count,
    }


ERROR_OUTPUT = {
    "output_type": "error",
    "ename": "ValueError",
    "evalue": "bad",
    "traceback": TRACEBACK,
}
T0 = "2026-11-23T10:00:00+00:00"


def _run(**fields: Any) -> Run:
    return parse_record(
        json.dumps(v2_record(**fields)).encode(),
        notebook="forecast",
        run_id="r1",
        record_url="u/run.json",
        output_url="u/output.ipynb",
        has_output=True,
    )


def test_strip_ansi_removes_colours_and_cursor_codes() -> None:
    assert strip_ansi("\x1b[38;5;28;01mdef\x1b[39;00m f\x1b[2K\x1b]0;title\x07") == "def f"


def test_failure_is_the_cell_papermill_flagged_numbered_as_in_the_source() -> None:
    cells = [
        _cell(None, "papermill-error-cell-tag"),  # the banner papermill puts on top
        _cell(None, "parameters", start_time=T0),
        _cell(None, "injected-parameters", start_time=T0),
        _cell(None, start_time=T0),
        _cell(None, "papermill-error-cell-tag"),  # the anchor before the failing cell
        _cell([ERROR_OUTPUT], start_time=T0, exception=True),
        _cell(),
    ]
    failure = failure_of(_run(status="failed"), cells)
    assert failure is not None
    assert (failure.kind, failure.cell_number, failure.cells_not_run) == ("error", 3, 1)
    assert failure.headline == "ValueError: bad"
    assert failure.source == "x = 1\ny = 2"
    assert failure.traceback_text == "----\nValueError: bad"
    assert failure.summary == (
        "Failed at cell 3, In [3]: ValueError: bad; 1 later code cell did not run"
    )


def test_a_failure_without_error_output_takes_the_message_from_the_record() -> None:
    usage = {
        "ename": "UsageError",
        "evalue": "Line magic function `%x` not found.",
        "traceback": [],
    }
    cells = [_cell(None, start_time=T0), _cell(None, start_time=T0, exception=True), _cell()]
    failure = failure_of(_run(status="failed", error=usage), cells)
    assert failure is not None
    assert failure.cell_number == 2
    assert failure.headline == "UsageError: Line magic function `%x` not found."


def test_failure_of_a_killed_run_is_the_last_cell_that_started() -> None:
    cells = [_cell(start_time=T0, status="completed"), _cell(start_time=T0), _cell()]
    failure = failure_of(_run(status="killed", reason="received SIGTERM"), cells)
    assert failure is not None
    assert (failure.kind, failure.cell_number, failure.headline) == (
        "stopped",
        2,
        "received SIGTERM",
    )


def test_an_early_exit_is_shown_for_a_succeeded_run() -> None:
    exit0 = {**ERROR_OUTPUT, "ename": "SystemExit", "evalue": "0", "traceback": []}
    cells = [_cell(start_time=T0), _cell([exit0], start_time=T0, exception=True), _cell()]
    failure = failure_of(_run(status="succeeded", reason="sys.exit(0)"), cells)
    assert failure is not None
    assert failure.summary == (
        "Stopped at cell 2, In [3]: sys.exit(0); 1 later code cell did not run"
    )
    assert failure_of(_run(), [_cell(start_time=T0), _cell(start_time=T0)]) is None


def test_failure_without_a_notebook_uses_the_record() -> None:
    stopped = {"cell": 7, "execution_count": 6, "source": "fit(df)"}
    error = {"ename": "KeyError", "evalue": "'y'", "traceback": TRACEBACK}
    run = _run(status="failed", error=error, stopped_at=stopped, cells_not_run=2)
    failure = failure_of(run, None)
    assert failure is not None
    assert (
        failure.summary == "Failed at cell 7, In [6]: KeyError: 'y'; 2 later code cells did not run"
    )
    assert failure.source == "fit(df)"
    legacy = parse_record(
        json.dumps(v1_record(status="failed", error={"cell_index": 4, **error})).encode(),
        notebook="forecast",
        run_id="r1",
        record_url="",
        output_url="",
        has_output=False,
    )
    failure = failure_of(legacy, None)
    assert failure is not None
    assert (failure.cell_number, failure.where) == (None, "an unknown cell")
    assert failure.headline == "KeyError: 'y'"


def test_formatting() -> None:
    assert fmt.duration(None) == "-"
    assert fmt.duration(4.24) == "4.2s"
    assert fmt.duration(192) == "3m 12s"
    assert fmt.duration(3720) == "1h 02m"
    assert fmt.moment(datetime(2026, 11, 23, 10, 15, 3, tzinfo=UTC)) == "2026-11-23 10:15:03Z"
    assert fmt.value(0.123456) == "0.1235"
    assert fmt.value(True) == "True"
    assert fmt.value(None) == "None"
    assert fmt.value("None") == '"None"'  # the string, told from null
    assert fmt.value("30") == '"30"'
    assert fmt.value("2026-11-23") == "2026-11-23"
    assert fmt.size(412 * 2**20) == "412.0 MiB"
    assert fmt.size(None) == "-"
    assert fmt.value([{"a": 1}, {"a": 2}]) == "table of 2 rows"
    assert fmt.value("x" * 50, 10) == "x" * 9 + "…"
    assert fmt.pairs({"a": 1, "b": "s", "c": None}, limit=2) == "a=1, b=s, …"
    assert fmt.one_line("ValueError: bad\n  input") == "ValueError: bad input"
    assert fmt.one_line("x" * 30, 10) == "x" * 9 + "…"
    reason = "ValueError: gs://kit-data/p/peyton.csv: 2905 rows (see https://x.org/a/b)"
    assert fmt.one_line(reason, urls=False) == "ValueError: …/peyton.csv: 2905 rows (see …/b)"


def test_numbers_are_formatted_for_people() -> None:
    assert fmt.number(459912) == "459,912"
    assert fmt.number(459912.4) == "459,912"  # not 4.599e+05
    assert fmt.number(-98765.4) == "-98,765"
    assert fmt.number(3.66512) == "3.665"
    assert fmt.number(36.0) == "36"
    assert fmt.number(0.000012) == "1.2e-05"
    assert fmt.number(float("nan")) == "nan"
    assert fmt.value(459912.4) == "459,912"
    assert fmt.value(20261123) == "20261123"  # a parameter's digits may be a date or an id
    assert fmt.metric(459912) == "459,912"
    assert fmt.metric_pairs({"rows": 459912, "mape": 3.66512}) == "rows=459,912, mape=3.665"


def test_urls_keep_the_end_that_tells_runs_apart() -> None:
    url = "gs://kit-data/prophet-examples/example_wp_log_peyton_manning.csv"
    assert fmt.value(url) == "…/example_wp_log_peyton_manning.csv"
    assert fmt.value(url, 60) == "…/prophet-examples/example_wp_log_peyton_manning.csv"
    assert fmt.value(url, 24) == "…_log_peyton_manning.csv"
    assert fmt.value(url, 100) == url
    assert fmt.value("2026/11/23/a-long-value-that-is-no-path", 12) == "2026/11/23/…"
    rows = fmt.tell_apart(
        [
            {"run_date": "2026-11-23", "horizon": 365, "dataset_url": url, "seed": 1},
            {"run_date": "2026-11-30", "horizon": 24, "dataset_url": "gs://b/p/retail.csv"},
            {"run_date": "2026-12-07", "horizon": 24, "dataset_url": "gs://b/p/retail.csv"},
        ]
    )
    # The series first (a URL before others as few), then a value per run, then the shared.
    assert [list(row.items()) for row in rows] == [
        [
            ("dataset_url", "…/example_wp_log_peyton_manning.csv"),
            ("horizon", 365),
            ("run_date", "2026-11-23"),
            ("seed", 1),
        ],
        [("dataset_url", "…/retail.csv"), ("horizon", 24), ("run_date", "2026-11-30")],
        [("dataset_url", "…/retail.csv"), ("horizon", 24), ("run_date", "2026-12-07")],
    ]
    assert fmt.tell_apart([{"t": [1, 2]}, {"t": {"a": 1}}]) == [{"t": [1, 2]}, {"t": {"a": 1}}]
    same_name = fmt.tell_apart([{"u": "gs://b/2026-11/a.csv"}, {"u": "gs://b/2026-12/a.csv"}])
    assert same_name == [{"u": "…/2026-11/a.csv"}, {"u": "…/2026-12/a.csv"}]
    assert fmt.tell_apart([{"o": "gs://kit-outputs/runs/f/doc-2/"}]) == [{"o": "…/doc-2/"}]
    assert short_version("20261123T101500Z-0123456789ab") == "20261123T1015 · 0123456"
    assert short_version("adhoc-0123456789ab") == "adhoc-0123456789ab"


def test_did_you_mean_offers_prefix_matches_then_close_ones() -> None:
    ids = ["r1-ok", "r2-ok", "r3-bad-holdout", "r30"]
    assert did_you_mean("r3", ids) == "; did you mean r30, r3-bad-holdout?"
    assert did_you_mean("R3-BAD", ids) == "; did you mean r3-bad-holdout?"  # any case
    assert did_you_mean("faild", ["failed", "succeeded"]) == "; did you mean failed?"
    daily = [f"daily-202611{d}" for d in range(20, 30)]
    assert did_you_mean("daily-2026112", daily) == (
        "; did you mean daily-20261129, daily-20261128, daily-20261127?"
    )
    assert did_you_mean("", ids) == ""
    assert did_you_mean("zzz", ids) == ""


def _record(**fields: Any) -> bytes:
    return json.dumps(v1_record(**fields)).encode()


def test_parse_record_keeps_what_it_understands() -> None:
    run = parse_record(
        _record(
            version="v1",
            started_at="2026-11-23T10:15:00.123456Z",
            duration_seconds=float("inf"),
            metrics={"mape": 3.0, "tail": [{"a": 1}], "flag": True},
            parameters="not a dict",
        ),
        notebook="nb",
        run_id="r",
        record_url="u/run.json",
        output_url="u/output.ipynb",
        has_output=True,
    )
    assert run.started_at == datetime(2026, 11, 23, 10, 15, 0, 123456, tzinfo=UTC)
    assert run.duration_seconds is None
    assert run.parameters == {}
    assert run.headline(2) == {"mape": 3.0, "flag": True}
    assert run.to_json()["status"] == "succeeded"


def test_chart_svg_escapes_and_links_points() -> None:
    runs = [
        parse_record(
            _record(started_at=f"2026-11-2{i}T00:00:00Z", metrics={"m<x>": float(i)}),
            notebook="nb",
            run_id=f"r{i}",
            record_url="",
            output_url="",
            has_output=True,
        )
        for i in range(1, 4)
    ]
    assert chart.numeric_metrics(runs) == ["m<x>"]
    pts = chart.points(runs, "m<x>")
    assert [p.value for p in pts] == [1.0, 2.0, 3.0]
    series_of, labels = chart.group(runs, str)
    assert labels == ["all runs"]
    svg = render("chart.svg", chart=chart.chart("m<x>", runs, series_of, labels))
    assert "m&lt;x&gt;" in svg
    assert "<x>" not in svg
    assert svg.count("<circle") == 3
    assert '<a href="/runs/nb/r1">' in svg
    assert "no values" in render("chart.svg", chart=chart.chart("m", [], series_of, labels))


def test_changes_reports_added_removed_and_changed_keys() -> None:
    found = {
        c.key: (c.before, c.after, c.delta) for c in changes({"a": 1, "b": 2}, {"a": 1.5, "c": 3})
    }
    assert found["a"] == (1, 1.5, 0.5)
    assert found["b"][0] == 2
    assert found["b"][1] is MISSING
    assert found["c"][0] is MISSING
    assert "a" in found
    assert changes({"x": True}, {"x": True}) == []


def test_server_guards() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{port}"):
            make_server(Settings(outputs_bucket="/tmp/unused"), "127.0.0.1", port)


def test_a_run_page_survives_an_unreadable_notebook(tmp_path: Path) -> None:
    from kit.review.listing import RunStore
    from kit.review.web.routes import ReviewPages

    folder = tmp_path / "out/runs/nb/r1"
    folder.mkdir(parents=True)
    (folder / "run.json").write_bytes(_record(started_at="2026-11-23T10:00:00Z"))
    (folder / "output.ipynb").write_text("{}")
    pages = ReviewPages(RunStore(Settings(outputs_bucket=f"file://{tmp_path}/out")))
    page = pages.handle(["runs", "nb", "r1"], {})
    assert page.status == 200
    assert "The executed notebook cannot be shown" in page.body.decode()
    assert pages.handle(["runs", "nb", "r1", "notebook"], {}).status == 400
    index = pages.handle([], {"notebook": "nb"})
    assert b'data-status="succeeded"' in index.body


FINISHED = {
    "written_by": "finisher",
    "status": "failed",
    "reason": "pod OOMKilled at the 64Mi memory limit",
    "host": None,
    "kit_version": None,
    "stopped_at": {"cell": 3, "execution_count": None, "source": "chunks = []"},
    "cells_not_run": 1,
    "kubernetes": {
        "pod": "hog-8xk2p",
        "namespace": "kit-runs",
        "node": "gke-kit-runs-pool-1-3f2a",
        "container_exit_code": 137,
        "reason": "OOMKilled",
        "limits": {"cpu": "2", "memory": "64Mi"},
    },
}


def test_a_finisher_record_shows_its_reason_and_what_the_pod_said(tmp_path: Path) -> None:
    from rich.console import Console

    from kit.review.listing import RunStore
    from kit.review.show import run_details
    from kit.review.web.routes import ReviewPages

    record = v2_record(**FINISHED, run_id="r9", notebook="hog")
    folder = tmp_path / "outputs" / "runs" / "hog" / "r9"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps(record))
    assert fmt.kubernetes(record) == (
        "recorded by the Airflow finisher, node gke-kit-runs-pool-1-3f2a, exit 137 (OOMKilled), "
        "limits cpu=2, memory=64Mi"
    )
    assert fmt.kubernetes(v2_record()) == ""
    store = RunStore(Settings(outputs_bucket=str(tmp_path / "outputs")))
    page = ReviewPages(store).handle(["runs", "hog", "r9"], {}).body.decode()
    assert "pod OOMKilled at the 64Mi memory limit" in page
    assert "<dt>Kubernetes</dt><dd>recorded by the Airflow finisher, node gke-" in page
    console = Console(width=200, record=True)
    console.print(run_details(store.get("hog", "r9"), None))
    shown = console.export_text()
    assert "reason      pod OOMKilled at the 64Mi memory limit" in shown
    assert "kubernetes  recorded by the Airflow finisher" in shown


def test_the_inline_notebook_keeps_what_notebooks_show_and_escapes_what_runs() -> None:
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    from kit.review.web.notebook import notebook_cells

    html = "<table><tr><th>a</th></tr><tr><td onclick='steal()'>1</td></tr></table>"
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Title\n*text* <script>alert(1)</script>"),
            new_code_cell(
                "1",
                outputs=[
                    new_output(
                        "display_data",
                        data={"text/html": html + "<meta http-equiv=refresh content=0>"},
                    )
                ],
            ),
        ]
    )
    cells = notebook_cells(nb)
    assert '<h1 id="Title">Title' in cells
    assert "<em>text</em>" in cells
    assert "<th>a</th>" in cells
    assert "<script" not in cells
    assert "onclick" not in cells
    assert "<meta" not in cells
    assert 'id="cell-1"' in cells
    assert 'id="cell-2"' in cells


def _fan_out_run(
    run_id: str, day: int, dataset: str, mape: float, status: str = "succeeded"
) -> Any:
    params = {"dataset_url": f"gs://kit-data/examples/{dataset}.csv", "run_date": f"2026-11-2{day}"}
    record = v2_record(
        run_id=run_id,
        notebook="nb",
        status=status,
        started_at=f"2026-11-2{day}T06:00:00.000000Z",
        parameters={**params, "horizon": 30},
        overridden=["dataset_url", "run_date"],
        metrics={"mape": mape},
    )
    return parse_record(
        json.dumps(record).encode(),
        notebook="nb",
        run_id=run_id,
        record_url="",
        output_url="",
        has_output=True,
    )


def test_runs_fall_into_series_by_the_parameters_that_repeat_not_by_dates() -> None:
    runs = [
        _fan_out_run(f"r{day}{name}", day, name, mape)
        for day in (1, 2, 3)
        for name, mape in (("peyton", 3.0 + day / 10), ("retail", 12.0))
    ]
    assert chart.series_keys(runs) == ["dataset_url"]  # run_date changes every day
    series_of, labels = chart.group(runs, lambda v: str(v).rsplit("/", 1)[-1])
    assert labels == ["dataset_url=peyton.csv", "dataset_url=retail.csv"]
    drawn = chart.chart("mape", runs, series_of, labels)
    assert [len(s.points) for s in drawn.series] == [3, 3]
    assert [s.latest.value if s.latest else None for s in drawn.series] == [3.3, 12.0]
    # A sweep, each run its own value: one series.
    sweep = [_fan_out_run(f"s{d}", d, f"set{d}", 1.0) for d in (1, 2, 3)]
    assert chart.series_keys(sweep) == []
    assert chart.group(sweep, str)[1] == ["all runs"]


def test_latest_is_the_newest_succeeded_run_of_its_series() -> None:
    runs = [
        _fan_out_run("a", 1, "peyton", 3.1),
        _fan_out_run("b", 2, "peyton", 3.2),
        _fan_out_run("c", 3, "peyton", 40.0, status="failed"),
        _fan_out_run("d", 3, "retail", 12.0),
    ]
    series_of, labels = chart.group(runs, str)
    drawn = chart.chart("mape", runs, series_of, labels)
    peyton = drawn.series[0]
    assert peyton.latest is not None
    assert (peyton.latest.run.run_id, peyton.latest.value) == ("b", 3.2)
    assert len(peyton.line.split()) == 2  # the line joins succeeded runs only


def test_axis_ticks_are_round_numbers_and_calendar_days() -> None:
    lo, hi, ticks = chart.value_ticks(455_000.0, 512_400.0)
    assert [label for _, label in ticks] == ["440,000", "460,000", "480,000", "500,000", "520,000"]
    assert (lo, hi) == (440_000, 520_000)
    assert [label for _, label in chart.value_ticks(0.81, 0.87)[2]][:2] == ["0.80", "0.82"]
    days = chart.time_ticks(
        datetime(2026, 11, 20, 3, tzinfo=UTC), datetime(2026, 12, 1, 9, tzinfo=UTC)
    )
    assert [label for _, label in days] == ["23 Nov", "26 Nov", "29 Nov"]
    hours = chart.time_ticks(
        datetime(2026, 11, 20, 3, tzinfo=UTC), datetime(2026, 11, 20, 9, tzinfo=UTC)
    )
    assert [label for _, label in hours] == ["03:00", "05:00", "07:00", "09:00"]
