"""`kit run` as a subprocess, the way a pod runs it, against the test buckets."""

from __future__ import annotations

import os
import subprocess
import sys

from kit.config import Settings

KIT = [sys.executable, "-m", "kit.cli.main"]


def kit_env(settings: Settings, **extra: str) -> dict[str, str]:
    """This environment without the developer's KIT_* settings, pointed at settings' buckets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env.update(
        KIT_OUTPUTS_BUCKET=settings.outputs_bucket,
        KIT_MODULES_BUCKET=settings.modules_bucket,
        KIT_RETRY_DEADLINE="5",
        **extra,
    )
    return env


def run_kit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the kit CLI to completion; its output captured as text."""
    return subprocess.run(
        [*KIT, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
