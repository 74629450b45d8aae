"""7. Size: the notebook environment's installed size, and the example notebook's imports.

Installed size: every file under .venv's site-packages, attributed to the distribution
whose RECORD lists it (byte-code caches to their source file's distribution), split into
what environment.yml pins (the image's payload, plus kit) and what only .venv has
(laptop-only tools such as JupyterLab, and developer tooling). Import times: each module
the forecast notebook imports, in a fresh `.venv/bin/python`, median of 3, modules rotating.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import os
import re
import statistics
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bench.core import PYTHON, ROOT, Figure, Section, alternate, samples_table, shown, stats
from bench.core import run as run_cmd
from bench.profiling import parse_importtime
from bench.stage import Stage

TITLE = "Size"
SITE = ROOT / ".venv" / "lib" / "python3.11" / "site-packages"
NOTEBOOK = ROOT / "notebooks" / "forecast.ipynb"
PIN = re.compile(r"^\s+-\s+([A-Za-z0-9][A-Za-z0-9._-]*)==")
MB = 1_000_000
ALL = "all of them, one process"
TIMER = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned() -> set[str]:
    """Distribution names environment.yml pins (normalized)."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    return {normalize(m[1]) for line in lines if (m := PIN.match(line))}


def sizes() -> tuple[dict[str, int], int]:
    """Bytes per distribution (plus "(unowned)"), and the total under site-packages."""
    owner: dict[str, str] = {}
    for dist in md.distributions(path=[str(SITE)]):
        name = normalize(dist.metadata["Name"] or "?")
        for f in dist.files or ():
            owner[os.path.normpath(str(f))] = name
    per: dict[str, int] = defaultdict(int)
    total = 0
    for folder, _dirs, files in os.walk(SITE):
        for file in files:
            path = Path(folder, file)
            size = path.lstat().st_size
            total += size
            rel = os.path.normpath(str(path.relative_to(SITE)))
            found = owner.get(rel)
            if found is None and path.parent.name == "__pycache__":
                source = path.parent.parent / (file.split(".", 1)[0] + ".py")
                found = owner.get(os.path.normpath(str(source.relative_to(SITE))))
            per[found or "(unowned)"] += size
    return dict(per), total


def notebook_imports() -> list[str]:
    """Modules the notebook's code cells import, in order: `import a.b` gives a.b."""
    nb = json.loads(NOTEBOOK.read_text())
    found: list[str] = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for node in ast.walk(ast.parse(source)):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            found += [n for n in names if n not in found]
    return found


def measure(stage: Stage, quick: bool) -> Section:
    reps = 1 if quick else 3
    section = Section(7, TITLE)
    per, total = sizes()
    payload_names = pinned() | {"kit"}
    payload = sum(v for k, v in per.items() if k in payload_names)
    dev_only = sum(v for k, v in per.items() if k not in payload_names and k != "(unowned)")
    top = sorted(per.items(), key=lambda kv: -kv[1])[:20]
    rows = ["| distribution | size | in environment.yml |", "|---|---:|---|"]
    rows += [
        f"| {name} | {size / MB:,.1f} MB | {'yes' if name in payload_names else 'no: .venv only'} |"
        for name, size in top
    ]

    modules = notebook_imports()
    env = stage.env(MPLBACKEND="Agg")

    def timed(module: str) -> float:
        done = run_cmd([PYTHON, "-c", TIMER.format(module)], env)
        return float(done.stdout.strip().splitlines()[-1])

    all_together = ", ".join(m for m in modules)

    def timer(module: str) -> Callable[[int], float]:
        return lambda _round: timed(module)

    variants = {m: timer(m) for m in modules}
    variants[ALL] = timer(all_together)
    samples = alternate(variants, reps, warmup=1, label="#7")
    medians = {k: statistics.median(v) for k, v in samples.items()}
    slowest = max(modules, key=lambda m: medians[m])
    done = run_cmd([PYTHON, "-X", "importtime", "-c", f"import {slowest}"], env)
    by_package: dict[str, float] = defaultdict(float)
    for name, own, _cum, _level in parse_importtime(done.stderr):
        by_package[name.split(".")[0]] += own
    own_rows = ["| package | its modules' own import time |", "|---|---:|"]
    own_rows += [
        f"| `{name}` | {o * 1000:.0f} ms |"
        for name, o in sorted(by_package.items(), key=lambda kv: -kv[1])[:8]
    ]

    section.figures = [
        Figure("site-packages of .venv, total", total / MB, "MB"),
        Figure("of which environment.yml + kit (the image's payload)", payload / MB, "MB"),
        Figure("import of all the notebook's imports, median", medians[ALL], "s"),
        Figure(f"slowest single import: `{slowest}`, median", medians[slowest], "s"),
    ]
    section.commands = [
        "# size: every file under .venv/lib/python3.11/site-packages (lstat), owned by the "
        "distribution whose RECORD lists it",
        shown([PYTHON, "-c", TIMER.format("<module>")], {"MPLBACKEND": "Agg"}),
        shown([PYTHON, "-X", "importtime", "-c", f"import {slowest}"], {"MPLBACKEND": "Agg"}),
    ]
    unowned = per.get("(unowned)", 0)
    section.details = [
        f"`.venv/lib/python3.11/site-packages` holds {total / MB:,.1f} MB: "
        f"{payload / MB:,.1f} MB in the {len(payload_names)} distributions environment.yml pins "
        f"(and kit), {dev_only / MB:,.1f} MB only .venv has (laptop-only tools, "
        "requirements/lab.txt: JupyterLab, nbdime, nbconvert; developer tooling, "
        f"requirements/dev.txt: ruff, mypy, playwright, pytest, ...), {unowned / MB:,.1f} MB "
        "owned by no RECORD. The image itself (its base, the interpreter, this payload with "
        "byte-code and without test suites) is measured in #8. The 20 largest distributions:",
        "\n".join(rows),
        f"**Imports** of the modules the forecast notebook imports ({', '.join(modules)}): "
        f"each timed inside a fresh `.venv/bin/python` (interpreter start excluded), median "
        f"of {reps}, MPLBACKEND=Agg (no display here); the last row imports all of them in "
        "one process, as the notebook's setup cell does.",
        samples_table(samples),
        f"Where `import {slowest}` spends its time (-X importtime; the own time of every "
        "module, summed per top-level package):",
        "\n".join(own_rows),
    ]
    section.data = {
        "site_packages_bytes": total,
        "payload_bytes": payload,
        "dev_only_bytes": dev_only,
        "unowned_bytes": unowned,
        "largest": dict(top),
        "imports": {k: stats(v) for k, v in samples.items()},
    }
    return section
