"""The notebook API: `kit.runs(name)` as a DataFrame, `kit.load_run(name, run_id)`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kit.config import Settings, load_settings
from kit.errors import KitError
from kit.review import formatting as fmt
from kit.review.cache import default_dir
from kit.review.failure import Failure, failure_of
from kit.review.lab import Opened, open_here
from kit.review.listing import RunStore, parse_since
from kit.review.run_view import Run
from kit.review.web.jinja import render

if TYPE_CHECKING:
    import pandas as pd
    from nbformat import NotebookNode

BASE_COLUMNS = [
    "run_id",
    "notebook",
    "version",
    "status",
    "started_at",
    "finished_at",
    "duration_seconds",
    "parameters",
    "reason",
    "output_url",
]


def _store(settings: Settings | None) -> RunStore:
    return RunStore(settings or load_settings(), cache_dir=default_dir())


def _statuses(status: str | Sequence[str] | None) -> tuple[str, ...]:
    if status is None:
        return ()
    return (status,) if isinstance(status, str) else tuple(status)


def runs(
    name: str | None = None,
    *,
    status: str | Sequence[str] | None = None,
    since: str | datetime | None = None,
    limit: int | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Runs of a notebook (or of all notebooks), newest first, one row each.

    Columns: run_id, notebook, version, status, started_at / finished_at (UTC datetimes),
    duration_seconds, parameters (dict), reason, output_url; then one column per
    parameter, `param_<name>` (nested dicts flattened as `param_<name>.<key>`; kit's own
    output_prefix left out); then one column per scalar metric. Whole numbers stay whole:
    int64, or Int64 where some runs have none. `status` filters ("failed" or a list),
    `since` is "7d", "12h" or a datetime, `limit` keeps the newest N. Reads the bucket's run
    index, not every record.
    """
    import pandas as pd

    moment = parse_since(since) if isinstance(since, str) else since
    found = _store(settings).list(name, statuses=_statuses(status), since=moment, limit=limit)
    rows: list[dict[str, Any]] = []
    params: dict[str, None] = {}
    metrics: dict[str, None] = {}
    for run in found:
        row: dict[str, Any] = {
            "run_id": run.run_id,
            "notebook": run.notebook,
            "version": run.version,
            "status": run.status,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "duration_seconds": run.duration_seconds,
            "parameters": run.parameters,
            "reason": run.reason,
            "output_url": run.output_url,
        }
        for key, val in _flat(run.effective_parameters(), PARAM_PREFIX).items():
            params.setdefault(key, None)
            row[key] = val
        for key, val in run.scalar_metrics().items():
            column = key if key not in BASE_COLUMNS and key not in params else f"metric_{key}"
            metrics.setdefault(column, None)
            row[column] = val
        rows.append(row)
    columns = [*BASE_COLUMNS, *params, *metrics]
    frame = pd.DataFrame(
        {c: _typed([row.get(c) for row in rows]) for c in columns}, columns=columns
    )
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["duration_seconds"] = frame["duration_seconds"].astype("float64")
    return frame


PARAM_PREFIX = "param_"


def _flat(mapping: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """{"a": {"b": 1}} as {"<prefix>a.b": 1}, as pandas.json_normalize names nested keys
    (kept here: json_normalize would make whole numbers with gaps floats before we look)."""
    flat: dict[str, Any] = {}
    for key, val in mapping.items():
        if isinstance(val, Mapping) and val:
            flat.update(_flat(val, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = val
    return flat


def _typed(values: list[Any]) -> Any:
    """A column's values as the dtype they share: int64 (Int64 with gaps) for whole
    numbers, float64 for numbers, bool (boolean with gaps), else objects as they are."""
    import pandas as pd

    present = [v for v in values if v is not None]
    gaps = len(present) < len(values)
    if not present:
        return pd.Series(values, dtype=object)
    if all(isinstance(v, bool) for v in present):
        return pd.array(values, dtype="boolean") if gaps else pd.Series(values, dtype=bool)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        with suppress(OverflowError, TypeError):  # beyond int64: kept as Python ints
            return pd.array(values, dtype="Int64") if gaps else pd.Series(values, dtype="int64")
    elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pd.Series([float("nan") if v is None else v for v in values], dtype="float64")
    return pd.Series(values, dtype=object)


@dataclass(frozen=True)
class LoadedRun:
    """One run: its record (run.json), its metrics and its executed notebook."""

    run: Run
    notebook: NotebookNode
    failure: Failure | None
    # In a notebook: the read-only copy in this JupyterLab, and the link to it from the
    # notebook's folder (kit.review.lab).
    lab_copy: Opened | None = None
    lab_href: str = ""

    @property
    def record(self) -> dict[str, Any]:
        """run.json as stored (a record-shaped stand-in while the run is still running)."""
        return self.run.to_json()

    @property
    def metrics(self) -> dict[str, Any]:
        """Recorded metrics: scalars, and tables as lists of row dicts."""
        return dict(self.run.metrics)

    @property
    def status(self) -> str:
        """succeeded, failed, killed, timed_out, running or lost (kit.run_contract)."""
        return self.run.status

    def __repr__(self) -> str:
        metrics = fmt.metric_pairs(self.run.headline(), width=12)
        return (
            f"LoadedRun({self.run.notebook}/{self.run.run_id}, {self.run.status}, "
            f"{len(self.notebook.cells)} cells{', ' + metrics if metrics else ''})"
        )

    def _repr_html_(self) -> str:
        return render(
            "loaded_run.html",
            run=self.run,
            failure=self.failure,
            copy=self.lab_copy,
            href=self.lab_href,
        )


def load_run(name: str, run_id: str, *, settings: Settings | None = None) -> LoadedRun:
    """A run's record, metrics and executed notebook (NotFoundError suggests close names).

    In a notebook of a running JupyterLab, the executed notebook is also copied (read-only)
    into that JupyterLab's runs/ folder, and the summary links to it: one click opens it.
    """
    store = _store(settings)
    run = store.get(name, run_id)
    nb = store.notebook(run)
    here = None
    # The run is worth loading even when it cannot be copied (a read-only folder, ...).
    with suppress(KitError):
        here = open_here(store, run)  # in a notebook: a copy to open in one click
    opened, href = here or (None, "")
    return LoadedRun(run, nb, failure_of(run, nb.cells), opened, href)
