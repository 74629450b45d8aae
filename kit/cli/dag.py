"""`kit dag`: run the production DAGs locally.

The DAGs need Airflow, which lives in its own environments (.venv-airflow for Airflow
2.11, .venv-airflow-3.2, .venv-airflow-3.3), apart from the notebook environment this CLI
runs in; so `kit dag test` runs `<airflow python> -m kit.dagtools test ...` as a
subprocess. `--airflow X.Y` picks the environment; KIT_AIRFLOW_PYTHON names any other
Airflow environment's python (used when --airflow is not given).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import click

from kit.cli.common import KitGroup, settings
from kit.dagtools.versions import AIRFLOW_VERSIONS, DEFAULT_AIRFLOW, venv_python
from kit.errors import UsageError

app = KitGroup("dag", help="Run the Airflow DAGs of dags/ locally.", no_args_is_help=True)

AIRFLOW_PYTHON_ENV = "KIT_AIRFLOW_PYTHON"


def airflow_python(
    version: str | None = None, explicit: str | None = None, cwd: Path | None = None
) -> Path:
    """The python of the Airflow `version` environment (default: explicit, from settings'
    $KIT_AIRFLOW_PYTHON, else Airflow 2.11), next to the kit checkout (kit is installed
    editable) or in the working directory."""
    if version is None and explicit:
        path = Path(explicit)
        if not path.exists():
            raise UsageError(f"{AIRFLOW_PYTHON_ENV}={explicit}: no such file")
        return path
    version = version or DEFAULT_AIRFLOW
    repo = Path(__file__).resolve().parents[2]
    candidates = [venv_python(base, version) for base in (repo, cwd or Path.cwd())]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise UsageError(
        f"no Airflow {version} environment at {candidates[0]}: run `make env`, "
        f"or set {AIRFLOW_PYTHON_ENV}"
    )


@app.command("test")
@click.argument("dag_id", help="The DAG to run, e.g. kit_forecast.")
@click.option("--date", help="Logical date, YYYY-MM-DD or ISO 8601 (default: now).")
@click.option(
    "--retries", is_flag=True, help="Keep the DAG's retries (default: a failure ends the run)."
)
@click.option(
    "--airflow",
    "version",
    type=click.Choice(AIRFLOW_VERSIONS),
    help=f"The Airflow version to run on (default: {DEFAULT_AIRFLOW}, as Cloud Composer 3's "
    "default build; or $KIT_AIRFLOW_PYTHON's).",
)
@click.option(
    "--pods",
    type=click.Choice(["process", "docker"]),
    default="process",
    show_default=True,
    help="Run each pod as a local `kit run` process, or as a container of the runtime image.",
)
@click.option(
    "--image",
    help="With --pods docker: the local image to run [default: kit-runtime:local, `make image`].",
)
def dag_test(
    dag_id: str, date: str | None, retries: bool, version: str | None, pods: str, image: str | None
) -> None:
    """Run one DAG run with Airflow's dag.test(); each pod runs as a local `kit run`, or
    with --pods docker as a container with the pod's command, env, user and limits.

    Uses the embedded GCS and buckets from the environment (eval "$(kit dev env)").
    Exits 0 when the DAG run succeeded.
    """
    if image and pods != "docker":
        raise UsageError("--image applies to --pods docker only")
    python = airflow_python(version, settings().airflow_python)
    argv = [str(python), "-m", "kit.dagtools", "test", dag_id, "--pods", pods]
    if date:
        argv += ["--date", date]
    if retries:
        argv.append("--retries")
    if image:
        argv += ["--image", image]
    # Not subprocess.call: on Ctrl-C it would SIGKILL the runner before the runner
    # stops the notebook processes it started.
    proc = subprocess.Popen(argv)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        # The runner got the same Ctrl-C; let it stop its processes and exit.
        code = proc.wait()
    raise click.exceptions.Exit(code)
