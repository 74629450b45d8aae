"""`kit runs`: list runs, show one, pull notebooks, diff two runs, render one as HTML."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from kit.cli.common import err, out, settings
from kit.errors import UsageError


class _RunsGroup(TyperGroup):
    """`kit runs [NAME]` lists, `kit runs show ...` is a subcommand: a known command name
    in first place is never taken for NAME (use `kit runs -- show` for a notebook so named)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            ctx.allow_interspersed_args = True  # the listing: options may follow NAME
            return super().parse_args(ctx, args)
        saved = self.params
        self.params = [p for p in saved if p.param_type_name != "argument"]
        try:
            rest = super().parse_args(ctx, args)
        finally:
            self.params = saved
        ctx.params.setdefault("name", None)
        return rest


app = typer.Typer(
    cls=_RunsGroup,
    help="List and inspect runs: kit runs [NAME] [--status S] [--since 7d] [--json].",
)


def _store() -> Any:
    from kit.review.cache import default_dir
    from kit.review.listing import RunStore

    return RunStore(settings(), cache_dir=default_dir())


def _quiet_broken_pipe() -> None:
    # `kit runs | head`: stop quietly once the reader is gone (no traceback, no flush error).
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise typer.Exit(0)


def _split(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@app.callback(invoke_without_command=True)
def list_runs(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Notebook name (default: every notebook)."),
    status: list[str] = typer.Option(
        [], "--status", "-s", help="Only these statuses (repeat or comma-separate)."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only runs since 7d, 12h, 30m or a date."
    ),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="At most N runs."),
    as_json: bool = typer.Option(False, "--json", help="Print the run records as JSON."),
) -> None:
    """List runs newest first, from their run.json files only.

    A run with an output notebook but no run.json yet is shown as running.
    """
    if ctx.invoked_subcommand is not None:
        return
    from kit.review.listing import parse_since
    from kit.review.show import print_runs

    found = _store().list(
        name, statuses=_split(status), since=parse_since(since) if since else None
    )
    found = found[:limit] if limit else found
    if not found and not as_json:
        err().print("no runs match")
        return
    try:
        if as_json:
            text = json.dumps([r.to_json() for r in found], indent=2, default=str)
            sys.stdout.write(text + "\n")
        else:
            print_runs(out(), found)
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()


@app.command()
def show(
    name: str = typer.Argument(..., help="Notebook name."),
    run_id: str = typer.Argument(..., help="Run id."),
    as_json: bool = typer.Option(False, "--json", help="Print run.json as stored."),
) -> None:
    """Print a run's record and metrics; for a failed run, the failing cell and traceback."""
    from kit.errors import KitError
    from kit.review.failure import failure_of
    from kit.review.show import print_wide, run_details

    store = _store()
    run = store.get(name, run_id)
    if as_json:
        sys.stdout.write(json.dumps(run.to_json(), indent=2, default=str) + "\n")
        return
    failure = None
    if run.status != "succeeded":
        cells = None
        if run.has_output:
            try:
                cells = store.notebook(run).cells
            except KitError as exc:
                err().print(f"kit: warning: {exc}")
        failure = failure_of(run, cells)
    print_wide(out(), run_details(run, failure))


@app.command()
def pull(
    name: str = typer.Argument(..., help="Notebook name."),
    run_id: str | None = typer.Argument(None, help="Run id (default: every run of NAME)."),
    latest: bool = typer.Option(False, "--latest", help="Only the newest run."),
    to: Path = typer.Option(Path("runs"), "--to", help="Folder; files go to <to>/<name>/."),
) -> None:
    """Download executed notebooks to <to>/<name>/<run-id>.ipynb, to open in JupyterLab."""
    from kit.review.pull import pull as pull_runs

    if run_id and latest:
        raise UsageError("give a run id or --latest, not both")
    store = _store()
    if run_id:
        runs = [store.get(name, run_id)]
    elif latest:
        runs = [store.latest(name)]
    else:
        runs = store.list(name)
    paths = pull_runs(store, runs, to)
    for path in paths:
        out().print(str(path))
    if not paths:
        err().print(f"no output notebooks to pull for {name}")


@app.command()
def diff(
    name: str = typer.Argument(..., help="Notebook name."),
    run_a: str = typer.Argument(..., help="The older run."),
    run_b: str = typer.Argument(..., help="The newer run."),
    color: bool | None = typer.Option(None, "--color/--no-color", help="Default: on a terminal."),
) -> None:
    """What changed between two runs: version, parameters, metrics, cell sources and outputs."""
    from kit.review.diff import compare, lines

    store = _store()
    a, b = store.get(name, run_a), store.get(name, run_b)
    nb_a = store.notebook(a) if a.has_output else None
    nb_b = store.notebook(b) if b.has_output else None
    use_color = sys.stdout.isatty() if color is None else color
    result = compare(a, b, nb_a, nb_b, color=use_color)
    sys.stdout.write("\n".join(lines(result)) + "\n")


@app.command()
def html(
    name: str = typer.Argument(..., help="Notebook name."),
    run_id: str = typer.Argument(..., help="Run id."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default runs/<name>/<run-id>.html)."
    ),
) -> None:
    """Render a run as one static HTML page: the run record on top, the notebook below."""
    from kit.errors import KitError
    from kit.review.failure import failure_of
    from kit.review.html import run_html

    store = _store()
    run = store.get(name, run_id)
    nb = store.notebook(run)
    page = run_html(run, nb, failure_of(run, nb.cells))
    path = output or Path("runs") / name / f"{run_id}.html"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise KitError(f"cannot write {path}: {exc.strerror or exc}") from None
    out().print(str(path))
