"""JupyterLab in Chromium for the tests: the session's `make lab`, and a page that drives it.

The JupyterLab is started ONCE per session (tests/conftest.py `jupyterlab`) with the real
`make lab` (so its kernels and terminals get the PATH `make lab` gives them), on a free
port, with a token, serving `<tmp>/checkout/notebooks` of a stand-in checkout whose
`.kit/gcs` names the session's fake-gcs-server (so `kit dev env` finds it there, as in a
real checkout). Its PATH has no .venv/bin: only `make lab` may add it.

Chromium is Debian's (scripts/install_browser.sh), driven by Playwright; each test module
launches one browser (Playwright's sync API holds an event loop while it lives, which
other tests' asyncio must not meet). Waits are on conditions, never on sleeps.
"""

from __future__ import annotations

import json
import os
import pty
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kit import dev
from kit.config import Settings

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these, background connections are refused by the closed network and stall it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 120_000  # generous: a loaded 2-core machine starts kernels slowly
README_IMAGES = ROOT / "docs" / "img"
# JupyterLab's own settings for the tests: no news or update checks (no network here);
# terminals with their text in the page (xterm's screen-reader rows), not only on a canvas.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/terminal-extension/plugin.jupyterlab-settings": {"screenReaderMode": True},
}


def screenshots(tmp: Path) -> Path:
    """Where to save README screenshots: docs/img with UPDATE_SCREENSHOTS=1, else tmp."""
    folder = README_IMAGES if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class Lab:
    """The session's JupyterLab: where it answers and what its processes see."""

    url: str  # ends with "/"
    token: str
    root: Path  # the folder it serves (<checkout>/notebooks)
    env: dict[str, str]  # its environment: the emulator, the buckets, Jupyter's folders
    settings: Settings

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return jupyter_api(self.url, self.token, method, path, body)

    def kit(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """`kit ARGS` as a user's shell beside this JupyterLab runs it."""
        return subprocess.run(
            [sys.executable, "-m", "kit.cli.main", *args],
            env=self.env,
            cwd=cwd or self.root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def page_url(self, api_path: str) -> str:
        """JupyterLab on one document; `reset`: without the tabs an earlier test left open."""
        return f"{self.url}lab/tree/{quote(api_path)}?reset&token={self.token}"


def jupyter_api(
    url: str, token: str, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    """A Jupyter server's REST API (url + path), authenticated by its token; JSON back."""
    request = urllib.request.Request(
        url.rstrip("/") + "/" + path.lstrip("/"),
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        data = resp.read()
    return json.loads(data) if data else None


def wait_until(condition: Any, what: str, seconds: float = WAIT_MS / 1000) -> None:
    """Poll condition() until it is true; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _copy_out(fd: int, log_path: Path) -> None:
    """Keep reading the pty (a full pty would block the server) into the log file."""
    with log_path.open("wb") as log:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the other end closed: the server is gone
                break
            if not data:
                break
            log.write(data)
            log.flush()
    os.close(fd)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _without_venv_bin(path: str) -> str:
    venv_bins = {str(ROOT / ".venv" / "bin"), str(Path(sys.executable).parent)}
    return os.pathsep.join(p for p in path.split(os.pathsep) if p and p not in venv_bins)


@contextmanager
def running_lab(base: Path, server: dev.Server, settings: Settings) -> Iterator[Lab]:
    """`make lab` serving base/checkout/notebooks; stopped (its whole process group) after."""
    checkout = base / "checkout"
    root = checkout / "notebooks"
    root.mkdir(parents=True)
    state = checkout / ".kit" / "gcs" / "server.json"  # as `kit dev up` writes it
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"pid": server.pid, "port": server.port, "url": server.url}))
    for name, values in LAB_SETTINGS.items():
        path = base / "lab-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    skip = ("KIT_", "MAKE", "MFLAGS", "JPY_", "JUPYTER")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env.update(
        STORAGE_EMULATOR_HOST=server.url,
        GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT="false",
        KIT_MODULES_BUCKET=settings.modules_bucket,
        KIT_OUTPUTS_BUCKET=settings.outputs_bucket,
        KIT_DATA_BUCKET=settings.data_bucket,
        PATH=_without_venv_bin(os.environ.get("PATH", "/usr/bin:/bin")),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(base / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        IPYTHONDIR=str(base / "ipython"),
        XDG_CACHE_HOME=str(base / "cache"),
        PYTHONUNBUFFERED="1",
        # The publisher kit records: a stand-in's git identity, not this machine's.
        GIT_CONFIG_GLOBAL=str(base / "gitconfig"),
        CLOUDSDK_CONFIG=str(base / "gcloud"),
    )
    (base / "gitconfig").write_text("[user]\n\temail = ada@example.com\n\tname = Ada\n")
    port, token = _free_port(), secrets.token_hex(16)
    lab_args = [
        "--no-browser",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
    ]
    if os.geteuid() == 0:
        lab_args.append("--allow-root")
    log_path = base / "lab.log"
    # A user runs `make lab` in a terminal: give it one (a pty), so that JupyterLab's
    # terminals are the shells it starts there (not login shells, which reset PATH).
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "-C", str(ROOT), "lab", f"LAB_ROOT={root}",
         f"LAB_ARGS={' '.join(lab_args)}"],
        env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
        start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    drain = threading.Thread(target=_copy_out, args=(leader, log_path), daemon=True)
    drain.start()
    lab = Lab(f"http://127.0.0.1:{port}/", token, root, env, settings)
    try:
        deadline = time.monotonic() + WAIT_MS / 1000
        while True:
            try:
                lab.api("GET", "api/status")
                break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = log_path.read_text()[-3000:]
                    raise RuntimeError("`make lab` did not start:\n" + log) from None
                time.sleep(0.2)
        yield lab
    finally:
        try:
            lab.api("POST", "api/shutdown")
            proc.wait(timeout=60)
        except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGTERM)  # make, and the jupyter it started
            proc.wait(timeout=60)


def write_notebook(path: Path, cells: list[tuple[str, str]], tags: dict[int, list[str]]) -> Path:
    """A notebook of (cell_type, source) cells, with tags by cell index."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    made = []
    for index, (kind, source) in enumerate(cells):
        metadata = {"tags": tags[index]} if index in tags else {}
        maker = new_code_cell if kind == "code" else new_markdown_cell
        made.append(maker(source, metadata=metadata))
    nb = new_notebook(cells=made)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


class Notebook:
    """A notebook open in a JupyterLab page: run, edit and save its cells as a user does."""

    def __init__(self, page: Any, lab: Lab, api_path: str) -> None:
        self.page, self.lab, self.api_path = page, lab, api_path

    @property
    def panel(self) -> Any:
        """The notebook shown now (JupyterLab hides the panels of other tabs)."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    @property
    def cells(self) -> Any:
        return self.panel.locator(".jp-Notebook-cell")

    def cell(self, index: int) -> Any:
        return self.cells.nth(index)

    def wait_idle(self) -> None:
        """Until the status bar says the notebook's kernel is idle ("Python 3 (...) | Idle")."""
        from playwright.sync_api import expect

        idle = self.page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$"))
        try:
            expect(idle).to_have_count(1, timeout=WAIT_MS)
        except AssertionError:
            self.page.screenshot(path=str(self.lab.root.parent / "not-idle.png"))
            raise

    def prompt(self, index: int) -> Any:
        return self.cell(index).locator(".jp-InputArea-prompt")

    def run(self, index: int) -> Any:
        """Run one cell (Ctrl+Enter) and wait until it has run; returns the cell."""
        from playwright.sync_api import expect

        self.wait_idle()
        before = self.prompt(index).inner_text()
        self.cell(index).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Control+Enter")
        try:
            if re.fullmatch(r"\[\d+\]:", before.strip()):
                expect(self.prompt(index)).not_to_have_text(before, timeout=WAIT_MS)
            expect(self.prompt(index)).to_have_text(re.compile(r"\[\d+\]"), timeout=WAIT_MS)
        except AssertionError:
            self.page.screenshot(path=str(self.lab.root.parent / "not-run.png"))
            raise
        self.wait_idle()
        return self.cell(index)

    def type_into(self, index: int, text: str) -> None:
        """Replace a cell's source as typed in its editor (not run, not saved)."""
        self.cell(index).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(text)

    def save(self) -> None:
        """Ctrl+S, then wait until JupyterLab no longer marks the document as changed."""
        from playwright.sync_api import expect

        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")
        dirty = self.page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")
        expect(dirty).to_have_count(0, timeout=WAIT_MS)

    def outputs(self, index: int) -> str:
        return "\n".join(self.cell(index).locator(".jp-OutputArea-output").all_inner_texts())


def open_notebook(page: Any, lab: Lab, api_path: str, cells: int) -> Notebook:
    """Load JupyterLab on a notebook and wait for its cells and an idle kernel."""
    from playwright.sync_api import expect

    page.goto(lab.page_url(api_path))
    notebook = Notebook(page, lab, api_path)
    expect(notebook.cells).to_have_count(cells, timeout=WAIT_MS)
    notebook.wait_idle()
    return notebook


@contextmanager
def chromium_page(tmp: Path) -> Iterator[tuple[Any, list[str]]]:
    """A fresh headless Chromium page (its own profile); yields it and its page errors."""
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: run scripts/install_browser.sh"
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(WAIT_MS)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("dialog", lambda dialog: dialog.accept())  # "leave page?" on reload
            yield page, problems
        finally:
            browser.close()
