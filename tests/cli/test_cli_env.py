"""`kit env check`: the notebook environment must equal environment.yml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kit import envcheck

ROOT = Path(__file__).resolve().parents[2]


def test_installed_versions_match_environment_yml() -> None:
    drifts = envcheck.check(ROOT / "environment.yml")
    assert drifts == [], "\n".join(f"{d.name}: {d.pinned} != {d.installed}" for d in drifts)


def test_check_reports_drift_and_exits_1(tmp_path: Path) -> None:
    spec = tmp_path / "environment.yml"
    spec.write_text(
        (ROOT / "environment.yml").read_text().replace("papermill==2.7.0", "papermill==2.6.0")
        + "      - not-a-real-package-kit==1.0\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "kit.cli.main", "env", "check", "--spec", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "papermill: pinned 2.6.0, installed 2.7.0" in result.stdout
    assert "not-a-real-package-kit: pinned 1.0, installed missing" in result.stdout
    assert "2 package(s) differ" in result.stderr


def test_unpinned_requirement_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "environment.yml"
    spec.write_text("dependencies:\n  - python=3.11.7\n  - pip:\n      - pandas>=2\n")
    result = subprocess.run(
        [sys.executable, "-m", "kit.cli.main", "env", "check", "--spec", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"{spec}: 'pandas>=2' is not pinned exactly" in result.stderr


def test_laptop_only_tools_stay_out_of_environment_yml_and_move_no_pin() -> None:
    """requirements/lab.txt (JupyterLab, ...) is .venv-only: none of its packages is in
    environment.yml (so none is in the image), and what .venv has of it is what it pins."""
    lab = {
        envcheck.canonical(name): version
        for line in (ROOT / "requirements" / "lab.txt").read_text().splitlines()
        if not line.startswith("#")
        for name, version in [line.split("==")]
    }
    pins = envcheck.read_pins(ROOT / "environment.yml")
    assert {"jupyterlab", "nbdime", "nbconvert"} <= lab.keys()
    assert not lab.keys() & pins.keys()
    from importlib import metadata

    assert {name: metadata.version(name) for name in lab} == lab
