"""Entry point of the `kit` console script."""

from __future__ import annotations

import gc
import sys
from typing import NoReturn

import typer
from typer.exceptions import Abort, TyperException

from kit.cli import dag, dev, env, publish, review, run, runs
from kit.errors import KitError

app = typer.Typer(
    name="kit",
    help="Publish, run and review forecasting notebooks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(dev.app, name="dev")
app.add_typer(env.app, name="env")
app.add_typer(dag.app, name="dag")
app.add_typer(runs.app, name="runs")
app.command("review")(review.review)
app.command("publish")(publish.publish_cmd)
app.command("versions")(publish.versions_cmd)
app.command("rollback")(publish.rollback_cmd)
app.command("show")(publish.show_cmd)
app.command("run")(run.run)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a KitError becomes one line on stderr and its exit code."""
    from kit.runner.execute import block_unused_imports

    block_unused_imports()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        params: list[tuple[str, str]] = []
        if args[:1] == ["run"]:
            args[1:], params = run.split_params(args[1:])
        code = app(args=args, prog_name="kit", standalone_mode=False, obj={"params": params})
    except KitError as exc:
        print(f"kit: error: {exc}", file=sys.stderr)
        _exit(exc.exit_code, process_ends=argv is None)
    except TyperException as exc:  # usage errors from the (vendored) click parser
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            print(f"kit: error: {exc}", file=sys.stderr)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except Abort:
        print("kit: aborted", file=sys.stderr)
        sys.exit(130)
    _exit(code if isinstance(code, int) else 0, process_ends=argv is None)


def _exit(code: int, process_ends: bool = True) -> NoReturn:
    if process_ends:
        # The command is done and every file is written. Freezing the heap spares the
        # interpreter its final cyclic-GC pass over papermill's, nbformat's and the GCS
        # client's objects: ~0.1 s of every `kit run`, which pods and DAG retries pay.
        gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    main()
