"""What every measurement shares: figures and targets, timed commands, alternation, stats."""

from __future__ import annotations

import contextlib
import os
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
KIT = VENV_BIN / "kit"
AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"
DEFAULT_TIMEOUT = 300.0


class BenchError(RuntimeError):
    """A command failed or a component is not ready; the measurement reports it."""


def log(message: str) -> None:
    """Progress on stderr, with the time of day."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Target:
    """A figure's target: value <= limit (op "<=") or value >= limit (op ">=")."""

    op: str
    limit: float
    unit: str = ""

    def met(self, value: float) -> bool:
        return value <= self.limit if self.op == "<=" else value >= self.limit

    def __str__(self) -> str:
        sign = "≤" if self.op == "<=" else "≥"
        return f"{sign} {self.limit:g}{' ' + self.unit if self.unit else ''}"


def fmt(value: float | None, unit: str) -> str:
    """A value with its unit, to a sensible precision."""
    if value is None:
        return "—"
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if unit == "MB":
        return f"{value:,.1f} MB"
    if unit == "x":
        return f"{value:.2f}"
    return f"{value:.3g}{' ' + unit if unit else ''}"


@dataclass
class Figure:
    """One number in the results table, with its target when it has one."""

    label: str
    value: float | None
    unit: str
    target: Target | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.target.met(self.value)

    @property
    def text(self) -> str:
        return fmt(self.value, self.unit) + (f" ({self.note})" if self.note else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "text": self.text,
            "target": str(self.target) if self.target else None,
            "met": self.met,
        }


@dataclass
class Section:
    """The outcome of one measurement."""

    number: int
    title: str
    figures: list[Figure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # markdown blocks
    commands: list[str] = field(default_factory=list)
    diagnosis: list[str] = field(default_factory=list)  # where the time goes (markdown)
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    elapsed: float = 0.0

    @property
    def missed(self) -> bool:
        return any(f.met is False for f in self.figures)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "figures": [f.to_json() for f in self.figures],
            "commands": self.commands,
            "details": self.details,
            "diagnosis": self.diagnosis,
            "data": self.data,
            "error": self.error,
            "elapsed_seconds": round(self.elapsed, 1),
        }


def shown(argv: Sequence[str | Path], env: Mapping[str, str] | None = None) -> str:
    """A command line as a user would type it from the repository root."""
    prefix = str(ROOT) + "/"
    words = [str(a).replace(prefix, "") for a in argv]
    extra = [f"{k}={shlex.quote(v.replace(prefix, ''))}" for k, v in (env or {}).items()]
    return " ".join([*extra, shlex.join(words)])


@dataclass
class Done:
    """A finished command: wall time, CPU time (its processes' user + system) and output."""

    seconds: float
    stdout: str
    stderr: str
    cpu: float = 0.0


def run(
    argv: Sequence[str | Path],
    env: Mapping[str, str],
    *,
    cwd: Path = ROOT,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
) -> Done:
    """Run a command, timing its wall clock; BenchError with its output tail if it fails."""
    start = time.perf_counter()
    used = _children_cpu()
    proc = subprocess.Popen(
        [str(a) for a in argv],
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a timeout stops its children too
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        raise BenchError(f"timed out after {timeout:g} s: {shown(argv)}") from None
    except BaseException:
        _stop_group(proc)
        raise
    seconds = time.perf_counter() - start
    if check and proc.returncode != 0:
        tail = "\n".join((stdout + stderr).strip().splitlines()[-15:])
        raise BenchError(f"exit {proc.returncode}: {shown(argv)}\n{tail}")
    return Done(seconds, stdout, stderr, _children_cpu() - used)


def _children_cpu() -> float:
    """User + system seconds of this process's waited-for children and their descendants
    (the bench runs one command at a time, so a difference is that command's, kernel
    included: kit waits for its kernel)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the command's process group (kit handles it: records, stops its kernels and
    pods), then SIGKILL whatever is left after a grace period."""
    for sig, grace in ((signal.SIGTERM, 45.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.communicate(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def alternate(
    variants: Mapping[str, Callable[[int], float]],
    reps: int,
    *,
    warmup: int = 1,
    label: str = "",
) -> dict[str, list[float]]:
    """Run each variant reps times (after warmup rounds), rotating the order every round so
    no variant always runs first or after the same neighbour. Seconds per variant."""
    names = list(variants)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for round_ in range(warmup + reps):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = variants[name](round_)
            if round_ >= warmup:
                samples[name].append(seconds)
            tag = "warm-up" if round_ < warmup else f"{round_ - warmup + 1}/{reps}"
            log(f"{label} {name} {tag}: {seconds:.2f} s")
    return samples


def stats(samples: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and the samples, rounded for the report."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
        "samples": [round(s, 4) for s in samples],
    }


def samples_table(rows: Mapping[str, Sequence[float]], unit: str = "s") -> str:
    """A markdown table of median/min/max/n per variant."""
    lines = ["| variant | median | min | max | n |", "|---|---:|---:|---:|---:|"]
    for name, values in rows.items():
        s = stats(values)
        lines.append(
            f"| {name} | {fmt(s['median'], unit)} | {fmt(s['min'], unit)} | "
            f"{fmt(s['max'], unit)} | {s['n']} |"
        )
    return "\n".join(lines)


def clean_environ() -> dict[str, str]:
    """This process's environment without kit, emulator, Airflow or matplotlib settings, so
    a developer's shell (eval "$(kit dev env)") cannot leak into the measurements."""
    drop = ("KIT_", "AIRFLOW", "STORAGE_EMULATOR_HOST", "MPLBACKEND", "GCSFS_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}
