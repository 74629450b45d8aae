"""One run in the terminal: its record, metrics and failure (rich); the listing is
kit.review.runs_table."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from kit.review import formatting as fmt
from kit.review.failure import Failure
from kit.review.run_view import Run, is_scalar

STATUS_STYLES = {
    "succeeded": "green",
    "failed": "bold red",
    "killed": "yellow",
    "timed_out": "magenta",
    "running": "blue",
    "lost": "bold magenta",
    "invalid": "dim",
}


def status_text(status: str) -> Text:
    """The status, coloured."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


def _facts(run: Run) -> Text:
    rec: dict[str, Any] = run.record or {}
    rows: list[tuple[str, Text]] = [
        ("run", Text(f"{run.notebook} / {run.run_id}")),
        ("status", status_text(run.status)),
        ("notebook", Text(run.ref)),
        ("started", Text(fmt.moment(run.started_at))),
        ("finished", Text(fmt.moment(run.finished_at))),
        ("duration", Text(fmt.duration(run.duration_seconds))),
    ]
    if run.reason:
        rows.append(("reason", Text(run.reason)))
    if run.updated_at is not None and run.record is None:
        rows.append(("last update", Text(fmt.moment(run.updated_at))))
    for key in ("host", "pod", "image", "kit_version", "source_url"):
        if rec.get(key):
            rows.append((key.replace("_", " "), Text(str(rec[key]))))
    airflow = rec.get("airflow")
    if isinstance(airflow, dict):
        rows.append(("airflow", Text(fmt.pairs(airflow, width=60))))
    if pod := fmt.kubernetes(rec):
        rows.append(("kubernetes", Text(pod)))
    rows.append(("output", Text(run.output_url, style="cyan")))
    width = max(len(key) for key, _ in rows)
    return Text("\n").join(
        Text.assemble((key.ljust(width), "bold"), "  ", value) for key, value in rows
    )


def _kv(title: str, mapping: dict[str, Any]) -> RenderableType:
    if not mapping:
        return Text(f"{title}: none", style="dim")
    table = Table(title=title, title_justify="left", box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, val in mapping.items():
        table.add_row(Text(key), Text(fmt.value(val, 200)))
    return table


def _metric_tables(metrics: dict[str, Any], max_rows: int = 10) -> list[RenderableType]:
    parts: list[RenderableType] = []
    for name, rows in metrics.items():
        if is_scalar(rows) or not isinstance(rows, list) or not rows:
            continue
        columns = list(rows[0]) if isinstance(rows[0], dict) else ["value"]
        table = Table(title=f"{name} ({len(rows)} rows)", title_justify="left", pad_edge=False)
        for col in columns:
            table.add_column(Text(str(col)))
        for row in rows[:max_rows]:
            cells = row if isinstance(row, dict) else {"value": row}
            table.add_row(*(Text(fmt.value(cells.get(c), 24)) for c in columns))
        parts.append(table)
    return parts


def failure_panel(failure: Failure) -> RenderableType:
    """The failing cell's source and traceback (ANSI codes stripped)."""
    style = {"error": "bold red", "stopped": "bold yellow"}.get(failure.kind, "bold")
    parts: list[RenderableType] = [Text(failure.summary, style=style)]
    if failure.source:
        parts.append(Text("source:", style="bold"))
        lines = failure.source.splitlines() or [""]
        digits = len(str(len(lines)))
        parts.append(
            Text("\n".join(f"  {i:>{digits}} | {line}" for i, line in enumerate(lines, 1)))
        )
    if failure.traceback:
        parts.append(Text("traceback:", style="bold"))
        parts.append(Text("\n".join("  " + line for line in failure.traceback_text.splitlines())))
    return Group(*parts)


def _parameters(run: Run) -> RenderableType:
    """Every parameter's value; those given for this run marked `*`."""
    if not run.parameters:
        return Text("parameters: none", style="dim")
    marked = {(f"{k} *" if k in run.overridden else k): v for k, v in run.parameters.items()}
    title = "parameters (* given for this run)" if run.overridden else "parameters"
    return _kv(title, marked)


def cells_table(run: Run, limit: int = 5) -> RenderableType | None:
    """The slowest cells with their duration and the kernel's peak memory, and the peak."""
    slowest = run.slowest_cells(limit)
    if not slowest:
        return None
    table = Table(title="slowest cells", title_justify="left", pad_edge=False)
    for column in ("cell", "duration", "peak RSS", "source"):
        table.add_column(column, justify="right" if column != "source" else "left")
    for cell in slowest:
        count = cell.get("execution_count")
        where = f"{cell.get('cell')}" + (f", In [{count}]" if count is not None else "")
        table.add_row(
            where,
            fmt.duration(cell.get("duration_seconds")),
            fmt.size(cell.get("peak_rss_bytes")),
            Text(str(cell.get("source") or "")),
        )
    peak = run.peak_cell()
    if peak is None:
        return table
    note = Text(
        f"kernel peak memory {fmt.size(peak.get('peak_rss_bytes'))} in cell {peak.get('cell')}",
        style="bold",
    )
    return Group(table, note)


def run_details(run: Run, failure: Failure | None) -> RenderableType:
    """Everything `kit runs show` prints."""
    parts: list[RenderableType] = [
        _facts(run),
        Text(""),
        _parameters(run),
        Text(""),
        _kv("metrics", run.scalar_metrics()),
    ]
    for table in _metric_tables(run.metrics):
        parts.extend([Text(""), table])
    if (cells := cells_table(run)) is not None:
        parts.extend([Text(""), cells])
    if failure is not None:
        parts.extend([Text(""), failure_panel(failure)])
    return Group(*parts)


def print_wide(console: Console, renderable: RenderableType) -> None:
    """Print; when piped (no terminal width to honour), at the renderable's natural width."""
    if console.is_terminal:
        console.print(renderable)
        return
    wide = console.options.update(max_width=10_000)
    saved = console.width
    console.width = max(Measurement.get(console, wide, renderable).maximum, 40)
    try:
        console.print(renderable, crop=False)
    finally:
        console.width = saved
