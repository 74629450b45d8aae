"""Settings, resolved once into a frozen object and passed down.

Precedence, highest first: explicit overrides (CLI flags), `KIT_*` environment
variables, kit.toml (KIT_CONFIG, else ./kit.toml when present), embedded defaults.
Nothing here runs at import time.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.errors import ConfigError, did_you_mean
from kit.run_contract import join

LOG_FORMATS = ("auto", "text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


@dataclass(frozen=True)
class Settings:
    """Where notebooks, runs and data live, and how kit runs and reports.

    Every `KIT_*` variable kit reads is a field here (KIT_<FIELD>), except KIT_CONFIG, which
    names the kit.toml the fields are read from.
    """

    modules_bucket: str = "gs://kit-modules"
    outputs_bucket: str = "gs://kit-outputs"
    data_bucket: str = "gs://kit-data"
    retry_deadline: float = 60.0
    # `kit run`: seconds a stopped run (SIGTERM, --timeout) has to save and write run.json.
    grace_seconds: float = 30.0
    # How `kit run` reports progress, and kit's log lines: auto (a bar on a terminal, else
    # text lines), text, json (kit.runner.progress).
    log_format: str = "auto"
    # kit's log on stderr (the `kit` logger); `kit -v` is DEBUG.
    log_level: str = "WARNING"
    # Recorded in run.json: the pod's name and its image (the DAG sets both in every pod).
    pod_name: str | None = None
    image: str | None = None
    # `kit dev`: the embedded GCS's data folder and port (None: kit.dev's defaults).
    dev_root: str | None = None
    dev_port: int | None = None
    # `kit dag test`: the Airflow environment's python (None: .venv-airflow, see kit.cli.dag),
    # and, in that environment, the notebook environment's python (kit.dagtools.runner).
    airflow_python: str | None = None
    notebook_python: str | None = None

    def url(self, bucket: str, *parts: str) -> str:
        """Join path parts under one of the bucket settings (by field name)."""
        return join(str(getattr(self, bucket)), *parts)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
CONFIG_VAR = "KIT_CONFIG"
# Set by `kit run` in its kernel's environment: the run a notebook belongs to.
RUN_ID_VAR = "KIT_RUN_ID"
# KIT_* variables kit accepts without reading them (not settings, never "unknown").
FOREIGN_KIT_VARS = {
    RUN_ID_VAR: "set by `kit run` for the notebook it runs",
    "KIT_DAGS_CONFIG": "read by the DAGs (dags/), in the Airflow environment",
    # The DAGs set these in every pod (dags/kit_dag_factory.py); kit does not need them, but
    # an image must run under the DAGs deployed with it and with earlier ones.
    "KIT_PROJECT": "set in pods by the DAGs, unused",
    "KIT_NAMESPACE": "set in pods by the DAGs, unused",
}


def env_var(field: str) -> str:
    """The environment variable that sets a settings field."""
    return "KIT_" + field.upper()


def _check_text(field: str, value: str, source: str) -> str:
    value = value.strip()
    if not value:
        raise ConfigError(f"{source}: {field} is empty")
    if field == "log_format" and value not in LOG_FORMATS:
        raise ConfigError(f"{source}: log_format {value!r} must be one of {', '.join(LOG_FORMATS)}")
    if field == "log_level":
        if value.upper() not in LOG_LEVELS:
            raise ConfigError(
                f"{source}: log_level {value!r} must be one of {', '.join(LOG_LEVELS)}"
            )
        return value.upper()
    if not field.endswith("_bucket"):
        return value
    if "://" in value:
        scheme, _, rest = value.partition("://")
        if scheme == "gs":
            name = rest.split("/", 1)[0]
            if not _BUCKET_NAME.match(name):
                raise ConfigError(f"{source}: {field} {value!r} is not a valid gs:// bucket URL")
        elif scheme != "file":
            raise ConfigError(f"{source}: {field} {value!r} must be gs://, file:// or a path")
    return value


def _coerce(field: str, raw: Any, source: str) -> Any:
    ftype = str(_FIELDS[field].type).removesuffix(" | None")
    if ftype in ("float", "int"):
        number = float if ftype == "float" else int
        try:
            value = number(raw)
        except (TypeError, ValueError) as exc:
            kind = "a number" if ftype == "float" else "a whole number"
            raise ConfigError(f"{source}: {field} must be {kind}, got {raw!r}") from exc
        if value < 0 or (field == "dev_port" and not 0 < value < 65536):
            raise ConfigError(f"{source}: {field} {raw!r} is out of range")
        return value
    if not isinstance(raw, str):
        raise ConfigError(f"{source}: {field} must be a string, got {raw!r}")
    return _check_text(field, raw, source)


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from exc
    table = data.get("kit", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [kit] must be a table")
    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(_FIELDS)})")
    return {k: _coerce(k, v, str(path)) for k, v in table.items()}


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve settings from overrides, KIT_* variables, kit.toml and defaults.

    Raises ConfigError naming the variable or file on anything malformed or unknown.
    """
    env = os.environ if environ is None else environ
    known = {env_var(f) for f in _FIELDS} | {CONFIG_VAR}
    unknown = sorted(
        k for k in env if k.startswith("KIT_") and k not in known and k not in FOREIGN_KIT_VARS
    )
    if unknown:
        raise ConfigError(
            f"unknown environment variable {unknown[0]}{did_you_mean(unknown[0], known)} "
            f"(settings: {', '.join(sorted(known))})"
        )
    values: dict[str, Any] = {}
    toml_path = env.get(CONFIG_VAR)
    if toml_path:
        values.update(_from_toml(Path(toml_path)))
    elif (default := (cwd or Path.cwd()) / "kit.toml").is_file():
        values.update(_from_toml(default))
    for field in _FIELDS:
        if (raw := env.get(env_var(field))) is not None:
            values[field] = _coerce(field, raw, env_var(field))
    for field, raw in (overrides or {}).items():
        if field not in _FIELDS:
            raise ConfigError(f"unknown setting {field!r}")
        if raw is not None:
            values[field] = _coerce(field, raw, f"--{field.replace('_', '-')}")
    return Settings(**values)
