"""Live progress of a run, as it happens: text lines, JSON lines or a progress bar.

Airflow streams a pod's output into the task log, so `kit run` reports each code cell
when it starts and ends (its number, In [k], the time since the run started, its first
line, how long it took and the kernel's peak memory), and with --log-output the cell's
own stdout and stderr. Every line is flushed at once. Three renderings of the same events:

- text (default when not a terminal): `kit: cell 3 started (+1.2s): df = load(...)`;
- json (KIT_LOG_FORMAT=json): one JSON object per line, with Cloud Logging's `severity`
  and `message` plus `run_id`, `notebook`, `event`, `cell`, ...;
- a rich progress bar of the code cells, when the stream is a terminal.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from kit.run_contract import iso

FORMATS = ("auto", "text", "json")
_SEVERITY = {"succeeded": "INFO", "failed": "ERROR", "killed": "WARNING", "timed_out": "WARNING"}


@dataclass(frozen=True)
class Cell:
    """A code cell as progress shows it: 1-based source number, In [k], first line."""

    number: int
    source: str
    execution_count: int | None = None

    @property
    def label(self) -> str:
        """`cell 3` or `cell 3, In [2]`."""
        count = self.execution_count
        return f"cell {self.number}" + (f", In [{count}]" if count is not None else "")


def mib(value: int | None) -> str:
    """Bytes as MiB with one decimal ("412.3 MiB"); "-" when unknown."""
    return "-" if value is None else f"{value / 2**20:.1f} MiB"


class Reporter(Protocol):
    """Receives a run's events, in order, from the runner's threads (one at a time)."""

    def opened(self, ref: str, run_id: str, output_url: str, code_cells: int) -> None: ...
    def cell_started(self, cell: Cell, elapsed: float) -> None: ...
    def cell_finished(
        self, cell: Cell, elapsed: float, took: float, peak: int | None, error: str | None
    ) -> None: ...
    def cell_output(self, cell: Cell | None, stream: str, text: str) -> None: ...
    def closed(self, status: str, output_url: str, reason: str | None, elapsed: float) -> None: ...


def _finished_text(
    cell: Cell, elapsed: float, took: float, peak: int | None, error: str | None
) -> str:
    verb = "failed" if error else "done"
    text = f"{cell.label} {verb} in {took:.2f}s (+{elapsed:.1f}s), peak RSS {mib(peak)}"
    return f"{text}: {error}" if error else text


def _closed_text(status: str, output_url: str, reason: str | None, elapsed: float) -> str:
    return f"run {status} after {elapsed:.1f}s" + (f": {reason}" if reason else "")


class _Lines:
    """Splits a cell's output chunks into whole lines (a partial line waits for the rest)."""

    def __init__(self) -> None:
        self.partial: dict[str, str] = {}

    def feed(self, stream: str, text: str) -> list[str]:
        lines = (self.partial.pop(stream, "") + text).split("\n")
        if lines[-1]:
            self.partial[stream] = lines[-1]
        # A carriage return redraws a line (progress bars): keep what is shown last.
        return [line.rsplit("\r", 1)[-1] for line in lines[:-1]]

    def rest(self) -> list[tuple[str, str]]:
        pending = [(s, t.rsplit("\r", 1)[-1]) for s, t in self.partial.items() if t]
        self.partial.clear()
        return pending


class LineReporter:
    """One flushed line per event; `render` decides what a line looks like."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.context: dict[str, Any] = {}
        self._lines = _Lines()
        self._lock = threading.Lock()

    def render(self, severity: str, event: str, message: str, fields: dict[str, Any]) -> str:
        """The line for one event."""
        raise NotImplementedError

    def _emit(self, severity: str, event: str, message: str, **fields: Any) -> None:
        line = self.render(severity, event, message, fields)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    @staticmethod
    def _cell(cell: Cell) -> dict[str, Any]:
        return {"cell": cell.number, "execution_count": cell.execution_count, "source": cell.source}

    def opened(self, ref: str, run_id: str, output_url: str, code_cells: int) -> None:
        self.context = {"run_id": run_id, "notebook": ref.split("@", 1)[0]}
        message = f"run {run_id} of {ref} ({code_cells} code cells) -> {output_url}"
        self._emit(
            "INFO", "run_started", message, ref=ref, output_url=output_url, code_cells=code_cells
        )

    def cell_started(self, cell: Cell, elapsed: float) -> None:
        message = f"cell {cell.number} started (+{elapsed:.1f}s): {cell.source}"
        fields = {"elapsed_seconds": round(elapsed, 3), **self._cell(cell)}
        self._emit("INFO", "cell_started", message, **fields)

    def cell_finished(
        self, cell: Cell, elapsed: float, took: float, peak: int | None, error: str | None
    ) -> None:
        for stream, line in self._lines.rest():
            self._output(cell, stream, line)
        self._emit(
            "ERROR" if error else "INFO",
            "cell_failed" if error else "cell_finished",
            _finished_text(cell, elapsed, took, peak, error),
            elapsed_seconds=round(elapsed, 3),
            duration_seconds=round(took, 3),
            peak_rss_bytes=peak,
            error=error,
            **self._cell(cell),
        )

    def _output(self, cell: Cell | None, stream: str, line: str) -> None:
        severity = "WARNING" if stream == "stderr" else "INFO"
        self._emit(severity, "cell_output", line, stream=stream, cell=cell.number if cell else None)

    def cell_output(self, cell: Cell | None, stream: str, text: str) -> None:
        for line in self._lines.feed(stream, text):
            self._output(cell, stream, line)

    def closed(self, status: str, output_url: str, reason: str | None, elapsed: float) -> None:
        self._emit(
            _SEVERITY.get(status, "ERROR"),
            "run_finished",
            _closed_text(status, output_url, reason, elapsed),
            status=status,
            reason=reason,
            output_url=output_url,
            elapsed_seconds=round(elapsed, 3),
        )


class TextReporter(LineReporter):
    """`kit: ...` lines (the task log of a pod); a cell's output as `[cell 3 stdout] ...`."""

    def render(self, severity: str, event: str, message: str, fields: dict[str, Any]) -> str:
        if event == "cell_output":
            where = f"cell {fields['cell']}" if fields.get("cell") else "kernel"
            return f"[{where} {fields['stream']}] {message}"
        return f"kit: {message}"


class JsonReporter(LineReporter):
    """One JSON object per line, as Cloud Logging parses structured logs from a container:
    `severity` and `message`, then `time`, `event`, `run_id`, `notebook`, `cell`, ..."""

    def render(self, severity: str, event: str, message: str, fields: dict[str, Any]) -> str:
        entry = {
            "severity": severity,
            "message": message,
            "time": iso(datetime.now(UTC)),
            "event": event,
            **self.context,
            **fields,
        }
        return json.dumps(entry, default=str)


class BarReporter:
    """A progress bar of the code cells (rich), for a person at a terminal."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(file=stream, highlight=False)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.task: Any = None
        self._lines = _Lines()

    def opened(self, ref: str, run_id: str, output_url: str, code_cells: int) -> None:
        self.console.print(f"kit: run {run_id} of {ref} -> {output_url}")
        self.task = self.bar.add_task(ref, total=code_cells)
        self.bar.start()

    def cell_started(self, cell: Cell, elapsed: float) -> None:
        self.bar.update(self.task, description=f"cell {cell.number}: {cell.source[:40]}")

    def cell_finished(
        self, cell: Cell, elapsed: float, took: float, peak: int | None, error: str | None
    ) -> None:
        for stream, line in self._lines.rest():
            self.cell_output(cell, stream, line + "\n")
        if error:
            self.console.print(_finished_text(cell, elapsed, took, peak, error), style="bold red")
        self.bar.advance(self.task)

    def cell_output(self, cell: Cell | None, stream: str, text: str) -> None:
        for line in self._lines.feed(stream, text):
            self.console.print(line, markup=False, style="dim" if stream == "stdout" else "yellow")

    def closed(self, status: str, output_url: str, reason: str | None, elapsed: float) -> None:
        self.bar.stop()


def reporter(stream: TextIO, log_format: str) -> Reporter:
    """The rendering for log_format (auto: a bar on a terminal, else text lines)."""
    if log_format == "json":
        return JsonReporter(stream)
    if log_format == "auto" and stream.isatty():
        return BarReporter(stream)
    return TextReporter(stream)


class Clock:
    """Seconds since the run started."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.start
