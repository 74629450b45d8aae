"""`python -m kit.kernel_launcher -f CONNECTION_FILE`: `kit run`'s IPython kernel, sans debugger.

ipykernel imports debugpy while it starts so that a frontend can attach a debugger; a
run's kernel has no frontend. This launcher hides debugpy while the kernel initialises
(bench/results.md shows what that buys every run), then lets notebooks import it as
usual; and, as `kit run` itself, starts without the cyclic garbage collector
(kit.gcpause). The rest is ipykernel_launcher's: same interpreter, same arguments, same
kernel. tests/runner/test_kernel_contract.py fails when ipykernel stops treating a
missing debugpy as "no debugger".
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from kit import gcpause


@contextmanager
def without_debugpy() -> Iterator[None]:
    """`import debugpy` fails inside, unless debugpy was imported before; not after."""
    hidden = "debugpy" not in sys.modules
    if hidden:
        sys.modules["debugpy"] = None  # type: ignore[assignment]  # `import debugpy` fails
    try:
        yield
    finally:
        if hidden and sys.modules.get("debugpy", False) is None:
            del sys.modules["debugpy"]


def main() -> None:
    """Start an IPython kernel from the command line, as ipykernel_launcher does."""
    if sys.path and sys.path[0] == "":
        del sys.path[0]  # as ipykernel_launcher: no imports from the CWD while it loads
    gcpause.pause()
    with without_debugpy():
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize()  # type: ignore[no-untyped-call]
    gcpause.resume()  # the notebook's own objects are collected as usual
    app.start()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
