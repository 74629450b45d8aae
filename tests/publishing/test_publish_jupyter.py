"""`kit.publish()` in a real Jupyter Server session's kernel, over its REST and websocket APIs."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest
from lab_support import jupyter_api

from kit.catalog import SKIP_TAG, Catalog
from kit.config import Settings

pytestmark = pytest.mark.slow
websocket = pytest.importorskip("websocket")


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    root: Path

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return jupyter_api(self.url, self.token, method, path, body)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def jupyter(tmp_path: Path, kit_env: dict[str, str]) -> Iterator[Server]:
    """A Jupyter Server on loopback whose kernels see the emulator and the test buckets."""
    root = tmp_path / "root"
    root.mkdir()
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(kit_env)
    for var, sub in (("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
        env[var] = str(tmp_path / sub)
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "config")
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
        ],
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(f"http://127.0.0.1:{port}", token, root)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                server.api("GET", "/api/status")
                break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("jupyter server did not start:\n" + _log(tmp_path))
                time.sleep(0.2)
        yield server
    finally:
        try:
            server.api("POST", "/api/shutdown")
            proc.wait(timeout=30)
        except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
            proc.terminate()
            proc.wait(timeout=30)
        log.close()


def _log(tmp_path: Path) -> str:
    return (tmp_path / "server.log").read_text()[-3000:]


class Kernel:
    """A kernel's websocket channels: execute code, collect what it prints."""

    def __init__(self, server: Server, kernel_id: str) -> None:
        self.session = uuid.uuid4().hex
        self.html = ""  # text/html of the last execute_result
        ws_url = server.url.replace("http", "ws", 1)
        self.ws = websocket.create_connection(
            f"{ws_url}/api/kernels/{kernel_id}/channels?session_id={self.session}",
            header=[f"Authorization: token {server.token}"],
            timeout=120,
        )

    def execute(self, code: str, cell_id: str | None = None) -> tuple[str, str, dict[str, Any]]:
        """Run code (as cell cell_id, as JupyterLab sends it); return its stdout, its
        stderr and the execute_reply content."""
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "test",
                        "session": self.session,
                        "msg_type": "execute_request",
                        "version": "5.3",
                        "date": datetime.now(UTC).isoformat(),
                    },
                    "parent_header": {},
                    "metadata": {"cellId": cell_id} if cell_id else {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        streams: dict[str, str] = {"stdout": "", "stderr": ""}
        reply: dict[str, Any] | None = None
        idle = False
        while reply is None or not idle:
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream":
                streams[msg["content"]["name"]] += msg["content"]["text"]
            elif kind == "execute_result":
                self.html = msg["content"]["data"].get("text/html", "")
            elif kind == "error":
                streams["stderr"] += "\n".join(msg["content"]["traceback"])
            elif kind == "execute_reply":
                reply = msg["content"]
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        return streams["stdout"], streams["stderr"], reply

    def close(self) -> None:
        self.ws.close()


def test_publish_from_a_notebook_session(
    jupyter: Server,
    gcs_settings: Settings,
    notebook_builder: Callable[..., Any],
) -> None:
    nbformat.write(notebook_builder(), jupyter.root / "served.ipynb")
    session = jupyter.api(
        "POST",
        "/api/sessions",
        {"path": "served.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    )
    kernel = Kernel(jupyter, session["kernel"]["id"])
    try:
        out, err, reply = kernel.execute("unsaved_edit = 1")
        assert reply["status"] == "ok", err
        out, err, reply = kernel.execute("import kit; r = kit.publish()")
        assert reply["status"] == "ok", err
        assert out.startswith("published served@")
        # The code run before (sent without a cell id, as a console does) is in no saved
        # cell: the user is told to save, once, on one line.
        assert err.count("kit: warning: ") == 1, err
        assert "the code run last in this kernel (In [1]) is in no cell of the saved file" in err
        out, err, reply = kernel.execute("print(r.name, r.version, r.created)")
        assert reply["status"] == "ok", err
        name, version, created = out.split()
    finally:
        kernel.close()

    assert (name, created) == ("served", "True")
    catalog = Catalog(gcs_settings)
    assert catalog.versions("served") == [version]
    assert catalog.resolve("served").version == version
    manifest = catalog.manifest("served", version)
    assert [p.name for p in manifest.parameters] == ["horizon", "label", "width"]
    stored = nbformat.reads(
        catalog.storage.read(catalog.notebook_url("served", version)).decode(), as_version=4
    )
    assert stored.cells[-1].source == "import kit\nkit.publish()"
    assert SKIP_TAG in stored.cells[-1].metadata.tags
    assert all(SKIP_TAG not in c.metadata.get("tags", []) for c in stored.cells[:-1])


def test_session_in_a_folder_with_saved_work(
    jupyter: Server, gcs_settings: Settings, notebook_builder: Callable[..., Any]
) -> None:
    # As JupyterLab opens it: an API path in a folder, and the file name as session name.
    (jupyter.root / "team").mkdir()
    nbformat.write(notebook_builder(), jupyter.root / "team" / "demand.ipynb")
    session = jupyter.api(
        "POST",
        "/api/sessions",
        {
            "path": "team/demand.ipynb",
            "name": "demand.ipynb",
            "type": "notebook",
            "kernel": {"name": "python3"},
        },
    )
    kernel = Kernel(jupyter, session["kernel"]["id"])
    try:
        for code in (
            'horizon = 30  # periods ahead\nlabel = "demo"\nwidth = 0.8  # interval',
            "result = horizon * 2\nprint(label, result)",
        ):
            assert kernel.execute(code)[2]["status"] == "ok"
        out, err, reply = kernel.execute("import kit\nkit.publish()")
    finally:
        kernel.close()
    assert reply["status"] == "ok", err
    assert "PublishWarning" not in err  # everything run is saved
    assert "<strong>Published</strong>" in kernel.html  # the result's _repr_html_
    version = out.split()[1].split("@")[1]
    assert Catalog(gcs_settings).resolve("demand").version == version


def test_unsaved_work_is_judged_by_the_id_of_the_cell_run_before(
    jupyter: Server, gcs_settings: Settings, notebook_builder: Callable[..., Any]
) -> None:
    nb = notebook_builder()
    nbformat.write(nb, jupyter.root / "ids.ipynb")
    params, body, publish = nb.cells[1], nb.cells[2], nb.cells[3]
    session = jupyter.api(
        "POST",
        "/api/sessions",
        {"path": "ids.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    )
    kernel = Kernel(jupyter, session["kernel"]["id"])
    try:
        assert kernel.execute(params.source, params.id)[2]["status"] == "ok"
        assert kernel.execute(body.source, body.id)[2]["status"] == "ok"
        _, saved_err, _ = kernel.execute(publish.source, publish.id)
        # The body cell, edited and run, not saved: named as JupyterLab numbers it.
        assert kernel.execute("result = horizon * 3\nprint(label, result)", body.id)[2]
        _, edited_err, _ = kernel.execute(publish.source, publish.id)
        # A cell that is not in the saved file: new, deleted, or lost in a page reload.
        assert kernel.execute("scratch = 1", "not-in-the-file")[2]["status"] == "ok"
        _, unknown_err, _ = kernel.execute(publish.source, publish.id)
    finally:
        kernel.close()
    assert "kit: warning" not in saved_err, saved_err
    assert edited_err.count("kit: warning: ") == 1, edited_err
    assert "cell 3, In [4] ran code that differs from that cell in the saved file" in edited_err
    assert "kit: warning" not in unknown_err, unknown_err


def test_a_refusal_in_a_notebook_is_one_line_and_scripts_keep_the_traceback(
    jupyter: Server, gcs_settings: Settings, kit_env: dict[str, str], tmp_path: Path
) -> None:
    nbformat.write(nbformat.v4.new_notebook(), jupyter.root / "refusing.ipynb")
    session = jupyter.api(
        "POST",
        "/api/sessions",
        {"path": "refusing.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    )
    kernel = Kernel(jupyter, session["kernel"]["id"])
    try:
        _, err, reply = kernel.execute("import kit\nkit.publish('forecast-Copy1.ipynb')")
        _, soft_err, soft = kernel.execute(
            "r = kit.publish('forecast-Copy1.ipynb', raise_on_error=False)\nprint(r)"
        )
        soft_out = kernel.execute("print(r)")[0]
    finally:
        kernel.close()
    assert reply["status"] == "error"  # the cell stops, and so does "Run All"
    assert reply["ename"] == "UsageError"
    assert len(err.splitlines()) == 1, err  # not kit's 40-line traceback
    assert "forecast-Copy1.ipynb: file name 'forecast-Copy1' is not a valid notebook name" in err
    assert "publish it as 'forecast-copy1'" in err
    assert soft["status"] == "ok"
    assert soft_err.startswith("kit: error: forecast-Copy1.ipynb: file name")
    assert soft_out.strip() == "None"

    script = subprocess.run(
        [sys.executable, "-c", "import kit; kit.publish('forecast-Copy1.ipynb')"],
        env=kit_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert script.returncode == 1
    assert script.stderr.startswith("Traceback")
    assert script.stderr.rstrip().endswith("or --name forecast-copy1 in a shell")


def test_a_kernel_without_the_emulator_fails_at_once_saying_what_to_do(
    jupyter: Server, tmp_path: Path, notebook_builder: Callable[..., Any]
) -> None:
    """As a kernel of a JupyterLab started without `eval "$(kit dev env)"`, on a laptop
    without Google credentials: no metadata-server probe (~13 s), one line saying how."""
    from kit.storage.credentials import may_authenticate

    if may_authenticate():
        pytest.skip("this machine has Google credentials or is on Google Cloud")
    nbformat.write(notebook_builder(), jupyter.root / "offline.ipynb")
    session = jupyter.api(
        "POST",
        "/api/sessions",
        {"path": "offline.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    )
    kernel = Kernel(jupyter, session["kernel"]["id"])
    empty = tmp_path / "no-gcloud"
    empty.mkdir()
    try:
        setup = (
            "import os\n"
            "for var in ('STORAGE_EMULATOR_HOST', 'GOOGLE_APPLICATION_CREDENTIALS'):\n"
            "    os.environ.pop(var, None)\n"
            f"os.environ['CLOUDSDK_CONFIG'] = {str(empty)!r}\n"
        )
        assert kernel.execute(setup)[2]["status"] == "ok"
        _, err, reply = kernel.execute("import kit\nkit.publish()")
        out, _, _ = kernel.execute(
            "import sys\nprint(sorted(m for m in sys.modules if 'compute_engine' in m))"
        )
    finally:
        kernel.close()
    assert reply["status"] == "error"
    assert len(err.splitlines()) == 1, err
    assert "StorageError" in err
    assert "no storage emulator and no Google credentials" in err
    assert 'eval "$(kit dev env)"' in err
    assert "gcloud auth application-default login" in err
    assert out.strip() == "[]"  # google.auth never looked for a metadata server
