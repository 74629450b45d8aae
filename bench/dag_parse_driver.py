"""Measurement 3's driver, run by an Airflow environment's python (stdlib, Airflow, kit's dags/).

    .venv-airflow[-X.Y]/bin/python bench/dag_parse_driver.py SPEC_JSON

Imports Airflow and what Airflow's DAG processor imports before it parses a file (the
`airflow.*` modules the DAG file names, parsing_pre_import_modules), then parses each DAG
folder in a fork per parse: each parse starts from a process that has Airflow imported
but none of the DAG's own modules. Two folders are timed in the same run, alternating:
dags/ with N notebooks.yaml entries, and a hand-written DAG file with the same DAGs and
pod tasks (bench/hand_written_dags.py), checked first to define the same operators.
SPEC: {"dags": folder, "dag_file": its DAG file, "configs": {"1": yaml, ...}, "hand": yaml
for the hand-written file, "work": folder, "reps": n, "profile": "100" or null, "out": file}.
Writes one JSON object to "out" (Airflow logs to stdout).
"""

from __future__ import annotations

import cProfile
import importlib
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
HAND = "hand"


def _timed_import(modules: list[str]) -> float:
    start = time.perf_counter()
    for module in modules:
        importlib.import_module(module)
    return time.perf_counter() - start


def _bag(folder: str, config: str | None) -> Any:
    from kit.dagtools.airflow_compat import dag_bag

    if config:
        os.environ["KIT_DAGS_CONFIG"] = config
    return dag_bag(Path(folder))


def _parse(folder: str, config: str | None, profile: bool) -> dict[str, Any]:
    """In the child: parse the folder once; seconds, DAG count, errors, optional profile."""
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    bag = _bag(folder, config)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - start
    result: dict[str, Any] = {
        "seconds": seconds,
        "dags": len(bag.dags),
        "errors": {str(k): str(v)[-2000:] for k, v in bag.import_errors.items()},
    }
    if profiler:
        stats = pstats.Stats(profiler)
        rows = []
        for (file, line, func), (_cc, calls, own, cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            rows.append([cum, own, calls, func, file, line])
        rows.sort(reverse=True)
        result["profile"] = rows[:40]
    return result


# Arguments of kit's own operators that a hand-written DAG has no use for: the finisher's
# connection to the outputs bucket (a plain operator writes no run record).
KIT_ONLY = frozenset({"outputs_conn_id"})


def _same_dags(kit_folder: str, config: str, hand_folder: str) -> dict[str, Any]:
    """In the child: the DAGs and operator arguments both folders define, compared."""
    kit, hand = _bag(kit_folder, config), _bag(hand_folder, None)
    problems = [f"import error in {f}" for f in (*kit.import_errors, *hand.import_errors)]
    if sorted(kit.dags) != sorted(hand.dags):
        problems.append(f"DAG ids differ: {sorted(kit.dags)[:3]}... vs {sorted(hand.dags)[:3]}...")
    for dag_id in sorted(set(kit.dags) & set(hand.dags)):
        a, b = kit.dags[dag_id], hand.dags[dag_id]
        for attr in ("description", "doc_md", "start_date", "catchup", "max_active_runs", "tags"):
            if getattr(a, attr) != getattr(b, attr):
                problems.append(f"{dag_id}.{attr} differs")
        [task_a], [task_b] = a.tasks, b.tasks
        if not issubclass(task_a.operator_class, task_b.operator_class):
            problems.append(f"{dag_id}: {task_a.operator_class} vs {task_b.operator_class}")
        for key in sorted((set(task_a.partial_kwargs) | set(task_b.partial_kwargs)) - KIT_ONLY):
            if task_a.partial_kwargs.get(key) != task_b.partial_kwargs.get(key):
                problems.append(f"{dag_id}.{key} differs")
        if task_a.expand_input.value != task_b.expand_input.value:
            problems.append(f"{dag_id}: the fan-out's arguments differ")
    return {"dags": len(kit.dags), "problems": problems[:20]}


def _forked(job: Any, *args: Any) -> dict[str, Any]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            payload = json.dumps(job(*args), default=str).encode()
        except BaseException as exc:
            payload = json.dumps({"seconds": None, "dags": 0, "errors": {"": repr(exc)}}).encode()
        with os.fdopen(write, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as src:
        data = src.read()
    os.waitpid(pid, 0)
    return dict(json.loads(data))


def main(spec: dict[str, Any]) -> dict[str, Any]:
    from importlib import metadata

    out: dict[str, Any] = {"airflow": metadata.version("apache-airflow")}
    out["import_airflow"] = _timed_import(["airflow"])
    sys.path.insert(0, spec["dags"])
    import hand_written_dags

    hand_folder = Path(spec["work"]) / f"hand-written-{out['airflow']}"
    hand_folder.mkdir(parents=True, exist_ok=True)
    hand_file = hand_folder / "hand_written_dags_100.py"
    out["hand_dags"] = _forked(
        lambda: {"n": hand_written_dags.write(Path(spec["hand"]), hand_file)}
    )
    from airflow.utils.file import iter_airflow_imports

    # What the DAG processor imports before parsing: its own modules, and the airflow.*
    # modules that each DAG file names (both files here, so that neither is favoured).
    named = {m for f in (spec["dag_file"], hand_file) for m in iter_airflow_imports(str(f))}
    preimport = ["airflow.dag_processing.processor", *sorted(named), "kit.dagtools.airflow_compat"]
    out["import_preimported"] = _timed_import(preimport)
    out["preimported"] = ["airflow", *preimport]
    out["same"] = _forked(_same_dags, spec["dags"], spec["configs"]["100"], str(hand_folder))
    variants = {**{n: (spec["dags"], path) for n, path in spec["configs"].items()}}
    variants[HAND] = (str(hand_folder), None)
    names = list(variants)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for rep in range(spec["reps"]):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            folder, config = variants[name]
            runs[name].append(_forked(_parse, folder, config, False))
            print(f"#3 {name} rep {rep + 1}: {runs[name][-1]['seconds']}", file=sys.stderr)
    out["runs"] = runs
    if spec.get("profile"):
        out["profile"] = _forked(_parse, spec["dags"], spec["configs"][spec["profile"]], True)
    return out


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    result = main(spec)
    with open(spec["out"], "w") as out:  # Airflow logs to stdout: the result goes to a file
        json.dump(result, out)
