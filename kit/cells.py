"""Cell numbering: the one definition every message, record and page uses.

A cell is named by its position in the *source* notebook as JupyterLab shows it,
counted from 1 ("cell 3"), with its execution count where it has one ("cell 3, In [2]").
An executed notebook has cells papermill added (the injected-parameters cell after the
parameters cell, and the error banners of a failed run); they are not source cells, so
positions in an executed notebook are mapped back before they are shown.

Standard library only: the review page, the runner and the publish checks all import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Tags papermill gives the cells it adds to an executed notebook.
PAPERMILL_TAGS = frozenset({"injected-parameters", "papermill-error-cell-tag"})


def number(index: int) -> int:
    """The 1-based number JupyterLab shows for the source cell at 0-based `index`."""
    return index + 1


def label(index: int, execution_count: int | None = None) -> str:
    """`cell N` (1-based), with `In [k]` when the cell ran: "cell 3, In [2]"."""
    text = f"cell {number(index)}"
    return f"{text}, In [{execution_count}]" if isinstance(execution_count, int) else text


def is_added(cell: Mapping[str, Any]) -> bool:
    """Whether papermill added this cell to the executed notebook (not a source cell)."""
    tags = cell.get("metadata", {}).get("tags") or ()
    return any(tag in PAPERMILL_TAGS for tag in tags)


def source_index(cells: Sequence[Mapping[str, Any]], executed_index: int) -> int | None:
    """The source position of the executed notebook's cell `executed_index`.

    None when that cell is one papermill added, or the index is out of range.
    """
    if not 0 <= executed_index < len(cells) or is_added(cells[executed_index]):
        return None
    return sum(1 for cell in cells[:executed_index] if not is_added(cell))
