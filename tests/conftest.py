"""Session-wide real services: one fake-gcs-server shared by every test that needs GCS."""

from __future__ import annotations

import importlib.util
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gcs_support import fresh_settings
from lab_support import Lab, running_lab
from record_support import bucket_problems, folder_problems

from kit import dev
from kit.config import Settings
from kit.storage.emulator import EMULATOR_VAR, emulator_env

ROOT = Path(__file__).resolve().parent.parent
# tests/dags runs in .venv-airflow (the Airflow environment); elsewhere it is not collected.
collect_ignore = [] if importlib.util.find_spec("airflow") else ["dags"]


# The fast tier's markers that follow from where a test lives (pyproject.toml registers
# them; modules elsewhere mark themselves): tests/dags runs Airflow, tests/image the image.
FOLDER_MARKERS = {"dags": "airflow", "image": "image"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(ROOT / "tests").parts[0]
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dev.Server]:
    """A real fake-gcs-server on loopback, with the embedded default buckets provisioned."""
    root = tmp_path_factory.mktemp("gcs")
    server = dev.start(root, _free_port())
    emulator = emulator_env({EMULATOR_VAR: server.url})
    saved = {k: os.environ.get(k) for k in emulator}
    os.environ.update(emulator)
    dev.provision(server, Settings())
    _GCS_ROOTS.append(root)
    yield server
    try:
        # Every run record the tests wrote to GCS (the runner's, the helpers') must match
        # kit/run_contract.schema.json.
        found = list(bucket_problems())
    finally:
        dev.stop(root)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    assert not found, "invalid run records:\n" + "\n".join(found)


_GCS_ROOTS: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def _local_records_are_valid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every run record the tests wrote to local folders must match the JSON Schema."""
    yield
    base = tmp_path_factory.getbasetemp()
    found = [p for p in folder_problems(base) if not any(str(r) in p for r in _GCS_ROOTS)]
    assert not found, "invalid run records:\n" + "\n".join(found)


@pytest.fixture(scope="session")
def jupyterlab(gcs_server: dev.Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The real `make lab`, once per session, on the emulator's default buckets (as after
    `eval "$(kit dev env)"`; no other test writes to them)."""
    base = tmp_path_factory.mktemp("lab")
    with running_lab(base, gcs_server, Settings()) as lab:
        yield lab


@pytest.fixture
def bucket(gcs_server: dev.Server) -> str:
    """A fresh, empty gs:// bucket on the shared emulator."""
    from google.cloud import storage as gcs

    name = f"t-{uuid.uuid4().hex[:16]}"
    gcs.Client().create_bucket(name)
    return f"gs://{name}"


@pytest.fixture
def gcs_settings(gcs_server: dev.Server) -> Settings:
    """Settings whose three buckets are fresh and empty (data seeded with the examples)."""
    return fresh_settings(gcs_server)


@pytest.fixture(autouse=True)
def _no_stray_kit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's exported KIT_* settings must not leak into tests.
    for key in list(os.environ):
        if key.startswith("KIT_"):
            monkeypatch.delenv(key)


@pytest.fixture
def make_notebook(tmp_path: Path) -> Callable[..., Path]:
    """Write a small real notebook: a `parameters` cell, then one code cell per source."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    def make(name: str, *sources: str, params: str = "x = 1\nlabel = 'a'") -> Path:
        cells = [new_code_cell(params, metadata={"tags": ["parameters"]})]
        cells += [new_code_cell(src) for src in sources]
        nb = new_notebook(
            cells=cells,
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
            },
        )
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, path)
        return path

    return make


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on."""
    return _free_port()
