"""The kernel's peak RSS per cell, measured on a real process."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.runner import memory
from kit.runner.memory import PeakMemory

MiB = 2**20
# Grows by 200 MiB for a moment each time a line arrives on stdin, then frees it.
CHILD = """
import sys, time
print("ready", flush=True)
for line in sys.stdin:
    block = bytearray(200 * 2**20)
    time.sleep(float(line))
    del block
    print("done", flush=True)
"""


@pytest.fixture
def child() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    yield proc
    proc.kill()
    proc.wait()


def _spike(proc: subprocess.Popen[str], hold: float) -> None:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(f"{hold}\n")
    proc.stdin.flush()
    assert proc.stdout.readline() == "done\n"


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux only")
def test_the_reset_high_water_mark_sees_a_spike_already_freed(
    child: subprocess.Popen[str],
) -> None:
    peaks = PeakMemory(child.pid, interval=60)  # no sampling: only the high-water mark
    peaks.cell_started()
    _spike(child, 0)
    during = peaks.cell_finished()
    assert peaks.exact
    peaks.cell_started()  # the next cell starts from the current RSS again
    after = peaks.cell_finished()
    assert during is not None
    assert after is not None
    assert during - after > 150 * MiB


def test_where_the_reset_is_refused_the_peak_is_sampled(
    child: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory, "_reset_peak", lambda pid: False)
    peaks = PeakMemory(child.pid, interval=0.05)
    peaks.cell_started()
    _spike(child, 1.0)  # held long enough for the sampler to see it
    during = peaks.cell_finished()
    assert not peaks.exact
    peaks.cell_started()
    time.sleep(0.2)
    after = peaks.cell_finished()
    peaks.close()
    assert during is not None
    assert after is not None
    assert during - after > 150 * MiB


def test_a_process_that_is_gone_keeps_the_last_peak(child: subprocess.Popen[str]) -> None:
    peaks = PeakMemory(child.pid, interval=0.05)
    peaks.cell_started()
    seen = peaks.peak()
    child.kill()
    child.wait()
    assert peaks.cell_finished() == seen
    assert PeakMemory(None).cell_finished() is None
