"""3. DAG parse time of dags/ with 1, 10 and 100 notebook entries, minus Airflow's import.

Runs bench/dag_parse_driver.py in the Airflow environment: it imports Airflow and the
providers once (timed), then parses the folder in a fork per parse, as Airflow 3's DAG
processor does. A second pass pre-imports only what the processor itself would.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
from typing import Any

import yaml

from bench.core import (
    AIRFLOW_PYTHON,
    ROOT,
    WORK,
    Figure,
    Section,
    Target,
    samples_table,
    shown,
    stats,
)
from bench.core import run as run_cmd
from bench.profiling import short_path
from bench.stage import AIRFLOW_HOME, Stage

TITLE = "DAG parse"
DAGS = ROOT / "dags"
DAG_FILE = DAGS / "kit_notebooks.py"
DRIVER = ROOT / "bench" / "dag_parse_driver.py"
SIZES = ("1", "10", "100")


def write_configs() -> dict[str, str]:
    """dags/notebooks.yaml with its first entry copied 1, 10 and 100 times under new names."""
    config = yaml.safe_load((DAGS / "notebooks.yaml").read_text())
    entry = config["notebooks"][0]
    paths = {}
    for n in SIZES:
        variant = copy.deepcopy(config)
        variant["notebooks"] = [
            {**copy.deepcopy(entry), "name": f"{entry['name']}-{i:03d}"} for i in range(int(n))
        ]
        path = WORK / f"notebooks-{n}.yaml"
        path.write_text(yaml.safe_dump(variant, sort_keys=False))
        paths[n] = str(path)
    return paths


def drive(spec: dict[str, Any], env: dict[str, str]) -> tuple[dict[str, Any], str]:
    out = WORK / f"dag-parse-{spec['preimport']}.json"
    argv = [str(AIRFLOW_PYTHON), str(DRIVER), json.dumps({**spec, "out": str(out)})]
    run_cmd(argv, env, timeout=240)
    result: dict[str, Any] = json.loads(out.read_text())
    for n, runs in result["runs"].items():
        for r in runs:
            if r["errors"] or r["dags"] != int(n):
                raise RuntimeError(f"parsing {n} entries gave {r['dags']} DAGs: {r['errors']}")
    return result, shown([AIRFLOW_PYTHON, DRIVER, "SPEC"])


def _entries(n: str) -> str:
    return f"{n} entry" if n == "1" else f"{n} entries"


def profile_rows(rows: list[list[Any]], top: int = 15) -> str:
    lines = ["| function | cumulative | own | calls |", "|---|---:|---:|---:|"]
    shown_rows = [r for r in rows if not (r[3].startswith("<") and r[3] != "<module>")]
    for cum, own, calls, func, file, line in shown_rows[:top]:
        lines.append(
            f"| `{func}` ({short_path(file)}:{line}) | {cum:.3f} s | {own:.3f} s | {calls} |"
        )
    return "\n".join(lines)


def measure(stage: Stage, quick: bool) -> Section:
    reps = 2 if quick else 5
    section = Section(3, TITLE)
    configs = write_configs()
    env = stage.env(AIRFLOW_HOME=str(AIRFLOW_HOME), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    base = {"dags": str(DAGS), "dag_file": str(DAG_FILE), "configs": configs}
    warm, command = drive({**base, "reps": reps, "preimport": "providers", "profile": "100"}, env)
    small = {n: configs[n] for n in ("1", "100")}
    cold, _ = drive(
        {**base, "configs": small, "reps": max(1, reps // 2), "preimport": "processor"}, env
    )

    parse = {n: [r["seconds"] for r in warm["runs"][n]] for n in SIZES}
    t1, t10, t100 = (statistics.median(parse[n]) for n in SIZES)
    exponent = math.log(t100 / t10) / math.log(10)
    per_entry = (t100 - t1) / 99
    imports = warm["import_airflow"] + warm["import_providers"]
    cold_parse = {n: [r["seconds"] for r in cold["runs"][n]] for n in cold["runs"]}
    section.figures = [
        Figure("import Airflow + providers (paid once)", imports, "s"),
        Figure("parse, 1 entry", t1, "s"),
        Figure("parse, 10 entries", t10, "s"),
        Figure("parse, 100 entries", t100, "s", Target("<=", 0.3, "s")),
        Figure("growth exponent 10→100 (1 = linear)", exponent, "x", Target("<=", 1.0)),
        Figure(
            "parse, 1 entry, as Airflow's processor pre-imports today",
            statistics.median(cold_parse["1"]),
            "s",
            note="information: see below",
        ),
    ]
    section.commands = [
        f"AIRFLOW_HOME=bench/work/airflow AIRFLOW__CORE__LOAD_EXAMPLES=False {command}",
        '# SPEC: {"dags": "dags", "configs": {"1": "bench/work/notebooks-1.yaml", '
        '"10": ..., "100": ...}, "reps": N, "preimport": "providers" | "processor"}',
        "# in each forked child: KIT_DAGS_CONFIG=<yaml>; "
        'airflow.dag_processing.dagbag.DagBag(dag_folder="dags")',
    ]
    section.details = [
        f"`dags/notebooks.yaml` with its `forecast` entry copied 1, 10 and 100 times "
        f"(`bench/work/notebooks-N.yaml`, read through `KIT_DAGS_CONFIG`; cluster mode "
        f"as in the file). The driver imports {', '.join(f'`{m}`' for m in warm['preimported'])} "
        f"once ({warm['import_airflow']:.2f} s for `airflow`, {warm['import_providers']:.2f} s "
        "for the rest), then forks once per parse, as Airflow 3's DAG processor does, and "
        'times `DagBag(dag_folder="dags")` in the child (dags/.airflowignore leaves '
        f"kit_notebooks.py). Medians of {reps} parses per size, sizes rotating; every parse "
        "checked to yield N DAGs and no import error.",
        samples_table({_entries(n): parse[n] for n in SIZES}),
        f"Each entry costs about {per_entry * 1000:.1f} ms ((t100 - t1)/99); the growth "
        f"exponent log(t100/t10)/log 10 is {exponent:.2f} (below 1: a fixed cost plus a "
        "linear part).",
        "**As the DAG processor pre-imports today.** Airflow's `parsing_pre_import_modules` "
        "imports, before forking, only the `airflow.*` modules the DAG file itself names: "
        f"for kit_notebooks.py that is {cold['preimported'][1:] or 'nothing'}, because the "
        "operator imports live in kit_dag_factory.py. So every parse also pays the "
        "providers' import:",
        samples_table({f"{_entries(n)}, processor pre-import": v for n, v in cold_parse.items()}),
        "Naming the operator modules in kit_notebooks.py (e.g. `import "
        "airflow.providers.cncf.kubernetes.operators.pod  # noqa: F401`, and the GKE "
        "operator module in gke mode) would let the processor import them once, bringing "
        "each parse down to the figures above (another DAG file of the same deployment that "
        "names them has the same effect).",
    ]
    section.data = {
        "imports": {"airflow": warm["import_airflow"], "providers": warm["import_providers"]},
        "preimported": warm["preimported"],
        "parse": {n: stats(v) for n, v in parse.items()},
        "processor_preimport": {
            "preimported": cold["preimported"],
            "parse": {n: stats(v) for n, v in cold_parse.items()},
        },
        "per_entry_seconds": per_entry,
        "growth_exponent": exponent,
    }
    profile = warm.get("profile", {}).get("profile")
    if profile and section.missed:
        section.diagnosis = [
            "cProfile of one 100-entry parse (in the forked child):",
            profile_rows(profile),
        ]
    elif profile:
        section.data["profile_100"] = profile[:15]
    return section
