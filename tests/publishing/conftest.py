"""Notebook builders and bucket probes shared by the publishing tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from kit.config import Settings
from kit.storage import storage_for

ROOT = Path(__file__).resolve().parents[2]
FORECAST = ROOT / "notebooks" / "forecast.ipynb"

PARAMS_SOURCE = 'horizon = 30  # periods ahead\nlabel = "demo"\nwidth = 0.8  # interval\n'
NotebookFactory = Callable[..., Path]


def build_notebook(
    params: str | None = PARAMS_SOURCE,
    body: str = "result = horizon * 2\nprint(label, result)",
    *,
    extra_cells: list[Any] | None = None,
    kernelspec: dict[str, str] | None = None,
) -> Any:
    """A small, valid v4 notebook with outputs (to be stripped) and a publish cell."""
    cells: list[Any] = [new_markdown_cell("# Demo")]
    if params is not None:
        cells.append(new_code_cell(params, metadata={"tags": ["parameters"]}))
    code = new_code_cell(body, execution_count=3, metadata={"execution": {"iopub.x": "t"}})
    code.outputs = [new_output("stream", name="stdout", text="demo 60\n")]
    cells.append(code)
    cells.extend(extra_cells or [])
    cells.append(new_code_cell("import kit\nkit.publish()", execution_count=4))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = kernelspec or {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


@pytest.fixture
def make_notebook(tmp_path: Path) -> NotebookFactory:
    """Write build_notebook(**kwargs) to tmp_path/<filename> and return its path."""

    def make(filename: str = "demo.ipynb", **kwargs: Any) -> Path:
        path = tmp_path / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build_notebook(**kwargs), path)
        return path

    return make


@pytest.fixture
def notebook_builder() -> Callable[..., Any]:
    """build_notebook, for tests that edit the notebook before writing it."""
    return build_notebook


@pytest.fixture
def modules_objects(gcs_settings: Settings) -> Callable[[], list[str]]:
    """Lists every object URL in the (fresh) modules bucket."""
    prefix = gcs_settings.modules_bucket.rstrip("/") + "/"
    return lambda: [info.url for info in storage_for(prefix).list(prefix)]


@pytest.fixture
def kit_env(gcs_settings: Settings) -> dict[str, str]:
    """Environment for a `kit` subprocess talking to the test emulator and buckets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env["KIT_MODULES_BUCKET"] = gcs_settings.modules_bucket
    env["KIT_OUTPUTS_BUCKET"] = gcs_settings.outputs_bucket
    env["KIT_DATA_BUCKET"] = gcs_settings.data_bucket
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def kit_cmd() -> list[str]:
    """The `kit` CLI as a subprocess command."""
    return [sys.executable, "-m", "kit.cli.main"]


@pytest.fixture
def kit_run(
    kit_cmd: list[str], kit_env: dict[str, str], tmp_path: Path
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `kit ARGS...` as a subprocess in tmp_path, on the test buckets."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*kit_cmd, *args],
            env=kit_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run
