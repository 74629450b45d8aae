"""The GCS emulator (fake-gcs-server) as every client must see it: the one place for its
variables. Standard library only: the Airflow side (kit.dagtools) uses it too."""

from __future__ import annotations

from collections.abc import Mapping

EMULATOR_VAR = "STORAGE_EMULATOR_HOST"
# gcsfs (a notebook's pandas.read_csv("gs://...")) first probes the endpoint for gRPC and
# hierarchical namespaces; fake-gcs-server never answers, and every run stalls for minutes.
GCSFS_EMULATOR_VARS = {"GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}


def emulator_env(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of env with what gcsfs needs when env points at the emulator (values already
    in env win)."""
    out = dict(env)
    if out.get(EMULATOR_VAR):
        for key, value in GCSFS_EMULATOR_VARS.items():
            out.setdefault(key, value)
    return out
