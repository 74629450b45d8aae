"""Execute a notebook with papermill's Python API under supervision.

papermill runs in a worker thread with a kernel manager we own, so the main
thread stays free to react to SIGTERM and to the run's timeout: it stops the
kernel, papermill notices the dead kernel, saves what ran, and returns.
papermill does not tell a dead kernel from a failing cell, so we do.
"""

from __future__ import annotations

import copy
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

from kit.catalog import SKIP_TAG
from kit.runner.nbio import OutputWriter


@dataclass
class Outcome:
    """How execution ended, before it is turned into a run record."""

    status: str  # succeeded | failed | killed | timed_out
    reason: str | None = None
    error: dict[str, Any] | None = None


def block_unused_imports() -> None:
    """Keep papermill's optional gcsfs and jsonschema's IRI grammar out of this process.

    The runner never uses gcsfs (our own I/O handler talks to storage), and nbformat's
    schema has no IRI formats, yet importing them costs ~2 s of every command's start-up.
    Only this process is affected, never a notebook's kernel.
    """
    for module in ("gcsfs", "rfc3987_syntax"):
        sys.modules.setdefault(module, None)  # type: ignore[arg-type]


def skip_tagged(nb: dict[str, Any]) -> dict[str, Any]:
    """A copy of nb whose kit-skip cells (the publish cell) do nothing; indexes stay stable."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if SKIP_TAG in cell.get("metadata", {}).get("tags", []) and cell["cell_type"] == "code":
            cell["source"] = f"# skipped by `kit run`: this cell is tagged {SKIP_TAG}"
    return nb


class StopSignal:
    """Why a run must stop early (SIGTERM/SIGINT, or its timeout), set from any thread."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.why: list[str] = []

    def set(self, why: str) -> None:
        if not self.event.is_set():
            self.why.append(why)
            self.event.set()

    @contextmanager
    def on_signals(self) -> Iterator[StopSignal]:
        """Turn SIGTERM/SIGINT into a stop for the duration (main thread only)."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.set("killed")

        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


def _failing_cell(nb: dict[str, Any] | None) -> int | None:
    """The index of the last cell papermill started, in the output notebook."""
    if not nb:
        return None
    started = [
        i
        for i, c in enumerate(nb.get("cells", []))
        if c.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    return started[-1] if started else None


def execute(
    nb: dict[str, Any],
    parameters: dict[str, Any],
    writer: OutputWriter,
    *,
    timeout: float | None,
    grace: float,
    stop: StopSignal,
    kernel_env: dict[str, str] | None = None,
) -> Outcome:
    """Run nb with papermill, saving through writer as it goes; never raises for the notebook."""
    block_unused_imports()
    import logging

    import nbformat
    import papermill
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from papermill.exceptions import PapermillExecutionError

    # We report how the run ended ourselves; papermill's log lines would only repeat it.
    logging.getLogger("papermill").setLevel(logging.CRITICAL)
    writer.register()
    node = nbformat.from_dict(skip_tagged(nb))  # type: ignore[no-untyped-call]
    kernel_name = node.metadata.get("kernelspec", {}).get("name", "python3")
    # An async manager: nbclient then polls kernel liveness while waiting for output.
    # IPC keeps kernel traffic off TCP, and ipykernel quiet about it.
    km = AsyncKernelManager(kernel_name=kernel_name, transport="ipc", ip=_ipc_path())
    result: dict[str, BaseException | None] = {}
    kernel_exit: list[str] = []

    def work() -> None:
        try:
            # Started here rather than by nbclient so the kernel gets this run's environment.
            run_sync(km.start_kernel)(env=kernel_env or dict(os.environ))
            papermill.execute_notebook(
                node,
                writer.url,
                parameters=parameters,
                kernel_name=kernel_name,
                progress_bar=False,
                km=km,
                autosave_cell_every=10,
            )
            result["error"] = None
        except BaseException as exc:  # reported below, whatever it is
            result["error"] = exc
        finally:
            kernel_exit.append(_exit_description(km))
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)

    deadline = time.monotonic() + timeout if timeout else None
    worker = threading.Thread(target=work, name="kit-papermill", daemon=True)
    if not stop.event.is_set():
        worker.start()
    while worker.is_alive() and not stop.event.is_set():
        worker.join(0.1)
        if deadline is not None and time.monotonic() > deadline:
            stop.set("timed_out")
    if stop.event.is_set() and worker.is_alive():
        # Kill the kernel; papermill then sees it die and saves what has run.
        _kill(km)
        worker.join(grace)

    if stop.why:
        status = stop.why[0]
        reason = f"timed out after {timeout:g} s" if status == "timed_out" else "received SIGTERM"
        return Outcome(status, reason, _error(writer.last(), None))
    error = result.get("error")
    if error is None:
        return Outcome("succeeded")
    if isinstance(error, PapermillExecutionError):
        if error.ename == "SystemExit" and str(error.evalue).strip() in ("", "0", "None"):
            return Outcome("succeeded", f"sys.exit({error.evalue})")
        info = {
            # Index in the saved output, which papermill gave an error banner and an anchor.
            "cell_index": _error_cell(writer.last(), error.cell_index),
            "ename": error.ename,
            "evalue": str(error.evalue),
            "traceback": list(error.traceback or []),
        }
        if error.ename == "SystemExit":
            return Outcome("failed", f"sys.exit({error.evalue})", info)
        return Outcome("failed", f"{error.ename}: {error.evalue}", info)
    if type(error).__name__ == "DeadKernelError":
        info = _error(writer.last(), "DeadKernelError") or {}
        info["evalue"] = kernel_exit[0] if kernel_exit else ""
        return Outcome("failed", "kernel died", info)
    return Outcome("failed", f"{type(error).__name__}: {error}", _error(writer.last(), None))


def _error_cell(nb: dict[str, Any] | None, fallback: int) -> int:
    for index, cell in enumerate((nb or {}).get("cells", [])):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") != "SystemExit":
                return index
            if output.get("output_type") == "error" and output.get("evalue") not in ("", "0"):
                return index
    return fallback


def _exit_description(km: Any) -> str:
    process = getattr(getattr(km, "provisioner", None), "process", None)
    code = process.poll() if process is not None else None
    if code is None:
        return "the kernel process stopped responding"
    if code < 0:
        return f"the kernel process was killed by signal {-code}"
    return f"the kernel process exited with code {code}"


def _ipc_path() -> str:
    import tempfile

    return os.path.join(tempfile.mkdtemp(prefix="kit-kernel-"), "kernel")


def _kill(km: Any) -> None:
    """SIGKILL the kernel process from any thread (the manager itself is async)."""
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        process.kill()


def _error(nb: dict[str, Any] | None, ename: str | None) -> dict[str, Any] | None:
    index = _failing_cell(nb)
    if index is None and ename is None:
        return None
    return {"cell_index": index, "ename": ename, "evalue": "", "traceback": []}
