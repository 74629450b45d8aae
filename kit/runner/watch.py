"""Watch a run cell by cell through nbclient's documented hooks.

papermill passes the extra keyword arguments of `execute_notebook` through its engine to
nbclient's NotebookClient, whose `on_notebook_start`, `on_cell_execute` and
`on_cell_executed` traits are called around each code cell (with the kernel's reply); its
`stdout_file`/`stderr_file` receive the cells' streams as they arrive. The watch turns
them into progress events, measures the kernel's peak memory per cell
(kit.runner.memory), stores that peak in the cell's metadata (`kit.peak_rss_bytes`, so
the executed notebook carries it, even to a finisher reading a dead pod's last save),
and keeps the kernel's own error reply (an IPython UsageError has no error output).
"""

from __future__ import annotations

import threading
from typing import Any

from kit.run_contract import CELL_META, first_line, is_added, number, source_index
from kit.runner.memory import PeakMemory
from kit.runner.progress import Cell, Clock, Reporter


class _Stream:
    """A file-like object papermill writes one cell stream to (its stdout_file/stderr_file)."""

    def __init__(self, watch: CellWatch, name: str) -> None:
        self.watch = watch
        self.name = name

    def write(self, text: str) -> int:
        self.watch.output(self.name, text)
        return len(text)

    def flush(self) -> None:
        """Every line is flushed by the reporter already."""


class CellWatch:
    """Hooks for one execution; `engine_kwargs()` is what papermill passes on to nbclient."""

    def __init__(self, reporter: Reporter | None = None, *, log_output: bool = False) -> None:
        self.reporter = reporter
        self.log_output = log_output
        self.clock = Clock()
        self.memory = PeakMemory(None)
        self.peaks: dict[int, int] = {}  # source cell number -> kernel peak RSS
        self.errors: dict[int, dict[str, Any]] = {}  # source cell number -> kernel's error reply
        self._cells: list[Any] = []
        self._current: tuple[int, Cell, float] | None = None  # executed index, cell, start
        self._lock = threading.Lock()

    def attach(self, pid: int | None) -> None:
        """Measure this kernel process."""
        self.memory = PeakMemory(pid)

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for papermill.execute_notebook (forwarded to NotebookClient)."""
        kwargs: dict[str, Any] = {
            "on_notebook_start": self._notebook_start,
            "on_cell_execute": self._cell_execute,
            "on_cell_executed": self._cell_executed,
        }
        if self.log_output and self.reporter is not None:
            kwargs.update(stdout_file=_Stream(self, "stdout"), stderr_file=_Stream(self, "stderr"))
        return kwargs

    # -- hooks (papermill's thread) ----------------------------------------------------------
    def _notebook_start(self, notebook: Any, **_: Any) -> None:
        self._cells = notebook.cells

    def _cell(self, cell: Any, index: int) -> Cell | None:
        at = source_index(self._cells, index) if self._cells else None
        if at is None or is_added(cell):
            return None  # papermill's injected-parameters cell
        count = cell.get("execution_count")
        return Cell(number(at), first_line(cell), count if isinstance(count, int) else None)

    def _cell_execute(self, cell: Any, cell_index: int, **_: Any) -> None:
        ref = self._cell(cell, cell_index)
        self.memory.cell_started()
        with self._lock:
            self._current = None if ref is None else (cell_index, ref, self.clock())
        if ref is not None and self.reporter is not None:
            self.reporter.cell_started(ref, self.clock())

    def _cell_executed(self, cell: Any, cell_index: int, execute_reply: Any, **_: Any) -> None:
        peak = self.memory.cell_finished()
        with self._lock:
            current, self._current = self._current, None
        if peak is not None:
            cell.setdefault("metadata", {})[CELL_META] = {"peak_rss_bytes": peak}
        if current is None:
            return
        ref, began = current[1], current[2]
        count = cell.get("execution_count")
        ref = Cell(ref.number, ref.source, count if isinstance(count, int) else None)
        if peak is not None:
            self.peaks[ref.number] = peak
        content = (execute_reply or {}).get("content") or {}
        error = None
        if content.get("status") == "error":  # (nbclient calls on_cell_error only after this)
            error = {
                "ename": content.get("ename"),
                "evalue": str(content.get("evalue") or ""),
                "traceback": list(content.get("traceback") or []),
            }
            self.errors[ref.number] = error
        if self.reporter is not None:
            took = self.clock() - began
            message = f"{error['ename']}: {error['evalue']}".rstrip(": ") if error else None
            self.reporter.cell_finished(ref, self.clock(), took, peak, message)

    def output(self, stream: str, text: str) -> None:
        """A chunk of a cell's stdout or stderr (only with log_output)."""
        with self._lock:
            ref = self._current[1] if self._current else None
        if self.reporter is not None:
            self.reporter.cell_output(ref, stream, text)

    # -- the end (runner's thread) -----------------------------------------------------------
    def interrupted(self, why: str) -> None:
        """The kernel stopped (killed, timed out, died) during a cell: report it, keep its peak."""
        peak = self.memory.cell_finished()
        with self._lock:
            current, self._current = self._current, None
        if current is not None:
            ref, began = current[1], current[2]
            if peak is not None:
                self.peaks[ref.number] = peak
            if self.reporter is not None:
                self.reporter.cell_finished(ref, self.clock(), self.clock() - began, peak, why)

    def close(self) -> None:
        """Stop measuring."""
        self.memory.close()
