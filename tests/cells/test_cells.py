"""Cell numbering: 1-based source positions, papermill's added cells mapped out."""

from __future__ import annotations

from typing import Any

from kit import cells


def _cell(*tags: str) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": ""}


def test_numbers_are_one_based_and_name_the_execution_count() -> None:
    assert cells.number(0) == 1
    assert cells.label(2) == "cell 3"
    assert cells.label(2, 5) == "cell 3, In [5]"


def test_papermill_cells_are_not_counted_as_source_cells() -> None:
    executed = [
        _cell("papermill-error-cell-tag"),  # banner at the top of a failed run
        _cell("parameters"),
        _cell("injected-parameters"),
        _cell(),
        _cell("papermill-error-cell-tag"),  # banner before the failing cell
        _cell(),
    ]
    assert cells.source_index(executed, 1) == 0
    assert cells.source_index(executed, 3) == 1
    assert cells.source_index(executed, 5) == 2
    assert cells.source_index(executed, 2) is None
    assert cells.source_index(executed, 0) is None
    assert cells.source_index(executed, 9) is None
