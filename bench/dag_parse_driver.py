"""Measurement 3's driver, run by the Airflow environment's python (stdlib + Airflow only).

    .venv-airflow/bin/python bench/dag_parse_driver.py SPEC_JSON

Imports Airflow and the providers first and times that (the DAG processor pays it once),
then parses the DAG folder in a fork per parse, as Airflow 3's DAG processor does: each
parse starts from a process that has Airflow imported but none of the DAG's own modules.
SPEC: {"dags": folder, "dag_file": its DAG file, "configs": {"1": yaml, ...}, "reps": n,
"preimport": "providers" | "processor", "profile": "100" or null, "out": result file}.
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
from typing import Any

PROVIDER_MODULES = (
    "airflow.sdk",
    "airflow.providers.cncf.kubernetes.operators.pod",
    "airflow.providers.google.cloud.operators.kubernetes_engine",
    "kubernetes.client.models",
    "yaml",
)


def _timed_import(modules: list[str]) -> float:
    start = time.perf_counter()
    for module in modules:
        importlib.import_module(module)
    return time.perf_counter() - start


def _parse(dags: str, config: str, profile: bool) -> dict[str, Any]:
    """In the child: parse the folder once; seconds, DAG count, errors, optional profile."""
    from airflow.dag_processing.dagbag import DagBag

    os.environ["KIT_DAGS_CONFIG"] = config
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    bag = DagBag(dag_folder=dags, bundle_path=None, bundle_name="dags-folder")
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


def _forked(dags: str, config: str, profile: bool = False) -> dict[str, Any]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            payload = json.dumps(_parse(dags, config, profile)).encode()
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
    out: dict[str, Any] = {"preimport": spec["preimport"]}
    out["import_airflow"] = _timed_import(["airflow"])
    if spec["preimport"] == "providers":
        out["import_providers"] = _timed_import(list(PROVIDER_MODULES))
        out["preimported"] = ["airflow", *PROVIDER_MODULES]
    else:
        # What the DAG processor imports before forking: the airflow.* modules named in
        # the DAG file itself (parsing_pre_import_modules).
        from airflow.utils.file import iter_airflow_imports

        named = sorted(set(iter_airflow_imports(spec["dag_file"])))
        out["import_providers"] = _timed_import(named)
        out["preimported"] = ["airflow", *named]
    _timed_import(["airflow.dag_processing.dagbag"])
    sizes = list(spec["configs"])
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in sizes}
    for rep in range(spec["reps"]):
        shift = rep % len(sizes)
        for n in sizes[shift:] + sizes[:shift]:
            runs[n].append(_forked(spec["dags"], spec["configs"][n]))
            print(
                f"#3 {spec['preimport']} n={n} rep {rep + 1}: {runs[n][-1]['seconds']}",
                file=sys.stderr,
                flush=True,
            )
    out["runs"] = runs
    if spec.get("profile"):
        out["profile"] = _forked(spec["dags"], spec["configs"][spec["profile"]], profile=True)
    return out


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    result = main(spec)
    with open(spec["out"], "w") as out:  # Airflow logs to stdout: the result goes to a file
        json.dump(result, out)
