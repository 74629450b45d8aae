"""papermill's nbclient engine, with cheaper saves while the notebook runs.

papermill saves the whole output notebook when each cell starts and when it ends,
markdown cells included, on the thread that runs the cells: the next cell waits for
each save. This engine
- skips the saves around markdown and raw cells, where nothing can change (14 of the
  forecast notebook's 39 saves);
- writes the others as plain sorted JSON, without nbformat's deep copy and schema
  validation of the whole notebook (half the cost, more with large outputs).
papermill's final save, after the last cell, is still nbformat's validated one.

It stays because bench/results.md shows what it buys (measurement 2, with and without).
It is registered through papermill's engine registry; the manager it needs is made in a
copy of papermill's `Engine.execute_notebook` (papermill has no setting for the manager
class), which tests/runner/test_engine.py pins to the papermill release it copies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nbformat.v4.nbjson import BytesEncoder
from papermill.engines import (
    NBClientEngine,
    NotebookExecutionManager,
    catch_nb_assignment,
    papermill_engines,
)
from papermill.iorw import papermill_io

ENGINE_NAME = "kit"


def _dumps(nb: Any) -> str:
    """nbformat's JSON layout (sorted keys, indent 1), straight from the live notebook."""
    return json.dumps(nb, cls=BytesEncoder, indent=1, sort_keys=True, ensure_ascii=False)


class _Manager(NotebookExecutionManager):  # type: ignore[misc]
    """papermill's execution manager, silent around cells that are not code."""

    _hold = False

    @catch_nb_assignment  # type: ignore[untyped-decorator]
    def save(self, **kwargs: Any) -> None:
        if self._hold:
            return
        if self.output_path:
            papermill_io.write(_dumps(self.nb), self.output_path)
        self.last_save_time = self.now()

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
