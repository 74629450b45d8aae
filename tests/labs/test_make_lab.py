"""`make lab` as a new user meets it: `!kit` in a notebook, `kit dev env` in a terminal."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from lab_support import Lab, chromium_page, open_notebook, wait_until, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_kit_runs_from_a_notebook_cell_under_make_lab(jupyterlab: Lab, tmp_path: Path) -> None:
    """README: `!kit env check` works from a kernel. The kernel's PATH comes from `make lab`
    alone (the lab was started without .venv/bin on PATH)."""
    assert ".venv/bin" not in jupyterlab.env["PATH"]
    write_notebook(
        jupyterlab.root / "shell.ipynb",
        [("code", "!which kit\n!kit --help | head -3"), ("code", "!kit env check")],
        {},
    )
    with chromium_page(tmp_path) as (page, problems):
        notebook = open_notebook(page, jupyterlab, "shell.ipynb", cells=2)
        notebook.run(0)
        which = notebook.outputs(0)
        assert "command not found" not in which
        assert which.splitlines()[0].endswith("/.venv/bin/kit"), which
        assert "Usage: kit [OPTIONS] COMMAND [ARGS]..." in which
        notebook.run(1)
        check = notebook.outputs(1)
        assert "command not found" not in check
        assert "environment.yml" in check, check
    assert not problems, problems


def test_kit_dev_env_in_a_jupyterlab_terminal_finds_the_checkouts_emulator(
    jupyterlab: Lab, tmp_path: Path
) -> None:
    """In a JupyterLab terminal, in notebooks/ (make lab's root) below the checkout."""
    from playwright.sync_api import expect

    out = jupyterlab.root / "dev-env.txt"
    with chromium_page(tmp_path) as (page, problems):
        page.goto(f"{jupyterlab.url}lab?reset&token={jupyterlab.token}")
        page.locator(".jp-LauncherCard", has_text="Terminal").click()  # the Launcher's card
        # The shell is ready when its prompt shows.
        expect(page.locator(".jp-Terminal .xterm-accessibility-tree")).to_contain_text(
            re.compile(r"[$#]")
        )
        page.locator(".jp-Terminal").click()
        # Terminals start where `make lab` runs (the checkout); the user goes to notebooks/.
        page.keyboard.type(
            f"cd {shlex.quote(str(jupyterlab.root))} && pwd > where.txt && "
            "kit dev env > dev-env.txt 2>&1; echo $? >> dev-env.txt"
        )
        page.keyboard.press("Enter")
        try:
            wait_until(
                lambda: out.is_file() and re.search(r"^\d+$", out.read_text(), re.MULTILINE),
                "the terminal's command to finish",
            )
        finally:
            page.screenshot(path=str(tmp_path / "terminal.png"))  # kept for a failure's report
    assert not problems, problems
    for terminal in jupyterlab.api("GET", "api/terminals"):
        jupyterlab.api("DELETE", f"api/terminals/{terminal['name']}")
    text = out.read_text()
    assert (jupyterlab.root / "where.txt").read_text().strip() == str(jupyterlab.root)
    assert text.splitlines()[-1] == "0", text
    assert f"export STORAGE_EMULATOR_HOST={jupyterlab.env['STORAGE_EMULATOR_HOST']}" in text
