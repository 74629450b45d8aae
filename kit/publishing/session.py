"""Inside a Jupyter kernel: which notebook is this, and is the saved file up to date?

Which notebook: Jupyter Server starts each kernel with JPY_SESSION_NAME (and
ipykernel copies it to the `__session__` global): the notebook's path when the
kernel started. If the notebook has been renamed since, that file is gone, and
the running servers' session lists (GET /api/sessions) are asked for this
kernel's current path.

Unsaved work: the kernel cannot see the editor, but it has the sources of the
cells it ran (`In`). If the last cell run before the one calling kit.publish()
is not, as run, a cell of the saved file, the file is older than the work the
user just did: warn (a cell edited but never run cannot be detected).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

from kit.errors import UsageError
from kit.publishing.strip import is_publish_cell

SESSION_VAR = "JPY_SESSION_NAME"


def kernel_shell() -> Any | None:
    """The IPython shell when running inside a Jupyter kernel, else None."""
    ipython = sys.modules.get("IPython")  # a kernel has imported it; a shell command has not
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def _candidates(session: str) -> list[Path]:
    path = Path(session).expanduser()
    if path.is_absolute():
        return [path]
    # An API path is relative to the server's root; the kernel runs in the notebook's folder.
    return [Path.cwd() / path, Path.cwd() / path.name]


def _kernel_id() -> str | None:
    try:
        from ipykernel.connect import get_connection_file
    except ImportError:
        return None
    try:
        stem = Path(get_connection_file()).stem
    except (RuntimeError, AttributeError):
        return None
    return stem[len("kernel-") :] if stem.startswith("kernel-") else None


def _from_servers(kernel_id: str) -> Path | None:
    """Ask running Jupyter servers (their jpserver-*.json files) where this kernel's notebook is."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return None
    for info_file in sorted(Path(jupyter_runtime_dir()).glob("jpserver-*.json")):
        try:
            info = json.loads(info_file.read_text())
            request = urllib.request.Request(
                info["url"].rstrip("/") + "/api/sessions",
                headers={"Authorization": f"token {info.get('token', '')}"},
            )
            with urllib.request.urlopen(request, timeout=2) as resp:
                sessions = json.load(resp)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for session in sessions:
            if session.get("kernel", {}).get("id") == kernel_id:
                path = Path(str(info.get("root_dir", ""))).expanduser() / str(session.get("path"))
                if path.is_file():
                    return path
    return None


def notebook_path(shell: Any | None = None) -> Path:
    """The notebook file of this kernel's Jupyter session; UsageError outside of one."""
    shell = shell if shell is not None else kernel_shell()
    names = []
    if shell is not None and isinstance(shell.user_ns.get("__session__"), str):
        names.append(shell.user_ns["__session__"])
    if os.environ.get(SESSION_VAR):
        names.append(os.environ[SESSION_VAR])
    for name in names:
        for path in _candidates(name):
            if path.suffix in (".ipynb", ".py") and path.is_file():  # .py: jupytext
                return path
    if shell is not None and (kernel_id := _kernel_id()):
        found = _from_servers(kernel_id)
        if found is not None:
            return found
    if not names:
        raise UsageError(
            "kit.publish(): not in a Jupyter notebook session; pass the notebook's path, "
            "e.g. kit.publish('forecast.ipynb')"
        )
    raise UsageError(
        f"kit.publish(): this kernel's notebook {names[0]} was not found (renamed or moved?); "
        "pass its path, e.g. kit.publish('forecast.ipynb')"
    )


def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def unsaved_work(shell: Any, nb: Any, path: Path) -> str | None:
    """A warning when the last cell this kernel ran is not in the saved notebook, else None."""
    history = [str(s) for s in shell.user_ns.get("In", [])]
    # history[-1] is the cell running now (the one calling kit.publish()).
    earlier = [(n, s) for n, s in enumerate(history[:-1]) if s.strip() and not is_publish_cell(s)]
    if not earlier:
        return None
    number, last = earlier[-1]
    saved = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            saved.add(_normal(shell.transform_cell(cell.source)))
        except Exception:  # a cell IPython cannot transform cannot match either
            saved.add(_normal(cell.source))
    if _normal(last) in saved:
        return None
    return (
        f"{path}: the cell run last in this kernel (In [{number}]) is not in the saved file; "
        "save the notebook (Ctrl+S) and publish again to include your latest work"
    )
