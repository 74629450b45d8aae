"""`kit dev`: the embedded GCS (fake-gcs-server) for laptops and tests."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from kit import dev
from kit.cli.common import KitGroup, err, out, settings

app = KitGroup("dev", help="Run the embedded GCS emulator on 127.0.0.1.", no_args_is_help=True)

ROOT = click.option(
    "--root",
    type=click.Path(path_type=Path),
    help="Data folder [default: $KIT_DEV_ROOT, else .kit/gcs of the checkout around the "
    "current folder].",
)


def _root(root: Path | None) -> Path:
    """--root, else the settings' dev_root (KIT_DEV_ROOT), else .kit/gcs of the checkout
    around the current folder (kit.dev.default_root)."""
    if root is not None:
        return root
    configured = settings().dev_root
    return Path(configured) if configured else dev.default_root()


@app.command("up")
@ROOT
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help=f"Port on 127.0.0.1 [default: $KIT_DEV_PORT, else {dev.DEFAULT_PORT}, or a free port "
    "when it is taken].",
)
def up(root: Path | None, port: int | None) -> None:
    """Start fake-gcs-server, create the buckets and upload the example datasets."""
    conf = settings()
    folder = _root(root)
    asked = port or conf.dev_port
    running = dev.status(folder)
    server = running or dev.start(folder, asked or dev.DEFAULT_PORT, any_port=asked is None)
    if running is None and asked is None and server.port != dev.DEFAULT_PORT:
        err().print(f"kit: port {dev.DEFAULT_PORT} is in use; using port {server.port}")
    changed = dev.provision(server, conf)
    out().print(f"embedded GCS at {server.url} (pid {server.pid}, data in {folder})")
    for item in changed:
        out().print(f"  created {item}")
    command = (
        "kit dev env" if root is None else shlex.join(["kit", "dev", "env", "--root", str(root)])
    )
    out().print(f'use it from a shell with: eval "$({command})"', markup=False)


@app.command("down")
@ROOT
def down(root: Path | None) -> None:
    """Stop the emulator; its data stays under --root."""
    stopped = dev.stop(_root(root))
    out().print("embedded GCS stopped" if stopped else "embedded GCS was not running")


@app.command("env")
@ROOT
def env_(root: Path | None) -> None:
    """Print `export` lines for the emulator and the KIT_* buckets (from any folder of the
    checkout)."""
    folder = _root(root)
    server = dev.status(folder)
    if server is None:
        from kit.errors import KitError

        raise KitError(f"no embedded GCS is running for {folder}; start it with `kit dev up`")
    for key, value in dev.environment(server, settings()).items():
        out().print(f"export {key}={shlex.quote(value)}")
