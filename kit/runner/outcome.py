"""Turn how papermill ended into a status, a reason and the failing cell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Outcome:
    """How execution ended, before it is turned into a run record."""

    status: str  # succeeded | failed | killed | timed_out
    reason: str | None = None
    error: dict[str, Any] | None = None


def _started_cell(nb: dict[str, Any] | None) -> int | None:
    """The index of the last cell papermill started, in the output notebook."""
    started = [
        i
        for i, c in enumerate((nb or {}).get("cells", []))
        if c.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    return started[-1] if started else None


def _error_cell(nb: dict[str, Any] | None, fallback: int) -> int:
    """The cell holding the error output; papermill's index predates its banner cells."""
    for index, cell in enumerate((nb or {}).get("cells", [])):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            if output.get("ename") != "SystemExit" or output.get("evalue") not in ("", "0"):
                return index
    return fallback


def _at_cell(nb: dict[str, Any] | None, ename: str | None, evalue: str = "") -> dict[str, Any]:
    return {"cell_index": _started_cell(nb), "ename": ename, "evalue": evalue, "traceback": []}


def stopped(status: str, timeout: float | None, nb: dict[str, Any] | None) -> Outcome:
    """The outcome of a run we stopped: killed (a signal) or timed_out."""
    reason = f"timed out after {timeout:g} s" if status == "timed_out" else "received SIGTERM"
    return Outcome(status, reason, _at_cell(nb, None) if _started_cell(nb) is not None else None)


def classify(error: BaseException | None, nb: dict[str, Any] | None, kernel_exit: str) -> Outcome:
    """The outcome of a run papermill finished, from the exception it raised (if any)."""
    from papermill.exceptions import PapermillExecutionError

    if error is None:
        return Outcome("succeeded")
    if isinstance(error, PapermillExecutionError):
        if error.ename == "SystemExit" and str(error.evalue).strip() in ("", "0", "None"):
            return Outcome("succeeded", f"sys.exit({error.evalue})")
        info = {
            "cell_index": _error_cell(nb, error.cell_index),
            "ename": error.ename,
            "evalue": str(error.evalue),
            "traceback": list(error.traceback or []),
        }
        if error.ename == "SystemExit":
            return Outcome("failed", f"sys.exit({error.evalue})", info)
        return Outcome("failed", f"{error.ename}: {error.evalue}", info)
    if type(error).__name__ == "DeadKernelError":
        # papermill cannot tell a dead kernel from a failing cell; nbclient's error can.
        return Outcome("failed", "kernel died", _at_cell(nb, "DeadKernelError", kernel_exit))
    return Outcome("failed", f"{type(error).__name__}: {error}", _at_cell(nb, None))
