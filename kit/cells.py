"""Cell numbering: the one definition every message, record and page uses.

A cell is named by its position in the *source* notebook as JupyterLab shows it,
counted from 1 ("cell 3"), with its execution count where it has one ("cell 3, In [2]").
An executed notebook has cells papermill added (the injected-parameters cell after the
parameters cell, and the error banners of a failed run); they are not source cells, so
positions in an executed notebook are mapped back before they are shown.

The definitions live in kit.run_contract, because run records name cells this way and
the DAGs' finisher (which cannot import kit) numbers the cell a dead pod was running with
the same code. Import them from here.
"""

from __future__ import annotations

from kit.run_contract import (
    PAPERMILL_TAGS,
    executed_index,
    first_line,
    is_added,
    label,
    number,
    source_index,
    source_text,
)

__all__ = [
    "PAPERMILL_TAGS",
    "executed_index",
    "first_line",
    "is_added",
    "label",
    "number",
    "source_index",
    "source_text",
]
