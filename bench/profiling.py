"""Where the time goes: `python -X importtime` summaries and cProfile tables of a command."""

from __future__ import annotations

import io
import json
import pstats
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from bench.core import ROOT, WORK, run, shown
from kit.storage import storage_for

_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( +)(\S+)\s*$")


def parse_importtime(stderr: str) -> list[tuple[str, float, float, int]]:
    """(module, own seconds, cumulative seconds, nesting level) per -X importtime line."""
    rows = []
    for line in stderr.splitlines():
        if m := _IMPORT_LINE.match(line):
            rows.append((m[4], int(m[1]) / 1e6, int(m[2]) / 1e6, (len(m[3]) - 1) // 2))
    return rows


def importtime(
    python: Path, args: Sequence[str], env: Mapping[str, str], top: int = 8
) -> tuple[str, float, str, tuple[str, float]]:
    """Run `python -X importtime ARGS`; (command, total import seconds, markdown tables of
    the largest top-level imports and of the modules whose own import is slowest, and the
    slowest module with its own seconds)."""
    argv = [str(python), "-X", "importtime", *args]
    done = run(argv, env, check=False)
    rows = parse_importtime(done.stderr)
    top_level = [(name, cum) for name, _own, cum, level in rows if level == 0]
    total = sum(cum for _, cum in top_level)
    lines = ["| top-level import | cumulative |", "|---|---:|"]
    for name, cum in sorted(top_level, key=lambda r: -r[1])[:top]:
        lines.append(f"| `{name}` | {cum * 1000:.0f} ms |")
    lines += ["", "| slowest module bodies (own time) | own |", "|---|---:|"]
    slowest = sorted(rows, key=lambda r: -r[1])[:top]
    for name, own, _cum, _level in slowest:
        lines.append(f"| `{name}` | {own * 1000:.0f} ms |")
    first = (slowest[0][0], slowest[0][1]) if slowest else ("", 0.0)
    return shown(argv), total, "\n".join(lines), first


def short_path(filename: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename.replace(str(ROOT) + "/", "")


def profile_table(
    prof: Path, top: int = 15, include: Sequence[str] = (), title: str = "function"
) -> str:
    """A markdown table of the top functions by cumulative time, optionally only those whose
    file path contains one of `include`."""
    stats = pstats.Stats(str(prof), stream=io.StringIO())
    rows = []
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if include and not any(part in filename for part in include):
            continue
        if func.startswith("<") and func != "<module>":
            continue
        rows.append((cumtime, tottime, ncalls, f"`{func}` ({short_path(filename)}:{line})"))
    rows.sort(reverse=True)
    lines = [f"| {title} | cumulative | own | calls |", "|---|---:|---:|---:|"]
    for cumtime, tottime, ncalls, where in rows[:top]:
        lines.append(f"| {where} | {cumtime:.3f} s | {tottime:.3f} s | {ncalls} |")
    return "\n".join(lines)


def cprofile(
    python: Path,
    target: Sequence[str],
    env: Mapping[str, str],
    name: str,
    top: int = 15,
    include: Sequence[str] = (),
    title: str = "function",
) -> tuple[str, float, str]:
    """Run `python -m cProfile -o FILE TARGET...` (target: a script, or -m module, and its
    arguments); (command, wall seconds under the profiler, markdown table)."""
    out = WORK / "profiles" / f"{name}.prof"
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [str(python), "-m", "cProfile", "-o", str(out), *target]
    done = run(argv, env)
    return shown(argv), done.seconds, profile_table(out, top, include, title)


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def timeline(
    argv: Sequence[str | Path], env: Mapping[str, str], output_url: str
) -> tuple[str, dict[str, float]]:
    """Run one `kit run` and split its wall time with papermill's timestamps in the
    executed notebook; (markdown table, seconds per phase)."""
    launched = time.time()
    run(argv, env)
    exited = time.time()
    nb = json.loads(storage_for(output_url).read(output_url))
    meta = nb["metadata"]["papermill"]
    cells = [
        c["metadata"]["papermill"]
        for c in nb["cells"]
        if c.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    starts = [_epoch(c["start_time"]) for c in cells]
    ends = [_epoch(c["end_time"]) for c in cells]
    nb_start, nb_end = _epoch(meta["start_time"]), _epoch(meta["end_time"])
    phases = {
        "process start to papermill's start (interpreter, imports, resolve and read the "
        "notebook, claim the output, spawn the kernel)": nb_start - launched,
        "papermill's start to the first cell (first save, wait for the kernel to boot)": starts[0]
        - nb_start,
        f"executing the {len(cells)} cells": sum(e - s for s, e in zip(starts, ends, strict=True)),
        "between cells (papermill saves the notebook after each cell)": sum(
            s - e for s, e in zip(starts[1:], ends[:-1], strict=True)
        ),
        "last cell to papermill's end": nb_end - ends[-1],
        "papermill's end to process exit (final save, kernel shutdown, run.json, exit)": exited
        - nb_end,
    }
    total = exited - launched
    lines = ["| phase | seconds | share |", "|---|---:|---:|"]
    for name, seconds in phases.items():
        lines.append(f"| {name} | {seconds:.3f} | {seconds / total:.0%} |")
    lines.append(f"| **total wall time** | **{total:.3f}** | |")
    in_cells = sum(e - s for s, e in zip(starts, ends, strict=True))
    return "\n".join(lines), {"cells": in_cells, "after": exited - nb_end, "total": total}
