"""`make demo`: the whole journey on the embedded defaults, on one machine.

embedded GCS up -> publish notebooks/forecast.ipynb and the model module
models/prophet_model.py -> run both DAGs locally (Airflow's dag.test(), one local
process per pod, each fanned out over two datasets) -> list the runs.
Safe to run again: the emulator is reused, publishing unchanged content is a no-op and
every DAG run gets fresh run ids. KIT_DEV_PORT and KIT_DEV_ROOT choose the emulator's
port and folder; without KIT_DEV_PORT, `kit dev up` takes port 4443, or a free port when
4443 is taken (and says which). The other KIT_* variables are dropped, so the demo uses
the defaults.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# (published name, file, what it is): a notebook and a model module, each with its own DAG.
JOBS = (
    ("forecast", "notebooks/forecast.ipynb", "the forecast notebook"),
    ("prophet_model", "models/prophet_model.py", "the same forecast as a model module"),
)
KEPT = ("KIT_DEV_PORT", "KIT_DEV_ROOT")


def step(title: str | None, *args: str, env: dict[str, str]) -> str:
    """Run one kit command as a user would type it, echoing it (unless untitled)."""
    if title:
        print(f"\n==> {title}\n$ {shlex.join(['kit', *args])}", flush=True)
    proc = subprocess.run(
        [str(BIN / "kit"), *args], env=env, cwd=ROOT, text=True, stdout=subprocess.PIPE, check=False
    )
    if title:
        print(proc.stdout, end="", flush=True)
    if proc.returncode != 0:
        sys.exit(f"demo: `kit {shlex.join(args)}` failed with exit code {proc.returncode}")
    return proc.stdout


def main() -> None:
    """Run the demo; exits non-zero at the first failing step."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_") or k in KEPT}
    step(
        "Start the embedded GCS (fake-gcs-server on 127.0.0.1, data in .kit/gcs)",
        "dev",
        "up",
        env=env,
    )
    exports = step(
        'Its environment (eval "$(.venv/bin/kit dev env)" in your shell)', "dev", "env", env=env
    )
    for line in exports.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0] if value else ""
    for _, path, what in JOBS:
        step(
            f"Publish {what} (an immutable version + the latest pointer)", "publish", path, env=env
        )
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    for name, _, what in JOBS:
        step(
            f"Run the DAG kit_{name} of {what} locally: one process per pod, two datasets",
            "dag",
            "test",
            f"kit_{name}",
            "--date",
            date,
            env=env,
        )
    step("The runs, newest first", "runs", env=env)
    print("\n==> Where to look")
    for name, _, _ in JOBS:
        runs = json.loads(step(None, "runs", name, "--json", env=env))
        for record in [r for r in runs if r.get("status") == "succeeded"][:2]:
            folder = record["output_url"].rsplit("/", 1)[0]
            print(f"  {name} {record['run_id']}: {record['parameters'].get('dataset_url', '')}")
            print(f"    executed notebook  {record['output_url']}")
            print(f"    forecast           {folder}/forecast.csv and {folder}/forecast.png")
            metrics = {
                k: v for k, v in record.get("metrics", {}).items() if not isinstance(v, list)
            }
            print(f"    metrics            {json.dumps(metrics)}")
    print(
        "\nOpen them:\n"
        '  eval "$(.venv/bin/kit dev env)"\n'
        "  .venv/bin/kit runs show forecast <run-id>      # record, metrics, failing cell\n"
        "  .venv/bin/kit runs diff prophet_model <a> <b>  # what changed between two runs\n"
        "  .venv/bin/kit runs show forecast <run-id> --open  # open it in JupyterLab (make lab)\n"
        "  .venv/bin/kit runs pull forecast --latest      # executed notebook -> runs/\n"
        "  .venv/bin/kit review                           # review page, http://127.0.0.1:8765\n"
        "  make lab                                       # JupyterLab, notebook environment\n"
        "Stop the emulator with `.venv/bin/kit dev down` (its data stays in .kit/gcs)."
    )


if __name__ == "__main__":
    main()
