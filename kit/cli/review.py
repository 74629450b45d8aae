"""`kit review`: serve the review page (runs, filters, metric charts, executed notebooks)."""

from __future__ import annotations

import click

from kit.cli.common import err, out, settings


@click.command("review")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind (loopback by default).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port (0 picks a free one).",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not log requests.")
def review(host: str, port: int, quiet: bool) -> None:
    """Serve the review page (runs, filters, metric charts, notebooks) until Ctrl+C.

    Binds to loopback by default. The page is read-only and runs no script.
    """
    from kit.review.server import is_loopback, make_server, url_of

    server = make_server(settings(), host, port, quiet=quiet)
    if not is_loopback(host.strip("[]")):
        err().print(
            f"kit: warning: serving on {host}: anyone who can reach it sees the runs "
            "(there is no login)"
        )
    out().print(f"kit review on {url_of(server)} (Ctrl+C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        out().print("kit review stopped")
    finally:
        server.server_close()
