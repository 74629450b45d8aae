"""The review page over real HTTP: routes, filters, charts, headers, and what it refuses."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest
from review_support import ReviewRuns


@dataclass(frozen=True)
class Page:
    status: int
    headers: dict[str, str]
    body: str


@pytest.fixture(scope="module")
def base(review_url: str) -> str:
    return review_url


def get(url: str, *, method: str = "GET", host: str | None = None) -> Page:
    request = urllib.request.Request(url, method=method)
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return Page(resp.status, dict(resp.headers), resp.read().decode())
    except urllib.error.HTTPError as exc:
        return Page(exc.code, dict(exc.headers), exc.read().decode())


def rows(page: Page) -> list[tuple[str, str]]:
    """(status, notebook) of each run row."""
    return re.findall(r'data-status="([\w-]+)"\s+data-notebook="([\w-]+)"', page.body)


def test_index_lists_notebooks_runs_and_status_colours(base: str) -> None:
    page = get(base + "/")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    found = rows(page)
    assert len(found) == 22  # 16 of demo and sales, 6 of forecast's fan-out
    statuses = {"succeeded", "failed", "killed", "timed_out", "running", "lost"}
    assert {s for s, _ in found} == statuses
    assert 'data-filter="notebook" data-value="demo"' in page.body
    assert 'data-filter="notebook" data-value="sales"' in page.body
    for status in statuses:
        assert f'class="kit-badge st-{status}"' in page.body
    assert 'href="/static/record.css"' in page.body
    css = get(base + "/static/record.css")
    assert css.headers["Content-Type"].startswith("text/css")
    assert ".kit-badge.st-failed { color: #cf222e" in css.body
    assert ".chip.st-failed.active" in get(base + "/static/review.css").body


def test_filters_by_notebook_and_status(base: str) -> None:
    failed = get(base + "/?status=failed")
    assert rows(failed) == [("failed", "demo"), ("failed", "forecast")]
    assert re.search(r'class="chip st-failed active"', failed.body)
    sales = get(base + "/?notebook=sales")
    assert {n for _, n in rows(sales)} == {"sales"}
    assert len(rows(sales)) == 2
    assert 'id="charts-sales"' in sales.body
    assert 'id="charts-demo"' not in sales.body
    both = get(base + "/?notebook=sales&status=timed_out")
    assert rows(both) == [("timed_out", "sales")]
    assert "No runs match" in get(base + "/?notebook=sales&status=failed").body
    bad = get(base + "/?status=faild")
    assert bad.status == 400
    assert "did you mean failed" in bad.body


def test_charts_are_inline_svg_with_a_point_per_run(base: str) -> None:
    body = get(base + "/?notebook=demo").body
    chart = re.search(r'<figure class="chart-card" data-metric="mape">.*?</figure>', body, re.S)
    assert chart, "a mape chart"
    points = re.findall(r'<a href="(/runs/demo/[\w-]+)"><circle class="pt s0 st-(\w+)"', chart[0])
    assert len(points) == 10  # 8 older runs + ok-a + ok-b (failed runs recorded no mape)
    assert ("/runs/demo/hist-01", "succeeded") in points
    assert chart[0].count("<polyline") == 1  # horizon differs in every run: no series
    assert re.findall(r'data-series="([^"]+)"', chart[0]) == ["all runs", "all runs"]
    assert "<script" not in body


def _legend(chart: str) -> dict[str, str]:
    """Each legend entry's series label and the latest value it shows."""
    found = re.findall(
        r'<li class="legend-item" data-series="([^"]+)">.*?latest\s*<a href="[^"]+">([^<]+)</a>',
        chart,
        flags=re.S,
    )
    return dict(found)


def test_a_fan_out_draws_one_line_per_item_with_a_legend_and_ticks(base: str) -> None:
    body = get(base + "/?notebook=forecast").body
    chart = re.search(r'<figure class="chart-card" data-metric="mape">.*?</figure>', body, re.S)
    assert chart, body[:2000]
    lines = re.findall(r'<polyline class="line (s\d)" points="([^"]+)"', chart[0])
    assert [s for s, _ in lines] == ["s0", "s1"]
    # Three days each; the line joins succeeded runs, the failed one is a ring beside it.
    assert [len(points.split()) for _, points in lines] == [2, 3]
    assert len(re.findall(r"<circle class=\"pt s0 ", chart[0])) == 3
    # Named by what tells the items apart: the dataset's file name, not its bucket.
    peyton = "dataset_url=example_wp_log_peyton_manning.csv"
    retail = "dataset_url=example_retail_sales.csv"
    # The newest Peyton Manning run failed after recording mape=40: latest is the one before.
    assert _legend(chart[0]) == {peyton: "3.7", retail: "12"}
    assert re.search(r'<circle class="pt s0 st-failed"', chart[0])
    y_ticks = re.findall(r'<text class="tick y-tick"[^>]*>([^<]+)</text>', chart[0])
    assert len(y_ticks) >= 3
    assert all(re.fullmatch(r"-?[\d,]+(\.\d{1,2})?", tick) for tick in y_ticks), y_ticks
    x_ticks = re.findall(r'<text class="tick x-tick"[^>]*>([^<]+)</text>', chart[0])
    assert x_ticks
    assert all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", tick) for tick in x_ticks), x_ticks


def test_the_list_shows_a_failed_runs_reason_and_the_parameters_that_tell_runs_apart(
    base: str,
) -> None:
    body = get(base + "/?notebook=forecast").body
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    failed = next(row for row in rows if "st-failed" in row and "-m0<" in row)
    result = re.search(r'<td class="small result">(.*?)</td>', failed, re.S)
    assert result is not None
    assert "ValueError" in result[1]  # the reason, not the metrics
    ok = next(row for row in rows if "st-succeeded" in row)
    params = re.search(r'<td class="small">(.*?)</td>', ok, re.S)
    assert params is not None
    assert params[1].startswith("dataset_url=…/example_"), params[1]
    assert "gs://kit-data" not in params[1]
    ok_result = re.search(r'<td class="small result">(.*?)</td>', ok, re.S)
    assert ok_result is not None
    assert ok_result[1].startswith("mape=")


def test_a_run_page_lists_and_serves_the_files_the_run_wrote(base: str) -> None:
    page = get(base + "/runs/demo/ok-a").body
    files = re.findall(r'<tr class="file" data-name="([^"]+)">', page)
    assert files == ["forecast.csv", "forecast.png"]
    csv = get(base + "/runs/demo/ok-a/files/forecast.csv")
    assert csv.status == 200
    assert csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.headers["Content-Disposition"] == "inline; filename*=UTF-8''forecast.csv"
    assert "sandbox" in csv.headers["Content-Security-Policy"]
    assert csv.body.splitlines()[0] == "step,yhat"
    download = get(base + "/runs/demo/ok-a/files/forecast.csv?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    png = urllib.request.urlopen(base + "/runs/demo/ok-a/files/forecast.png", timeout=30)
    assert png.headers["Content-Type"] == "image/png"
    assert png.read()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '<img src="/runs/demo/ok-a/files/forecast.png"' in page


@pytest.mark.parametrize(
    "path",
    [
        "/runs/demo/ok-a/files/run.json",  # the record is not one of its files
        "/runs/demo/ok-a/files/output.ipynb",
        "/runs/demo/ok-a/files/..%2F..%2Fsales%2Fok-1%2Fforecast.csv",
        "/runs/demo/ok-a/files/../ok-b/forecast.csv",
        "/runs/demo/ok-a/files/%2E%2E/ok-b/forecast.csv",
        "/runs/demo/ok-a/files/forecast",
    ],
)
def test_nothing_outside_the_runs_folder_is_served(base: str, path: str) -> None:
    page = get(base + path)
    assert page.status == 404, (path, page.status)
    assert "step,yhat" not in page.body


def test_compare_two_runs_shows_parameter_metric_version_and_cell_changes(base: str) -> None:
    page = get(base + "/compare?run=demo/ok-b&run=demo/ok-a")
    assert page.status == 200, page.body[:2000]
    body = page.body
    assert get(base + "/compare?run=demo/ok-a&run=demo/ok-b").body == body  # older first
    # ok-a (v1, horizon 5) and ok-b (v2, horizon 9) ran at the same time: either is older.
    a_first = body.index("demo / ok-a") < body.index("demo / ok-b")
    before, after = ("5", "9") if a_first else ("9", "5")
    version = re.search(r'<tr class="change" data-key="version">.*?</tr>', body, re.S)
    assert version, "the notebook version changed (v1 -> v2)"
    horizon = re.search(r'<tr class="change" data-key="horizon">(.*?)</tr>', body, re.S)
    assert horizon
    assert re.search(f'class="before">{before}<.*class="after">{after}<', horizon[1], re.S)
    mape = re.search(r'<tr class="change" data-key="mape">(.*?)</tr>', body, re.S)
    assert mape
    sign = "+" if a_first else "-"
    assert re.search(rf'class="num delta">\{sign}0\.4<', mape[1]), mape[1]
    # The fit cell's comment changed between the versions: a removed and an added line.
    cells = re.findall(r'<article class="cell-change changed">.*?</article>', body, re.S)
    fit = [c for c in cells if "def fit(values)" in c]
    assert len(fit) == 1, cells
    old, new = "# mean level", "# mean level of the whole history"
    old, new = (old, new) if a_first else (new, old)
    removed = f'<span class="line del">-     {old}</span>'
    added = f'<span class="line add">+     {new}</span>'
    assert removed in fit[0]
    assert added in fit[0]
    assert fit[0].index(removed) < fit[0].index(added)  # a replaced line: removed, then added
    assert "<h3>Cell 4" in fit[0]  # numbered as in JupyterLab
    assert "<script" not in body


@pytest.mark.parametrize(
    ("query", "code", "needle"),
    [
        ("run=demo/ok-a", 400, "pick exactly two runs to compare (picked 1)"),
        ("", 400, "pick exactly two runs to compare (picked 0)"),
        ("run=demo/ok-a&run=demo/nope", 404, "no run &#39;nope&#39;"),
        ("run=demo&run=demo/ok-a", 400, "name a run as NOTEBOOK/RUN_ID"),
    ],
)
def test_compare_refuses_anything_but_two_runs(
    base: str, query: str, code: int, needle: str
) -> None:
    page = get(base + "/compare?" + query)
    assert page.status == code
    assert needle in page.body


def test_failed_run_page_links_the_failing_cell(base: str) -> None:
    page = get(base + "/runs/demo/fail-1")
    assert page.status == 200
    link = re.search(
        r'<a class="kit-failure kind-error" id="kit-failure-link"\s+'
        r'href="([^"]+)">Failed at cell (\d+), In \[4\]: '
        r"ValueError: holdout is larger than the data",
        page.body,
    )
    assert link, page.body[:3000]
    assert link[2] == "4"  # the source position, as JupyterLab shows it
    assert link[1] == f"#cell-{link[2]}"  # the notebook is on the page
    # Each cell's duration and the kernel's peak memory while it ran.
    assert re.search(r"<caption>Slowest cells</caption>", page.body)
    assert re.search(r"<dt>Peak memory</dt><dd>\d+\.\d MiB \(kernel, cell \d\)", page.body)
    # Every parameter, defaults included; those given for the run marked.
    assert re.search(r'<tr class="given"[^>]*>\s*<th>fail \*</th>', page.body)
    assert re.search(r"<tr>\s*<th>horizon</th>\s*<td>7</td>", page.body)
    assert "<iframe" not in page.body
    inline = re.search(r'<div [^>]*class="kit-cell kit-failed"[^>]*>', page.body)
    assert inline
    assert f'id="cell-{link[2]}"' in inline[0]
    notebook = get(base + "/runs/demo/fail-1/notebook")
    assert notebook.status == 200
    assert notebook.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "default-src 'none'" in notebook.headers["Content-Security-Policy"]
    cell = re.search(r'<div [^>]*class="kit-cell kit-failed"[^>]*>', notebook.body)
    assert cell
    assert f'id="cell-{link[2]}"' in cell[0]
    assert "<script" not in notebook.body


def test_killed_running_and_succeeded_run_pages(base: str) -> None:
    killed = get(base + "/runs/demo/killed-1").body
    assert re.search(r"Stopped at cell 4, In \[4\]: received SIGTERM", killed)
    assert "kit-stopped" in get(base + "/runs/demo/killed-1/notebook").body
    running = get(base + "/runs/demo/running-1")
    assert running.status == 200
    assert 'class="kit-badge st-running"' in running.body
    assert "kit-failure" not in running.body
    lost = get(base + "/runs/demo/lost-1").body
    assert 'class="kit-badge st-lost"' in lost
    assert re.search(r"Stopped at cell 4, In \[4\]: no run.json by its deadline", lost)
    ok = get(base + "/runs/sales/ok-1").body
    assert "kit-failure" not in ok
    assert re.search(r"<th>mape</th><td>2\.6</td>", ok)
    assert "forecast_tail (3 rows)" in ok


def test_download_gives_the_executed_notebook(base: str) -> None:
    page = get(base + "/runs/demo/ok-a/output.ipynb")
    assert page.status == 200
    assert page.headers["Content-Disposition"] == "attachment; filename*=UTF-8''demo-ok-a.ipynb"
    assert json.loads(page.body)["nbformat"] == 4


@pytest.mark.parametrize(
    ("path", "code", "needle"),
    [
        ("/runs/demo/fail-2", 404, "did you mean fail-1"),
        ("/runs/dmeo/fail-1", 404, "did you mean demo"),
        ("/runs/demo/..%2Fsales/notebook", 404, "no run"),
        ("/runs/demo/ok-a/secrets", 404, "no such page"),
        ("/etc/passwd", 404, "no such page"),
    ],
)
def test_unknown_pages_are_404_with_suggestions(
    base: str, path: str, code: int, needle: str
) -> None:
    page = get(base + path)
    assert page.status == code
    assert needle in page.body


def test_security_headers_and_read_only(base: str) -> None:
    page = get(base + "/")
    headers = page.headers
    assert headers["Server"] == "kit-review"  # no Python version
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp  # no script allowed at all
    assert get(base + "/", method="POST").status == 405
    assert get(base + "/", method="DELETE").status == 405
    assert get(base + "/", method="HEAD").status == 200


def test_requests_for_other_hosts_are_refused(base: str) -> None:
    port = base.rsplit(":", 1)[1]
    assert get(base + "/", host=f"evil.example:{port}").status == 421
    assert get(base + "/", host=f"localhost:{port}").status == 200


def test_pages_never_show_credentials_or_the_environment(
    base: str, review_runs: ReviewRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "probe-7f3a9c-not-a-real-token"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", f"/secrets/{secret}.json")
    monkeypatch.setenv("AIRFLOW_CONN_SECRET", secret)
    for path in ("/", "/runs/demo/fail-1", "/runs/demo/fail-1/notebook", "/nope", "/?status=x"):
        body = get(base + path).body
        assert secret not in body
        assert review_runs.env["STORAGE_EMULATOR_HOST"] not in body
        assert "GOOGLE_APPLICATION_CREDENTIALS" not in body
