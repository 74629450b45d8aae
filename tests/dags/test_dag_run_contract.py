"""The DAG side's copy of the run contract works where the DAGs run: the standard library
only (no kit, no site-packages), the same answers as kit's module."""

from __future__ import annotations

import json
import subprocess
import sys

from dag_helpers import DAGS

PROBE = """
import json, sys
sys.path.insert(0, {dags!r})
import kit_run_contract as c
print(json.dumps({{
    "schema": c.SCHEMA,
    "record": c.run_url("gs://out", "forecast", "r1", c.RECORD_FILE),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("kit", "airflow", "yaml")),
}}))
"""


def test_the_contract_copy_imports_with_the_standard_library_alone() -> None:
    # -S: no site-packages at all; -I: no user site or PYTHON* variables.
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-c", PROBE.format(dags=str(DAGS))],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found == {
        "schema": "kit.run/2",
        "record": "gs://out/runs/forecast/r1/run.json",
        "modules": [],
    }
