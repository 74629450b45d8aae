"""The kernel floor of measurement 1: start a kernel, execute one cell, stop it.

Nothing else: no notebook, no storage. `.venv/bin/python bench/kernel_floor.py` does it the
way jupyter_client's documentation shows (`start_new_kernel`, `shutdown_kernel(now=True)`);
with `--kit` the kernel is started, awaited and stopped as `kit run` does it
(kit.runner.kernel_manager), which shows what kit adds beyond its own way of starting kernels;
`--kit --without-ready` awaits it with jupyter_client's own client instead of kit's
ReadyClient (what that client buys, measurement 1).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

CODE = "x = 1\nprint(x + 1)"


def jupyter_client_floor() -> None:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = kc.execute_interactive(CODE, timeout=60, output_hook=lambda _: None)
        _check(reply)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def kit_floor(ready_client: bool = True) -> None:
    import os

    from jupyter_client.asynchronous.client import AsyncKernelClient

    from kit.runner import kernel_manager as kernel

    km = kernel.kernel_manager("python3")
    if not ready_client:
        km.client_factory = AsyncKernelClient
    try:
        kernel.start(km, dict(os.environ))
        kc = km.client()

        async def execute() -> None:
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=60)
                _check(await kc.execute_interactive(CODE, timeout=60, output_hook=lambda _: None))
            finally:
                kc.stop_channels()

        asyncio.run(execute())
    finally:
        kernel.dispose(km)


def _check(reply: Any) -> None:
    if reply["content"]["status"] != "ok":
        raise SystemExit(f"the cell failed: {reply['content']}")


if __name__ == "__main__":
    if "--kit" in sys.argv[1:]:
        kit_floor(ready_client="--without-ready" not in sys.argv[1:])
    else:
        jupyter_client_floor()
