"""One Airflow DAG per notebook listed in notebooks.yaml (next to this file).

Set KIT_DAGS_CONFIG to read another file. A malformed file is an import error of this
module that names the file and every bad entry. See kit_dag_factory for what each DAG
does, and docs/deploy.md for the cluster it runs on.

The helper modules (kit_dag_*.py, kit_airflow_compat.py) are imported by name: Airflow
puts the DAGs folder (Airflow 3: the DAG bundle's root) on sys.path, so they must sit at
its top, next to this file. Each DAG registers itself when its `with DAG(...)` block
ends (Airflow's DAG auto-registration), so nothing is assigned to this module's globals.
"""

from __future__ import annotations

# Named here so that Airflow's DAG processor, which imports the `airflow.*` modules a DAG
# file names before it starts parsing it (parsing_pre_import_modules), pays for the
# providers once rather than on every parse: kit_dag_factory imports them out of its sight.
import airflow.providers.cncf.kubernetes.operators.pod
import airflow.providers.google.cloud.operators.kubernetes_engine  # noqa: F401
from kit_dag_factory import build_dags

build_dags()
