"""The kernel a run executes in: jupyter_client's manager, and a client that is ready sooner.

Imported only from the runner's worker thread, so the CLI never pays for jupyter_client
before the parameters are checked.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from queue import Empty
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync


class ReadyClient(AsyncKernelClient):
    """An AsyncKernelClient whose `wait_for_ready` returns as soon as the kernel answers.

    jupyter_client's version ends by listening to IOPub until it has been quiet for
    0.2 s, to drop the status messages of its kernel_info requests. nbclient already
    ignores every IOPub message whose parent is not the request it is waiting for, so
    that idle wait only delays every run's first cell.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """Wait for a kernel_info reply and a live IOPub channel (no idle flush)."""
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                msg: dict[str, Any] = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                pass
            else:
                if msg["msg_type"] == "kernel_info_reply":
                    # As jupyter_client does: a reply with IOPub still silent means the
                    # subscription is not connected yet, and its output would be lost.
                    try:
                        await self.iopub_channel.get_msg(timeout=0.2)
                    except Empty:
                        pass
                    else:
                        self._handle_kernel_info_reply(msg)
                        return
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")


def kernel_manager(kernel_name: str) -> AsyncKernelManager:
    """An async manager for kernel_name over IPC, in a fresh private folder.

    Async, so nbclient polls the kernel's liveness while it waits for output; IPC keeps
    kernel traffic off TCP (and ipykernel quiet about it).
    """
    ipc = os.path.join(tempfile.mkdtemp(prefix="kit-kernel-"), "kernel")
    km = AsyncKernelManager(kernel_name=kernel_name, transport="ipc", ip=ipc)
    km.client_factory = ReadyClient
    return km


def start(km: AsyncKernelManager, env: dict[str, str]) -> None:
    """Start km's kernel with env; without an IPython history database, as nbclient does."""
    run_sync(km.start_kernel)(env=env, extra_arguments=["--HistoryManager.hist_file=:memory:"])


def dispose(km: AsyncKernelManager) -> None:
    """Stop the kernel if it still runs, and remove its connection files and folder."""
    process = getattr(km.provisioner, "process", None) if km.provisioner else None
    if process is not None:
        # Every output has arrived (or the run is being stopped): kill at once, where
        # shutdown_kernel(now=True) would interrupt first and poll every 0.1 s.
        process.kill()
        process.wait()
        run_sync(km.cleanup_resources)()
    elif km.has_kernel:
        run_sync(km.shutdown_kernel)(now=True)
    shutil.rmtree(os.path.dirname(km.ip), ignore_errors=True)
