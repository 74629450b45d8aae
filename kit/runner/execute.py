"""Execute a notebook with papermill's Python API under supervision.

A `Session` owns one worker thread that starts the kernel at once (so the kernel
boots while the runner claims its output and imports papermill), then runs
papermill with that kernel manager. The main thread stays free to react to
SIGTERM and to the run's timeout: it kills the kernel, papermill notices the dead
kernel, saves what ran, and returns.
"""

from __future__ import annotations

import copy
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from kit import gcpause
from kit.catalog import SKIP_TAG
from kit.runner.outcome import Outcome, classify, stopped
from kit.runner.papermill_io import OutputWriter, PreparedSource
from kit.runner.watch import CellWatch

# Optional imports of our dependencies that kit's own process never uses, and that cost
# more than 50 ms each (bench/results.md, measurement 1): papermill's gcsfs (kit's I/O
# handlers do papermill's I/O), and two of the format checkers jsonschema loads when they
# are installed (JupyterLab's tools bring them to laptops; the image has none) for formats
# nbformat's schema never uses (nbformat validates with fastjsonschema). Each library
# treats an import that fails as "not installed": tests/runner/test_import_block_contract.py
# fails when one stops doing so. (grpc, which google-cloud-storage loads, is not blocked:
# it bought less than 50 ms, and gcsfs cannot import without it.)
UNUSED_IMPORTS: tuple[str, ...] = ("gcsfs", "rfc3987_syntax", "isoduration")
# What stops a run: SIGTERM (the pod is deleted or evicted) and SIGINT (Ctrl-C).
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def block_unused_imports() -> None:
    """Keep UNUSED_IMPORTS out of this process: each library treats them as absent.

    Only this process is affected, never a notebook's kernel.
    """
    for module in UNUSED_IMPORTS:
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
        """Ask the run to stop; the first reason wins."""
        if not self.event.is_set():
            self.why.append(why)
            self.event.set()

    @contextmanager
    def on_signals(self) -> Iterator[StopSignal]:
        """Turn SIGTERM/SIGINT into a stop for the duration (main thread only).

        A signal that `kit run` held back until now (kit.cli.main blocks them from its
        start) is delivered as soon as the handler is in place.
        """

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.set("killed")

        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        try:
            yield self
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


class Session:
    """One kernel and one papermill execution, in a worker thread we supervise."""

    def __init__(
        self,
        nb: dict[str, Any],
        source_url: str,
        kernel_env: dict[str, str],
        watch: CellWatch | None = None,
    ) -> None:
        self.nb = skip_tagged(nb)
        self.watch = watch or CellWatch()
        self.source_url = source_url
        self.kernel_name = str(nb.get("metadata", {}).get("kernelspec", {}).get("name", "python3"))
        self.kernel_env = kernel_env
        self._go = threading.Event()
        self._done = threading.Event()
        self._spawned = threading.Event()
        self._job: dict[str, Any] = {}
        self._process: Any = None
        self.error: BaseException | None = None
        self.kernel_exit = ""
        self._worker = threading.Thread(target=self._work, name="kit-papermill", daemon=True)

    def start(self) -> None:
        """Start the kernel now; execution waits for `execute`."""
        self._worker.start()

    def cancel(self) -> None:
        """Stop the kernel without executing anything (the run could not be claimed)."""
        self._job["cancelled"] = True
        self._go.set()
        self.close()

    def close(self, timeout: float = 30) -> None:
        """Wait for the kernel to be shut down."""
        self._worker.join(timeout)

    def _work(self) -> None:
        km: Any = None
        try:
            try:
                from kit.runner import kernel_manager as kernel

                km = kernel.kernel_manager(self.kernel_name)
                kernel.start(km, self.kernel_env)
            finally:
                # Until the kernel is spawned the main thread waits to import papermill:
                # imports hold the GIL and would delay the spawn, and jupyter_client's
                # package and manager import each other (two threads importing them at
                # once can see a half-initialised module).
                self._spawned.set()
            self._process = getattr(km.provisioner, "process", None)
            self._go.wait()
            stop = self._job.get("stop")
            if not self._job.get("cancelled") and not (stop is not None and stop.is_set()):
                self._execute(km)
        except BaseException as exc:  # reported by classify(), whatever it is
            self.error = exc
        finally:
            self.kernel_exit = _exit_description(self._process)
            # The outcome is known: let the runner write its record while the kernel stops.
            self._done.set()
            if km is not None:
                kernel.dispose(km)

    def _execute(self, km: Any) -> None:
        import papermill

        from kit.runner import engine

        source = PreparedSource(self.source_url, self.nb)
        source.register()
        self.watch.attach(getattr(self._process, "pid", None))
        papermill.execute_notebook(
            source.url,
            self._job["url"],
            parameters=self._job["parameters"],
            engine_name=engine.register(),
            kernel_name=self.kernel_name,
            progress_bar=False,
            km=km,
            autosave_cell_every=10,
            # nbclient's hooks and stream files, forwarded by papermill's engine.
            **self.watch.engine_kwargs(),
        )

    def kill_kernel(self) -> None:
        """SIGKILL the kernel from any thread; papermill then saves what has run."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()

    def execute(
        self,
        parameters: dict[str, Any],
        writer: OutputWriter,
        *,
        timeout: float | None,
        grace: float,
        stop: StopSignal,
    ) -> Outcome:
        """Run the notebook, saving through writer as it goes; never raises for the notebook.

        Raises StorageError when the output notebook could not be saved.
        """
        block_unused_imports()
        while not self._spawned.wait(0.1):
            if stop.event.is_set():  # a SIGTERM now still ends with a record, within grace
                self._spawned.wait(grace)
                break
        import papermill  # noqa: F401  (imported here, while the kernel boots)

        gcpause.resume()  # start-up is over (see kit.gcpause)
        writer.register()
        self._job.update(url=writer.url, parameters=parameters, stop=stop.event)
        deadline = time.monotonic() + timeout if timeout else None
        if stop.event.is_set():
            self._job["cancelled"] = True
        self._go.set()
        while not self._done.wait(0.1) and not stop.event.is_set():
            if deadline is not None and time.monotonic() > deadline:
                stop.set("timed_out")
        if stop.event.is_set() and not self._done.is_set():
            self.kill_kernel()
            self._done.wait(grace)
        # A cell still running now never ends normally: report it with what stopped it.
        why = {"killed": "received SIGTERM", "timed_out": "timed out"}
        self.watch.interrupted(why[stop.why[0]] if stop.why else "the kernel died")
        self.watch.close()
        # The record must describe a stored output: wait for the last save to land.
        writer.flush(timeout=grace if stop.why else None)
        if stop.why:
            return stopped(stop.why[0], timeout, writer.last())
        return classify(self.error, writer.last(), self.kernel_exit, self.watch.errors)


def _exit_description(process: Any) -> str:
    code = process.poll() if process is not None else None
    if code is None:
        return "the kernel process stopped responding"
    if code < 0:
        return f"the kernel process was killed by signal {-code}"
    return f"the kernel process exited with code {code}"
