"""Short, human text for run fields: shared by the terminal listing and the review page."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from kit.review.run_view import Run


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


def number(val: float) -> str:
    """A number for people: 459,912 (not 4.599e+05), 3.665, 0.1235; 4 significant digits
    below 10,000, whole numbers grouped in thousands above; exponents only beyond 10**15."""
    if isinstance(val, bool) or not isinstance(val, int | float):
        return str(val)
    if isinstance(val, int):
        return f"{val:,}"
    if not math.isfinite(val):
        return str(val)
    if 1e4 <= abs(val) < 1e15:
        return f"{val:,.0f}"
    return f"{val:,.4g}"


_SPACE = re.compile(r"\s")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^\.{0,2}/|^~/|^…/")


def is_path(text: str) -> bool:
    """A URL (gs://..., https://...) or a file path (/..., ./..., ~/..., or …/ once cut)
    without spaces; "2026/11/23" is not one."""
    return _URL.match(text) is not None and _SPACE.search(text) is None


def path(text: str, width: int) -> str:
    """A URL or path in `width` characters keeping its end, where runs differ: whole
    folders are dropped from the front (…/prophet-examples/sales.csv), then the front of
    the file name, whose end tells files apart more often (…peyton_manning.csv)."""
    if len(text) <= width:
        return text
    slash = "/" if text.endswith("/") else ""
    parts = text.rstrip("/").split("/")
    for start in range(1, len(parts)):
        shown = "…/" + "/".join(parts[start:]) + slash
        if len(shown) <= width:
            return shown
    name = parts[-1] + slash
    return "…" + name[len(name) - (width - 1) :] if width > 1 else "…"[:width]


def value(val: Any, width: int = 40) -> str:
    """A parameter or metric value in a few characters (floats as `number`; whole numbers
    as written, since a parameter's digits may be an id or a date).

    None shows as None; a string that would read as another value ("None", "30") is quoted;
    a long URL or path keeps its end (`path`).
    """
    if isinstance(val, bool) or val is None:
        text = repr(val)  # as the notebook's Python wrote it
    elif isinstance(val, float):
        text = number(val)
    elif isinstance(val, str):
        text = json.dumps(val) if _looks_like_literal(val) else val
        if is_path(text):
            return path(text, width)
    elif isinstance(val, list) and val and all(isinstance(r, Mapping) for r in val):
        text = f"table of {len(val)} rows"
    else:
        text = json.dumps(val, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def file_name(val: Any, width: int = 40) -> str:
    """A value as `value` shows it, a URL cut to its file name: what names a series of
    runs (gs://kit-data/prophet-examples/example_retail_sales.csv -> example_retail_sales.csv)."""
    if isinstance(val, str) and "://" in val:
        name = urlsplit(val).path.rstrip("/").rsplit("/", 1)[-1]
        if name:
            return value(name, width)
    return value(val, width)


def metric(val: Any, width: int = 40) -> str:
    """A metric value: every number for people (`number`: 459,912 rows), else as `value`."""
    if isinstance(val, int | float) and not isinstance(val, bool):
        text = number(val)
        return text if len(text) <= width else text[: width - 1] + "…"
    return value(val, width)


def pairs(mapping: Mapping[str, Any], width: int = 40, limit: int | None = None) -> str:
    """k=v, k=v (values shortened, as `value`), at most `limit` entries then '…'."""
    return _pairs(mapping, width, limit, value)


def metric_pairs(mapping: Mapping[str, Any], width: int = 40, limit: int | None = None) -> str:
    """k=v, k=v of metrics (values as `metric`: 459,912), at most `limit` entries then '…'."""
    return _pairs(mapping, width, limit, metric)


def _pairs(mapping: Mapping[str, Any], width: int, limit: int | None, show: Any) -> str:
    items = list(mapping.items())
    shown = items if limit is None else items[:limit]
    text = ", ".join(f"{k}={show(v, width)}" for k, v in shown)
    return text + (", …" if len(shown) < len(items) else "")


def tell_apart(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Parameters of several runs, shown side by side, so that what tells them apart shows
    first and whole.

    Each URL or path is cut to the end that tells it from the other values of its
    parameter (gs://b/x/sales.csv and gs://b/x/retail.csv become …/sales.csv and
    …/retail.csv; gs://b/2026-11/a.csv and gs://b/2026-12/a.csv keep their folder). The
    parameters are ordered: those that split the runs into a few series first (fewest
    different values, URLs first: the dataset of a fan-out), those with a value per run
    (a run date) next, those every run shares last.
    """
    values: dict[str, set[str]] = {}
    paths: dict[str, set[str]] = {}
    for row in rows:
        for key, val in row.items():
            seen = json.dumps(val, sort_keys=True, default=str) if _nested(val) else repr(val)
            values.setdefault(key, set()).add(seen)
            if isinstance(val, str) and is_path(val):
                paths.setdefault(key, set()).add(val)
    short = {key: _tails(found) for key, found in paths.items()}

    def rank(key: str) -> tuple[bool, int, bool]:
        count = len(values[key])
        return count == 1 and len(rows) > 1, count, key not in paths

    shown = []
    for row in rows:
        order = sorted(row, key=rank)  # stable: record order among equals
        shown.append({k: _short(short, k, row[k]) for k in order})
    return shown


def _nested(val: Any) -> bool:
    return isinstance(val, dict | list | tuple | set)


def _short(short: Mapping[str, Mapping[str, str]], key: str, val: Any) -> Any:
    return short.get(key, {}).get(val, val) if isinstance(val, str) else val


def _tails(paths: Iterable[str]) -> dict[str, str]:
    """Each path's shortest end of whole segments that no other path ends with (…/a.csv)."""
    split = {p: p.rstrip("/").split("/") for p in paths}
    found: dict[str, str] = {}
    for text, parts in split.items():
        for count in range(1, len(parts)):
            end = parts[-count:]
            if all(other[-count:] != end for o, other in split.items() if o != text):
                slash = "/" if text.endswith("/") else ""
                found[text] = "…/" + "/".join(end) + slash
                break
    return found


_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:;,'\"()]*/([^\s:;,'\"()/]+)")


def one_line(text: str | None, width: int | None = None, *, urls: bool = True) -> str:
    """A reason or message on one line (newlines and runs of spaces made one space); with
    urls=False, each URL in it cut to its file name (…/sales.csv: 12 rows), for a listing."""
    flat = " ".join((text or "").split())
    if not urls:
        flat = _URL_IN_TEXT.sub(r"…/\1", flat)
    return flat if width is None or len(flat) <= width else flat[: width - 1] + "…"


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


def result(run: Run, metric_width: int = 12) -> str:
    """What a run came to, for a listing (`kit runs`' RESULT, the review page's list): its
    first scalar metrics (numbers for people) if it succeeded or is running, else why it
    ended (the reason: the error of a failed run)."""
    if run.status not in ("succeeded", "running") and run.reason:
        return one_line(run.reason, urls=False)
    return metric_pairs(run.headline(), metric_width)
