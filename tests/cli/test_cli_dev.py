"""`kit dev up | env | down` as a user runs them: real processes, real server."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

KIT = [sys.executable, "-m", "kit.cli.main"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "STORAGE_EMULATOR_HOST"}
    return subprocess.run(
        [*KIT, *args], capture_output=True, text=True, env={**clean, **(env or {})}, check=False
    )


def test_dev_up_env_down_round_trip(tmp_path: Path) -> None:
    root, port = tmp_path / "gcs", str(_free_port())
    up = _kit("dev", "up", "--root", str(root), "--port", port)
    try:  # whatever fails below, the server must not outlive the test
        assert up.returncode == 0, up.stderr
        assert "gs://kit-data/prophet-examples/example_wp_log_peyton_manning.csv" in up.stdout
        again = _kit("dev", "up", "--root", str(root), "--port", port)
        assert again.returncode == 0, again.stderr
        assert "created" not in again.stdout  # idempotent: nothing new the second time
        env = _kit("dev", "env", "--root", str(root))
        assert f"export STORAGE_EMULATOR_HOST=http://127.0.0.1:{port}" in env.stdout
        assert "export GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false" in env.stdout
        assert "export KIT_DATA_BUCKET=gs://kit-data" in env.stdout
        listing = subprocess.run(
            [
                sys.executable,
                "-c",
                "from kit.storage import storage_for as s;"
                "print(len(list(s('gs://kit-data').list('gs://kit-data/prophet-examples/'))))",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}"},
            check=True,
        )
        assert int(listing.stdout) >= 2
    finally:
        down = _kit("dev", "down", "--root", str(root))
    assert down.returncode == 0
    assert "stopped" in down.stdout
    assert (root / "data" / "kit-data").is_dir()  # data persists


def test_dev_env_without_a_server_is_a_one_line_error(tmp_path: Path) -> None:
    result = _kit("dev", "env", "--root", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "kit dev up" in result.stderr


def test_dev_up_on_a_busy_port_names_the_port(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = str(sock.getsockname()[1])
        result = _kit("dev", "up", "--root", str(tmp_path), "--port", port)
    assert result.returncode == 2
    assert f"port {port}" in result.stderr


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"KIT_BOGUS": "1"}, "unknown environment variable KIT_BOGUS"),
        ({"KIT_OUTPUTS_BUCKET": "s3://x"}, "KIT_OUTPUTS_BUCKET"),
    ],
)
def test_bad_settings_exit_2_with_one_line(
    tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    result = _kit("dev", "up", "--root", str(tmp_path), "--port", str(_free_port()), env=env)
    assert result.returncode == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_dev_env_works_from_any_folder_of_the_checkout(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / ".kit").mkdir(parents=True)  # made by `make env`
    (checkout / "notebooks" / "team").mkdir(parents=True)
    port = str(_free_port())
    up = _kit_in(checkout, "dev", "up", "--port", port)
    try:
        assert up.returncode == 0, up.stderr
        assert f"data in {checkout / '.kit' / 'gcs'}" in up.stdout
        assert 'use it from a shell with: eval "$(kit dev env)"' in up.stdout
        # A JupyterLab terminal opens in notebooks/ (make lab's root).
        for folder in (checkout / "notebooks", checkout / "notebooks" / "team"):
            env = _kit_in(folder, "dev", "env")
            assert env.returncode == 0, env.stderr
            assert f"export STORAGE_EMULATOR_HOST=http://127.0.0.1:{port}" in env.stdout
    finally:
        down = _kit_in(checkout / "notebooks", "dev", "down")
    assert "embedded GCS stopped" in down.stdout
    assert not (checkout / "notebooks" / ".kit").exists()


def test_dev_up_with_a_root_prints_the_env_command_for_that_root(tmp_path: Path) -> None:
    root = tmp_path / "my data"
    up = _kit("dev", "up", "--root", str(root), "--port", str(_free_port()))
    try:
        assert up.returncode == 0, up.stderr
        hint = up.stdout.strip().splitlines()[-1]
        command = hint.split('eval "$(', 1)[1].rsplit(')"', 1)[0]
        assert shlex.split(command) == ["kit", "dev", "env", "--root", str(root)]
        env = _kit(*shlex.split(command)[1:])
        assert env.returncode == 0, env.stderr
        assert "export STORAGE_EMULATOR_HOST=" in env.stdout
    finally:
        _kit("dev", "down", "--root", str(root))


def test_dev_up_without_a_port_takes_a_free_one_when_the_default_is_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo` runs `kit dev up` without a port: when 4443 is taken it must still work."""
    from click.testing import CliRunner

    from kit import dev
    from kit.cli.dev import app

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        monkeypatch.setattr(dev, "DEFAULT_PORT", taken)
        root = tmp_path / "gcs"
        result = CliRunner().invoke(app, ["up", "--root", str(root)])
        try:
            assert result.exit_code == 0, result.output
            server = dev.status(root)
            assert server is not None
            assert server.port != taken
            assert f"kit: port {taken} is in use; using port {server.port}" in result.output
            # An explicit port is never replaced: KIT_DEV_PORT names the one asked for.
            other = CliRunner().invoke(
                app, ["up", "--root", str(tmp_path / "b")], env={"KIT_DEV_PORT": str(taken)}
            )
            assert other.exit_code != 0
            assert f"port {taken} on 127.0.0.1 is already in use" in str(other.exception)
        finally:
            dev.stop(root)


def _kit_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "STORAGE_EMULATOR_HOST"}
    return subprocess.run(
        [*KIT, *args], capture_output=True, text=True, env=clean, cwd=cwd, check=False
    )
