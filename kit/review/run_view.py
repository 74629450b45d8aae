"""One run as review sees it: a parsed run.json, or a run that has no record yet.

The layout, the statuses and the record's shape are the run contract's
(kit.run_contract): records of schema "kit.run/2" and of schema 1 both read. A run with
an output notebook and no record is "running" until its deadline (start + timeout +
grace) has passed, then "lost".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kit.run_contract import (
    FINAL_STATUSES,
    INVALID,
    OUTPUT_FILE,
    RECORD_FILE,
    RUNNING,
    SCHEMA,
    STARTED_META,
    STATUSES,
    VERSION_META,
    index_key,
    iso,
    parse_time,
    pending_status,
    upgrade,
)

__all__ = [
    "FINAL_STATUSES",
    "INVALID",
    "OUTPUT_FILE",
    "RECORD_FILE",
    "RUNNING",
    "STATUSES",
    "Run",
    "from_summary",
    "is_scalar",
    "parse_record",
    "parse_time",
    "pending",
]

# Parameters kit itself passes to every run (the same pattern each time): left out of listings.
INJECTED_PARAMETERS = frozenset({"output_prefix"})


def is_scalar(value: Any) -> bool:
    """Whether a metric value is a scalar (tables are lists of row dicts)."""
    return value is None or isinstance(value, bool | int | float | str)


@dataclass(frozen=True)
class Run:
    """A run's summary, from its run.json alone (or from the listing while it has none)."""

    notebook: str
    run_id: str
    status: str
    output_url: str
    record_url: str
    version: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    error: dict[str, Any] | None = None
    record: dict[str, Any] | None = None  # run.json as stored; None while it has none
    updated_at: datetime | None = None  # last write seen in the listing
    has_output: bool = True
    overridden: tuple[str, ...] = ()  # parameters given a value for this run
    stopped_at: dict[str, Any] | None = None  # the cell the run stopped at (kit.run_contract)
    cells_not_run: int = 0
    cells: tuple[dict[str, Any], ...] = ()  # per-cell duration and kernel peak RSS
    peak_rss_bytes: int | None = None
    # False: built from the summary its listing returned; run.json itself was not read
    # (error, cells, airflow, ... are not loaded). RunStore.complete() reads them.
    complete: bool = True
    position: str = ""  # its index key, when it was listed from the index

    @property
    def when(self) -> datetime | None:
        """The time runs sort by: the start, or the last activity of a run without a record."""
        return self.started_at or self.updated_at

    @property
    def key(self) -> str:
        """Where the run sorts, newest first (kit.run_contract.index_key): a listing cursor."""
        return self.position or index_key(self.when, self.notebook, self.run_id)

    @property
    def ref(self) -> str:
        """notebook@version (the notebook alone when the version is unknown)."""
        return f"{self.notebook}@{self.version}" if self.version else self.notebook

    def chosen_parameters(self) -> dict[str, Any]:
        """The parameters given for this run (kit's own, such as output_prefix, left out)."""
        given = set(self.overridden)
        return {
            k: v for k, v in self.parameters.items() if k in given and k not in INJECTED_PARAMETERS
        }

    def effective_parameters(self) -> dict[str, Any]:
        """Every parameter's value in the run, defaults included (kit's own left out)."""
        return {k: v for k, v in self.parameters.items() if k not in INJECTED_PARAMETERS}

    def scalar_metrics(self) -> dict[str, Any]:
        """Scalar metrics only, in recorded order."""
        return {k: v for k, v in self.metrics.items() if is_scalar(v)}

    def headline(self, limit: int = 3) -> dict[str, Any]:
        """The first few scalar metrics: what a listing shows."""
        return dict(list(self.scalar_metrics().items())[:limit])

    def slowest_cells(self, limit: int = 5) -> list[dict[str, Any]]:
        """The cells that took longest, longest first."""
        timed = [c for c in self.cells if isinstance(c.get("duration_seconds"), int | float)]
        return sorted(timed, key=lambda c: -float(c["duration_seconds"]))[:limit]

    def peak_cell(self) -> dict[str, Any] | None:
        """The cell during which the kernel's memory peaked."""
        measured = [c for c in self.cells if isinstance(c.get("peak_rss_bytes"), int)]
        return max(measured, key=lambda c: int(c["peak_rss_bytes"])) if measured else None

    def to_json(self) -> dict[str, Any]:
        """The run.json as stored (plus where it lives), or a record-shaped stand-in."""
        base = (
            dict(self.record)
            if self.record is not None
            else {
                "schema": SCHEMA,
                "run_id": self.run_id,
                "notebook": self.notebook,
                "version": self.version,
                "status": self.status,
                "reason": self.reason,
                "parameters": self.parameters,
                "started_at": iso(self.started_at) if self.started_at else None,
                "finished_at": None,
                "duration_seconds": None,
                "error": None,
                "metrics": {},
            }
        )
        base.setdefault("output_url", self.output_url)
        base["status"] = self.status
        if self.updated_at is not None and self.record is None:
            base["updated_at"] = iso(self.updated_at)
        return base


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _invalid(reason: str, **where: Any) -> Run:
    return Run(status=INVALID, reason=reason, **where)


def parse_record(
    data: bytes, *, notebook: str, run_id: str, record_url: str, output_url: str, has_output: bool
) -> Run:
    """A Run from run.json bytes; a malformed record becomes status "invalid" with the reason."""
    where: dict[str, Any] = {
        "notebook": notebook,
        "run_id": run_id,
        "record_url": record_url,
        "output_url": output_url,
        "has_output": has_output,
    }
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        return _invalid(f"malformed {RECORD_FILE}: {exc}", **where)
    try:
        rec = upgrade(raw)
    except ValueError as exc:
        return _invalid(f"{RECORD_FILE}: {exc}", **where)
    status = rec.get("status")
    params, metrics, error = rec.get("parameters"), rec.get("metrics"), rec.get("error")
    stopped, cells, peak = rec.get("stopped_at"), rec.get("cells"), rec.get("peak_rss_bytes")
    return Run(
        status=status if status in FINAL_STATUSES else INVALID,
        version=rec.get("version") if isinstance(rec.get("version"), str) else None,
        started_at=parse_time(rec.get("started_at")),
        finished_at=parse_time(rec.get("finished_at")),
        duration_seconds=_number(rec.get("duration_seconds")),
        parameters=params if isinstance(params, dict) else {},
        metrics=metrics if isinstance(metrics, dict) else {},
        reason=rec.get("reason") if status in FINAL_STATUSES else f"unknown status {status!r}",
        error=error if isinstance(error, dict) else None,
        record=raw,
        overridden=tuple(str(k) for k in rec.get("overridden") or ()),
        stopped_at=stopped if isinstance(stopped, dict) else None,
        cells_not_run=int(rec.get("cells_not_run") or 0),
        cells=tuple(c for c in cells if isinstance(c, dict)) if isinstance(cells, list) else (),
        peak_rss_bytes=peak if isinstance(peak, int) and not isinstance(peak, bool) else None,
        **{**where, "output_url": str(rec.get("output_url") or output_url)},
    )


def from_summary(
    found: Mapping[str, Any], *, record_url: str, output_url: str, position: str = ""
) -> Run:
    """A finished run from the summary stored with its run.json or its index entry."""
    status = found.get("status")
    params, metrics = found.get("parameters"), found.get("metrics")
    peak = found.get("peak_rss_bytes")
    return Run(
        notebook=str(found.get("notebook")),
        run_id=str(found.get("run_id")),
        status=status if status in FINAL_STATUSES else INVALID,
        output_url=output_url,
        record_url=record_url,
        version=found.get("version") if isinstance(found.get("version"), str) else None,
        started_at=parse_time(found.get("started_at")),
        finished_at=parse_time(found.get("finished_at")),
        duration_seconds=_number(found.get("duration_seconds")),
        parameters=params if isinstance(params, dict) else {},
        metrics=metrics if isinstance(metrics, dict) else {},
        reason=found.get("reason") if isinstance(found.get("reason"), str) else None,
        overridden=tuple(str(k) for k in found.get("overridden") or ()),
        peak_rss_bytes=peak if isinstance(peak, int) and not isinstance(peak, bool) else None,
        complete=False,
        position=position,
    )


def pending(
    *,
    notebook: str,
    run_id: str,
    record_url: str,
    output_url: str,
    updated_at: datetime | None,
    metadata: Mapping[str, str] | None = None,
    now: datetime | None = None,
    has_output: bool = True,
    position: str = "",
) -> Run:
    """A run whose output notebook exists but whose run.json does not: running, or lost."""
    status, reason = pending_status(metadata, updated_at, now or datetime.now(UTC))
    meta = metadata or {}
    return Run(
        has_output=has_output,
        position=position,
        notebook=notebook,
        run_id=run_id,
        status=status,
        output_url=output_url,
        record_url=record_url,
        updated_at=updated_at,
        reason=reason,
        started_at=parse_time(meta.get(STARTED_META)),
        version=meta.get(VERSION_META) or None,
    )
