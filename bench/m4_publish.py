"""4. Publish latency: notebooks/forecast.ipynb and 20 MB notebooks, to the embedded GCS.

In-process (bench/publish_worker.py, as `kit.publish()` in a notebook: a fresh process per
round, so its first publish is cold and the next ones warm) and, for information, the
`kit publish` CLI's wall time. Every publish writes a real new version (one comment
changes); the no-op republish of identical content is timed too.

The cold publish is compared with a floor measured in the same rounds
(bench/publish_floor.py: a fresh Python reading the notebook with json and uploading it
with google-cloud-storage): the target is at most twice the floor.
"""

from __future__ import annotations

import base64
import json
import random
import statistics
from typing import Any

from bench.core import (
    KIT,
    PYTHON,
    ROOT,
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
from bench.profiling import importtime, profile_table
from bench.publish_worker import edited
from bench.stage import Stage

TITLE = "Publish"
NOTEBOOK = ROOT / "notebooks" / "forecast.ipynb"
WORKER = ROOT / "bench" / "publish_worker.py"
FLOOR = ROOT / "bench" / "publish_floor.py"
COLD_TO_FLOOR = 2.0
MB = 1_000_000


def with_outputs(target_mb: int) -> dict[str, Any]:
    """forecast.ipynb carrying target_mb of PNG outputs (incompressible bytes)."""
    nb: dict[str, Any] = json.loads(NOTEBOOK.read_text())
    rnd = random.Random(0)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    chunk = 2 * MB
    for i in range(max(1, target_mb * MB // chunk)):
        png = base64.b64encode(rnd.randbytes(chunk * 3 // 4)).decode()
        code[i % len(code)]["outputs"].append(
            {"output_type": "display_data", "data": {"image/png": png}, "metadata": {}}
        )
    return nb


def with_source(target_mb: float) -> dict[str, Any]:
    """forecast.ipynb with one more code cell: target_mb of a Python list literal."""
    nb: dict[str, Any] = json.loads(NOTEBOOK.read_text())
    rnd = random.Random(0)
    lines, size = ["BENCH_DATA = ["], 0
    while size < target_mb * MB:
        lines.append("    " + ", ".join(f"{rnd.random():.8f}" for _ in range(7)) + ",")
        size += len(lines[-1]) + 1
    lines.append("]")
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "id": "bench-data",
        "metadata": {},
        "outputs": [],
        "source": "\n".join(lines),
    }
    nb["cells"].insert(4, cell)
    return nb


def worker(stage: Stage, spec: dict[str, Any], tag: str) -> dict[str, Any]:
    out = WORK / f"publish-{tag}.json"
    full = {**spec, "token": stage.token, "tag": tag, "out": str(out)}
    run_cmd([PYTHON, WORKER, json.dumps(full)], stage.env(), timeout=600)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def phases_table(phases: dict[str, float], per: int = 1) -> str:
    lines = ["| step of publish_notebook | seconds |", "|---|---:|"]
    for name, seconds in sorted(phases.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {seconds / per:.3f} |")
    return "\n".join(lines)


def measure(stage: Stage, quick: bool) -> Section:
    rounds, per_round = (1, 4) if quick else (3, 6)
    section = Section(4, TITLE)
    (WORK / "publish").mkdir(exist_ok=True)
    base = {"source": str(NOTEBOOK), "name": "forecast-bench"}
    cold: list[float] = []
    warm: list[float] = []
    noop: list[float] = []
    floors: list[float] = []
    cli_file = WORK / "publish" / "forecast.ipynb"
    original = json.loads(NOTEBOOK.read_text())

    def in_process(i: int) -> float:
        spec = {**base, "work": str(WORK / "publish" / f"fc-{i}.ipynb"), "n": per_round}
        result = worker(stage, {**spec, "noop": True}, f"forecast-{i}")
        cold.append(result["import"] + result["latencies"][0])
        warm.extend(result["latencies"][1:])
        noop.append(result["noop"])
        return float(sum(result["latencies"]))

    def cli(i: int) -> float:
        cli_file.write_text(json.dumps(edited(original, f"{stage.token}-cli-{i}"), indent=1))
        return run_cmd([KIT, "publish", cli_file, "--name", "forecast-cli"], stage.env()).seconds

    def floor(i: int) -> float:
        out = WORK / f"publish-floor-{i}.json"
        spec = {
            "source": str(NOTEBOOK),
            "bucket": stage.settings.modules_bucket,
            "key": f"floor/{stage.token}-{i}.ipynb",
            "out": str(out),
        }
        run_cmd([PYTHON, FLOOR, json.dumps(spec)], stage.env(), timeout=600)
        seconds = float(json.loads(out.read_text())["seconds"])
        floors.append(seconds)
        return seconds

    cli_samples = alternate(
        {"worker": in_process, "floor": floor, "kit publish CLI": cli},
        rounds,
        warmup=0,
        label="#4",
    )["kit publish CLI"]
    fc_phases = worker(
        stage,
        {
            **base,
            "work": str(WORK / "publish" / "fc-phases.ipynb"),
            "n": 3,
            "phases": True,
            "warmup": str(NOTEBOOK),
        },
        "forecast-phases",
    )

    big_out = WORK / "publish" / "outputs-20mb-src.ipynb"
    big_out.write_text(json.dumps(with_outputs(20)))
    outputs = worker(
        stage,
        {
            "source": str(big_out),
            "name": "outputs-20mb",
            "n": 3,
            "phases": True,
            "work": str(WORK / "publish" / "outputs-20mb.ipynb"),
            "warmup": str(NOTEBOOK),
        },
        "outputs",
    )
    sources = big_sources(stage, (0.2, 2) if quick else (0.2, 2, 20))

    warm_median = statistics.median(warm)
    cold_median, floor_median = statistics.median(cold), statistics.median(floors)
    out_median = statistics.median(outputs["latencies"])
    section.figures = [
        Figure("forecast.ipynb, in-process, median", warm_median, "s", Target("<=", 0.5, "s")),
        Figure("forecast.ipynb, first publish in a fresh process (P4), median", cold_median, "s"),
        Figure(
            "floor: fresh Python, json + google-cloud-storage upload, median", floor_median, "s"
        ),
        Figure(
            "P4 / floor",
            cold_median / floor_median,
            "x",
            Target("<=", COLD_TO_FLOOR),
        ),
        Figure("forecast.ipynb, no-op republish, median", statistics.median(noop), "s"),
        Figure(
            "forecast.ipynb, `kit publish` CLI wall, median", statistics.median(cli_samples), "s"
        ),
        Figure(
            f"20 MB with outputs (stripped to {outputs['published_size'] / 1000:.0f} kB), median",
            out_median,
            "s",
        ),
        *sources["figures"],
    ]
    worker_cmd = shown([PYTHON, WORKER, "SPEC"])
    section.commands = [
        f"{worker_cmd}   # in-process: kit.publishing.publish_notebook(path, name)",
        shown([KIT, "publish", cli_file, "--name", "forecast-cli"]),
        f"{shown([PYTHON, FLOOR, 'SPEC'])}   # the floor: json + google-cloud-storage",
        '# SPEC: {"source": <notebook>, "name": <name>, "n": <new versions>, '
        '"noop": true|false, "warmup": <notebook>|null, "phases": true|false, ...}',
    ]
    section.details = [
        f"**forecast.ipynb** ({NOTEBOOK.stat().st_size / 1000:.0f} kB): {rounds} fresh worker "
        f"processes, each publishing {per_round} new versions then republishing the last one "
        "unchanged; the first publish of each process is *cold* (kit.publishing, "
        "detect-secrets and the GCS client get imported), the others *warm*, as a second "
        "`kit.publish()` in the same kernel. Worker rounds alternate with the floor (a fresh "
        "Python that reads forecast.ipynb with `json` and uploads it with "
        "google-cloud-storage, timed from its first import as the cold publish is) and with "
        "`kit publish` CLI runs of an edited copy. The target: the cold publish takes at "
        f"most {COLD_TO_FLOOR:g}x the floor.",
        samples_table(
            {
                "warm, in-process": warm,
                "cold, in-process": cold,
                "floor": floors,
                "no-op republish": noop,
                "kit publish CLI": cli_samples,
            }
        ),
        "Steps of one warm in-process publish (mean of 3):",
        phases_table(fc_phases["phases"], 3),
        f"**20 MB with outputs**: forecast.ipynb plus {outputs['file_size'] / MB:.1f} MB of "
        f"PNG outputs. Publishing strips outputs, so {outputs['published_size'] / 1000:.0f} kB "
        f"are stored; what is left is reading and validating the 20 MB. Median of 3 warm "
        f"publishes: {out_median:.2f} s. Steps (mean of 3):",
        phases_table(outputs["phases"], 3),
        *sources["details"],
    ]
    section.data = {
        "forecast": {
            "warm": stats(warm),
            "cold": stats(cold),
            "floor": stats(floors),
            "noop": stats(noop),
            "cli": stats(cli_samples),
            "phases_mean_of_3": fc_phases["phases"],
        },
        "outputs_20mb": outputs,
        "sources": sources["data"],
    }
    if section.missed:
        section.diagnosis = diagnose(stage)
    return section


def big_sources(stage: Stage, sizes: tuple[float, ...]) -> dict[str, Any]:
    """Notebooks of 0.2, 2 and 20 MB of source: publish time against reading the file and
    uploading it (the floor, timed in the same worker right before each publish)."""
    done: dict[float, dict[str, Any]] = {}
    for mb in sizes:
        src = WORK / "publish" / f"source-{mb:g}mb-src.ipynb"
        src.write_text(json.dumps(with_source(mb)))
        done[mb] = worker(
            stage,
            {
                "source": str(src),
                "name": f"source-{mb:g}mb".replace(".", "-"),
                "n": 3,
                "phases": True,
                "floor": True,
                "work": str(WORK / "publish" / f"source-{mb:g}mb.ipynb"),
                "warmup": str(NOTEBOOK),
            },
            f"source-{mb:g}",
        )
    rows = [
        "| source | file | publish (median of 3) | read + upload | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for mb, result in done.items():
        publish, base = statistics.median(result["latencies"]), statistics.median(result["floors"])
        rows.append(
            f"| {mb:g} MB | {result['file_size'] / MB:.2f} MB | {publish:.3f} s | "
            f"{base:.3f} s | {publish / base:.1f} |"
        )
    biggest = max(done)
    big = done[biggest]
    publish, base = statistics.median(big["latencies"]), statistics.median(big["floors"])
    small = min(done)
    growth = publish / statistics.median(done[small]["latencies"])
    figures = [
        Figure(
            f"{mb:g} MB of source, publish, median",
            statistics.median(r["latencies"]),
            "s",
            note=f"{statistics.median(r['floors']):.3f} s to read and upload it",
        )
        for mb, r in done.items()
    ]
    figures.append(
        Figure(
            f"{biggest:g} MB of source: publish / (read + upload)",
            publish / base,
            "x",
            Target("<=", 3),
            note=f"publishing a notebook with {biggest:g} MB of code: {publish:.2f} s "
            f"({publish / base:.1f} times reading and uploading it, {base:.2f} s)",
        )
    )
    figures.append(
        Figure(
            f"growth {small:g} → {biggest:g} MB ({biggest / small:g} times the source)",
            growth,
            "x",
            note=f"information: 1 would be free, {biggest / small:g} linear",
        )
    )
    scan = big["phases"].get("secret scan (detect-secrets)", 0.0) / 3
    profile = []
    if publish / base > 3:
        prof = WORK / "profiles" / "m4-big-source.prof"
        prof.parent.mkdir(parents=True, exist_ok=True)
        worker(
            stage,
            {
                "source": str(WORK / "publish" / f"source-{biggest:g}mb-src.ipynb"),
                "name": f"source-{biggest:g}mb-profile".replace(".", "-"),
                "n": 1,
                "warmup": str(NOTEBOOK),
                "work": str(WORK / "publish" / "source-profile.ipynb"),
                "profile": str(prof),
            },
            "source-profile",
        )
        profile = [
            f"**Where the time goes** in one warm publish of {biggest:g} MB of source "
            f"(cProfile of `publish_notebook` alone, in the worker; {prof.relative_to(ROOT)}):",
            profile_table(prof, top=20, title="function"),
        ]
    return {
        "figures": figures,
        "details": [
            "**Big sources**: forecast.ipynb plus a code cell holding a list literal of "
            f"{', '.join(f'{mb:g}' for mb in done)} MB (data pasted into a notebook); 3 "
            "warm publishes each, each right after timing the floor: reading the file and "
            "uploading its bytes with kit's storage, in the same worker.",
            "\n".join(rows),
            f"Steps of a {biggest:g} MB publish (mean of 3). detect-secrets (the scan: "
            f"{scan:.2f} s) looks only at the lines one of its plugins' patterns matches "
            "(kit/publishing/prefilter.py); it used to take about 3 s per MB, a minute for "
            "20 MB, checking every line with every plugin:",
            phases_table(big["phases"], 3),
            *profile,
        ],
        "data": {f"{mb:g}": r for mb, r in done.items()},
    }


def diagnose(stage: Stage) -> list[str]:
    """The steps and the imports of a cold publish (a fresh process's first)."""
    spec = {
        "source": str(NOTEBOOK),
        "name": "forecast-cold",
        "n": 1,
        "phases": True,
        "work": str(WORK / "publish" / "fc-cold.ipynb"),
    }
    cold = worker(stage, spec, "cold")
    tag_spec = {
        **spec,
        "token": stage.token,
        "tag": "cold-importtime",
        "out": str(WORK / "publish-cold-importtime.json"),
    }
    cmd, total, tables, (module, own) = importtime(
        PYTHON, [str(WORKER), json.dumps(tag_spec)], stage.env()
    )
    return [
        f"**In short.** A fresh process's first publish costs `import kit.publishing` "
        f"({cold['import']:.2f} s) plus a first `publish_notebook` ({cold['latencies'][0]:.2f} "
        f"s) that imports detect-secrets and the GCS client on the way. One module body "
        f"stands out: `{module}`, {own * 1000:.0f} ms of its own. Later publishes in the "
        "same process take the warm figure.",
        f"A cold publish: `import kit.publishing` {cold['import']:.3f} s, then the first "
        f"`publish_notebook` {cold['latencies'][0]:.3f} s, whose steps include the imports "
        "they trigger:",
        phases_table(cold["phases"]),
        f"`{cmd.split(' bench/publish_worker.py')[0]} bench/publish_worker.py SPEC` "
        f"(n=1, cold): {total:.3f} s of imports in the process.",
        tables,
    ]
