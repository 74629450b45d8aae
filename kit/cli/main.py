"""Entry point of the `kit` console script."""

from __future__ import annotations

import gc
import signal
import sys
from typing import Any, NoReturn

import click

from kit import gcpause
from kit.cli import dag, dev, env, publish, review, run, runs
from kit.cli.common import KitGroup
from kit.errors import KitError


class _Kit(KitGroup):
    """The `kit` group: Ctrl+C in a command exits 130 without a message (click itself
    would print an empty line and abort)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise click.exceptions.Exit(130) from exc


app = _Kit("kit", help="Publish, run and review forecasting notebooks.", no_args_is_help=True)
app.add_command(review.review)
app.add_command(publish.publish_cmd)
app.add_command(publish.versions_cmd)
app.add_command(publish.rollback_cmd)
app.add_command(publish.show_cmd)
app.add_command(run.run)
app.add_command(dev.app)
app.add_command(env.app)
app.add_command(dag.app)
app.add_command(runs.app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a KitError becomes one line on stderr and its exit code."""
    from kit.runner.execute import STOP_SIGNALS, block_unused_imports

    block_unused_imports()
    args = list(sys.argv[1:] if argv is None else argv)
    held: set[int | signal.Signals] | None = None
    try:
        params: list[tuple[str, str]] = []
        if args[:1] == ["run"]:
            # A pod may be stopped at any moment, even before the runner's handler exists:
            # SIGTERM/SIGINT stay pending until the runner takes them over, before any I/O
            # (kit.runner.execute.StopSignal.on_signals), so none is lost or fatal.
            held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            if argv is None:
                gcpause.pause()  # the runner resumes once the kernel is up and papermill loaded
            args[1:], params = run.split_params(args[1:])
        # standalone_mode=False: click raises its errors here and returns the code of an
        # Exit (--help, ctx.exit) instead of exiting.
        code = app.main(args=args, prog_name="kit", standalone_mode=False, obj={"params": params})
    except KitError as exc:
        print(f"kit: error: {exc}", file=sys.stderr)
        _exit(exc.exit_code, process_ends=argv is None)
    except click.exceptions.ClickException as exc:  # usage errors from the parser
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        print("kit: aborted", file=sys.stderr)
        sys.exit(130)
    finally:
        if held is not None:  # the mask as it was (the command may have ended before the runner)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
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
