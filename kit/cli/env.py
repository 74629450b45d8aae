"""`kit env check`: drift between this Python environment and environment.yml."""

from __future__ import annotations

from pathlib import Path

import click

from kit.cli.common import KitGroup, out
from kit.errors import KitError

app = KitGroup("env", help="The notebook environment (= the runtime image).", no_args_is_help=True)


class DriftError(KitError):
    """Installed packages differ from the image's pins."""


@app.command("check")
@click.option(
    "--spec",
    type=click.Path(path_type=Path),
    help="environment.yml to compare with [default: the one kit was installed with].",
)
def check(spec: Path | None) -> None:
    """List packages whose installed version differs from environment.yml; exit 1 if any."""
    from kit import envcheck  # yaml and importlib.metadata: only this command needs them

    spec = spec or envcheck.DEFAULT_SPEC
    drifts = envcheck.check(spec)
    if not drifts:
        out().print(f"environment matches {spec}")
        return
    for d in drifts:
        out().print(f"{d.name}: pinned {d.pinned}, installed {d.installed or 'missing'}")
    raise DriftError(f"{len(drifts)} package(s) differ from {spec}")
