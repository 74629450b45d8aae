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
    assert len(found) == 16
    statuses = {"succeeded", "failed", "killed", "timed_out", "running", "lost"}
    assert {s for s, _ in found} == statuses
    assert 'data-filter="notebook" data-value="demo"' in page.body
    assert 'data-filter="notebook" data-value="sales"' in page.body
    for status in statuses:
        assert f'class="kit-badge st-{status}"' in page.body
    css = get(base + "/static/review.css")
    assert css.headers["Content-Type"].startswith("text/css")
    assert ".kit-badge.st-failed { color: #cf222e" in css.body


def test_filters_by_notebook_and_status(base: str) -> None:
    failed = get(base + "/?status=failed")
    assert rows(failed) == [("failed", "demo")]
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
    chart = re.search(r"<figure><figcaption>mape.*?</figure>", body, flags=re.S)
    assert chart, "a mape chart"
    points = re.findall(r'<a href="(/runs/demo/[\w-]+)"><circle class="pt st-(\w+)"', chart[0])
    assert len(points) == 10  # 8 older runs + ok-a + ok-b (failed runs recorded no mape)
    assert ("/runs/demo/hist-01", "succeeded") in points
    assert "<polyline" in chart[0]
    assert "<script" not in body


def test_failed_run_page_links_the_failing_cell(base: str) -> None:
    page = get(base + "/runs/demo/fail-1")
    assert page.status == 200
    link = re.search(
        r'<a class="kit-failure kind-error" id="kit-failure-link"\s+'
        r'href="([^"]+)" target="notebook">Failed at cell (\d+), In \[4\]: '
        r"ValueError: holdout is larger than the data",
        page.body,
    )
    assert link, page.body[:3000]
    assert link[2] == "4"  # the source position, as JupyterLab shows it
    assert link[1] == f"/runs/demo/fail-1/notebook#cell-{link[2]}"
    # Each cell's duration and the kernel's peak memory while it ran.
    assert re.search(r"<caption>Slowest cells</caption>", page.body)
    assert re.search(r"<dt>Peak memory</dt><dd>\d+\.\d MiB \(kernel, cell \d\)", page.body)
    # Every parameter, defaults included; those given for the run marked.
    assert re.search(r'<tr class="given"[^>]*>\s*<th>fail \*</th>', page.body)
    assert re.search(r"<tr>\s*<th>horizon</th>\s*<td>7</td>", page.body)
    assert re.search(r'<iframe class="notebook" name="notebook"[^>]*sandbox=""', page.body)
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
