"""A counting proxy in front of the bench's GCS: how many requests a command makes, by kind.

Commands are timed without it; each is run once more with STORAGE_EMULATOR_HOST pointing
here, to count what it asked the storage for: lists (one per page), object GETs
(metadata), downloads, uploads; and the most requests it had in flight at once (how
concurrently a command reads).
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


def kind(method: str, path: str) -> str:
    """What a GCS JSON API request does."""
    parts = urlsplit(path)
    if parts.path.startswith("/upload/"):
        return "upload"
    if parts.path.startswith("/download/") or "alt=media" in parts.query:
        return "download"
    if parts.path.endswith("/o") and method == "GET":
        return "list"
    if "/o/" in parts.path:
        return "get" if method == "GET" else method.lower()
    if parts.path.rstrip("/").count("/") == 4 and "/b/" in parts.path:
        return "bucket"  # the client's own look at the bucket (or kit's, after a 404)
    return "other"


class CountingProxy:
    """Forwards every request to `target` (http://host:port) and counts it."""

    def __init__(self, target: str) -> None:
        self.target = urlsplit(target).netloc
        self.counts: Counter[str] = Counter()
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn = http.client.HTTPConnection(proxy.target, timeout=300)
                with proxy._lock:
                    proxy.in_flight += 1
                    proxy.most_in_flight = max(proxy.most_in_flight, proxy.in_flight)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                finally:
                    conn.close()
                    with proxy._lock:
                        proxy.in_flight -= 1
                with proxy._lock:
                    proxy.counts[kind(self.command, self.path)] += 1
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def take(self) -> Counter[str]:
        """The counts since the last take."""
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return counts

    def take_most_in_flight(self) -> int:
        """The most requests in flight at once since the last call."""
        with self._lock:
            most, self.most_in_flight = self.most_in_flight, self.in_flight
        return most

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def describe(counts: Counter[str]) -> str:
    """'3 requests: 1 list, 2 get'."""
    total = sum(counts.values())
    parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"{total} request{'s' if total != 1 else ''}" + (f": {parts}" if parts else "")
