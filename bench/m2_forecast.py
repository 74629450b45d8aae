"""2. The forecast notebook end to end: `kit run` against the same code as a plain script.

The script is notebooks/forecast.ipynb with the run's parameters in a cell right after its
`parameters` cell (where papermill injects them), exported with jupytext (py:percent) and run
with the notebook environment's python, MPLBACKEND=Agg; `kit run` as in the image (the
kernel's inline backend embeds the plots), and with Agg for information. Both read the
dataset from the emulator's data bucket and write forecast.csv and forecast.png to its outputs
bucket.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from typing import Any

import nbformat

from bench.core import (
    KIT,
    PYTHON,
    ROOT,
    VENV_BIN,
    WORK,
    Figure,
    Section,
    Target,
    alternate,
    samples_table,
    shown,
    stats,
)
from bench.core import run as run_cmd
from bench.profiling import cprofile, timeline
from bench.stage import Stage
from bench.tricks import Trick, command, compare, figures, kit_sides, table
from kit.storage import storage_for

TITLE = "Forecast notebook, end to end"
NOTEBOOK = ROOT / "notebooks" / "forecast.ipynb"
DATASET = "prophet-examples/example_wp_log_peyton_manning.csv"
RUN_DATE = "2026-01-01"  # after the data ends: every row is used, the same on every day
IPYTHON_ONLY = re.compile(r"^\s*(%|!|get_ipython\(|display\()")
ENGINE = Trick(
    "engine",
    "papermill engine without saves around markdown cells, plain JSON saves",
    "kit/runner/engine.py",
    basis="kit-cpu",
)


def script_with_parameters(params: dict[str, str], env: dict[str, str]) -> tuple[list[str], int]:
    """Write the notebook with injected parameters and export it; (command, IPython lines)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    lines = ["# Parameters, as papermill injects them"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in params.items()]
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell("\n".join(lines)))  # type: ignore[no-untyped-call]
    with_params = WORK / "forecast_params.ipynb"
    nbformat.write(nb, with_params)  # type: ignore[no-untyped-call]
    script = WORK / "forecast_script.py"
    argv = [str(VENV_BIN / "jupytext"), "--quiet", "--to", "py:percent", "-o", str(script)]
    run_cmd([*argv, str(with_params)], env)
    ipython = sum(1 for line in script.read_text().splitlines() if IPYTHON_ONLY.match(line))
    return [*argv, str(with_params)], ipython


def cell_times(output_url: str) -> tuple[float, float, list[tuple[int, float, str]]]:
    """From an executed notebook: papermill's total, the sum of cell durations, slowest cells."""
    nb: dict[str, Any] = json.loads(storage_for(output_url).read(output_url))
    cells = []
    for i, cell in enumerate(nb["cells"]):
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if cell["cell_type"] == "code" and duration is not None:
            source = "".join(cell["source"]).strip().splitlines()
            cells.append((i, float(duration), source[0][:60] if source else ""))
    total = float(nb["metadata"].get("papermill", {}).get("duration") or 0.0)
    return total, sum(d for _, d, _ in cells), sorted(cells, key=lambda c: -c[1])[:5]


def measure(stage: Stage, quick: bool) -> Section:
    # 5 rounds: with 3, the ratio moved by about 0.03 from one bench run to the next.
    reps = 1 if quick else 5
    section = Section(2, TITLE)
    version = stage.publish(NOTEBOOK, "forecast")
    dataset_url = stage.settings.url("data_bucket", DATASET)
    script_params = {
        "dataset_url": dataset_url,
        "run_date": RUN_DATE,
        "output_prefix": stage.settings.url("outputs_bucket", "bench", "forecast-script") + "/",
    }
    export_argv, ipython_lines = script_with_parameters(script_params, stage.env())
    script = WORK / "forecast_script.py"

    def kit_argv(run_id: str) -> list[str]:
        return [
            str(KIT),
            "run",
            f"forecast@{version}",
            "--run-id",
            run_id,
            "-p",
            "dataset_url",
            dataset_url,
            "-p",
            "run_date",
            RUN_DATE,
        ]

    agg = stage.env(MPLBACKEND="Agg")
    inline = stage.env()
    script_argv = [str(PYTHON), str(script)]
    samples = alternate(
        {
            "kit run (MPLBACKEND=Agg, no plots in the notebook)": lambda i: (
                run_cmd(kit_argv(f"{stage.token}-agg{i}"), agg).seconds
            ),
            "kit run (inline plots, as in the image)": lambda i: (
                run_cmd(kit_argv(f"{stage.token}-inline{i}"), inline).seconds
            ),
            "python script (MPLBACKEND=Agg)": lambda i: run_cmd(script_argv, agg).seconds,
        },
        reps,
        label="#2",
    )
    kit_agg, kit_inline, plain = (statistics.median(v) for v in samples.values())
    pairs = compare(
        [ENGINE],
        lambda argv: run_cmd(argv, inline),
        kit_sides(lambda tag: kit_argv(f"{stage.token}-{tag}")),
        2 if quick else 8,
        label="#2 engine",
    )
    section.figures = [
        Figure("`kit run` (as in the image: inline plots), median", kit_inline, "s"),
        Figure("plain script, median", plain, "s"),
        Figure("ratio kit run / script", kit_inline / plain, "x", Target("<=", 1.3)),
        Figure(
            "ratio with MPLBACKEND=Agg / script",
            kit_agg / plain,
            "x",
            note="information: without rendering 3 figures into the notebook",
        ),
        *figures(pairs),
    ]
    last = stage.settings.url("outputs_bucket", "runs", "forecast", f"{stage.token}-inline{reps}")
    total, in_cells, slowest = cell_times(last + "/output.ipynb")
    section.commands = [
        shown(kit_argv(f"{stage.token}-agg<i>"), {"MPLBACKEND": "Agg"}),
        shown(kit_argv(f"{stage.token}-inline<i>")),
        shown(script_argv, {"MPLBACKEND": "Agg"}),
        f"# setup: kit publish notebooks/forecast.ipynb; {shown(export_argv)}",
        "# the engine undone:",
        command(kit_argv(f"{stage.token}-engine-<i>o"), ENGINE.name),
    ]
    kinds = Counter(c["cell_type"] for c in json.loads(NOTEBOOK.read_text())["cells"])
    slow = "; ".join(f"cell {i} `{src}` {d:.2f} s" for i, d, src in slowest)
    section.details = [
        f"Medians of {reps} runs each after one warm-up round, order rotating. Parameters: "
        f"`dataset_url={dataset_url}`, `run_date={RUN_DATE}`, the notebook's defaults for "
        "the rest (horizon 365, holdout 180, interval_width 0.8); `kit run` sets "
        "`output_prefix` to the run's folder, the script writes to "
        f"`{script_params['output_prefix']}`.",
        samples_table(samples),
        "**The script.** The notebook with a cell of parameter assignments inserted after its "
        "`parameters` cell (where papermill injects them), exported with jupytext to the "
        f"py:percent format. It has {ipython_lines} IPython-only lines (magics, `!`, "
        "`get_ipython()`, `display()`): none needed handling. Outside a kernel `kit.record` "
        "prints its metric instead of displaying it, the bare `history.tail()` expression "
        "shows nothing, and `plt.show()` is a no-op under the Agg backend; so the script "
        "computes exactly what the notebook does minus showing results. The headline ratio "
        "runs `kit run` as the image does: the kernel's inline backend renders the 3 figures "
        "into the executed notebook as PNG, work the script never does. The MPLBACKEND=Agg "
        "ratio, for information, has both sides do the same work.",
        f"**Inside the kernel** (last inline run, from papermill's cell metadata): the code "
        f"cells took {in_cells:.2f} s of papermill's {total:.2f} s; the rest of `kit run`'s "
        f"wall time is process start, imports, kernel start and stop, and saving. Slowest "
        f"cells: {slow}.",
        f"**What kit's papermill engine buys.** The forecast notebook has {kinds['code']} "
        f"code and {kinds['markdown']} markdown cells; papermill saves the whole notebook "
        "(figures included) when each cell starts and ends, each time through nbformat's "
        "deep copy and validation. kit's "
        "engine skips the saves around markdown cells and writes the others as plain JSON. "
        "`kit run` with it and without it (bench/variant.py, papermill's own nbclient "
        "engine), in pairs as in measurement 1, plots inline; judged by the CPU time of "
        "`kit run`'s own process (both sides through bench/variant.py `--report-cpu`), "
        "where papermill saves, on the thread that runs the cells: the kernel's Prophet "
        "fit, the same on both sides, would only add its noise. The table's CPU columns "
        "are that process's:",
        table(pairs),
    ]
    section.data = {"version": version, "ipython_only_lines": ipython_lines}
    section.data.update({k: stats(v) for k, v in samples.items()})
    section.data["tricks"] = {p.trick.name: p.to_json() for p in pairs}
    section.data["cells"] = {"papermill_total": total, "sum_of_cells": in_cells}
    if any(f.met is False for f in section.figures if f.unit != "ms"):  # the ratio's
        cmd, wall, profile = cprofile(
            PYTHON,
            ["-m", "kit.cli.main", *kit_argv(f"{stage.token}-profile")[1:]],
            agg,
            "m2-kit-run",
            include=("/kit/",),
            title="kit function (main thread)",
        )
        run_id = f"{stage.token}-timeline"
        phases, times = timeline(
            kit_argv(run_id),
            agg,
            stage.settings.url("outputs_bucket", "runs", "forecast", run_id, "output.ipynb"),
        )
        section.diagnosis = [
            f"**In short.** `kit run` takes {kit_agg - plain:+.2f} s more than the script. "
            f"In the run below the cells take {times['cells']:.2f} s and everything else "
            f"{times['total'] - times['cells']:.2f} s, where the script spends "
            f"{plain - times['cells']:.2f} s beside the same cell code (interpreter start): "
            "kit's process start and imports, the kernel's boot, papermill's saves after "
            "each cell, then the kernel's shutdown and run.json.",
            "Timeline of one more `kit run` (MPLBACKEND=Agg), split with papermill's timestamps:",
            phases,
            f"The script's {plain:.2f} s cover interpreter start, the same imports and the "
            f"same cells. `{cmd}` ({wall:.1f} s under the profiler), kit's functions in the "
            "main thread:",
            profile,
        ]
    return section
