"""Entry point of the `kit` console script."""

from __future__ import annotations

import signal
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import click

from kit import __version__, gcpause
from kit.cli import dag, dev, env, log, publish, review, run, runs
from kit.cli.common import KitGroup, settings
from kit.errors import KitError


@dataclass
class _State:
    """What main() needs to know once the command is over."""

    verbose: bool = False


class _Kit(KitGroup):
    """The `kit` group: Ctrl+C in a command exits 130 without a message (click itself
    would print an empty line and abort)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise click.exceptions.Exit(130) from exc


@click.group("kit", cls=_Kit, no_args_is_help=True)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Log what kit does on stderr (storage calls and retries, the kernel, saves), and "
    "the causes of an error. Same as KIT_LOG_LEVEL=DEBUG.",
)
@click.version_option(__version__, "--version", prog_name="kit", help="Print kit's version.")
@click.pass_context
def app(ctx: click.Context, verbose: bool) -> None:
    """Publish, run and review forecasting notebooks."""
    conf = settings()
    level = "DEBUG" if verbose else conf.log_level
    ctx.call_on_close(log.configure(level, conf.log_format))
    ctx.ensure_object(_State).verbose = level == "DEBUG"


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


def _command(args: list[str]) -> str | None:
    """The command's name: the first argument that is not one of the group's options
    (none of which takes a value)."""
    return next((a for a in args if not a.startswith("-")), None)


def _command_path(args: list[str]) -> str:
    """`kit run`, `kit runs show`: the commands args name (for a usage error without one)."""
    command: click.Command = app
    words = ["kit"]
    for arg in args:
        if isinstance(command, click.Group) and arg in command.commands:
            words.append(arg)
            command = command.commands[arg]
        elif not arg.startswith("-"):
            break
    return " ".join(words)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a KitError becomes one line on stderr (-v: and its causes) and its exit
    code."""
    from kit.runner.execute import STOP_SIGNALS, block_unused_imports

    block_unused_imports()
    args = list(sys.argv[1:] if argv is None else argv)
    held: set[int | signal.Signals] | None = None
    state = _State()
    try:
        if _command(args) == "run":
            # A pod may be stopped at any moment, even before the runner's handler exists:
            # SIGTERM/SIGINT stay pending until the runner takes them over, before any I/O
            # (kit.runner.execute.StopSignal.on_signals), so none is lost or fatal.
            held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            if argv is None:
                gcpause.pause()  # the runner resumes once the kernel is up and papermill loaded
        # standalone_mode=False: click raises its errors here and returns the code of an
        # Exit (--help, ctx.exit) instead of exiting.
        code = app.main(args=args, prog_name="kit", standalone_mode=False, obj=state)
    except KitError as exc:
        print(f"kit: error: {exc}", file=sys.stderr)
        if state.verbose:
            _causes(exc)
        sys.exit(exc.exit_code)
    except click.exceptions.UsageError as exc:  # bad arguments: one line, as any bad input
        where = exc.ctx.command_path if exc.ctx else _command_path(args)
        print(f"kit: error: {exc.format_message()} (see `{where} --help`)", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        print("kit: aborted", file=sys.stderr)
        sys.exit(130)
    finally:
        if held is not None:  # the mask as it was (the command may have ended before the runner)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    sys.exit(code if isinstance(code, int) else 0)


def _causes(exc: BaseException) -> None:
    """What led to a KitError, one line per cause, then the whole traceback (for -v)."""
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    while cause is not None:
        print(f"kit: caused by {type(cause).__name__}: {cause}", file=sys.stderr)
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    traceback.print_exception(exc, file=sys.stderr)


if __name__ == "__main__":
    main()
