"""`kit review`: the review page over HTTP (stdlib ThreadingHTTPServer), on loopback by default.

Read-only (GET and HEAD), no script on the page, strict security headers, and nothing
from the environment is ever rendered: the page shows run records and notebooks only.
Requests whose Host header is not the loopback address are refused (DNS rebinding).
It never writes to a bucket. One link writes on this machine: /runs/<name>/<run-id>/lab
copies the executed notebook into the running JupyterLab (kit.review.lab) and redirects
there; it answers only this machine's browser, following a link on this page.
"""

from __future__ import annotations

import html
import ipaddress
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kit.config import Settings
from kit.errors import KitError, NotFoundError, UsageError
from kit.review import lab
from kit.review.cache import default_dir
from kit.review.listing import RunStore
from kit.review.web.routes import Response, ReviewPages

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), clipboard-read=()",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    """Whether host is a loopback address or localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    server_version = "kit-review"
    pages: ReviewPages
    allowed_hosts: frozenset[str] | None  # None: any Host (bound beyond loopback on purpose)
    quiet: bool

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def _respond(self, response: Response, *, body: bool = True) -> None:
        self.send_response(response.status)
        headers = {**SECURITY_HEADERS, **response.headers}
        headers["Content-Type"] = response.content_type
        headers["Content-Length"] = str(len(response.body))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(response.body)

    def _route(self) -> Response:
        host = (self.headers.get("Host") or "").lower()
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            return self.pages.error(421, "this page is served on loopback only")
        split = urlsplit(self.path)
        parts = [unquote(p) for p in split.path.split("/") if p]
        query = parse_qs(split.query)
        try:
            if len(parts) == 4 and parts[0] == "runs" and parts[3] == "lab":
                return self._open_in_lab(parts[1], parts[2])
            return self.pages.handle(parts, query)
        except KitError as exc:  # storage unreachable, etc.: say so, in one line
            return self.pages.error(502, str(exc))
        except Exception:
            traceback.print_exc(file=sys.stderr)  # details for the operator, not the browser
            return self.pages.error(500, "internal error (see the kit review terminal)")

    def _open_in_lab(self, name: str, run_id: str) -> Response:
        """Copy a run into this machine's JupyterLab; 303 to it there (kit.review.lab)."""
        if not is_loopback(self.client_address[0]):
            return self.pages.error(403, "runs open in JupyterLab only from this machine")
        if self.headers.get("Sec-Fetch-Site", "none") not in ("same-origin", "none"):
            return self.pages.error(403, "open runs in JupyterLab from the review page")
        store = self.pages.store
        try:
            opened = lab.open_run(store, store.get(name, run_id), lab.choose_server())
        except NotFoundError as exc:
            return self.pages.error(404, str(exc))
        link = html.escape(opened.url)
        body = f"<a href='{link}'>{link}</a>".encode()
        return Response(303, "text/html; charset=utf-8", body, {"Location": opened.url})

    def do_GET(self) -> None:
        self._respond(self._route())

    def do_HEAD(self) -> None:
        self._respond(self._route(), body=False)

    def _refuse(self) -> None:
        response = self.pages.error(405, "this page is read-only")
        self._respond(Response(405, response.content_type, response.body, {"Allow": "GET, HEAD"}))

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            sys.stderr.write(f"kit review: {self.address_string()} {format % args}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def make_server(
    settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, quiet: bool = False
) -> ThreadingHTTPServer:
    """A bound (not yet serving) review server; port 0 picks a free port."""
    pages = ReviewPages(RunStore(settings, cache_dir=default_dir()))
    server_class = _Server6 if ":" in host else _Server
    handler: type[_Handler] = type(
        "ReviewHandler",
        (_Handler,),
        {"pages": pages, "allowed_hosts": None, "quiet": quiet},
    )
    try:
        server = server_class((host.strip("[]"), port), handler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    bound = server.server_address[1]
    if is_loopback(host.strip("[]")):
        handler.allowed_hosts = frozenset(
            f"{name}:{bound}" for name in ("127.0.0.1", "localhost", "[::1]", host.lower())
        )
    return server


def url_of(server: ThreadingHTTPServer) -> str:
    """The http:// URL a server answers on."""
    host, port = server.server_address[:2]
    host = str(host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def start(
    settings: Settings, host: str = DEFAULT_HOST, port: int = 0, *, quiet: bool = True
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve in a background thread (for tests and notebooks); stop with server.shutdown()."""
    server = make_server(settings, host, port, quiet=quiet)
    thread = threading.Thread(target=server.serve_forever, name="kit-review", daemon=True)
    thread.start()
    return server, thread
