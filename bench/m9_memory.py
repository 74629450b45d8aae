"""9. The runner's own memory: the peak RSS of `kit run` (its kernel not counted), for the
forecast notebook and for a notebook whose output is about 200 MB (a cell that displays a
big table), against 2 x the output notebook's size + 150 MB.

`kit run` runs inside bench/peak.py, which writes the process's VmHWM when it exits; the
kernel is another process and is not in it.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.core import PYTHON, ROOT, WORK, BenchError, Figure, Section, Target, log, shown
from bench.memory_probe import ROW
from bench.stage import Stage
from kit.storage import storage_for

TITLE = "Runner memory"
PEAK = ROOT / "bench" / "peak.py"
NOTEBOOK = ROOT / "notebooks" / "forecast.ipynb"
DATASET = "prophet-examples/example_wp_log_peyton_manning.csv"
MB = 1_000_000
MIB = 1024 * 1024

PROBE = ROOT / "bench" / "memory_probe.py"


def big_notebook(target_mb: int) -> tuple[Path, int]:
    """A notebook whose one code cell displays a table of about target_mb as HTML."""
    rows = target_mb * MB // 72
    code = (
        "from IPython.display import display\n"
        f"row = {ROW!r}\n"
        "html = '<table>\\n' + '\\n'.join(row.format(i=i, x=i * 0.5) "
        "for i in range(rows)) + '\\n</table>'\n"
        "display({'text/html': html}, raw=True)\n"
        "del html"
    )
    cells = [("rows = 10", ["parameters"]), (code, []), ("print('after the big table')", [])]
    nb = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"c{i}",
             "metadata": {"tags": tags}, "outputs": [], "source": source}
            for i, (source, tags) in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    path = WORK / "memory" / "big-output.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
    return path, rows


def kit_run(stage: Stage, args: list[str], run_id: str, env: dict[str, str]) -> dict[str, Any]:
    """One `kit run` under bench/peak.py: wall time, peak RSS, output size."""
    out = WORK / "memory" / f"{run_id}.peak"
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [str(PYTHON), str(PEAK), str(out), "-m", "kit.cli.main", "run", *args]
    argv += ["--run-id", run_id]
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchError(f"exit {done.returncode}: {shown(argv)}\n{done.stderr[-2000:]}")
    url = done.stdout.strip().splitlines()[-1].split(": ", 1)[1]
    return {
        "argv": argv,
        "seconds": seconds,
        "peak": int(out.read_text()),
        "output": storage_for(url).stat(url).size,
    }


def measure(stage: Stage, quick: bool) -> Section:
    section = Section(9, TITLE)
    target_mb = 20 if quick else 200
    version = stage.publish(NOTEBOOK, "forecast")
    dataset = stage.settings.url("data_bucket", DATASET)
    env = stage.env()
    forecast = kit_run(
        stage,
        [f"forecast@{version}", "-p", "dataset_url", dataset, "-p", "run_date", "2026-01-01"],
        f"{stage.token}-memory-forecast",
        env,
    )
    path, rows = big_notebook(target_mb)
    big = kit_run(stage, [str(path), "-p", "rows", str(rows)], f"{stage.token}-memory-big", env)
    log(f"#9 forecast: {forecast['peak'] / MIB:.0f} MiB; big: {big['peak'] / MIB:.0f} MiB")
    figures = []
    for label, done in (("forecast notebook", forecast), (f"{target_mb} MB output", big)):
        limit = 2 * done["output"] + 150 * MB
        feel = (
            f"`kit run` of the {label} ({done['output'] / MB:.1f} MB output) peaks at "
            f"{done['peak'] / MB:.0f} MB, beside its kernel"
        )
        figures.append(
            Figure(
                f"`kit run` peak RSS, {label}, / (2 x output + 150 MB)",
                done["peak"] / limit,
                "x",
                Target("<=", 1),
                note=f"{feel}; limit {limit / MB:.0f} MB",
            )
        )
    section.figures = figures
    section.commands = [
        shown(forecast["argv"]).replace(stage.token, "<token>"),
        shown(big["argv"]).replace(stage.token, "<token>"),
    ]
    section.details = [
        f"The big notebook's second cell displays an HTML table of {rows:,} rows "
        f"({big['output'] / MB:.0f} MB of output notebook); `kit run` took "
        f"{big['seconds']:.1f} s. The forecast notebook runs as in measurement 2 "
        f"({forecast['seconds']:.1f} s).",
    ]
    section.data = {"forecast": forecast, "big": big}
    if section.missed:
        section.diagnosis = diagnose(env, rows, big)
    return section


def diagnose(env: dict[str, str], rows: int, big: dict[str, Any]) -> list[str]:
    done = subprocess.run(
        [str(PYTHON), str(PROBE), str(rows)], env=env, cwd=ROOT, capture_output=True,
        text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return [f"the memory probe failed: {done.stderr[-1000:]}"]
    found = json.loads(done.stdout)
    size = found.pop("size")
    lines = ["| while | peak RSS over the line before |", "|---|---:|"]
    lines += [f"| {k} | {v / MIB:.0f} MiB |" for k, v in found.items()]
    return [
        f"`kit run` peaked at {big['peak'] / MIB:.0f} MiB for a {big['output'] / MB:.0f} MB "
        "output. Its output writer holds no copy of the notebook between saves and never "
        "its text and bytes at once (big saves go through a file under TMPDIR). What is "
        "left is papermill building each save as one string: the same notebook, built in a "
        "fresh process, each step's peak measured alone (VmHWM reset before each):",
        "\n".join(lines),
        f"papermill's last save ({size / MB:.0f} MB) deep-copies the notebook, splits every "
        "line of the table into a list and encodes with the pure-Python JSON encoder "
        "(indent 1); kit's engine's saves while cells run build the whole text too. Both "
        "are issue 16's runner internals (kit/runner/engine.py, execute.py): the way under "
        "the target is to hand the live notebook to the writer, which can encode it "
        "straight into its file (json.JSONEncoder.iterencode), and to skip papermill's last "
        "save, which repeats the engine's.",
    ]
