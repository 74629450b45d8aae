"""`kit dev`: the embedded GCS (fake-gcs-server) for laptops and tests."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from kit import dev
from kit.cli.common import out, settings

app = typer.Typer(help="Run the embedded GCS emulator on 127.0.0.1.", no_args_is_help=True)

ROOT = typer.Option(dev.DEFAULT_ROOT, "--root", envvar="KIT_DEV_ROOT", help="Data folder.")


@app.command()
def up(
    root: Path = ROOT,
    port: int = typer.Option(dev.DEFAULT_PORT, envvar="KIT_DEV_PORT", help="Port on 127.0.0.1."),
) -> None:
    """Start fake-gcs-server, create the buckets and upload the example datasets."""
    conf = settings()
    server = dev.start(root, port)
    changed = dev.provision(server, conf)
    out().print(f"embedded GCS at {server.url} (pid {server.pid}, data in {root})")
    for item in changed:
        out().print(f"  created {item}")
    out().print('use it from a shell with: eval "$(kit dev env)"')


@app.command()
def down(root: Path = ROOT) -> None:
    """Stop the emulator; its data stays under --root."""
    stopped = dev.stop(root)
    out().print("embedded GCS stopped" if stopped else "embedded GCS was not running")


@app.command("env")
def env_(root: Path = ROOT) -> None:
    """Print `export` lines for the emulator and the KIT_* buckets."""
    server = dev.status(root)
    if server is None:
        from kit.errors import KitError

        raise KitError(f"no embedded GCS is running for {root}; start it with `kit dev up`")
    for key, value in dev.environment(server, settings()).items():
        out().print(f"export {key}={shlex.quote(value)}")
