"""`kit dev`: the embedded GCS (fake-gcs-server) for laptops and tests."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from kit import dev
from kit.cli.common import KitGroup, out, settings

app = KitGroup("dev", help="Run the embedded GCS emulator on 127.0.0.1.", no_args_is_help=True)

ROOT = click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=dev.DEFAULT_ROOT,
    envvar="KIT_DEV_ROOT",
    show_envvar=True,
    show_default=True,
    help="Data folder.",
)


@app.command("up")
@ROOT
@click.option(
    "--port",
    type=int,
    default=dev.DEFAULT_PORT,
    envvar="KIT_DEV_PORT",
    show_envvar=True,
    show_default=True,
    help="Port on 127.0.0.1.",
)
def up(root: Path, port: int) -> None:
    """Start fake-gcs-server, create the buckets and upload the example datasets."""
    conf = settings()
    server = dev.start(root, port)
    changed = dev.provision(server, conf)
    out().print(f"embedded GCS at {server.url} (pid {server.pid}, data in {root})")
    for item in changed:
        out().print(f"  created {item}")
    out().print('use it from a shell with: eval "$(kit dev env)"')


@app.command("down")
@ROOT
def down(root: Path) -> None:
    """Stop the emulator; its data stays under --root."""
    stopped = dev.stop(root)
    out().print("embedded GCS stopped" if stopped else "embedded GCS was not running")


@app.command("env")
@ROOT
def env_(root: Path) -> None:
    """Print `export` lines for the emulator and the KIT_* buckets."""
    server = dev.status(root)
    if server is None:
        from kit.errors import KitError

        raise KitError(f"no embedded GCS is running for {root}; start it with `kit dev up`")
    for key, value in dev.environment(server, settings()).items():
        out().print(f"export {key}={shlex.quote(value)}")
