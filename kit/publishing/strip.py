"""Turn a working notebook into the canonical bytes of a published version.

Outputs, execution counts, widget state and editor noise are removed, so the
same source always gives the same bytes (and so the same sha256 and version).
The cells that call kit.publish() are tagged `kit-skip`: a run never re-publishes.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import nbformat

from kit.catalog import SKIP_TAG

# Cell metadata written by editors and extensions, meaningless to a run.
CELL_NOISE = frozenset(
    {"execution", "ExecuteTime", "collapsed", "scrolled", "jupyter", "heading_collapsed", "hidden"}
    | {"pycharm", "vscode", "colab", "papermill", "trusted", "editable", "deletable"}
)
# Notebook metadata of the same kind; kernelspec and language_info stay.
NOTEBOOK_NOISE = frozenset({"widgets", "toc", "varInspector", "vscode", "colab", "papermill"})
NOTEBOOK_NOISE_PREFIXES = ("jupytext",)

_PUBLISH_CALL = re.compile(r"\bkit\s*\.\s*publish\s*\(")
_PUBLISH_IMPORT = re.compile(r"^\s*from\s+kit\s+import\s+[^#\n]*\bpublish\b", re.MULTILINE)


@dataclass(frozen=True)
class Stripped:
    """The canonical published bytes and what was changed to get them."""

    data: bytes
    sha256: str
    publish_cells: tuple[int, ...]
    mixed_cells: tuple[int, ...]  # publish cells that also do other work (runs skip it too)


def is_publish_cell(source: str) -> bool:
    """Whether a code cell's source calls kit.publish() (or imports it from kit)."""
    if "publish" not in source:  # most cells, at C speed: the patterns scan a big cell slowly
        return False
    return bool(_PUBLISH_CALL.search(source) or _PUBLISH_IMPORT.search(source))


def _only_publishes(source: str) -> bool:
    """Whether the cell holds nothing but imports and the kit.publish() call."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for stmt in tree.body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            continue
        if is_publish_cell(ast.unparse(stmt)):
            continue
        return False
    return True


def _clean_cell(cell: Any) -> None:
    for key in CELL_NOISE & set(cell.metadata):
        del cell.metadata[key]
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None


def strip(nb: Any) -> Stripped:
    """Canonical bytes of nb without outputs and noise, with publish cells tagged kit-skip."""
    nb = copy.deepcopy(nb)
    for key in list(nb.metadata):
        if key in NOTEBOOK_NOISE or key.startswith(NOTEBOOK_NOISE_PREFIXES):
            del nb.metadata[key]
    publish_cells: list[int] = []
    mixed: list[int] = []
    for index, cell in enumerate(nb.cells):
        _clean_cell(cell)
        if cell.cell_type != "code" or not is_publish_cell(cell.source):
            continue
        publish_cells.append(index)
        tags = list(cell.metadata.get("tags") or [])
        if SKIP_TAG not in tags:
            cell.metadata["tags"] = [*tags, SKIP_TAG]
        if not _only_publishes(cell.source):
            mixed.append(index)
    nbformat.validate(nb)
    text: str = nbformat.writes(nb, version=4)  # type: ignore[no-untyped-call]
    data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    return Stripped(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        publish_cells=tuple(publish_cells),
        mixed_cells=tuple(mixed),
    )
