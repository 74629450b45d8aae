"""Where a run stopped: the cell, its source and traceback, for the terminal and the page.

Which cell is kit.run_contract.stopped_cell on the executed notebook (the definition the
runner and the DAGs' finisher use too) or, without the notebook, the record's
`stopped_at`. Cells are named by their 1-based source number (kit.cells).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit.review.run_view import Run
from kit.run_contract import (
    FAILED,
    KILLED,
    LOST,
    SUCCEEDED,
    TIMED_OUT,
    cell_ref,
    not_run,
    source_text,
    stopped_cell,
)

STOPPED = (KILLED, TIMED_OUT, LOST)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """Text without terminal colour and cursor codes (IPython colours its tracebacks)."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class Failure:
    """The cell a run stopped at.

    kind: "error" (an exception), "stopped" (killed, timed out, lost) or "exit" (a
    succeeded run that sys.exit(0) ended early).
    """

    kind: str
    cell_number: int | None  # 1-based source position (anchor `cell-<n>`)
    source: str = ""
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)
    execution_count: int | None = None
    reason: str = ""  # why the run stopped, from its record
    cells_not_run: int = 0

    @property
    def headline(self) -> str:
        """`ename: evalue`, `sys.exit(n)`, or what stopped the run."""
        if self.ename == "SystemExit":
            return f"sys.exit({self.evalue})"
        if self.ename:
            return f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        if self.reason:
            return self.reason
        return "stopped while this cell was running" if self.kind == "stopped" else "error"

    @property
    def verb(self) -> str:
        """ "Failed" for an error, "Stopped" otherwise."""
        return "Failed" if self.kind == "error" else "Stopped"

    @property
    def where(self) -> str:
        """`cell 3, In [2]`, or "an unknown cell"."""
        if self.cell_number is None:
            return "an unknown cell"
        count = self.execution_count
        return f"cell {self.cell_number}" + (f", In [{count}]" if count is not None else "")

    @property
    def summary(self) -> str:
        """`Failed at cell 3, In [2]: ValueError: boom` (+ how many later cells did not run)."""
        text = f"{self.verb} at {self.where}: {self.headline}"
        if self.cells_not_run:
            later = "cell" if self.cells_not_run == 1 else "cells"
            text += f"; {self.cells_not_run} later code {later} did not run"
        return text

    @property
    def traceback_text(self) -> str:
        """The traceback as plain text."""
        return "\n".join(strip_ansi(line) for line in self.traceback)


def _error_output(cell: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for output in cell.get("outputs", ()) or ():
        if isinstance(output, Mapping) and output.get("output_type") == "error":
            return output
    return None


def _kind(status: str) -> str:
    if status == SUCCEEDED:
        return "exit"
    return "stopped" if status in STOPPED else "error"


def _details(found: Mapping[str, Any] | None) -> dict[str, Any]:
    found = found or {}
    return {
        "ename": str(found.get("ename") or ""),
        "evalue": strip_ansi(str(found.get("evalue") or "")),
        "traceback": [strip_ansi(str(line)) for line in found.get("traceback") or []],
    }


def failure_of(run: Run, cells: Sequence[Mapping[str, Any]] | None) -> Failure | None:
    """The cell a run stopped at, from its executed notebook's cells when given, else from
    its record; None for a run that ran every cell (or is still running)."""
    kind, reason = _kind(run.status), run.reason or ""
    if run.status not in (SUCCEEDED, FAILED, *STOPPED):
        return None
    if cells:
        index = stopped_cell(cells, completed=run.status == SUCCEEDED)
        if index is not None:
            ref = cell_ref(cells, index)
            found = _error_output(cells[index]) or (run.error if kind != "stopped" else None)
            return Failure(
                kind=kind,
                cell_number=ref["cell"],
                source=source_text(cells[index]),
                execution_count=ref["execution_count"],
                reason=reason,
                cells_not_run=not_run(cells, index),
                **_details(found),
            )
    stopped = run.stopped_at
    if stopped is not None:
        number, count = stopped.get("cell"), stopped.get("execution_count")
        return Failure(
            kind=kind,
            cell_number=number if isinstance(number, int) else None,
            source=str(stopped.get("source") or ""),
            execution_count=count if isinstance(count, int) else None,
            reason=reason,
            cells_not_run=run.cells_not_run,
            **_details(run.error if kind != "stopped" else None),
        )
    if run.status == FAILED or (run.error and run.error.get("ename")):
        return Failure(kind="error", cell_number=None, reason=reason, **_details(run.error))
    return None
