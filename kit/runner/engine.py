"""papermill's nbclient engine, minus the saves that cannot change what a reader sees.

papermill saves the whole output notebook when each cell starts and when it ends,
markdown cells included: 14 of the forecast notebook's 39 saves are around markdown,
which nothing executes. Each save serialises (deep copy, validation, JSON) on the
thread that runs the cells, so the next code cell waits for it. This engine keeps
every save papermill makes around code cells, and the first and last saves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

ENGINE_NAME = "kit"


class _Manager(NotebookExecutionManager):  # type: ignore[misc]
    """papermill's execution manager, silent around cells that are not code."""

    _hold = False

    def save(self, **kwargs: Any) -> None:
        if not self._hold:
            super().save(**kwargs)

    @contextmanager
    def _quiet_unless_code(self, cell: Any) -> Iterator[None]:
        self._hold = cell.get("cell_type") != "code"
        try:
            yield
        finally:
            self._hold = False

    def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        with self._quiet_unless_code(cell):
            super().cell_start(cell, cell_index, **kwargs)

    def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        with self._quiet_unless_code(cell):
            super().cell_complete(cell, cell_index, **kwargs)


class KitEngine(NBClientEngine):  # type: ignore[misc]
    """NBClientEngine with `_Manager`; papermill's `Engine.execute_notebook` otherwise."""

    @classmethod
    def execute_notebook(
        cls,
        nb: Any,
        kernel_name: str,
        output_path: str | None = None,
        progress_bar: bool = True,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        **kwargs: Any,
    ) -> Any:
        """Execute nb with kernel_name, saving to output_path as papermill does."""
        nb_man = _Manager(
            nb,
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb


def register() -> str:
    """Make the engine available to papermill; its name, for `engine_name`."""
    papermill_engines.register(ENGINE_NAME, KitEngine)
    return ENGINE_NAME
