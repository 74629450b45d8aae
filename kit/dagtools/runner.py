"""`kit dag test`: one DAG run with Airflow's dag.test(), pods as local processes.

The Airflow metadata DB is SQLite under $AIRFLOW_HOME (default <repo>/.kit/airflow-X.Y,
one per Airflow version, since a DB migrated by one version cannot serve another),
created with `airflow db migrate` the first time. configure() must run before Airflow
is imported, since Airflow reads its configuration at import.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from kit.config import load_settings
from kit.dagtools import docker_pod
from kit.dagtools.local_pod import Starter, local_pods
from kit.dagtools.process import LocalPod, LocalPodError, LocalSettings, start_pod
from kit.run_contract import OUTPUT_FILE, run_url
from kit.storage.emulator import EMULATOR_VAR

STAMP = ".kit-db-migrated"
# The Airflow connection the DAGs' finisher and notifiers read and write the outputs bucket
# with (notebooks.yaml cluster.gcp_conn_id, by default this one).
GCP_CONN_VAR = "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"


def emulator_connection(env: MutableMapping[str, str]) -> None:
    """Against the embedded GCS (STORAGE_EMULATOR_HOST), give Airflow's default Google
    Cloud connection anonymous credentials (the google provider's `is_anonymous` extra):
    the GCS client then talks to the emulator and needs no account. A connection the
    developer defined is kept; without an emulator nothing changes."""
    if env.get(EMULATOR_VAR) and GCP_CONN_VAR not in env:
        project = env.get("KIT_PROJECT") or "kit-local"
        extra = {"is_anonymous": True, "project": project}
        env[GCP_CONN_VAR] = json.dumps({"conn_type": "google_cloud_platform", "extra": extra})


@dataclass(frozen=True)
class Paths:
    """Where the DAGs, the notebook environment and Airflow's state are."""

    repo: Path
    airflow_home: Path
    dags: Path
    notebook_bin: Path


def repo_root() -> Path:
    """The kit checkout: the one kit is installed from (editable), else the working directory."""
    for candidate in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (candidate / "dags").is_dir():
            return candidate
    return Path.cwd()


def configure(environ: MutableMapping[str, str] | None = None) -> Paths:
    """Default Airflow's settings for a local run (explicit variables win)."""
    env = os.environ if environ is None else environ
    repo = repo_root()
    major_minor = ".".join(metadata.version("apache-airflow").split(".")[:2])
    env.setdefault("AIRFLOW_HOME", str(repo / ".kit" / f"airflow-{major_minor}"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(repo / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    emulator_connection(env)
    # KIT_NOTEBOOK_PYTHON, through kit's settings (standard library only, like this module).
    settings = load_settings(environ=env)
    notebook_python = settings.notebook_python or str(repo / ".venv" / "bin" / "python")
    return Paths(
        repo=repo,
        airflow_home=Path(env["AIRFLOW_HOME"]),
        dags=Path(env["AIRFLOW__CORE__DAGS_FOLDER"]),
        # The `kit` console script next to the notebook environment's python.
        notebook_bin=Path(notebook_python).parent,
    )


def ensure_db(paths: Paths, out: TextIO = sys.stderr) -> None:
    """Run `airflow db migrate` unless this Airflow version already migrated this home."""
    version = metadata.version("apache-airflow")
    stamp = paths.airflow_home / STAMP
    if (
        (paths.airflow_home / "airflow.db").exists()
        and stamp.is_file()
        and stamp.read_text() == version
    ):
        return
    paths.airflow_home.mkdir(parents=True, exist_ok=True)
    print(f"kit: preparing the Airflow metadata DB in {paths.airflow_home} (once)", file=out)
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{done.stdout}{done.stderr}")
    stamp.write_text(version)


def load_dag(paths: Paths, dag_id: str) -> Any:
    """The DAG, parsed from the DAG folder as the scheduler would; SystemExit(2) if broken."""
    from kit.dagtools.airflow_compat import dag_bag

    bag = dag_bag(paths.dags)
    if bag.import_errors:
        for file, error in bag.import_errors.items():
            print(f"kit: error: cannot import {file}:\n{error}", file=sys.stderr)
        raise SystemExit(2)
    dag = bag.dags.get(dag_id)
    if dag is None:
        known = ", ".join(sorted(bag.dags)) or "none"
        print(f"kit: error: no DAG {dag_id!r} in {paths.dags} (DAGs: {known})", file=sys.stderr)
        raise SystemExit(2)
    return dag


def parse_date(text: str | None) -> datetime | None:
    """A logical date from YYYY-MM-DD or an ISO datetime (UTC unless it says otherwise)."""
    if not text:
        return None
    from kit.dagtools.airflow_compat import timezone

    try:
        parsed: datetime = timezone.parse(text, strict=True)
    except Exception:
        print(
            f"kit: error: --date {text!r} is not a date (YYYY-MM-DD or ISO 8601)", file=sys.stderr
        )
        raise SystemExit(2) from None
    return parsed


def summary(dag_run: Any, pods: dict[Any, LocalPod], out: TextIO) -> None:
    """One line per attempt: task, map index, try, exit code, run id and output URL."""
    print(f"DAG run {dag_run.run_id}: {dag_run.state}", file=out)
    for (_, _, task_id, map_index, try_number), pod in sorted(pods.items()):
        item = f"[{map_index}]" if map_index >= 0 else ""
        outputs = pod.env.get("KIT_OUTPUTS_BUCKET", "")
        url = run_url(outputs, pod.notebook, pod.run_id, OUTPUT_FILE)
        print(
            f"  {task_id}{item} try {try_number}: exit {pod.exit_code} run {pod.run_id} -> {url}",
            file=out,
        )


def starter(pods: str, image: str | None) -> Starter:
    """How each pod runs: a local process, or a container of the locally built image."""
    if pods == "process":
        return start_pod
    image = image or docker_pod.DEFAULT_IMAGE
    try:
        docker_pod.check_image(image)
    except (LocalPodError, OSError) as exc:
        print(f"kit: error: --pods docker: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return functools.partial(docker_pod.start_pod, image=image)


def run(
    dag_id: str,
    date: str | None = None,
    *,
    retries: bool = False,
    pods: str = "process",
    image: str | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Run one DAG run locally; 0 when it succeeded, 1 when it failed."""
    start = starter(pods, image)
    paths = configure()
    ensure_db(paths)
    logical_date = parse_date(date)
    dag = load_dag(paths, dag_id)
    if not retries:
        # A failed local run should report at once, not wait out retry delays.
        for task in dag.tasks:
            task.retries = 0
    settings = LocalSettings(
        notebook_bin=paths.notebook_bin, work_dir=paths.airflow_home / "local-pods"
    )
    from kit.dagtools.airflow_compat import run_dag_test

    with local_pods(settings, start) as registry:
        dag_run = run_dag_test(dag, logical_date)
    # After local_pods() has stopped and reaped every process: exit codes are final.
    summary(dag_run, registry.pods, out)
    if registry.interrupted:
        print("kit: interrupted; every local process was stopped", file=sys.stderr)
        return 130
    return 0 if str(dag_run.state) in ("success", "DagRunState.SUCCESS") else 1
