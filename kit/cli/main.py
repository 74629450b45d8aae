"""Entry point of the `kit` console script."""

from __future__ import annotations

import sys

import click
import typer

from kit.cli import dev, env
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


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a KitError becomes one line on stderr and its exit code."""
    try:
        code = app(args=argv, prog_name="kit", standalone_mode=False)
    except KitError as exc:
        print(f"kit: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        print("kit: aborted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
