"""1. Run overhead: a two-cell notebook through `kit run`, the papermill CLI and the kernel floor.

(a) `kit run tiny@VERSION` reads the published notebook from the emulator's modules bucket and
saves its output to the outputs bucket; (b) the papermill CLI reads the same notebook from
gs:// and writes its output to gs:// (gcsfs against the same emulator); (c) the floor starts
a kernel with jupyter_client, executes one cell and stops it, with no storage at all; (d) is
the same floor with the kernel started, awaited and stopped the way `kit run` does it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

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
from bench.profiling import cprofile, importtime, timeline
from bench.stage import Stage
from bench.tricks import Sides, Trick, command, compare, figures, kit_sides, table

TITLE = "Run overhead (two-cell notebook)"
FLOOR = ROOT / "bench" / "kernel_floor.py"
NAME = "bench-tiny"
# The runner's start-up measures, each measured with and without (bench/tricks.py); the
# engine's saves only matter with many cells: measurement 2.
TRICKS = (
    Trick("ready", "kernel client ready without jupyter_client's idle IOPub wait",
          "kit/runner/kernel_manager.py ReadyClient", basis="wall"),
    Trick("debugpy", "ipykernel started with debugpy hidden", "kit/kernel_launcher.py"),
    Trick("gcpause", "no cyclic GC during start-up (kit run and kernel)", "kit/gcpause.py"),
    Trick("block-gcsfs", "papermill's gcsfs import blocked",
          "kit/runner/execute.py UNUSED_IMPORTS"),
    Trick("block-formats", "jsonschema's rfc3987_syntax and isoduration blocked (laptops only)",
          "kit/runner/execute.py UNUSED_IMPORTS"),
)  # fmt: skip


def tiny_notebook() -> bytes:
    """A parameters cell and one code cell."""
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),  # type: ignore[no-untyped-call]
        nbformat.v4.new_code_cell("print(x + 1)"),  # type: ignore[no-untyped-call]
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    text: str = nbformat.writes(nb)  # type: ignore[no-untyped-call]
    return text.encode()


def measure(stage: Stage, quick: bool) -> Section:
    reps = 3 if quick else 7
    section = Section(1, TITLE)
    path = WORK / "tiny.ipynb"
    path.write_bytes(tiny_notebook())
    version = stage.publish(path, NAME)
    source_url = "gs://kit-modules/bench/tiny.ipynb"
    stage.upload(source_url, path.read_bytes(), "application/x-ipynb+json")
    env = stage.env()

    def kit_argv(i: int) -> list[str]:
        return [str(KIT), "run", f"{NAME}@{version}", "--run-id", f"{stage.token}-a{i}"]

    def papermill_argv(i: int) -> list[str]:
        out = f"gs://kit-outputs/bench/papermill/{stage.token}-b{i}/output.ipynb"
        return [str(VENV_BIN / "papermill"), source_url, out]

    floor_argv = [str(PYTHON), str(FLOOR)]
    kit_floor_argv = [str(PYTHON), str(FLOOR), "--kit"]

    def timed(argv: Callable[[int], list[str]]) -> Callable[[int], float]:
        return lambda i: run_cmd(argv(i), env).seconds

    samples = alternate(
        {
            "(a) kit run": timed(kit_argv),
            "(b) papermill CLI": timed(papermill_argv),
            "(c) kernel floor": timed(lambda i: floor_argv),
            "(d) kernel floor, kit's kernel start": timed(lambda i: kit_floor_argv),
        },
        reps,
        label="#1",
    )
    a, b, c, d = (statistics.median(v) for v in samples.values())
    by_kit = kit_sides(lambda tag: [*kit_argv(0)[:-1], f"{stage.token}-{tag}"])

    def sides(trick: Trick, tag: str) -> Sides:
        if trick.name == "ready":  # what it saves is waiting: measured where it waits
            return kit_floor_argv, [*kit_floor_argv, "--without-ready"]
        return by_kit(trick, tag)

    pairs = compare(
        TRICKS, lambda argv: run_cmd(argv, env), sides, 3 if quick else 10, label="#1 tricks"
    )
    section.figures = [
        Figure("(a) `kit run`, median", a, "s"),
        Figure("(b) papermill CLI, median", b, "s"),
        Figure("(c) kernel floor, median", c, "s"),
        Figure("a/b (kit run / papermill)", a / b, "x", Target("<=", 0.25)),
        Figure("a/c (kit run / kernel floor)", a / c, "x", Target("<=", 1.3)),
        Figure(
            "(d) kernel floor with kit's kernel start, median",
            d,
            "s",
            note="information: kit's own floor",
        ),
        Figure("a/d (kit run / kit's kernel floor)", a / d, "x", note="information"),
        *figures(pairs),
    ]
    section.commands = [
        shown(kit_argv(0)).replace("-a0", "-a<i>"),
        shown(papermill_argv(0)).replace("-b0", "-b<i>"),
        shown(floor_argv),
        shown(kit_floor_argv),
        f"# setup: kit publish {path.relative_to(ROOT)} --name {NAME}; the same file uploaded "
        f"to {source_url}",
        "# each start-up measure undone, e.g.:",
        command([*kit_argv(0)[:-1], f"{stage.token}-debugpy-<i>o"], "debugpy"),
        shown([*kit_floor_argv, "--without-ready"]),
    ]
    section.details = [
        f"Medians of {reps} runs each after one warm-up round; the order of (a), (b), (c) "
        "rotates every round. The notebook: a `parameters` cell `x = 1` and `print(x + 1)`. "
        "(a) and (b) read it from and write their output to the embedded GCS; (c) executes "
        "one cell with jupyter_client's `start_new_kernel` and `shutdown_kernel(now=True)`; "
        "(d) does the same with kit's kernel start (kit.runner.kernel_manager).",
        samples_table(samples),
        f"kit run over the floor: {a - c:+.3f} s; papermill over the floor: {b - c:+.3f} s; "
        f"kit run over kit's own floor (d): {a - d:+.3f} s.",
        "**Why (a) can be below (c).** jupyter_client's way of starting a kernel idles: "
        "`wait_for_ready` listens until IOPub has been quiet for 0.2 s, and ipykernel "
        "imports debugpy at start-up. `kit run` returns as soon as the kernel answers on "
        "both channels, starts ipykernel without debugpy and without the cyclic GC "
        "(kit/runner/kernel_manager.py, kit/kernel_launcher.py, kit/gcpause.py). "
        "(d) is that start alone: "
        "what `kit run` costs beyond it is its own work (CLI, storage client, papermill, "
        "saving, run.json).",
        "**What each start-up measure buys.** kit keeps a measure that reaches into a "
        "library (an override of its behaviour, an import block, a GC setting) only while it "
        "buys at least 50 ms a run. Each is measured in pairs: `kit run` as shipped, then "
        "through bench/variant.py with that one measure undone (nothing else differs), back "
        "to back, the order flipping every round and the measures rotating; the gain is the "
        "median of the pairs' differences. Measures that save computation are judged by CPU "
        "time (user + system of `kit run` and its kernel), which the machine's other work "
        "hardly moves; the ready client saves waiting (jupyter_client listens until IOPub "
        "has been quiet for 0.2 s), which only wall time shows, so it is measured where it "
        "waits, as (d) with and without it (`--without-ready`). The gcsfs block matters in "
        "the image too; the jsonschema format checkers exist only where JupyterLab's tools "
        "are installed (laptops, this bench's .venv), never in the image.",
        table(pairs),
    ]
    section.data = {"version": version, **{k: stats(v) for k, v in samples.items()}}
    section.data["tricks"] = {p.trick.name: p.to_json() for p in pairs}
    if any(f.met is False for f in section.figures if f.unit != "ms"):  # the overhead's
        section.diagnosis = diagnose(stage, kit_argv, version)
    return section


def diagnose(stage: Stage, kit_argv: Callable[[int], list[str]], version: str) -> list[str]:
    """Import time and a profile of one `kit run`, beside the floor's own import time."""
    env = stage.env()
    args = kit_argv(900)[1:]  # without the console script: run as `python -m kit.cli.main`
    cmd, total, table, _ = importtime(PYTHON, ["-m", "kit.cli.main", *args], env)
    _, floor_total, _, _ = importtime(PYTHON, [str(FLOOR)], env)
    prof_cmd, wall, prof = cprofile(
        PYTHON,
        ["-m", "kit.cli.main", *kit_argv(901)[1:]],
        env,
        "m1-kit-run",
        include=("/kit/",),
        title="kit function (main thread)",
    )
    run_id = f"{stage.token}-a902"
    phases, times = timeline(
        kit_argv(902),
        env,
        stage.settings.url("outputs_bucket", "runs", NAME, run_id, "output.ipynb"),
    )
    return [
        f"**In short.** Of this `kit run`'s {times['total']:.2f} s, the cells take "
        f"{times['cells']:.2f} s; its process imports {total - floor_total:.2f} s more than "
        "the floor's (tables below: kit's storage loads google-cloud-storage, plus "
        "papermill, nbformat and the CLI), and after papermill ends "
        f"{times['after']:.2f} s go to the final save, stopping the kernel, writing "
        "run.json and exiting.",
        "**Timeline** of one more `kit run`, split with papermill's timestamps in the "
        "executed notebook:",
        phases,
        f"**Imports.** `{cmd}`: {total:.3f} s of imports in the `kit run` process (the "
        f"floor's process imports {floor_total:.3f} s). Largest top-level imports:",
        table,
        f"**Profile.** `{prof_cmd}` ({wall:.2f} s under the profiler). Cumulative time of "
        "kit's functions in the main thread; `execute` includes the papermill worker "
        "thread it waits for: kernel start, the cells, the saves to GCS and the kernel "
        "shutdown.",
        prof,
    ]
