"""The runtime image, built with Docker and run the way the pods run it.

`make test` builds the image first (`make image-for-tests`); the `image` fixture builds it
again, which is a no-op when nothing changed, so that `pytest tests/image` alone works
too. Where no Docker engine can be had (scripts/image.py exits 3), the tests that need
one skip with its one-line reason, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# RUNTIME_IMAGE, not KIT_*: kit refuses KIT_ variables it does not know.
IMAGE = os.environ.get("RUNTIME_IMAGE", "kit-runtime:local")
BUILD_TIMEOUT = 1800


@pytest.fixture(scope="session")
def image() -> str:
    """The image's tag, built from the working tree (cached layers make this quick)."""
    argv = [sys.executable, str(ROOT / "scripts" / "image.py"), "build", "--tag", IMAGE, "--quiet"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    if done.returncode == 3:
        reason = done.stderr.strip().splitlines()[-1]
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a Docker engine: {reason}")
        pytest.skip(reason)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stderr[-4000:]}"
    return IMAGE
