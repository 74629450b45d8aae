"""dags/ parses cleanly, with nothing but Airflow, its providers, the stdlib, yaml and pydantic."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dag_helpers import DAGS, load_dags

# Parses dags/ in a fresh interpreter whose sockets refuse to connect or resolve names,
# then reports what got imported. The google provider pulls in pandas at *import* in
# some versions; the point is that parsing dags/ does not.
PROBE = """
import json, socket, sys
KIT_COMPAT = "kit.dagtools.airflow_compat"
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[1:] if args and isinstance(args[0], socket.socket) else args))
    raise OSError("network access while parsing dags/")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.getaddrinfo = refuse
socket.create_connection = refuse
from pathlib import Path
from kit.dagtools.airflow_compat import dag_bag
bag = dag_bag(Path(sys.argv[1]))
forbidden = sorted(
    m for m in sys.modules
    if m.split(".")[0] in {"pandas", "prophet", "papermill"}
    or (m.split(".")[0] == "kit" and m not in {"kit", "kit.dagtools", KIT_COMPAT})
)
print("PROBE" + json.dumps({
    "errors": bag.import_errors, "dags": sorted(bag.dags), "forbidden": forbidden,
    "network": attempts,
}))
"""


def _cron(timetable: Any) -> str:
    """A cron timetable's expression: Airflow 3's SDK timetable holds it as `expression`,
    Airflow 2's gives it as its `summary`."""
    return str(getattr(timetable, "expression", None) or timetable.summary)


def test_dagbag_has_one_dag_per_notebook_and_no_import_errors() -> None:
    # The expectation is read from notebooks.yaml with plain yaml, not with kit_dag_config
    # (which the DAGs are built from): a loader that dropped an entry, or a setting, fails.
    raw = yaml.safe_load((DAGS / "notebooks.yaml").read_text())
    defaults = raw["defaults"]
    entries = {f"kit_{entry['name']}": entry for entry in raw["notebooks"]}
    assert sorted(entries) == ["kit_forecast", "kit_prophet_model"]  # what the file holds

    dags = load_dags()
    assert sorted(dags) == sorted(entries)
    for dag_id, entry in entries.items():
        dag = dags[dag_id]
        [task] = dag.tasks
        assert task.task_id == entry["name"]
        assert dag.description == entry["description"]
        assert _cron(dag.timetable) == entry["schedule"]
        assert set(dag.tags) == {"kit", *defaults["tags"], *entry.get("tags", [])}
        assert dag.catchup is entry.get("catchup", defaults["catchup"]) is False
        assert task.owner == entry.get("owner", defaults["owner"])
        assert task.retries == entry.get("retries", defaults["retries"])
        assert task.max_active_tis_per_dagrun == entry.get("max_parallel")


def test_notebook_side_packages_are_absent_from_the_airflow_environment() -> None:
    # The parse test below proves something only because these cannot be imported here.
    for name in ("prophet", "papermill"):
        assert importlib.util.find_spec(name) is None, f"{name} is installed in .venv-airflow"


def test_parsing_imports_nothing_forbidden_and_uses_no_network(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONNOUSERSITE": "1"}
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(DAGS)],
        env=env,
        # Not the repository: nothing of kit's is importable by accident (the probe itself
        # uses kit.dagtools' DagBag, as `kit dag test` does; the DAGs must import nothing).
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("PROBE"))
    report = json.loads(line[len("PROBE") :])
    assert report["errors"] == {}
    assert report["dags"] == ["kit_forecast", "kit_prophet_model"]
    assert report["forbidden"] == []
    assert report["network"] == []


@pytest.mark.parametrize(
    ("mode", "extra", "class_name"),
    [
        ("in_cluster", "", "KitPodOperator"),
        ("kubeconfig", "  config_file: /home/airflow/composer_kube_config\n", "KitPodOperator"),
        (
            "gke",
            "  project: p-1\n  location: europe-west1\n  cluster_name: kit-runs\n",
            "KitGKEStartPodOperator",
        ),
    ],
)
def test_cluster_mode_chooses_the_operator(
    mode: str, extra: str, class_name: str, tmp_path: Path
) -> None:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kit_dag_config import load_config
    from kit_dag_factory import build_dags

    text = (DAGS / "notebooks.yaml").read_text()
    head, _, rest = text.partition("cluster:\n")
    _, _, rest = rest.partition("\nsettings:")
    path = tmp_path / "notebooks.yaml"
    path.write_text(f"{head}cluster:\n  mode: {mode}\n{extra}\nsettings:{rest}")
    dag = build_dags(load_config(path, environ={}))["kit_forecast"]
    task = dag.get_task("forecast")
    operator_class = task.operator_class
    assert operator_class.__name__ == class_name
    assert issubclass(operator_class, KubernetesPodOperator)
    kwargs = task.partial_kwargs
    if mode == "gke":
        assert (kwargs["project_id"], kwargs["location"], kwargs["cluster_name"]) == (
            "p-1",
            "europe-west1",
            "kit-runs",
        )
    else:
        assert kwargs["in_cluster"] is (mode == "in_cluster")
        assert kwargs.get("config_file") == (
            "/home/airflow/composer_kube_config" if mode == "kubeconfig" else None
        )


def test_helpers_are_ignored_as_dag_files() -> None:
    lines = (DAGS / ".airflowignore").read_text().splitlines()
    ignored = {line for line in lines if line and not line.startswith("#")}
    helpers = {p.name for p in DAGS.glob("*.py")} - {"kit_notebooks.py"}
    assert helpers == ignored


def test_catchup_is_a_setting(tmp_path: Path) -> None:
    from dag_helpers import BASE_CONFIG
    from kit_dag_config import load_config
    from kit_dag_factory import build_dags

    path = tmp_path / "notebooks.yaml"
    path.write_text(
        BASE_CONFIG.replace("retry_delay: 1s", "retry_delay: 1s\n  catchup: true")
        + "  - {name: backfilled, schedule: '@daily'}\n"
        + "  - {name: current, schedule: '@daily', catchup: false}\n"
    )
    dags = build_dags(load_config(path, environ={}))
    assert dags["kit_backfilled"].catchup is True
    assert dags["kit_current"].catchup is False
