"""Short, human text for run fields: shared by the terminal listing and the review page."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def duration(seconds: float | None) -> str:
    """4.2s, 3m 12s, 1h 02m; '-' when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def moment(value: datetime | None) -> str:
    """UTC time to the second, e.g. 2026-11-23 10:15:03Z; '-' when unknown."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def size(value: Any) -> str:
    """Bytes in binary units (412.3 MiB, 1.2 GiB); '-' when unknown."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    amount, unit = float(value), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(amount) < 1024 or unit == "TiB":
            break
        amount /= 1024
    return f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"


def _looks_like_literal(text: str) -> bool:
    """Whether a string would read as something else unquoted (None, True, 30, '')."""
    if text.strip() != text or text in ("", "None", "True", "False", "null", "true", "false"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def value(val: Any, width: int = 40) -> str:
    """A parameter or metric value in a few characters (floats to 4 significant digits).

    None shows as None; a string that would read as another value ("None", "30") is quoted.
    """
    if isinstance(val, bool) or val is None:
        text = repr(val)  # as the notebook's Python wrote it
    elif isinstance(val, float):
        text = f"{val:.4g}"
    elif isinstance(val, str):
        text = json.dumps(val) if _looks_like_literal(val) else val
    elif isinstance(val, list) and val and all(isinstance(r, Mapping) for r in val):
        text = f"table of {len(val)} rows"
    else:
        text = json.dumps(val, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def pairs(mapping: Mapping[str, Any], width: int = 40, limit: int | None = None) -> str:
    """k=v, k=v (values shortened), at most `limit` entries then '…'."""
    items = list(mapping.items())
    shown = items if limit is None else items[:limit]
    text = ", ".join(f"{k}={value(v, width)}" for k, v in shown)
    return text + (", …" if len(shown) < len(items) else "")


def kubernetes(record: Mapping[str, Any]) -> str:
    """What the DAGs' finisher read from a pod that ended without a record ("" for the
    runner's records): node, container exit code and Kubernetes' reason, the limits."""
    if record.get("written_by") != "finisher":
        return ""
    k8s = record.get("kubernetes") or {}
    parts = ["recorded by the Airflow finisher"]
    if k8s.get("node"):
        parts.append(f"node {k8s['node']}")
    code, reason = k8s.get("container_exit_code"), k8s.get("reason")
    if code is not None:
        parts.append(f"exit {code}" + (f" ({reason})" if reason else ""))
    elif reason:
        parts.append(f"Kubernetes reason {reason}")
    if isinstance(k8s.get("limits"), Mapping) and k8s["limits"]:
        parts.append("limits " + ", ".join(f"{k}={v}" for k, v in k8s["limits"].items()))
    return ", ".join(parts)
