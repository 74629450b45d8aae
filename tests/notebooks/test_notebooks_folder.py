"""What JupyterLab leaves beside notebooks stays out of git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "path",
    [
        "notebooks/.ipynb_checkpoints/forecast-checkpoint.ipynb",  # JupyterLab's checkpoints
        "models/.ipynb_checkpoints/prophet_model-checkpoint.py",
        "notebooks/runs/forecast/daily-1.ipynb",  # runs opened in JupyterLab (kit.review.lab)
    ],
)
def test_jupyterlab_files_are_git_ignored(path: str) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT, check=False)
    assert done.returncode == 0, f"{path} is not ignored by .gitignore"
