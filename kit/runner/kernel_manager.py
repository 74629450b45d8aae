"""The kernel a run executes in: jupyter_client's manager, and a client that is ready sooner.

Imported only from the runner's worker thread, so the CLI never pays for jupyter_client
before the parameters are checked.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from queue import Empty
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import major_protocol_version
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_path
from jupyter_core.utils import run_sync

log = logging.getLogger(__name__)


class ReadyClient(AsyncKernelClient):
    """An AsyncKernelClient that is ready as soon as the kernel is, installed through
    jupyter_client's `client_factory` setting (nbclient waits on the client km makes).

    jupyter_client's `wait_for_ready` ends by listening to IOPub until it has been quiet
    for 0.2 s, to drop the status messages of its kernel_info requests: 0.2 s or more of
    every run. nbclient already ignores every IOPub message whose parent is not the request
    it waits for. The override stays because bench/results.md shows what it buys;
    tests/runner/test_kernel_contract.py fails when jupyter_client or nbclient stop
    behaving as it relies on.
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
                        self._adapt(msg)
                        return
            if not await self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    def _adapt(self, reply: dict[str, Any]) -> None:
        """Speak the kernel's major protocol version, as jupyter_client does on this reply."""
        major = int(reply["content"]["protocol_version"].split(".")[0])
        if major != major_protocol_version:
            self.session.adapt_version = major


def kernel_manager(kernel_name: str) -> AsyncKernelManager:
    """An async manager for kernel_name over IPC, in a fresh private folder.

    Async, so nbclient polls the kernel's liveness while it waits for output; IPC keeps
    kernel traffic off TCP (and ipykernel quiet about it). Kernel specs are looked up
    in Jupyter's data paths (jupyter_client would also import IPython, ~50 ms, only to
    add the legacy ~/.ipython/kernels). The environment's own IPython kernel is started
    through `kit.kernel_launcher`, which skips the debugger a run cannot use.
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
        spec.argv = [spec.argv[0], "-m", "kit.kernel_launcher", *spec.argv[3:]]
    return km


def start(km: AsyncKernelManager, env: dict[str, str]) -> None:
    """Start km's kernel with env; without an IPython history database, as nbclient does."""
    spec = km.kernel_spec
    log.debug("starting kernel %s: %s", km.kernel_name, " ".join(spec.argv) if spec else "?")
    run_sync(km.start_kernel)(env=env, extra_arguments=["--HistoryManager.hist_file=:memory:"])
    process = getattr(km.provisioner, "process", None) if km.provisioner else None
    log.debug("kernel started (pid %s), connection over %s", getattr(process, "pid", "?"), km.ip)


def dispose(km: AsyncKernelManager) -> None:
    """Stop the kernel if it still runs, and remove its connection files and folder."""
    process = getattr(km.provisioner, "process", None) if km.provisioner else None
    if process is not None:
        # Every output has arrived (or the run is being stopped): kill at once, where
        # shutdown_kernel(now=True) would interrupt first and poll every 0.1 s.
        process.kill()
        code = process.wait()
        run_sync(km.cleanup_resources)()
        log.debug("kernel stopped (pid %s, exit status %s)", process.pid, code)
    elif km.has_kernel:
        run_sync(km.shutdown_kernel)(now=True)
        log.debug("kernel shut down")
    shutil.rmtree(os.path.dirname(km.ip), ignore_errors=True)
