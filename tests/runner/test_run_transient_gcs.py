"""Transient GCS errors while saving are retried: nothing is lost."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

from kit.config import Settings
from kit.dev import Server
from kit.runner import run
from kit.storage import storage_for

pytestmark = pytest.mark.slow


class FlakyProxy(ThreadingHTTPServer):
    """Forwards to the emulator, but answers every other upload with 503 first."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlparse(upstream)
        self.uploads = 0
        self.injected = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: FlakyProxy

    def log_message(self, *args: object) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.path.startswith("/upload/"):
            with self.server.lock:
                self.server.uploads += 1
                fail = self.server.uploads % 2 == 1
                self.server.injected += fail
            if fail:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward


@pytest.fixture
def flaky(gcs_server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(gcs_server.url)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{proxy.server_address[1]}")
    yield proxy
    proxy.shutdown()


def test_saves_survive_503s_and_the_output_is_complete(
    gcs_settings: Settings, make_notebook: Callable[..., Path], flaky: FlakyProxy
) -> None:
    nb = make_notebook("flaky", *[f"print('cell {i}')" for i in range(5)])
    result = run(gcs_settings, str(nb), "t1")
    assert result.status == "succeeded"
    assert flaky.injected >= 3  # the claim, the saves and run.json all met a 503 at least once
    out = json.loads(storage_for(result.output_url).read(result.output_url))
    printed = ["".join(o["text"]) for c in out["cells"] for o in c.get("outputs", [])]
    assert printed == [f"cell {i}\n" for i in range(5)]
    assert storage_for(result.record_url).exists(result.record_url)
