"""DAG tests. They run in each Airflow environment: .venv-airflow/bin/python -m pytest tests/dags
(Airflow 2.11), and the same with .venv-airflow-3.2 and .venv-airflow-3.3 (`make test` runs all).

Airflow reads its configuration when it is first imported, so this file points it at a
throw-away AIRFLOW_HOME (SQLite metadata DB, one per session) and at the repository's
dags/ before any test module imports Airflow.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dag_helpers import DAGS, FAKE_KIT, Inbox, embedded_gcs, free_port, migrated_db, smtp_connection

_HOME = Path(tempfile.mkdtemp(prefix="kit-dags-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# The helper modules of dags/ (kit_dag_config, kit_dag_factory) are imported directly too.
sys.path.insert(0, str(DAGS))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def outputs_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The embedded GCS with the default buckets (gs://kit-outputs, ...) for the DAG runs
    of this session: the finisher writes the records the pods did not, through the
    anonymous Airflow connection `kit dag test` also defines."""
    from kit.dagtools.runner import GCP_CONN_VAR, emulator_connection

    with embedded_gcs(tmp_path_factory.mktemp("outputs-gcs")) as env:
        saved = {k: os.environ.get(k) for k in ("STORAGE_EMULATOR_HOST", GCP_CONN_VAR)}
        os.environ.pop(GCP_CONN_VAR, None)
        os.environ["STORAGE_EMULATOR_HOST"] = env["STORAGE_EMULATOR_HOST"]
        os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
        emulator_connection(os.environ)
        try:
            yield env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="session")
def airflow_db(outputs_gcs: dict[str, str]) -> Path:
    """The session's own metadata DB (a copy of one migrated once per Airflow version),
    with the embedded GCS the DAG runs' finisher writes to."""
    from kit.dagtools import runner

    paths = runner.configure()
    assert paths.airflow_home == _HOME
    migrated_db(_HOME)
    runner.ensure_db(paths)  # finds it migrated by this Airflow version: nothing to do
    return _HOME


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Write a notebooks.yaml and point KIT_DAGS_CONFIG at it."""

    def write(text: str) -> Path:
        path = tmp_path / "notebooks.yaml"
        path.write_text(text)
        monkeypatch.setenv("KIT_DAGS_CONFIG", str(path))
        return path

    return write


@pytest.fixture
def fake_kit(tmp_path: Path) -> Path:
    """A bin/ directory whose `kit` records its arguments and environment."""
    bin_dir = tmp_path / "fake-env" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "kit"
    script.write_text(FAKE_KIT.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd), reachable as Airflow connection
    smtp_default; its messages, once received."""
    from aiosmtpd.controller import Controller

    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection(controller.port))
    try:
        yield handler
    finally:
        controller.stop()


def pytest_configure(config: pytest.Config) -> None:
    # Airflow's own .airflowignore parsing warns about its pathspec usage; not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore:GitWildMatchPattern:DeprecationWarning")
