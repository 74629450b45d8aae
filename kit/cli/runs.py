"""`kit runs`: list runs, show one, pull notebooks, diff two runs, render one as HTML."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from kit.cli.common import KitGroup, err, out, settings
from kit.errors import UsageError


class _RunsGroup(KitGroup):
    """`kit runs [NAME]` lists, `kit runs show ...` is a subcommand: a known command name
    in first place is never taken for NAME (use `kit runs -- show` for a notebook so named).

    Which of the two a command line is, is decided per invocation (in its context), so the
    group's own parameters never change."""

    _SUBCOMMAND = "kit.runs.subcommand"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[self._SUBCOMMAND] = bool(args) and args[0] in self.commands
        if not ctx.meta[self._SUBCOMMAND]:
            ctx.allow_interspersed_args = True  # the listing: options may follow NAME
        rest = super().parse_args(ctx, args)
        ctx.params.setdefault("name", None)
        return rest

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        if ctx.meta.get(self._SUBCOMMAND):  # NAME would take the subcommand's name
            return [p for p in params if not isinstance(p, click.Argument)]
        return params


def _store() -> Any:
    from kit.review.cache import default_dir
    from kit.review.listing import RunStore

    return RunStore(settings(), cache_dir=default_dir())


def _quiet_broken_pipe() -> None:
    # `kit runs | head`: stop quietly once the reader is gone (no traceback, no flush error).
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise click.exceptions.Exit(0)


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@click.group(
    "runs",
    cls=_RunsGroup,
    invoke_without_command=True,
    help="List and inspect runs: kit runs [NAME] [--status S] [--since 7d] [--json] [--wide]; "
    "on a terminal, one line per run fitted to its width.",
)
@click.argument("name", required=False, help="Notebook name (default: every notebook).")
@click.option(
    "--status", "-s", multiple=True, help="Only these statuses (repeat or comma-separate)."
)
@click.option("--since", help="Only runs since 7d, 12h, 30m or a date.")
@click.option(
    "--limit", "-n", type=click.IntRange(min=1), help="At most N runs (default: every run)."
)
@click.option(
    "--after",
    metavar="POSITION",
    help="Continue a listing after the position it printed (the next N runs).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run records as JSON.")
@click.option(
    "--wide",
    "-w",
    is_flag=True,
    help="Every column whole, however wide (default on a terminal: fit its width).",
)
@click.pass_context
def app(
    ctx: click.Context,
    name: str | None,
    status: tuple[str, ...],
    since: str | None,
    limit: int | None,
    after: str | None,
    as_json: bool,
    wide: bool,
) -> None:
    """List runs newest first, a page at a time with -n (the next page: --after).

    One line per run: on a terminal, long parameters, metrics and reasons are cut with '…'
    and the least needed columns left out to fit its width (said on stderr); --wide and
    piped output print every column whole. A listing reads the bucket's run index, not the
    records. A run with an output notebook but no run.json is running until its deadline
    (start + timeout + grace), then lost.
    """
    if ctx.invoked_subcommand is not None:
        return
    from kit.review.listing import parse_since
    from kit.review.runs_table import print_runs

    store = _store()
    statuses = _split(status)
    moment = parse_since(since) if since else None
    page = store.page(name, statuses=statuses, since=moment, limit=limit, after=after)
    if store.indexed is False and page.runs:
        err().print(
            "kit: this bucket has runs from before the run index, so listings read all of "
            "runs/; `kit runs reindex` indexes them once"
        )
    if not page.runs and not as_json:
        err().print("no runs match")
        return
    try:
        if as_json:
            records = [r.to_json() for r in store.complete(page.runs)]
            sys.stdout.write(json.dumps(records, indent=2, default=str) + "\n")
        else:
            left_out = print_runs(out(), page.runs, wide=wide)
            if left_out:
                err().print(
                    f"kit: {', '.join(left_out)} left out to fit {out().width} columns "
                    "(--wide shows every column)",
                    style="dim",
                )
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()
    if page.after is not None:
        words = ["kit runs", *([name] if name else []), *(f"-s {s}" for s in statuses)]
        words += [f"--since {since}"] if since else []
        err().print(f"next {limit}: {' '.join(words)} -n {limit} --after {page.after}")


@app.command("reindex")
def reindex_cmd() -> None:
    """Index every run in the outputs bucket (runs from before the index, or whose runner
    died before indexing them), so listings read one page instead of every record. Safe
    while runs go on; run it again at any time."""
    from kit.review.reindex import reindex

    done = reindex(settings(), progress=lambda line: err().print(f"kit: {line}"))
    out().print(
        f"indexed {done.runs} run{'s' if done.runs != 1 else ''} of {done.notebooks} "
        f"notebook{'s' if done.notebooks != 1 else ''} ({done.written} newly indexed or "
        "updated); listings now read the index"
    )


@app.command("show")
@click.argument("name", help="Notebook name.")
@click.argument("run_id", help="Run id.")
@click.option("--json", "as_json", is_flag=True, help="Print run.json as stored.")
@click.option(
    "--open",
    "open_",
    is_flag=True,
    help="Copy the executed notebook (read-only) into the running JupyterLab's runs/ folder "
    "and print its JupyterLab URL.",
)
def show(name: str, run_id: str, as_json: bool, open_: bool) -> None:
    """Print a run's record, parameters, metrics and slowest cells; where it stopped early,
    the cell (its source and traceback)."""
    from kit.errors import KitError
    from kit.review.failure import failure_of
    from kit.review.show import print_wide, run_details

    store = _store()
    run = store.get(name, run_id)
    if open_:
        from kit.review.lab import choose_server, open_run

        opened = open_run(store, run, choose_server())
        out().print(f"opened in JupyterLab: {opened.url}", markup=False, soft_wrap=True)
        out().print(f"  (a read-only copy: {opened.path})", markup=False, soft_wrap=True)
        return
    if as_json:
        sys.stdout.write(json.dumps(run.to_json(), indent=2, default=str) + "\n")
        return
    cells = None
    if run.status != "succeeded" and run.has_output:
        try:
            cells = store.notebook(run).cells
        except KitError as exc:
            err().print(f"kit: warning: {exc}")
    failure = failure_of(run, cells)
    print_wide(out(), run_details(run, failure))


@app.command("pull")
@click.argument("name", help="Notebook name.")
@click.argument("run_id", required=False, help="Run id (default: every run of NAME).")
@click.option("--latest", is_flag=True, help="Only the newest run.")
@click.option(
    "--to",
    type=click.Path(path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Folder; files go to <to>/<name>/.",
)
def pull(name: str, run_id: str | None, latest: bool, to: Path) -> None:
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


@app.command("diff")
@click.argument("name", help="Notebook name.")
@click.argument("run_a", help="The older run.")
@click.argument("run_b", help="The newer run.")
@click.option("--color/--no-color", default=None, help="Default: on a terminal.")
def diff(name: str, run_a: str, run_b: str, color: bool | None) -> None:
    """What changed between two runs: version, parameters, metrics, cell sources and outputs."""
    from kit.review.diff import compare, lines

    store = _store()
    a, b = store.get(name, run_a), store.get(name, run_b)
    nb_a = store.notebook(a) if a.has_output else None
    nb_b = store.notebook(b) if b.has_output else None
    use_color = sys.stdout.isatty() if color is None else color
    result = compare(a, b, nb_a, nb_b, color=use_color)
    sys.stdout.write("\n".join(lines(result)) + "\n")


@app.command("html")
@click.argument("name", help="Notebook name.")
@click.argument("run_id", help="Run id.")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="File to write (default runs/<name>/<run-id>.html).",
)
def html(name: str, run_id: str, output: Path | None) -> None:
    """Render a run as one static HTML page: the run record on top, the notebook below."""
    from kit.errors import KitError
    from kit.review.failure import failure_of
    from kit.review.web.notebook import run_html

    store = _store()
    run = store.get(name, run_id)
    nb = store.notebook(run)
    page = run_html(run, nb, failure_of(run, nb.cells))
    path = output or Path("runs") / name / f"{run_id}.html"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise KitError(f"cannot write {path}: {exc.strerror or exc}") from exc
    out().print(str(path))
