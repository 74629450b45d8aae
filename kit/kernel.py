"""`python -m kit.kernel -f CONNECTION_FILE`: the IPython kernel of `kit run`, sans debugger.

ipykernel imports debugpy while it starts (~50 ms of every run) so that a frontend can
attach a debugger; a run's kernel has no frontend. This launcher hides debugpy while the
kernel initialises, then lets notebooks import it as usual; and, as `kit run` itself,
starts without the cyclic garbage collector (kit.gcpause). The rest is
ipykernel_launcher's: same interpreter, same arguments, same kernel.
"""

from __future__ import annotations

import sys

from kit import gcpause


def main() -> None:
    """Start an IPython kernel from the command line, as ipykernel_launcher does."""
    if sys.path and sys.path[0] == "":
        del sys.path[0]  # as ipykernel_launcher: no imports from the CWD while it loads
    gcpause.pause()
    hidden = "debugpy" not in sys.modules
    if hidden:
        sys.modules["debugpy"] = None  # type: ignore[assignment]  # `import debugpy` fails
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize()  # type: ignore[no-untyped-call]
    if hidden and sys.modules.get("debugpy", False) is None:
        del sys.modules["debugpy"]
    gcpause.resume()  # the notebook's own objects are collected as usual
    app.start()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
