"""The Airflow versions kit's DAGs run on, and where each one's environment is.

Standard library only: the CLI (notebook environment) reads this to find the Airflow
environment's python for `kit dag test --airflow X.Y`. The Makefile builds the same list
(AIRFLOW_VERSIONS), each from requirements/airflow-X.Y.txt.
"""

from __future__ import annotations

from pathlib import Path

# Airflow 2.11: Cloud Composer 3's default build and Composer 2's latest images.
# 3.2: Composer 3's Airflow 3 builds. 3.3: upstream's latest.
AIRFLOW_VERSIONS = ("2.11", "3.2", "3.3")
DEFAULT_AIRFLOW = AIRFLOW_VERSIONS[0]


def venv_name(version: str) -> str:
    """The environment's directory: .venv-airflow for the default, else .venv-airflow-X.Y."""
    return ".venv-airflow" if version == DEFAULT_AIRFLOW else f".venv-airflow-{version}"


def venv_python(base: Path, version: str) -> Path:
    """The python of that Airflow environment under a checkout."""
    return base / venv_name(version) / "bin" / "python"
