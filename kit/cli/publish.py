"""`kit publish`, `kit versions`, `kit rollback`, `kit show`: the modules bucket's notebooks.

kit.publishing is imported inside each command, so other commands stay fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kit.cli.common import err, out, settings

if TYPE_CHECKING:
    from rich.table import Table


def _print(table: Table) -> None:
    from rich.console import Console

    # Piped output keeps whole rows (ids are copied from it); a terminal gets its own width.
    console = out()
    if not console.is_terminal:
        console = Console(file=console.file, highlight=False, width=10_000)
    console.print(table)


def _warn(message: str) -> None:
    err().print(f"kit: warning: {message}", markup=False)


def _note(message: str) -> None:
    err().print(f"kit: note: {message}", markup=False)


@click.command("publish")
@click.argument(
    "path",
    type=click.Path(path_type=Path),
    help="The notebook (.ipynb), model module or jupytext percent script (.py) to publish.",
)
@click.option("--name", "-n", help="Published name (default: the file name without its suffix).")
def publish_cmd(path: Path, name: str | None) -> None:
    """Validate a notebook or model module and publish it as an immutable version; move `latest`.

    A .py file is a model module (`class Model` with a run() method, stored as is) or a
    jupytext percent script (`# %%` cells, stored as the equivalent notebook).
    """

    from kit import publishing

    result = publishing.publish_notebook(path, name, settings=settings(), warn=_warn, inform=_note)
    out().print(str(result), markup=False)


@click.command("versions")
@click.argument("name", help="Notebook name.")
def versions_cmd(name: str) -> None:
    """List a notebook's versions, newest first; `*` marks the one `latest` names."""
    from rich.table import Table
    from rich.text import Text

    from kit import publishing

    history = publishing.versions(name, settings=settings())
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("")
    table.add_column("version", no_wrap=True, min_width=29)
    table.add_column("published", no_wrap=True)
    table.add_column("publisher", overflow="fold")
    table.add_column("git", no_wrap=True)
    for m in history.manifests:
        git = (m.git_commit or "")[:10] + ("+dirty" if m.git_commit and m.git_dirty else "")
        mark = "*" if m.version == history.latest else ""
        table.add_row(mark, m.version, m.published_at, Text(m.publisher), git)
    _print(table)


@click.command("rollback")
@click.argument("name", help="Notebook name.")
@click.argument("version", help="A published version id (see `kit versions`).")
def rollback_cmd(name: str, version: str) -> None:
    """Point `latest` back at an earlier published version."""

    from kit import publishing

    done = publishing.rollback(name, version, settings=settings())
    before = f" (was {done.previous})" if done.previous and done.previous != done.version else ""
    out().print(f"{done.name}: latest -> {done.version}{before}", markup=False)


def _value(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


@click.command("show")
@click.argument("ref", help="NAME, NAME@latest or NAME@VERSION.")
def show_cmd(ref: str) -> None:
    """Print a version's manifest and its parameter schema."""
    from rich.table import Table
    from rich.text import Text

    from kit import publishing

    shown = publishing.show(ref, settings=settings())
    m = shown.resolved.manifest
    meta = Table(box=None, show_header=False, pad_edge=False)
    meta.add_column(style="bold")
    meta.add_column()
    rows = [
        ("notebook", m.name),
        ("kind", m.kind + (f" ({m.extra['format']})" if m.extra.get("format") else "")),
        ("version", m.version + ("  (latest)" if m.version == shown.latest else "")),
        ("url", shown.resolved.notebook_url),
        ("published", m.published_at),
        ("publisher", m.publisher),
        ("sha256", m.sha256),
        ("size", f"{m.size} bytes"),
        ("git", f"{m.git_commit or '-'}{' (dirty)' if m.git_dirty else ''}"),
        ("source", m.source_path or "-"),
        ("kit", m.kit_version),
        ("environment", m.environment_digest or "-"),
    ]
    for key, value in rows:
        meta.add_row(key, Text(value))
    _print(meta)
    params = Table(title="parameters", title_justify="left", header_style="bold")
    for column in ("name", "type", "default", "comment"):
        params.add_column(column, overflow="fold")
    for p in m.parameters:
        kind = p.type if p.choices is None else f"{p.type}, one of {json.dumps(p.choices)}"
        params.add_row(p.name, Text(kind), Text(_value(p.default)), Text(p.comment))
    _print(params)
