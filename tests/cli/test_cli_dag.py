"""`kit dag test --airflow X.Y`: which Airflow environment runs the DAG."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from kit.cli.dag import airflow_python
from kit.dagtools.versions import AIRFLOW_VERSIONS, DEFAULT_AIRFLOW, venv_name
from kit.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


def test_the_makefile_builds_the_versions_kit_offers() -> None:
    makefile = (ROOT / "Makefile").read_text()
    [line] = re.findall(r"^AIRFLOW_VERSIONS := (.*)$", makefile, re.M)
    assert tuple(line.split()) == AIRFLOW_VERSIONS
    assert DEFAULT_AIRFLOW == "2.11"  # Cloud Composer 3's default build
    for version in AIRFLOW_VERSIONS:
        assert (ROOT / "requirements" / f"airflow-{version}.txt").is_file()


@pytest.mark.airflow  # the environments `make env` builds
@pytest.mark.parametrize("version", AIRFLOW_VERSIONS)
def test_each_version_has_its_environment(version: str) -> None:
    python = airflow_python(version)
    assert python == ROOT / venv_name(version) / "bin" / "python"
    assert python.exists()


def test_default_is_airflow_2_11_unless_the_variable_names_another(tmp_path: Path) -> None:
    assert airflow_python() == ROOT / ".venv-airflow" / "bin" / "python"
    other = tmp_path / "python"
    other.touch()
    assert airflow_python(explicit=str(other)) == other
    # --airflow wins over the variable.
    explicit = airflow_python("3.3", explicit=str(other))
    assert explicit == ROOT / ".venv-airflow-3.3" / "bin" / "python"
    with pytest.raises(UsageError, match="KIT_AIRFLOW_PYTHON=/nope: no such file"):
        airflow_python(explicit="/nope")


def test_an_unknown_version_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kit.cli.main", "dag", "test", "kit_forecast", "--airflow", "2.10"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "'2.10' is not one of '2.11', '3.2', '3.3'" in done.stderr
