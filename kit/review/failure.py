"""Where a run stopped: the failing cell of an executed notebook, its source and traceback.

run.json's `error.cell_index` indexes the output notebook's cells. Papermill may insert
marker cells into a failed notebook, so the index is checked against the cell that
actually holds an error output ("output_type": "error" with ename/evalue/traceback).
A killed or timed-out run without an error points at the cell papermill left "running".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit.review.record import Run

STOPPED = ("killed", "timed_out")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """Text without terminal colour and cursor codes (IPython colours its tracebacks)."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class Failure:
    """The cell a run stopped at. kind: "error" (an exception) or "stopped" (killed, timeout)."""

    kind: str
    cell_index: int | None
    source: str = ""
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)
    execution_count: int | None = None
    reason: str = ""  # why a run stopped, from its record (killed, timed out)

    @property
    def headline(self) -> str:
        """`ename: evalue`, or what stopped the run."""
        if self.ename:
            return f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        if self.reason:
            return self.reason
        return "stopped while this cell was running" if self.kind == "stopped" else "error"

    @property
    def cell_number(self) -> int | None:
        """The 1-based position of the cell, as a person counts (anchor `cell-<n>`)."""
        return None if self.cell_index is None else self.cell_index + 1

    @property
    def traceback_text(self) -> str:
        """The traceback as plain text."""
        return "\n".join(strip_ansi(line) for line in self.traceback)


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _error_output(cell: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for output in cell.get("outputs", ()) or ():
        if isinstance(output, Mapping) and output.get("output_type") == "error":
            return output
    return None


def _from_cell(index: int, cell: Mapping[str, Any], error: Mapping[str, Any] | None) -> Failure:
    output = _error_output(cell) or error or {}
    traceback = output.get("traceback") or []
    count = cell.get("execution_count")
    return Failure(
        kind="error",
        cell_index=index,
        source=_source(cell),
        ename=str(output.get("ename") or ""),
        evalue=strip_ansi(str(output.get("evalue") or "")),
        traceback=[strip_ansi(str(line)) for line in traceback],
        execution_count=count if isinstance(count, int) else None,
    )


def _stopped(status: str, index: int, cell: Mapping[str, Any], reason: str | None) -> Failure:
    kind = "stopped" if status in STOPPED else "error"
    return Failure(kind=kind, cell_index=index, source=_source(cell), reason=reason or "")


def find_failure(
    status: str,
    error: Mapping[str, Any] | None,
    cells: Sequence[Mapping[str, Any]] | None,
    reason: str | None = None,
) -> Failure | None:
    """The failing (or interrupted) cell of a run, from its record's error and its notebook."""
    cells = list(cells or [])
    index = error.get("cell_index") if error else None
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cells):
        index = None
    if index is not None and _error_output(cells[index]) is not None:
        return _from_cell(index, cells[index], error)
    if status != "succeeded":
        for i, cell in enumerate(cells):
            if _error_output(cell) is not None:
                return _from_cell(i, cell, error)
    if index is not None:
        if error and error.get("ename"):
            return _from_cell(index, cells[index], error)
        return _stopped(status, index, cells[index], reason)
    if error and error.get("ename"):
        return Failure(
            kind="error",
            cell_index=None,
            ename=str(error.get("ename") or ""),
            evalue=strip_ansi(str(error.get("evalue") or "")),
            traceback=[strip_ansi(str(line)) for line in error.get("traceback") or []],
        )
    if status in STOPPED:
        for i, cell in enumerate(cells):
            meta = cell.get("metadata", {}).get("papermill", {})
            if isinstance(meta, Mapping) and meta.get("status") == "running":
                return _stopped(status, i, cell, reason)
    return None


def failure_of(run: Run, cells: Sequence[Mapping[str, Any]] | None) -> Failure | None:
    """The failing or interrupted cell of a run (None for a clean run)."""
    return find_failure(run.status, run.error, cells, run.reason)
