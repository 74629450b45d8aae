"""What the DAGs' pods invoke exists in the notebook environment (= the image)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

from dag_helpers import NOTEBOOK_BIN, REPO


def test_pod_command_resolves_to_the_notebook_environment() -> None:
    from kit_dag_factory import COMMAND

    from kit.dagtools.process import local_argv

    # Everything after the image's init (tini --) is `kit run`.
    assert COMMAND[:2] == ["/opt/conda/bin/tini", "--"]
    argv = local_argv(SimpleNamespace(command=COMMAND, args=["x@latest"]), NOTEBOOK_BIN)
    assert argv == [str(NOTEBOOK_BIN / "kit"), "run", "x@latest"]
    kit = Path(argv[0])
    assert kit.is_file(), f"{kit} missing: run `make env`"
    assert os.access(kit, os.X_OK)


def test_kit_run_help_works_in_the_notebook_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "AIRFLOW"))}
    done = subprocess.run(
        [str(NOTEBOOK_BIN / "kit"), "run", "--help"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for option in ("--run-id", "--timeout"):
        assert option in done.stdout


def test_image_entrypoint_matches_the_dag_command() -> None:
    from kit_dag_factory import COMMAND

    dockerfile = (REPO / "image" / "Dockerfile").read_text()
    entrypoint = '["' + '", "'.join(COMMAND) + '"]'
    assert f"ENTRYPOINT {entrypoint}" in dockerfile
