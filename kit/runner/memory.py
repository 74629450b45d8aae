"""The kernel's peak resident memory (RSS) while each cell runs.

On Linux (pods, and most laptops) the peak is exact: when a cell starts, writing "5" to
/proc/<pid>/clear_refs resets the kernel's high-water mark (VmHWM, Linux >= 4.0), and
VmHWM read afterwards is the peak since then, however short the spike. Where that reset
is refused (another user's process, a sandbox such as gVisor) or /proc is missing
(macOS), the peak is the highest RSS sampled every INTERVAL seconds (psutil off Linux),
which can miss a spike shorter than that. A background thread reads the value every
INTERVAL seconds while a cell runs, so a cell whose kernel dies (the OOM killer) keeps
the last value seen. Only the kernel process is measured, not processes it starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

INTERVAL = 0.25
_KB = 1024


def _status_field(pid: int, field: str) -> int | None:
    """A `VmXXX:   1234 kB` line of /proc/<pid>/status, in bytes."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            parts = line.split()
            return int(parts[1]) * _KB if len(parts) > 1 and parts[1].isdigit() else None
    return None


def _reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS; False when not allowed here."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _psutil_rss(pid: int) -> Callable[[], int | None] | None:
    try:
        import psutil  # ipykernel's dependency: present wherever a kernel runs
    except ImportError:
        return None
    try:
        process = psutil.Process(pid)
    except psutil.Error:
        return None

    def read() -> int | None:
        try:
            return int(process.memory_info().rss)
        except psutil.Error:
            return None

    return read


class PeakMemory:
    """Peak RSS of one process per cell: `cell_started()`, then `peak()` at any time."""

    def __init__(self, pid: int | None, interval: float = INTERVAL) -> None:
        self.pid = pid
        self.interval = interval
        self.exact = False  # whether peaks come from a reset high-water mark
        self._peak: int | None = None
        self._active = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._read: Callable[[], int | None] | None = None
        self._thread: threading.Thread | None = None

    def _reader(self) -> Callable[[], int | None] | None:
        pid = self.pid
        if pid is None:
            return None
        if Path(f"/proc/{pid}/status").exists():
            if _reset_peak(pid):
                self.exact = True
                return lambda: _status_field(pid, "VmHWM")
            return lambda: _status_field(pid, "VmRSS")
        return _psutil_rss(pid)

    def cell_started(self) -> None:
        """Start measuring a new cell (resets the high-water mark where allowed)."""
        if self._read is None and self.pid is not None and not self._closed.is_set():
            self._read = self._reader()
            if self._read is not None:
                self._thread = threading.Thread(target=self._sample, name="kit-rss", daemon=True)
                self._thread.start()
        elif self.exact and self.pid is not None:
            self.exact = _reset_peak(self.pid)
            if not self.exact:
                pid = self.pid
                self._read = lambda: _status_field(pid, "VmRSS")
        with self._lock:
            self._peak = None
        self._take()
        self._active.set()

    def _take(self) -> None:
        value = self._read() if self._read is not None else None
        if value is not None:
            with self._lock:
                self._peak = value if self._peak is None else max(self._peak, value)

    def _sample(self) -> None:
        while not self._closed.is_set():
            self._active.wait()
            with suppress(Exception):  # a process that just exited: keep the last value
                self._take()
            self._closed.wait(self.interval)

    def peak(self) -> int | None:
        """The peak so far for the current cell (one more reading first, if still alive)."""
        self._take()
        with self._lock:
            return self._peak

    def cell_finished(self) -> int | None:
        """The current cell's peak; sampling pauses until the next cell starts."""
        value = self.peak()
        self._active.clear()
        return value

    def close(self) -> None:
        """Stop the sampler."""
        self._closed.set()
        self._active.set()
