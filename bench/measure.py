"""Timed commands that also report their peak memory (and, through a CountingProxy, their
GCS requests): what a figure of the listing and memory measurements is made of."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.core import PYTHON, ROOT, BenchError, shown

PEAK = ROOT / "bench" / "peak.py"


@dataclass(frozen=True)
class Measured:
    """A finished command: wall time, peak RSS of its process (bytes; 0: not measured),
    output."""

    seconds: float
    peak: int
    stdout: str
    stderr: str


def with_peak(argv: Sequence[str | Path], out: Path) -> list[str]:
    """The same command run inside bench/peak.py (kit's CLI, or `python -c CODE`), which
    writes the process's own peak RSS to out when it exits."""
    words = [str(a) for a in argv]
    if Path(words[0]).name == "kit":
        return [str(PYTHON), str(PEAK), str(out), "-m", "kit.cli.main", *words[1:]]
    if words[1] == "-c" or words[1].endswith(".py"):
        return [words[0], str(PEAK), str(out), *words[1:]]
    raise BenchError(f"cannot measure the memory of {shown(argv)}")


def run_peak(
    argv: Sequence[str | Path], env: Mapping[str, str], timeout: float = 300.0
) -> Measured:
    """Run a command inside bench/peak.py: its wall time and its own peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "peak"
        done = run_timed(with_peak(argv, out), env, timeout)
        return Measured(done.seconds, int(out.read_text()), done.stdout, done.stderr)


def run_timed(
    argv: Sequence[str | Path], env: Mapping[str, str], timeout: float = 300.0
) -> Measured:
    """Run a command; its wall time and output (peak 0: not measured)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(a) for a in argv], env=dict(env), cwd=ROOT, stdin=subprocess.DEVNULL,
            stdout=out, stderr=err, start_new_session=True,
        )  # fmt: skip
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                raise BenchError(f"timed out after {timeout:g} s: {shown(argv)}")
            time.sleep(0.002)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        tail = "\n".join((stdout + stderr).strip().splitlines()[-15:])
        raise BenchError(f"exit {proc.returncode}: {shown(argv)}\n{tail}")
    del usage
    return Measured(seconds, 0, stdout, stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vm_hwm(pid: int) -> int:
    """A live process's peak RSS (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def first_page(
    argv: Sequence[str | Path], env: Mapping[str, str], port: int, path: str = "/"
) -> Measured:
    """Start a server command, then fetch one page as soon as it listens: the time from
    launch to the whole page, the server's peak RSS by then, and the page."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(a) for a in argv], env=dict(env), cwd=ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - start > 120:
                    raise BenchError(f"{shown(argv)} did not listen on {port}") from None
                time.sleep(0.002)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=300) as resp:
            body = resp.read().decode()
        seconds = time.perf_counter() - start
        peak = vm_hwm(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return Measured(seconds, peak, body, "")
