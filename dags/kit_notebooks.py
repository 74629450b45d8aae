"""One Airflow DAG per notebook listed in notebooks.yaml (next to this file).

Set KIT_DAGS_CONFIG to read another file. A malformed file is an import error of this
module that names the file and every bad entry. See kit_dag_factory for what each DAG
does, and docs/deploy.md for the cluster it runs on.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Named here so that Airflow's DAG processor, which pre-imports the `airflow.*` modules a
# DAG file names before it forks a parser, pays for the providers once rather than on
# every parse (kit_dag_factory imports them itself, out of the processor's sight).
import airflow.providers.cncf.kubernetes.operators.pod
import airflow.providers.google.cloud.operators.kubernetes_engine  # noqa: F401

# Airflow puts the DAG bundle's folder on sys.path; a bare DagBag (tests, tooling) does
# not, so make the helper modules next to this file importable either way.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)

from kit_dag_factory import build_dags  # noqa: E402

globals().update(build_dags())
