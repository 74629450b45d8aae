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

from kit.errors import ConfigError
from kit.run_contract import join

LOG_FORMATS = ("auto", "text", "json")

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


@dataclass(frozen=True)
class Settings:
    """Where notebooks, runs and data live, and what the pods run."""

    modules_bucket: str = "gs://kit-modules"
    outputs_bucket: str = "gs://kit-outputs"
    data_bucket: str = "gs://kit-data"
    project: str = "kit-local"
    image: str = "kit-runtime:local"
    namespace: str = "kit-runs"
    retry_deadline: float = 60.0
    # How `kit run` reports progress: auto (a bar on a terminal, else text lines), text, json.
    log_format: str = "auto"

    def url(self, bucket: str, *parts: str) -> str:
        """Join path parts under one of the bucket settings (by field name)."""
        return join(str(getattr(self, bucket)), *parts)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
# Variables kit reads elsewhere (not settings); listed so they are not "unknown".
OTHER_KIT_VARS = frozenset(
    {
        "KIT_CONFIG",
        "KIT_POD_NAME",
        "KIT_AIRFLOW_PYTHON",
        "KIT_DAGS_CONFIG",
        "KIT_GRACE_SECONDS",
        "KIT_NOTEBOOK_PYTHON",
        "KIT_DEV_ROOT",
        "KIT_DEV_PORT",
    }
)


def env_var(field: str) -> str:
    """The environment variable that sets a settings field."""
    return "KIT_" + field.upper()


def _check_url(field: str, value: str, source: str) -> str:
    value = value.strip()
    if not value:
        raise ConfigError(f"{source}: {field} is empty")
    if field == "log_format" and value not in LOG_FORMATS:
        raise ConfigError(f"{source}: log_format {value!r} must be one of {', '.join(LOG_FORMATS)}")
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
    ftype = _FIELDS[field].type
    if ftype in ("float", float):
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {field} must be a number, got {raw!r}") from None
    if not isinstance(raw, str):
        raise ConfigError(f"{source}: {field} must be a string, got {raw!r}")
    return _check_url(field, raw, source)


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
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
    known = {env_var(f) for f in _FIELDS} | OTHER_KIT_VARS
    unknown = sorted(k for k in env if k.startswith("KIT_") and k not in known)
    if unknown:
        raise ConfigError(
            f"unknown environment variable {unknown[0]} (known: {', '.join(sorted(known))})"
        )
    values: dict[str, Any] = {}
    toml_path = env.get("KIT_CONFIG")
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
