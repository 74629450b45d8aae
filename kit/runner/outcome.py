"""Turn how papermill ended into a status, a reason and the cell the run stopped at.

Which cell stopped a run is kit.run_contract.stopped_cell, read from the executed
notebook: the same definition the review code and the DAGs' finisher use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kit.run_contract import FAILED, SUCCEEDED, TIMED_OUT, cell_ref, not_run, stopped_cell


@dataclass
class Outcome:
    """How execution ended, before it is turned into a run record."""

    status: str  # succeeded | failed | killed | timed_out
    reason: str | None = None
    error: dict[str, Any] | None = None  # ename, evalue, traceback
    stopped_at: dict[str, Any] | None = None  # kit.run_contract.cell_ref
    cells_not_run: int = 0


def _cells(nb: Mapping[str, Any] | None) -> Sequence[Mapping[str, Any]]:
    cells = (nb or {}).get("cells")
    return cells if isinstance(cells, list) else []


def _error_output(cell: Mapping[str, Any]) -> dict[str, Any] | None:
    for output in cell.get("outputs", []) or []:
        if output.get("output_type") == "error":
            return {
                "ename": output.get("ename"),
                "evalue": str(output.get("evalue") or ""),
                "traceback": list(output.get("traceback") or []),
            }
    return None


def _outcome(
    status: str,
    reason: str | None,
    error: dict[str, Any] | None,
    cells: Sequence[Mapping[str, Any]],
    index: int | None,
) -> Outcome:
    if index is None:
        return Outcome(status, reason, error)
    return Outcome(status, reason, error, cell_ref(cells, index), not_run(cells, index))


def stopped(status: str, timeout: float | None, nb: Mapping[str, Any] | None) -> Outcome:
    """The outcome of a run we stopped: killed (a signal) or timed_out."""
    cells = _cells(nb)
    reason = f"timed out after {timeout:g} s" if status == TIMED_OUT else "received SIGTERM"
    return _outcome(status, reason, None, cells, stopped_cell(cells, completed=False))


def classify(
    error: BaseException | None,
    nb: Mapping[str, Any] | None,
    kernel_exit: str,
    replies: Mapping[int, dict[str, Any]] | None = None,
) -> Outcome:
    """The outcome of a run papermill finished, from the exception it raised (if any).

    replies: the kernel's error replies by source cell number (kit.runner.watch); they
    hold the message of an error that left no error output (IPython's UsageError).
    """
    cells = _cells(nb)
    index = stopped_cell(cells, completed=error is None)
    found = None
    if index is not None:
        found = _error_output(cells[index]) or (replies or {}).get(cell_ref(cells, index)["cell"])
    if error is None:
        if index is None:
            return Outcome(SUCCEEDED)
        # sys.exit(0), sys.exit() or raise SystemExit: papermill counts it as success.
        code = (found or {}).get("evalue") or ""
        return _outcome(SUCCEEDED, f"sys.exit({code})", None, cells, index)
    if type(error).__name__ == "PapermillExecutionError":
        if found is None:  # no error output and no reply: what papermill says
            evalue = str(getattr(error, "evalue", "") or "")
            traceback = list(getattr(error, "traceback", None) or [])
            found = {
                "ename": getattr(error, "ename", None),
                "evalue": evalue,
                "traceback": traceback,
            }
        if found["ename"] == "SystemExit":
            reason = f"sys.exit({found['evalue']})"
        else:
            reason = f"{found['ename']}: {found['evalue']}".rstrip(": ")
        return _outcome(FAILED, reason, found, cells, index)
    if type(error).__name__ == "DeadKernelError":
        # papermill cannot tell a dead kernel from a failing cell; nbclient's error can.
        died = {"ename": "DeadKernelError", "evalue": kernel_exit, "traceback": []}
        return _outcome(FAILED, "kernel died", died, cells, index)
    return _outcome(FAILED, f"{type(error).__name__}: {error}", None, cells, index)
