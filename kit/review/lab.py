"""Open a run's executed notebook in the running JupyterLab, in one action.

kit copies the executed notebook into the folder the JupyterLab serves, as
`runs/<name>/<run-id>.ipynb` under its root, and opens it by URL (/lab/tree/<path>).
Chosen over exposing the outputs bucket in JupyterLab's file browser (jupyter-fs with
gcsfs): that needs a server extension and a front-end extension in the notebook
environment (which is the runtime image), per-user bucket configuration, and it would
open the stored object itself, where a save would overwrite a run's record of what
happened. A copy needs nothing installed, works for every kind of storage kit reads,
and cannot harm the run.

The copy is the executed notebook, outputs and all, marked read-only twice over: every
cell has `editable: false` and `deletable: false` (JupyterLab then refuses edits, whoever
runs it), and the file itself is read-only (for a server not running as root, JupyterLab
shows "notebook is read-only" and disables Save). Its metadata says where it came from
(`metadata.kit.copy_of`). The runs/ folder is git-ignored.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from kit import labs
from kit.errors import KitError, NotFoundError
from kit.review.listing import RunStore
from kit.review.run_view import Run

FOLDER = "runs"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
NO_LAB = (
    "no JupyterLab is running on this machine; start one (`make lab`, or `jupyter lab`) "
    "and try again"
)


@dataclass(frozen=True)
class Opened:
    """A run's notebook, copied into a JupyterLab's root."""

    path: Path  # the copy on disk
    api_path: str  # the same, relative to the server's root ("runs/forecast/daily-1.ipynb")
    url: str  # JupyterLab's URL of it, without any token


def choose_server(cwd: Path | None = None) -> labs.JupyterServer:
    """The running Jupyter server whose root holds cwd, else the most recently started."""
    servers = labs.running()
    if not servers:
        raise NotFoundError(NO_LAB)
    here = (cwd or Path.cwd()).resolve()
    for server in servers:
        try:
            here.relative_to(server.root.resolve())
        except ValueError:
            continue
        return server
    return servers[0]


def read_only_copy(data: bytes, run: Run) -> bytes:
    """The executed notebook with every cell locked and its origin in the metadata."""
    try:
        nb = json.loads(data)
        for cell in nb["cells"]:
            cell.setdefault("metadata", {}).update(editable=False, deletable=False)
        nb.setdefault("metadata", {})["kit"] = {
            "copy_of": run.output_url,
            "notebook": run.notebook,
            "run_id": run.run_id,
            "status": run.status,
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KitError(f"{run.output_url}: not a notebook ({exc})") from None
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _write_read_only(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        tmp.unlink(missing_ok=True)
        tmp.write_bytes(data)
        os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        tmp.replace(path)  # replaces an earlier (read-only) copy: the folder is writable
    except OSError as exc:
        raise KitError(f"cannot write {path}: {exc.strerror or exc}") from None


def open_run(store: RunStore, run: Run, server: labs.JupyterServer) -> Opened:
    """Copy a run's executed notebook into server's root (read-only); its JupyterLab URL."""
    if not (_SAFE.match(run.notebook) and _SAFE.match(run.run_id)):
        raise NotFoundError(f"no run {run.notebook}/{run.run_id} that can be opened")
    api_path = PurePosixPath(FOLDER, run.notebook, f"{run.run_id}.ipynb")
    path = server.root.joinpath(*api_path.parts)
    _write_read_only(path, read_only_copy(store.notebook_bytes(run), run))
    url = server.url + "lab/tree/" + quote(str(api_path))
    return Opened(path=path, api_path=str(api_path), url=url)


def open_here(store: RunStore, run: Run) -> tuple[Opened, str] | None:
    """In a notebook's kernel: copy the run into that notebook's JupyterLab.

    Returns the copy and a link to it relative to the notebook's folder (JupyterLab
    opens such links in a new tab); None outside a Jupyter session.
    """
    found = labs.this_kernels_notebook()
    if found is None:
        return None
    server, notebook = found
    opened = open_run(store, run, server)
    folder = str(PurePosixPath(notebook).parent)
    return opened, posixpath.relpath(opened.api_path, folder)
