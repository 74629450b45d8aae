"""The Jupyter servers (JupyterLab) running on this machine, and this kernel's own.

A Jupyter server writes `jpserver-<pid>.json` (its URL, root folder and token) into
Jupyter's runtime folder while it runs; `jupyter server list` reads the same files.
kit reads them directly: jupyter_server.serverapp.list_running_servers() does the same,
but importing jupyter_server takes seconds. Tokens are only sent back to the server
they came from, never printed or stored.

Inside a kernel, this kernel's notebook is asked of those servers' sessions API
(GET /api/sessions), by kernel id.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.pids import alive


@dataclass(frozen=True)
class JupyterServer:
    """One running Jupyter server: where it answers and which folder it serves."""

    url: str  # with its base URL, ending in "/": http://127.0.0.1:8888/
    root: Path
    token: str = ""
    started: float = 0.0  # when its info file was written (time.time())

    def api(self, path: str, timeout: float = 2) -> Any:
        """GET url + path (e.g. "api/sessions") as JSON; OSError or ValueError on failure."""
        request = urllib.request.Request(
            self.url + path.lstrip("/"), headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return json.load(resp)


def running() -> list[JupyterServer]:
    """The Jupyter servers running now (their info files), most recently started first."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return []
    found = []
    for info_file in Path(jupyter_runtime_dir()).glob("jpserver-*.json"):
        try:
            info = json.loads(info_file.read_text())
            started = info_file.stat().st_mtime
            server = JupyterServer(
                url=str(info["url"]).rstrip("/") + "/",
                root=Path(str(info["root_dir"])).expanduser(),
                token=str(info.get("token") or ""),
                started=started,
            )
            pid = int(info["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if alive(pid):
            found.append(server)
    return sorted(found, key=lambda s: s.started, reverse=True)


def kernel_shell() -> Any | None:
    """The IPython shell when running inside a Jupyter kernel, else None."""
    ipython = sys.modules.get("IPython")  # a kernel has imported it; a shell command has not
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def kernel_id() -> str | None:
    """This kernel's id (from its connection file's name), when in a Jupyter kernel."""
    try:
        from ipykernel.connect import get_connection_file
    except ImportError:
        return None
    try:
        stem = Path(get_connection_file()).stem
    except (RuntimeError, AttributeError):
        return None
    return stem[len("kernel-") :] if stem.startswith("kernel-") else None


def this_kernels_notebook() -> tuple[JupyterServer, str] | None:
    """The server running this kernel and the API path (relative to its root) of the
    notebook whose session the kernel belongs to; None outside such a session."""
    kid = kernel_id() if kernel_shell() is not None else None
    if kid is None:
        return None
    for server in running():
        try:
            sessions = server.api("api/sessions")
        except (OSError, ValueError):
            continue
        for session in sessions if isinstance(sessions, list) else []:
            if session.get("kernel", {}).get("id") == kid and session.get("path"):
                return server, str(session["path"])
    return None
