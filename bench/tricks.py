"""What each of the runner's start-up measures buys: `kit run` with it and without it.

kit keeps a measure that reaches into a library (a private method's behaviour, an import
block, ...) only when it buys at least 50 ms a run (docs/architecture.md). Each measure is
compared in pairs: a command as shipped, then the same command with that one measure
undone (`kit run` through bench/variant.py), back to back, the order flipping every round
and the measures rotating, so a change of the machine's load hits both sides of a pair
alike. The gain is the median of the pairs' differences, in wall time and in CPU time (the
processes' user + system seconds, kernel included). A measure that saves computation is
judged by its CPU time, which other work on the machine hardly moves (by the CPU time of
kit's own process alone when that is where it works: the kernel's work would only add
noise); one that saves waiting, by its wall time, which CPU time cannot see.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.core import PYTHON, ROOT, BenchError, Done, Figure, Target, fmt, log, shown

VARIANT = ROOT / "bench" / "variant.py"
CPU_LINE = "bench: CPU of kit's process: "  # bench/variant.py --report-cpu
MIN_GAIN = 0.050  # seconds a run; less, and the measure goes (docs/architecture.md)
Sides = tuple[list[str], list[str]]


@dataclass(frozen=True)
class Trick:
    """One measure: its --without name in bench/variant.py, what it does and where, and
    what it saves: "cpu" (computation), "kit-cpu" (computation in kit's own process, not
    in its kernel) or "wall" (waiting)."""

    name: str
    label: str
    where: str
    basis: str = "cpu"


@dataclass
class Pairs:
    """Paired samples of one measure: (with, without) wall and CPU seconds per round."""

    trick: Trick
    wall: list[tuple[float, float]]
    cpu: list[tuple[float, float]]

    @staticmethod
    def _gain(pairs: Sequence[tuple[float, float]]) -> float:
        return statistics.median(without - with_ for with_, without in pairs)

    @property
    def wall_gain(self) -> float:
        return self._gain(self.wall)

    @property
    def cpu_gain(self) -> float:
        return self._gain(self.cpu)

    @property
    def gain(self) -> float:
        """The gain the measure is judged by (its basis)."""
        return self.wall_gain if self.trick.basis == "wall" else self.cpu_gain

    def median(self, side: int, cpu: bool = False) -> float:
        return statistics.median(p[side] for p in (self.cpu if cpu else self.wall))

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.trick.where,
            "wall": [[round(a, 4), round(b, 4)] for a, b in self.wall],
            "cpu": [[round(a, 4), round(b, 4)] for a, b in self.cpu],
            "wall_gain": self.wall_gain,
            "cpu_gain": self.cpu_gain,
        }


def without_argv(
    kit_argv: Sequence[str], tricks: Sequence[str], flags: Sequence[str] = ()
) -> list[str]:
    """`kit ARGS` as bench/variant.py with the named measures undone."""
    undone = (f"--without={t}" for t in tricks)
    return [str(PYTHON), str(VARIANT), *undone, *flags, *kit_argv[1:]]


def kit_sides(kit_argv: Callable[[str], list[str]]) -> Callable[[Trick, str], Sides]:
    """(with, without) command lines of a measure: `kit run` and bench/variant.py; for a
    measure judged by kit's own CPU time, bench/variant.py on both sides, reporting it."""

    def sides(trick: Trick, tag: str) -> Sides:
        if trick.basis == "kit-cpu":
            report = ["--report-cpu"]
            return (
                without_argv(kit_argv(f"{tag}w"), [], report),
                without_argv(kit_argv(f"{tag}o"), [trick.name], report),
            )
        return kit_argv(f"{tag}w"), without_argv(kit_argv(f"{tag}o"), [trick.name])

    return sides


def _kit_cpu(done: Done) -> float:
    for line in reversed(done.stderr.splitlines()):
        if line.startswith(CPU_LINE):
            return float(line[len(CPU_LINE) :])
    raise BenchError("bench/variant.py --report-cpu printed no CPU time")


def compare(
    tricks: Sequence[Trick],
    run: Callable[[list[str]], Done],
    sides: Callable[[Trick, str], Sides],
    reps: int,
    *,
    label: str,
) -> list[Pairs]:
    """reps rounds of one (with, without) pair per measure; sides(trick, tag) gives the
    two command lines (tag: unique per round and measure, e.g. for run ids)."""
    found = [Pairs(t, [], []) for t in tricks]
    for round_ in range(reps + 1):  # round 0 warms up
        shift = round_ % len(found)
        for pairs in found[shift:] + found[:shift]:
            name = pairs.trick.name
            with_argv, without = sides(pairs.trick, f"{name}-{round_}")
            argvs = {"with": with_argv, "without": without}
            order = ["with", "without"] if round_ % 2 else ["without", "with"]
            done = {side: run(argvs[side]) for side in order}
            if round_ == 0:
                continue
            pairs.wall.append((done["with"].seconds, done["without"].seconds))
            if pairs.trick.basis == "kit-cpu":
                pairs.cpu.append((_kit_cpu(done["with"]), _kit_cpu(done["without"])))
            else:
                pairs.cpu.append((done["with"].cpu, done["without"].cpu))
            log(
                f"{label} {name} {round_}/{reps}: with {done['with'].seconds:.2f} s, "
                f"without {done['without'].seconds:.2f} s"
            )
    return found


def figures(found: Sequence[Pairs]) -> list[Figure]:
    """One line per measure: its gain a run on its basis (target ≥ 50 ms), with the
    medians with and without it beside it."""
    lines = []
    for p in found:
        cpu = p.trick.basis != "wall"
        what = {"cpu": "CPU", "kit-cpu": "kit process's CPU", "wall": "wall"}[p.trick.basis]
        other = f"wall {p.wall_gain * 1000:+.0f} ms" if cpu else f"CPU {p.cpu_gain * 1000:+.0f} ms"
        note = (
            f"{what} with {fmt(p.median(0, cpu), 's')}, without "
            f"{fmt(p.median(1, cpu), 's')}; {other}"
        )
        lines.append(
            Figure(
                f"{p.trick.label}: {what} time it saves a run",
                p.gain * 1000,
                "ms",
                Target(">=", MIN_GAIN * 1000, "ms"),
                note=note,
            )
        )
    return lines


def table(found: Sequence[Pairs]) -> str:
    """A markdown table: medians with and without, the paired gains, wall and CPU."""
    lines = [
        "| measure (where) | judged by | wall with / without (medians) | gain, wall | "
        "CPU with / without (medians) | gain, CPU | pairs |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for p in found:
        lines.append(
            f"| {p.trick.label} ({p.trick.where}) | {p.trick.basis} | "
            f"{fmt(p.median(0), 's')} / {fmt(p.median(1), 's')} | "
            f"{p.wall_gain * 1000:+.0f} ms | {fmt(p.median(0, True), 's')} / "
            f"{fmt(p.median(1, True), 's')} | {p.cpu_gain * 1000:+.0f} ms | {len(p.wall)} |"
        )
    return "\n".join(lines)


def command(kit_argv: list[str], name: str) -> str:
    """The 'without' command line of a `kit run` measure, as shown in the report."""
    return shown(without_argv(kit_argv, [name]))
