"""Check a .py file for publishing: a model module (kept as is) or a percent script.

The checks are those a notebook gets, with errors naming file lines: the name, no
secrets (detect-secrets over the file's lines) and syntax. A model module must also
define `class Model` with a run() whose parameters kit can declare (kit.modelspec); its
version holds the file itself. A percent script becomes the notebook jupytext reads,
which then gets every notebook rule (kit.publishing.release) and is stored as .ipynb.
"""

from __future__ import annotations

import ast
import hashlib
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit import cells, modelspec, pysource
from kit import schema as params
from kit.catalog import Parameter
from kit.errors import UsageError
from kit.publishing import secrets, validate
from kit.publishing.candidate import Candidate

PERCENT = "py:percent"


@dataclass(frozen=True)
class PercentScript:
    """A percent script read as a notebook that passed the checks a .py file adds."""

    source: validate.SourceNotebook
    parameters_cell: int | None  # None: no cell tagged `parameters`, no parameters
    parameters: list[Parameter]


def load(path: Path, name: str | None = None) -> Candidate | PercentScript:
    """A model module's candidate, or a percent script's notebook; UsageError naming the file."""
    published = validate.notebook_name(path, name)
    text = validate.read_text(path, "a Python file")
    kind = pysource.kind_of(text)
    if kind is None:
        tree = _tree_or_none(text)
        if tree is not None and modelspec.classes_with_run(tree):
            modelspec.read(text, str(path))  # says which class to name Model
        raise pysource.neither(path)
    if kind == "module":
        return module_candidate(path, published, text)
    return _percent(path, published, text)


def _tree_or_none(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def module_candidate(path: Path, name: str, text: str) -> Candidate:
    """A model module, checked, as the bytes of its version: the file itself (as UTF-8)."""
    spec = modelspec.read(text, str(path))
    secrets.check_text(text, path)
    data = text.encode("utf-8")
    return Candidate(
        path=path,
        name=name,
        kind="module",
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        parameters=spec.parameters,
        extra={
            "kernel": pysource.PYTHON_KERNEL["name"],
            "module_file": path.name,
            "model_line": spec.class_line,
            "run_line": spec.run_line,
        },
    )


def _percent(path: Path, name: str, text: str) -> PercentScript:
    nb = pysource.to_notebook(text, str(path))
    source = validate.SourceNotebook(
        path=path, name=name, nb=nb, kernel_name=validate.kernel_of(nb, path)
    )
    starts = pysource.cell_lines(text, len(nb.cells))
    index: int | None = None
    parameters: list[Parameter] = []
    if params.has_parameters_cell(nb):
        index = params.parameters_cell(nb, path)
        parameters = params.parse_parameters(
            nb.cells[index].source,
            f"{path}: parameters cell ({cells.label(index)})",
            first_line=starts[index] if starts else 1,
        )
    secrets.check_text(text, path)
    _check_syntax(nb, starts, path)
    return PercentScript(source, index, parameters)


def _check_syntax(nb: Any, starts: list[int] | None, path: Path) -> None:
    """Each code cell must parse as IPython does (magics and `!` lines allowed)."""
    from IPython.core.inputtransformer2 import TransformerManager

    manager = TransformerManager()  # type: ignore[no-untyped-call]
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            ast.parse(manager.transform_cell(str(cell.source)))
        except (SyntaxError, tokenize.TokenError) as exc:
            lineno = getattr(exc, "lineno", None) or 1
            if isinstance(exc, tokenize.TokenError):
                lineno = exc.args[1][0] if len(exc.args) > 1 else 1
            line = f"line {starts[index] + lineno - 1}" if starts else cells.label(index)
            message = getattr(exc, "msg", None) or str(exc.args[0])
            raise UsageError(
                f"{path}: {line}: syntax error in {cells.label(index)}: {message}"
            ) from exc
