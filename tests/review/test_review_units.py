"""Pure pieces of kit.review: failures, formatting, charts, diffs, records, the server's guards."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kit.config import Settings
from kit.errors import UsageError
from kit.review import chart, fmt
from kit.review.diff import MISSING, changes
from kit.review.failure import find_failure, strip_ansi
from kit.review.record import parse_record
from kit.review.render import short_version
from kit.review.server import is_loopback, make_server

TRACEBACK = [
    "\x1b[31m----\x1b[39m",
    "\x1b[31mValueError\x1b[39m: \x1b[1;32mbad\x1b[0m",
]


def _cell(outputs: list[dict[str, Any]] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "source": ["x = 1\n", "y = 2"],
        "outputs": outputs or [],
        "metadata": {"papermill": meta},
        "execution_count": 3,
    }


ERROR_OUTPUT = {
    "output_type": "error",
    "ename": "ValueError",
    "evalue": "bad",
    "traceback": TRACEBACK,
}


def test_strip_ansi_removes_colours_and_cursor_codes() -> None:
    assert strip_ansi("\x1b[38;5;28;01mdef\x1b[39;00m f\x1b[2K\x1b]0;title\x07") == "def f"


def test_failure_prefers_the_cell_with_the_error_output() -> None:
    cells = [_cell(), _cell(), _cell([ERROR_OUTPUT])]
    # the record's index is off by one (a marker cell was inserted): the error output wins
    failure = find_failure("failed", {"cell_index": 1, "ename": "ValueError"}, cells)
    assert failure is not None
    assert failure.cell_index == 2
    assert failure.cell_number == 3
    assert failure.headline == "ValueError: bad"
    assert failure.source == "x = 1\ny = 2"
    assert failure.traceback_text == "----\nValueError: bad"
    assert failure.execution_count == 3


def test_failure_of_a_killed_run_is_the_cell_that_was_running() -> None:
    cells = [_cell(status="completed"), _cell(status="running"), _cell(status="pending")]
    failure = find_failure("killed", None, cells, "received SIGTERM")
    assert failure is not None
    assert (failure.kind, failure.cell_index, failure.headline) == (
        "stopped",
        1,
        "received SIGTERM",
    )
    by_record = find_failure("timed_out", {"cell_index": 0, "ename": None}, cells, "timed out")
    assert by_record is not None
    assert (by_record.kind, by_record.cell_index) == ("stopped", 0)


def test_failure_without_a_notebook_uses_the_record() -> None:
    error = {"cell_index": None, "ename": "KeyError", "evalue": "'y'", "traceback": TRACEBACK}
    failure = find_failure("failed", error, None)
    assert failure is not None
    assert failure.cell_index is None
    assert failure.headline == "KeyError: 'y'"
    assert find_failure("succeeded", None, [_cell()]) is None
    assert find_failure("failed", {"cell_index": True}, []) is None


def test_formatting() -> None:
    assert fmt.duration(None) == "-"
    assert fmt.duration(4.24) == "4.2s"
    assert fmt.duration(192) == "3m 12s"
    assert fmt.duration(3720) == "1h 02m"
    assert fmt.moment(datetime(2026, 11, 23, 10, 15, 3, tzinfo=UTC)) == "2026-11-23 10:15:03Z"
    assert fmt.value(0.123456) == "0.1235"
    assert fmt.value(True) == "True"
    assert fmt.value([{"a": 1}, {"a": 2}]) == "table of 2 rows"
    assert fmt.value("x" * 50, 10) == "x" * 9 + "…"
    assert fmt.pairs({"a": 1, "b": "s", "c": None}, limit=2) == "a=1, b=s, …"
    assert short_version("20261123T101500Z-0123456789ab") == "20261123T1015 · 0123456"
    assert short_version("adhoc-0123456789ab") == "adhoc-0123456789ab"


def _record(**fields: Any) -> bytes:
    import json

    return json.dumps({"schema": 1, "status": "succeeded", **fields}).encode()


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
    svg = chart.svg("m<x>", pts, lambda r: f"/runs/nb/{r.run_id}")
    assert "m&lt;x&gt;" in svg
    assert "<x>" not in svg
    assert svg.count("<circle") == 3
    assert '<a href="/runs/nb/r1">' in svg
    assert "no values" in chart.svg("m", [], lambda r: "")


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
    from kit.review.pages import ReviewPages

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
