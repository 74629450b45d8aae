"""Read a notebook file and refuse anything a run could not execute.

Every check here happens before anything is written. A refusal is a UsageError
whose one-line message starts with the file's path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.catalog import check_file_name
from kit.errors import UsageError
from kit.publishing import nbfile


@dataclass(frozen=True)
class SourceNotebook:
    """A notebook read from disk that passed the structural checks."""

    path: Path
    name: str
    nb: Any  # nbformat.NotebookNode (untyped)
    kernel_name: str


def read_text(path: Path, what: str) -> str:
    """The file's text; UsageError naming it (as `what`, "a notebook") when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{path}: is a directory, not {what}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not {what} (not UTF-8 text)") from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def read_notebook(path: Path) -> Any:
    """Parse path as a valid nbformat v4 notebook; UsageError naming the file otherwise."""
    text = read_text(path, "a notebook")
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path}: not a notebook (invalid JSON: {exc})") from exc
    if not isinstance(raw, dict) or "nbformat" not in raw or "cells" not in raw:
        raise UsageError(f"{path}: not a Jupyter notebook (JSON without nbformat and cells)")
    if raw.get("nbformat") != 4:
        raise UsageError(
            f"{path}: nbformat {raw.get('nbformat')!r} is not supported; "
            "open and save it in JupyterLab to upgrade it to v4"
        )
    try:
        return nbfile.parse(text)  # without importing nbformat (see kit.publishing.nbfile)
    except nbfile.Unsupported:
        pass
    import nbformat
    import nbformat.reader

    try:
        # nbformat.reader.reads, not nbformat.reads: the latter logs validation errors
        # on stderr before we can report them on one line.
        nb = nbformat.reader.reads(text)  # type: ignore[no-untyped-call]
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        first = (str(getattr(exc, "message", "") or exc).splitlines() or ["?"])[0]
        raise UsageError(f"{path}: invalid notebook: {first}") from exc
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # malformed before validation
        raise UsageError(f"{path}: invalid notebook: {type(exc).__name__}: {exc}") from exc
    return nb


def kernel_of(nb: Any, path: Path) -> str:
    """The kernelspec name, when the notebook declares a Python kernel; else UsageError."""
    spec = nb.metadata.get("kernelspec") or {}
    name = str(spec.get("name") or "")
    language = str(spec.get("language") or nb.metadata.get("language_info", {}).get("name") or "")
    if language.lower() == "python" or name.lower().startswith("python"):
        return name or "python3"
    if not spec and not language:
        raise UsageError(f"{path}: no kernelspec in the notebook metadata (need a Python kernel)")
    shown = name or language
    raise UsageError(f"{path}: kernel {shown!r} is not Python; kit runs Python notebooks only")


def _how(name: str | None) -> str:
    if name is None:
        return "choose a name with kit.publish(name=...), or --name in a shell"
    return f'publish it as {name!r}: kit.publish(name="{name}"), or --name {name} in a shell'


def notebook_name(path: Path, name: str | None) -> str:
    """The published name: the given one, else the file's stem as-is; both must be valid."""
    return check_file_name(path.stem, str(path), name, _how)


def load(path: Path, name: str | None = None) -> SourceNotebook:
    """Read, parse and check one notebook file: format, kernel and name."""
    resolved = notebook_name(path, name)
    nb = read_notebook(path)
    return SourceNotebook(path=path, name=resolved, nb=nb, kernel_name=kernel_of(nb, path))
