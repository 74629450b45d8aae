"""Run the production DAGs locally: `kit dag test` (python -m kit.dagtools test DAG_ID).

Runs in the Airflow environment (.venv-airflow), so it imports only the standard
library and Airflow: the notebook side (papermill, prophet, kit.run ...) lives in the
notebook environment, which each stand-in pod runs as a separate process.
"""

from __future__ import annotations
