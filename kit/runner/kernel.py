"""The kernel a run executes in: jupyter_client's manager, and a client that is ready sooner.

Imported only from the runner's worker thread, so the CLI never pays for jupyter_client
before the parameters are checked.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from queue import Empty
from typing import Any

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_path
from jupyter_core.utils import run_sync

RECONNECT_MS = 10


class ReadyClient(AsyncKernelClient):
    """An AsyncKernelClient that is ready as soon as the kernel is.

    Two waits of jupyter_client's would delay every run's first cell:
    - its client connects before the kernel has bound its sockets, and zmq retries
      every 100 ms; IOPub (a subscription) then typically starts ~0.1 s after the
      kernel could answer. We retry every 10 ms.
    - `wait_for_ready` ends by listening to IOPub until it has been quiet for 0.2 s, to
      drop the status messages of its kernel_info requests. nbclient already ignores
      every IOPub message whose parent is not the request it waits for.
    """

    def start_channels(self, *args: Any, **kwargs: Any) -> None:
        """Start the channels; their sockets retry connecting every RECONNECT_MS."""
        # The context is this client's own, and its channels' sockets are created here.
        self.context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        super().start_channels(*args, **kwargs)

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
    kernel traffic off TCP (and ipykernel quiet about it). Kernel specs are looked up
    in Jupyter's data paths (jupyter_client would also import IPython, ~50 ms, only to
    add the legacy ~/.ipython/kernels). The environment's own IPython kernel is started
    through `kit.kernel`, which skips the debugger a run cannot use.
    """
    ipc = os.path.join(tempfile.mkdtemp(prefix="kit-kernel-"), "kernel")
    specs = KernelSpecManager(kernel_dirs=jupyter_path("kernels"))
    km = AsyncKernelManager(
        kernel_name=kernel_name, transport="ipc", ip=ipc, kernel_spec_manager=specs
    )
    km.client_factory = ReadyClient
    spec = km.kernel_spec
    ipykernel = ["-m", "ipykernel_launcher"]
    if spec and spec.argv[0] in ("python", sys.executable) and spec.argv[1:3] == ipykernel:
        spec.argv = [spec.argv[0], "-m", "kit.kernel", *spec.argv[3:]]
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
