"""Field checks for notebooks.yaml (see kit_dag_config): each records what is wrong.

Only the standard library and Airflow; nothing here touches the network.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from airflow.sdk import CronTriggerTimetable

PARAM_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LABEL_NAME_RE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
LABEL_PREFIX_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
QUANTITY_RE = re.compile(r"(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[mkMGTPE]|[KMGTPE]i)?")
DURATION_RE = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
PRESETS = {"@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"}
RESOURCE_KEYS = {"cpu", "memory", "ephemeral-storage"}


class Errors:
    """Collects problems so that one import error lists all of them."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        """Record one problem at `where` (the file section or entry)."""
        self.items.append(f"{where}: {message}")


def mapping(value: Any, where: str, errors: Errors) -> dict[str, Any]:
    """A mapping (None is empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.add(where, f"must be a mapping, got {type(value).__name__}")
        return {}
    return value


def unknown(data: Mapping[str, Any], allowed: set[str], where: str, errors: Errors) -> None:
    """Reports keys outside `allowed` (typos would otherwise be silently ignored)."""
    for key in sorted(set(map(str, data)) - allowed):
        errors.add(where, f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")


def scalar(value: Any, where: str, errors: Errors) -> str:
    """A parameter value as the string the CLI receives (bools the way Python spells them)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float | str):
        return str(value)
    errors.add(where, f"must be a string or a number, got {type(value).__name__}")
    return ""


def duration(value: Any, where: str, errors: Errors) -> int:
    """Seconds from an int or a string such as '90s', '15m', '1h30m'."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = DURATION_RE.fullmatch(value) if isinstance(value, str) and value else None
    seconds = (
        sum(int(g or 0) * f for g, f in zip(match.groups(), (3600, 60, 1), strict=False))
        if match
        else 0
    )
    if seconds <= 0:
        errors.add(
            where, f"{value!r} is not a positive duration (seconds, or like '90s', '15m', '2h')"
        )
    return seconds


def integer(value: Any, where: str, errors: Errors, minimum: int) -> int:
    """An int (not a bool) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        errors.add(where, f"must be an integer >= {minimum}, got {value!r}")
        return minimum
    return value


def label(key: str, value: str, where: str, errors: Errors) -> None:
    """Reports a Kubernetes label key or value the API server would reject."""
    prefix, _, name = key.rpartition("/")
    if (
        not name
        or not LABEL_NAME_RE.fullmatch(name)
        or (prefix and not LABEL_PREFIX_RE.fullmatch(prefix))
    ):
        errors.add(where, f"label key {key!r} is not a valid Kubernetes label key")
    if not LABEL_NAME_RE.fullmatch(value):
        errors.add(
            where,
            f"label {key}={value!r}: a value is <= 63 of [A-Za-z0-9-_.], alphanumeric at the ends",
        )


def params(raw: Any, where: str, errors: Errors) -> dict[str, str]:
    """Notebook parameters: identifier -> string (a Jinja template, rendered per run)."""
    out: dict[str, str] = {}
    for key, value in mapping(raw, where, errors).items():
        if not isinstance(key, str) or not PARAM_RE.fullmatch(key):
            errors.add(where, f"parameter name {key!r} is not a Python identifier")
            continue
        out[key] = scalar(value, f"{where}.{key}", errors)
    return out


def resources(raw: Any, where: str, errors: Errors) -> dict[str, dict[str, str]]:
    """Container requests and limits as Kubernetes quantities; a memory limit is required."""
    data = mapping(raw, where, errors)
    unknown(data, {"requests", "limits"}, where, errors)
    out: dict[str, dict[str, str]] = {}
    for kind in ("requests", "limits"):
        section = mapping(data.get(kind), f"{where}.{kind}", errors)
        unknown(section, RESOURCE_KEYS, f"{where}.{kind}", errors)
        out[kind] = {}
        for res, qty in section.items():
            text = scalar(qty, f"{where}.{kind}.{res}", errors)
            if not QUANTITY_RE.fullmatch(text):
                errors.add(
                    f"{where}.{kind}.{res}",
                    f"{qty!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)",
                )
            out[kind][str(res)] = text
    if "memory" not in out["limits"]:
        errors.add(where, "limits.memory is required (a notebook without one can starve the node)")
    return out


def schedule(value: Any, tz: str, where: str, errors: Errors) -> str | None:
    """A cron expression or preset (checked the way Airflow will), or None for manual runs."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        errors.add(
            where, f"must be a cron expression, a preset like @daily, or null; got {value!r}"
        )
        return None
    if value in PRESETS:
        return value
    try:
        CronTriggerTimetable(value, timezone=tz).validate()
    except Exception as exc:  # AirflowTimetableInvalid, or croniter's own errors
        errors.add(where, f"bad cron expression {value!r}: {exc}")
    return value


def date(value: Any, where: str, errors: Errors) -> str:
    """An ISO date (YYYY-MM-DD) as text."""
    text = str(value)
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        errors.add(where, f"{value!r} is not a date (YYYY-MM-DD)")
        return "2026-01-01"
    return text


def strings(raw: Any, where: str, errors: Errors) -> list[str]:
    """A list of non-empty strings (None is empty)."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, str) and t for t in raw):
        errors.add(where, "must be a list of non-empty strings")
        return []
    return list(raw)
