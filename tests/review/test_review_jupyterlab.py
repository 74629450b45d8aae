"""Open a run in the real JupyterLab (`make lab`) in one action, in Chromium: from the
review page, from `kit.load_run()` in a notebook, and from `kit runs show --open`.

The opened notebook is the executed one (its outputs), a read-only copy under the
JupyterLab's runs/ folder, whose cells JupyterLab will not let anyone edit.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_support import WAIT_MS, Lab, chromium_page, open_notebook, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME, RUN_ID = "opened", "lab-run-1"
API_PATH = f"runs/{NAME}/{RUN_ID}.ipynb"
PRINTED = "hello from the executed notebook"


@pytest.fixture(scope="module")
def executed(jupyterlab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One succeeded run, made with `kit run` as a pod would; its run record."""
    source = write_notebook(
        tmp_path_factory.mktemp("run") / f"{NAME}.ipynb",
        [("code", "greeting = 'hello'"), ("code", f"print({PRINTED!r})\nanswer = 6 * 7\nanswer")],
        {0: ["parameters"]},
    )
    done = jupyterlab.kit("run", str(source), "--run-id", RUN_ID)
    assert done.returncode == 0, done.stderr
    shown = jupyterlab.kit("runs", "show", NAME, RUN_ID, "--json")
    assert shown.returncode == 0, shown.stderr
    record: dict[str, Any] = json.loads(shown.stdout)
    return record


@pytest.fixture(scope="module")
def review_url(jupyterlab: Lab) -> Iterator[str]:
    """`kit review` as a user starts it beside JupyterLab (same machine, same environment)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "kit.cli.main", "review", "--port", str(port), "-q"],
        env=jupyterlab.env,
        cwd=jupyterlab.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_MS / 1000
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=5):
                    break
            except (urllib.error.URLError, OSError):
                assert proc.poll() is None, "kit review exited"
                assert time.monotonic() < deadline, "kit review did not answer"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _check_the_copy(jupyterlab: Lab, executed: dict[str, Any]) -> None:
    copy = jupyterlab.root / API_PATH
    nb = json.loads(copy.read_text())
    assert nb["metadata"]["kit"]["copy_of"] == executed["output_url"]
    assert all(c["metadata"].get("editable") is False for c in nb["cells"])
    assert not copy.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if os.geteuid() != 0:  # root may write anything: JupyterLab then says it is writable
        model = jupyterlab.api("GET", f"api/contents/{API_PATH}?content=0")
        assert model["writable"] is False


def _check_the_page(page: Any, jupyterlab: Lab) -> None:
    """JupyterLab shows the executed notebook, and its cells refuse edits."""
    from playwright.sync_api import expect

    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(panel.locator(".jp-OutputArea-output").first).to_contain_text(PRINTED)
    expect(panel.locator(".jp-OutputArea-output").nth(1)).to_contain_text("42")
    editor = panel.locator(".jp-Notebook-cell").nth(1).locator(".cm-content")
    expect(editor).to_have_attribute("aria-readonly", "true")
    before = editor.text_content() or ""
    editor.click()
    page.keyboard.type("edited = True\n")  # refused: the text stays as it ran
    expect(editor).to_have_text(before)
    expect(page.locator(".lm-TabBar-tab.jp-mod-current")).to_contain_text(f"{RUN_ID}.ipynb")


def test_open_in_jupyterlab_from_the_review_page(
    jupyterlab: Lab, executed: dict[str, Any], review_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with chromium_page(tmp_path) as (page, problems):
        page.goto(f"{jupyterlab.url}lab?reset&token={jupyterlab.token}")  # logged in
        expect(page.locator(".jp-LauncherCard").first).to_be_visible()
        page.goto(f"{review_url}/runs/{NAME}/{RUN_ID}")
        link = page.get_by_role("link", name="Open in JupyterLab")
        with page.context.expect_page() as opened:
            link.click()
        lab_page = opened.value
        lab_page.set_default_timeout(WAIT_MS)
        expect(lab_page).to_have_url(re.compile(re.escape(f"{jupyterlab.url}lab/tree/{API_PATH}")))
        _check_the_page(lab_page, jupyterlab)
    assert not problems, problems
    _check_the_copy(jupyterlab, executed)


def test_open_in_jupyterlab_from_load_run_in_a_notebook(
    jupyterlab: Lab, executed: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    write_notebook(
        jupyterlab.root / "team" / "review.ipynb",
        [("code", f"import kit\n\nkit.load_run({NAME!r}, {RUN_ID!r})")],
        {},
    )
    with chromium_page(tmp_path) as (page, problems):
        notebook = open_notebook(page, jupyterlab, "team/review.ipynb", cells=1)
        cell = notebook.run(0)
        link = cell.get_by_role("link", name="Open the executed notebook in JupyterLab")
        # JupyterLab resolves the link (../runs/... from team/) and, on a click, opens
        # the file in a tab of its own instead of following the href.
        expect(link).to_have_attribute("href", re.compile(re.escape(f"/files/{API_PATH}")))
        link.click()
        _check_the_page(page, jupyterlab)
    assert not problems, problems
    _check_the_copy(jupyterlab, executed)


def test_open_in_jupyterlab_from_kit_runs_show(
    jupyterlab: Lab, executed: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shown = jupyterlab.kit("runs", "show", NAME, RUN_ID, "--open")
    assert shown.returncode == 0, shown.stderr
    url = f"{jupyterlab.url}lab/tree/{API_PATH}"
    assert shown.stdout.splitlines()[0] == f"opened in JupyterLab: {url}"
    assert jupyterlab.token not in shown.stdout  # never printed
    with chromium_page(tmp_path) as (page, problems):
        page.goto(f"{jupyterlab.url}lab?reset&token={jupyterlab.token}")
        expect(page.locator(".jp-LauncherCard").first).to_be_visible()
        page.goto(url)
        _check_the_page(page, jupyterlab)
    assert not problems, problems
    _check_the_copy(jupyterlab, executed)


def test_without_a_jupyterlab_the_review_link_says_how_to_start_one(
    jupyterlab: Lab, executed: dict[str, Any], tmp_path: Path
) -> None:
    env = {**jupyterlab.env, "JUPYTER_RUNTIME_DIR": str(tmp_path / "no-servers")}
    shown = subprocess.run(
        [sys.executable, "-m", "kit.cli.main", "runs", "show", NAME, RUN_ID, "--open"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 2
    assert shown.stderr.strip() == (
        "kit: error: no JupyterLab is running on this machine; start one (`make lab`, or "
        "`jupyter lab`) and try again"
    )
