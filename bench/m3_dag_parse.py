"""3. DAG parse, on each Airflow version: dags/ against a hand-written DAG file, same DAGs.

Runs bench/dag_parse_driver.py in each Airflow environment (2.11, 3.2, 3.3): it imports
Airflow and what the DAG processor pre-imports, then parses in a fork per parse, as the
processor does: dags/ with 1, 10 and 100 notebooks.yaml entries, and a DAG file that writes
the same 100 DAGs and pod tasks out by hand (bench/hand_written_dags.py), alternating in
the same run. The target is a ratio, since machines differ in speed: 100 entries parse in
at most 1.5x the time of the hand-written file.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
from typing import Any

import yaml

from bench.core import (
    ROOT,
    WORK,
    BenchError,
    Figure,
    Section,
    Target,
    samples_table,
    shown,
    stats,
)
from bench.core import run as run_cmd
from bench.profiling import short_path
from bench.stage import Stage
from kit.dagtools.versions import AIRFLOW_VERSIONS, DEFAULT_AIRFLOW, venv_python

TITLE = "DAG parse"
DAGS = ROOT / "dags"
DAG_FILE = DAGS / "kit_notebooks.py"
DRIVER = ROOT / "bench" / "dag_parse_driver.py"
SIZES = ("1", "10", "100")
RATIO_TARGET = 1.5
HAND = "hand"


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


def drive(version: str, spec: dict[str, Any], stage: Stage) -> tuple[dict[str, Any], str]:
    """The driver's result in one Airflow environment, checked."""
    python = venv_python(ROOT, version)
    home = WORK / f"airflow-parse-{version}"  # each version writes its own airflow.cfg
    home.mkdir(parents=True, exist_ok=True)
    env = stage.env(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    out = WORK / f"dag-parse-{version}.json"
    argv = [str(python), str(DRIVER), json.dumps({**spec, "out": str(out)})]
    run_cmd(argv, env, timeout=600)
    result: dict[str, Any] = json.loads(out.read_text())
    if result["same"].get("problems") or result["same"].get("dags") != 100:
        raise BenchError(f"Airflow {version}: the two files differ: {result['same']}")
    for name, runs in result["runs"].items():
        expected = 100 if name == HAND else int(name)
        for r in runs:
            if r["errors"] or r["dags"] != expected:
                raise BenchError(f"Airflow {version}, {name}: {r['dags']} DAGs, {r['errors']}")
    return result, shown([python, DRIVER, "SPEC"])


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
    spec = {
        "dags": str(DAGS),
        "dag_file": str(DAG_FILE),
        "configs": configs,
        "hand": configs["100"],
        "work": str(WORK),
        "reps": reps,
        "profile": "100",
    }
    results: dict[str, dict[str, Any]] = {}
    for version in AIRFLOW_VERSIONS:
        results[version], command = drive(version, spec, stage)

    tables: dict[str, list[float]] = {}
    for version, result in results.items():
        parse = {n: [r["seconds"] for r in runs] for n, runs in result["runs"].items()}
        kit100, hand100 = statistics.median(parse["100"]), statistics.median(parse[HAND])
        label = f"Airflow {result['airflow']}"
        section.figures += [
            Figure(f"{label}: parse, 100 entries", kit100, "s"),
            Figure(f"{label}: hand-written file, same 100 DAGs", hand100, "s"),
            Figure(
                f"{label}: ratio", kit100 / hand100, "x", Target("<=", RATIO_TARGET), "same run"
            ),
        ]
        tables.update({f"{label}, {_entries(n)}": v for n, v in parse.items() if n != HAND})
        tables[f"{label}, hand-written, 100 DAGs"] = parse[HAND]
        section.data[version] = {
            "airflow": result["airflow"],
            "imports": {
                "airflow": result["import_airflow"],
                "pre-imported": result["import_preimported"],
            },
            "preimported": result["preimported"],
            "parse": {n: stats(v) for n, v in parse.items()},
            "ratio": kit100 / hand100,
        }
    default = results[DEFAULT_AIRFLOW]
    parse = {n: statistics.median(r["seconds"] for r in default["runs"][n]) for n in SIZES}
    t1, t10, t100 = (parse[n] for n in SIZES)
    exponent = math.log(t100 / t10) / math.log(10)
    section.figures.append(
        Figure(
            f"Airflow {default['airflow']}: growth exponent 10→100 (1 = linear)",
            exponent,
            "x",
            Target("<=", 1.0),
        )
    )
    section.data["growth_exponent"] = exponent
    section.data["per_entry_seconds"] = (t100 - t1) / 99
    section.commands = [
        f"AIRFLOW_HOME=bench/work/airflow-parse-X.Y AIRFLOW__CORE__LOAD_EXAMPLES=False {command}",
        "# for X.Y in " + ", ".join(AIRFLOW_VERSIONS) + ", the python of that environment",
        '# SPEC: {"dags": "dags", "configs": {"1": "bench/work/notebooks-1.yaml", '
        '"10": ..., "100": ...}, "hand": "bench/work/notebooks-100.yaml", "reps": N}',
        "# in each forked child: KIT_DAGS_CONFIG=<yaml>; a DagBag of dags/ "
        "(or of bench/work/hand-written-<airflow>/)",
    ]
    preimported = ", ".join(f"`{m}`" for m in default["preimported"])
    section.details = [
        "`dags/notebooks.yaml` with its `forecast` entry copied 1, 10 and 100 times "
        "(`bench/work/notebooks-N.yaml`, read through `KIT_DAGS_CONFIG`; cluster mode as in "
        "the file, gke), against a hand-written DAG file with the same 100 DAGs "
        "(`bench/work/hand-written-<airflow>/hand_written_dags_100.py`, written by "
        "`bench/hand_written_dags.py`): each a `with DAG(...)` block whose GKEStartPodOperator "
        "has every argument written out, Kubernetes objects built inline, fanned out with "
        "`.partial().expand()`. Before timing, the driver parses both and checks that every "
        "DAG's settings, operator arguments and fan-out are equal.",
        f"Per Airflow version, the driver imports what the DAG processor has imported before "
        f"it parses a file ({preimported} on Airflow {default['airflow']}: the processor's "
        "own modules and the `airflow.*` modules each DAG file names), then forks once per "
        "parse and times a DagBag of the folder in the child. Medians of "
        f"{reps} parses per variant, the variants rotating in one run; every parse is "
        "checked to yield the expected DAGs and no import error.",
        samples_table(tables),
        f"On Airflow {default['airflow']} each entry costs about "
        f"{section.data['per_entry_seconds'] * 1000:.1f} ms ((t100 - t1)/99); the growth "
        f"exponent log(t100/t10)/log 10 is {exponent:.2f} (below 1: a fixed cost plus a "
        "linear part).",
    ]
    profile = default.get("profile", {}).get("profile")
    if profile and section.missed:
        section.diagnosis = [
            f"cProfile of one 100-entry parse on Airflow {default['airflow']} (forked child):",
            profile_rows(profile),
        ]
    elif profile:
        section.data["profile_100"] = profile[:15]
    return section
