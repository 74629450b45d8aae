"""One run as review sees it: a parsed run.json (schema 1), or a run still in progress.

runs/<name>/<run-id>/output.ipynb   written while the notebook runs
runs/<name>/<run-id>/run.json       written last; until it exists the run is "running"
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FINAL_STATUSES = ("succeeded", "failed", "killed", "timed_out")
RUNNING = "running"
INVALID = "invalid"  # a run.json we cannot parse: shown, never hidden
STATUSES = (*FINAL_STATUSES, RUNNING, INVALID)

# Parameters kit itself passes to every run (the same pattern each time): left out of listings.
INJECTED_PARAMETERS = frozenset({"output_prefix"})
RECORD_FILE = "run.json"
OUTPUT_FILE = "output.ipynb"


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp ("...Z" included) as an aware datetime, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def is_scalar(value: Any) -> bool:
    """Whether a metric value is a scalar (tables are lists of row dicts)."""
    return value is None or isinstance(value, bool | int | float | str)


@dataclass(frozen=True)
class Run:
    """A run's summary, from its run.json alone (or from the listing while it runs)."""

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
    record: dict[str, Any] | None = None  # run.json as stored; None while running
    updated_at: datetime | None = None  # last write seen in the listing
    has_output: bool = True

    @property
    def when(self) -> datetime | None:
        """The time runs sort by: the start, or the last activity of a running run."""
        return self.started_at or self.updated_at

    @property
    def ref(self) -> str:
        """notebook@version (the notebook alone when the version is unknown)."""
        return f"{self.notebook}@{self.version}" if self.version else self.notebook

    def chosen_parameters(self) -> dict[str, Any]:
        """The parameters a person chose (kit's own, such as output_prefix, left out)."""
        return {k: v for k, v in self.parameters.items() if k not in INJECTED_PARAMETERS}

    def scalar_metrics(self) -> dict[str, Any]:
        """Scalar metrics only, in recorded order."""
        return {k: v for k, v in self.metrics.items() if is_scalar(v)}

    def headline(self, limit: int = 3) -> dict[str, Any]:
        """The first few scalar metrics: what a listing shows."""
        return dict(list(self.scalar_metrics().items())[:limit])

    def to_json(self) -> dict[str, Any]:
        """The run.json (plus where it lives), or a record-shaped stand-in while running."""
        base = (
            dict(self.record)
            if self.record is not None
            else {
                "schema": 1,
                "run_id": self.run_id,
                "notebook": self.notebook,
                "version": self.version,
                "status": self.status,
                "reason": self.reason,
                "parameters": self.parameters,
                "started_at": None,
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


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a Z, as run.json writes it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def parse_record(
    data: bytes, *, notebook: str, run_id: str, record_url: str, output_url: str, has_output: bool
) -> Run:
    """A Run from run.json bytes; a malformed record becomes status "invalid" with the reason."""
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        return Run(
            notebook=notebook,
            run_id=run_id,
            status=INVALID,
            output_url=output_url,
            record_url=record_url,
            reason=f"malformed {RECORD_FILE}: {exc}",
            has_output=has_output,
        )
    status = raw.get("status")
    params = raw.get("parameters")
    metrics = raw.get("metrics")
    error = raw.get("error")
    return Run(
        notebook=notebook,
        run_id=run_id,
        status=status if status in FINAL_STATUSES else INVALID,
        output_url=str(raw.get("output_url") or output_url),
        record_url=record_url,
        version=raw.get("version") if isinstance(raw.get("version"), str) else None,
        started_at=parse_time(raw.get("started_at")),
        finished_at=parse_time(raw.get("finished_at")),
        duration_seconds=_number(raw.get("duration_seconds")),
        parameters=params if isinstance(params, dict) else {},
        metrics=metrics if isinstance(metrics, dict) else {},
        reason=raw.get("reason") if status in FINAL_STATUSES else f"unknown status {status!r}",
        error=error if isinstance(error, dict) else None,
        record=raw,
        has_output=has_output,
    )


def running(
    *, notebook: str, run_id: str, record_url: str, output_url: str, updated_at: datetime | None
) -> Run:
    """A run whose output notebook exists but whose run.json is not written yet."""
    return Run(
        notebook=notebook,
        run_id=run_id,
        status=RUNNING,
        output_url=output_url,
        record_url=record_url,
        updated_at=updated_at,
    )
