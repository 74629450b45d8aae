"""Turn a working notebook into the canonical bytes of a published version, and its identity.

Outputs, execution counts, widget state and editor noise are removed, so the
same source always gives the same bytes. The cells that call kit.publish() are
tagged `kit-skip`: a run never re-publishes.

A version is named by its *identity*, the sha256 of what runs and nothing else: the
kernel name, then each code cell's source and the tags that change how it runs
(RUN_TAGS); a kit-skip cell counts as skipped, whatever it holds. Markdown, raw cells,
cell ids and the notebook metadata JupyterLab rewrites on save (language_info, ...) are
left out, so saving without editing, or editing only prose, publishes nothing new.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from kit.catalog import SKIP_TAG
from kit.publishing import nbfile

# Cell metadata written by editors and extensions, meaningless to a run.
CELL_NOISE = frozenset(
    {"execution", "ExecuteTime", "collapsed", "scrolled", "jupyter", "heading_collapsed", "hidden"}
    | {"pycharm", "vscode", "colab", "papermill", "trusted", "editable", "deletable"}
)
# Notebook metadata of the same kind; kernelspec and language_info stay.
NOTEBOOK_NOISE = frozenset({"widgets", "toc", "varInspector", "vscode", "colab", "papermill"})
NOTEBOOK_NOISE_PREFIXES = ("jupytext",)

# Tags that change a run: kit's (`parameters`: papermill injects after it; kit-skip),
# papermill's injected cell, and nbclient's (a cell allowed to raise; one not run).
RUN_TAGS = frozenset(
    {"parameters", SKIP_TAG, "injected-parameters", "raises-exception", "skip-execution"}
)

_PUBLISH_CALL = re.compile(r"\bkit\s*\.\s*publish\s*\(")
_PUBLISH_IMPORT = re.compile(r"^\s*from\s+kit\s+import\s+[^#\n]*\bpublish\b", re.MULTILINE)


@dataclass(frozen=True)
class Stripped:
    """The canonical published bytes and what was changed to get them."""

    data: bytes
    sha256: str
    identity: str  # sha256 of what runs (see the module's docstring): names the version
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


def identity(nb: Any) -> str:
    """The sha256 of what runs: kernel name, code cells' sources and run tags, in order."""
    cells: list[dict[str, Any]] = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = sorted(RUN_TAGS.intersection(cell.get("metadata", {}).get("tags") or ()))
        source = "" if SKIP_TAG in tags else str(cell["source"])
        cells.append({"source": source, "tags": tags})
    kernel = str((nb["metadata"].get("kernelspec") or {}).get("name") or "")
    what_runs = {"kernel": kernel, "cells": cells}
    data = json.dumps(what_runs, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


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
    data = nbfile.dumps(nb).encode("utf-8")
    return Stripped(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        identity=identity(nb),
        publish_cells=tuple(publish_cells),
        mixed_cells=tuple(mixed),
    )
