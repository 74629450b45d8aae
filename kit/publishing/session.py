"""Inside a Jupyter kernel: which notebook is this, and is the saved file up to date?

Which notebook: Jupyter Server starts each kernel with JPY_SESSION_NAME (and
ipykernel copies it to the `__session__` global): the notebook's path when the
kernel started. If the notebook has been renamed since, that file is gone, and
the running servers' session lists (GET /api/sessions) are asked for this
kernel's current path.

Unsaved work: JupyterLab keeps a notebook's unsaved changes in the browser and tells
neither the kernel nor the Jupyter server whether the document is dirty (the contents
API knows only the file on disk, the sessions API only its path and kernel). What the
kernel does know is the cell it ran just before the one calling kit.publish(): its code
as run and, from JupyterLab, its cell id (IPython's last_execution_result). kit looks
that id up in the saved file: when the saved cell holds other code, the user ran edits
they have not saved, and kit warns, naming the cell. When the id is not in the saved
file, the cell is new and unsaved, or was deleted, or was lost in a page reload, or ran
from another notebook; kit cannot tell which, so it says nothing. Edits never run, and
cells other than that one, cannot be detected. Without cell ids (nbformat < 4.5, a
console), the code run last is looked for among the saved cells' code.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from kit import labs
from kit.cells import label
from kit.errors import UsageError
from kit.publishing.strip import is_publish_cell

SESSION_VAR = "JPY_SESSION_NAME"
kernel_shell = labs.kernel_shell  # the IPython shell inside a Jupyter kernel, else None


def _candidates(session: str) -> list[Path]:
    path = Path(session).expanduser()
    if path.is_absolute():
        return [path]
    # An API path is relative to the server's root; the kernel runs in the notebook's folder.
    return [Path.cwd() / path, Path.cwd() / path.name]


def _shown(path: Path) -> Path:
    """The path as messages show it: relative to the kernel's folder when inside it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _from_servers() -> Path | None:
    """Ask the running Jupyter servers where this kernel's notebook is (after a rename)."""
    found = labs.this_kernels_notebook()
    if found is None:
        return None
    server, api_path = found
    path = server.root / api_path
    return _shown(path) if path.is_file() else None


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
                return _shown(path)
    if shell is not None and (found := _from_servers()) is not None:
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


def _saved_at(path: Path) -> str:
    try:
        return f" (saved {datetime.fromtimestamp(path.stat().st_mtime):%H:%M:%S})"
    except OSError:
        return ""


def _by_source(shell: Any, nb: Any, path: Path) -> str | None:
    """Without cell ids: is the code run last (`In`) the code of some saved cell?"""
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
        f"{path}: the code run last in this kernel (In [{number}]) is in no cell of the saved "
        f"file{_saved_at(path)}; save the notebook (Ctrl+S) and publish again to include it"
    )


def unsaved_work(shell: Any, nb: Any, path: Path) -> str | None:
    """A warning when the cell run just before this one ran code its saved version lacks."""
    last = getattr(shell, "last_execution_result", None)
    info = getattr(last, "info", None)
    if info is None or getattr(info, "silent", False):
        return _by_source(shell, nb, path)
    raw = str(getattr(info, "raw_cell", "") or "")
    if not raw.strip() or is_publish_cell(raw):
        return None  # nothing ran before, or kit.publish() ran again
    cell_id = getattr(info, "cell_id", None)
    if not cell_id or not any("id" in cell for cell in nb.cells):
        return _by_source(shell, nb, path)
    index = next((i for i, cell in enumerate(nb.cells) if cell.get("id") == cell_id), None)
    if index is None or _normal(str(nb.cells[index].source)) == _normal(raw):
        return None  # not in the saved file (see the module docstring), or saved as run
    return (
        f"{path}: {label(index, getattr(last, 'execution_count', None))} ran code that differs "
        f"from that cell in the saved file{_saved_at(path)}; save the notebook (Ctrl+S) and "
        "publish again to include it"
    )
