"""`kit.record(name, value)`: metrics a notebook hands to its run record.

A metric travels inside the cell output under a kit-specific mime type, so the
runner reads it back from the executed notebook without any extra dependency or
side channel. Interactively it simply displays the value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

METRIC_MIME = "application/vnd.kit.metric+json"
MAX_TABLE_CELLS = 10_000

Scalar = int | float | str | bool | None


def _scalar(value: Any, name: str) -> Scalar:
    if hasattr(value, "item") and callable(value.item):  # numpy scalars, 0-d arrays
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # JSON has no NaN/inf; keep the record valid JSON and say what happened.
        return value if math.isfinite(value) else None
    raise TypeError(f"kit.record({name!r}): {type(value).__name__} is not a scalar or table")


def normalize(name: str, value: Any) -> dict[str, Any]:
    """Return the JSON payload stored for one metric: a scalar or a small table."""
    if not isinstance(name, str) or not name:
        raise TypeError("kit.record: the metric name must be a non-empty string")
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a DataFrame
        value = value.to_dict(orient="records")
    if isinstance(value, Mapping):
        value = [
            dict(zip(value.keys(), row, strict=True)) for row in zip(*value.values(), strict=True)
        ]
    if isinstance(value, Sequence) and not isinstance(value, str):
        rows = [{str(k): _scalar(v, name) for k, v in dict(row).items()} for row in value]
        cells = sum(len(r) for r in rows)
        if cells > MAX_TABLE_CELLS:
            raise ValueError(
                f"kit.record({name!r}): table has {cells} cells, max {MAX_TABLE_CELLS}"
            )
        return {"name": name, "kind": "table", "value": rows}
    return {"name": name, "kind": "scalar", "value": _scalar(value, name)}


def _plain(payload: dict[str, Any]) -> str:
    if payload["kind"] == "scalar":
        return f"{payload['name']} = {payload['value']!r}"
    return f"{payload['name']} = table of {len(payload['value'])} rows"


def record(name: str, value: Any) -> dict[str, Any]:
    """Record a metric (a scalar, or a table as rows/columns/DataFrame) for the run record.

    In a kernel the metric is displayed with a kit mime type that `kit run` collects;
    elsewhere it is printed. Returns the stored payload.
    """
    payload = normalize(name, value)
    bundle = {METRIC_MIME: payload, "text/plain": _plain(payload)}
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python: nothing to collect it, just show it
        print(bundle["text/plain"])
        return payload
    if get_ipython() is None:
        print(bundle["text/plain"])
    else:
        display(bundle, raw=True)  # type: ignore[no-untyped-call]
    return payload


def collect(cells: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Collect the metrics recorded in notebook cells' outputs; the last value wins."""
    metrics: dict[str, Any] = {}
    for cell in cells:
        for output in cell.get("outputs", ()) or ():
            data = output.get("data") or {}
            payload = data.get(METRIC_MIME)
            if isinstance(payload, str):  # some writers store JSON mime data as text
                payload = json.loads(payload)
            if isinstance(payload, Mapping) and "name" in payload:
                metrics[str(payload["name"])] = payload.get("value")
    return metrics
