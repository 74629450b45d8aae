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
    help=f"Data folder [default: $KIT_DEV_ROOT, else {dev.DEFAULT_ROOT}].",
)


def _root(root: Path | None) -> Path:
    """--root, else the settings' dev_root (KIT_DEV_ROOT), else kit.dev's default."""
    return root or Path(settings().dev_root or dev.DEFAULT_ROOT)


@app.command("up")
@ROOT
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help=f"Port on 127.0.0.1 [default: $KIT_DEV_PORT, else {dev.DEFAULT_PORT}].",
)
def up(root: Path | None, port: int | None) -> None:
    """Start fake-gcs-server, create the buckets and upload the example datasets."""
    conf = settings()
    folder = _root(root)
    server = dev.start(folder, port or conf.dev_port or dev.DEFAULT_PORT)
    changed = dev.provision(server, conf)
    out().print(f"embedded GCS at {server.url} (pid {server.pid}, data in {folder})")
    for item in changed:
        out().print(f"  created {item}")
    out().print('use it from a shell with: eval "$(kit dev env)"')


@app.command("down")
@ROOT
def down(root: Path | None) -> None:
    """Stop the emulator; its data stays under --root."""
    stopped = dev.stop(_root(root))
    out().print("embedded GCS stopped" if stopped else "embedded GCS was not running")


@app.command("env")
@ROOT
def env_(root: Path | None) -> None:
    """Print `export` lines for the emulator and the KIT_* buckets."""
    folder = _root(root)
    server = dev.status(folder)
    if server is None:
        from kit.errors import KitError

        raise KitError(f"no embedded GCS is running for {folder}; start it with `kit dev up`")
    for key, value in dev.environment(server, settings()).items():
        out().print(f"export {key}={shlex.quote(value)}")
