"""What the runner's kernel start relies on in jupyter_client, nbclient and ipykernel.

kit.runner.kernel_manager.ReadyClient skips jupyter_client's idle IOPub flush, and
kit.kernel_launcher starts ipykernel with debugpy hidden (bench/results.md shows what each
buys). These tests fail when a pinned library stops behaving as those two rely on.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.asynchronous.client import AsyncKernelClient
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from kit.runner import kernel_manager as kernel

pytestmark = pytest.mark.slow


def _started(client: type[AsyncKernelClient] = kernel.ReadyClient) -> Any:
    km = kernel.kernel_manager("python3")
    km.client_factory = client
    kernel.start(km, dict(os.environ))
    return km


def _notebook(*sources: str) -> Any:
    return new_notebook(
        cells=[new_code_cell(s) for s in sources],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


def test_nbclient_waits_for_the_kernel_with_the_client_the_manager_makes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """nbclient takes its client from km.client() (jupyter_client's client_factory setting)
    and awaits that client's wait_for_ready: so ReadyClient's is the one that runs."""
    calls: list[AsyncKernelClient] = []
    ready = kernel.ReadyClient.wait_for_ready

    async def spy(self: kernel.ReadyClient, timeout: float | None = None) -> None:
        calls.append(self)
        await ready(self, timeout)

    monkeypatch.setattr(kernel.ReadyClient, "wait_for_ready", spy)
    km = _started()
    try:
        client = NotebookClient(_notebook("print(6 * 7)"), km=km)
        nb = client.execute()
    finally:
        kernel.dispose(km)
    assert len(calls) == 1
    assert isinstance(calls[0], kernel.ReadyClient)
    assert nb.cells[0].outputs[0]["text"] == "42\n"


def test_nbclient_ignores_iopub_messages_of_requests_other_than_its_own() -> None:
    """Without the idle flush, IOPub may still hold another request's messages when the
    first cell runs; nbclient must not take them for the cell's output."""
    km = _started()
    stale: list[str] = []

    def send_stale_request(**_: Any) -> None:
        # Another request, answered on the same IOPub channel before the first cell.
        stale.append(client.kc.execute("print('not this cell')"))

    try:
        client = NotebookClient(
            _notebook("print(6 * 7)"), km=km, on_notebook_start=send_stale_request
        )
        nb = client.execute()
    finally:
        kernel.dispose(km)
    assert stale
    assert [o.get("text") for o in nb.cells[0].outputs] == ["42\n"]


def test_jupyter_clients_own_wait_for_ready_drains_iopub_until_it_is_quiet() -> None:
    """The wait ReadyClient skips: upstream returns only once IOPub is silent (it waits
    out 0.2 s of silence), leaving nothing queued. If it stopped doing so, ReadyClient
    would be dead weight."""
    km = _started(AsyncKernelClient)
    try:
        kc = km.client()

        async def scenario() -> bool:
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=60)
                return bool(await kc.iopub_channel.msg_ready())
            finally:
                kc.stop_channels()

        assert asyncio.run(scenario()) is False
    finally:
        kernel.dispose(km)


@pytest.mark.parametrize("version", ["5.3", "4.1", "6.0"])
def test_the_ready_client_adapts_to_the_kernels_protocol_as_jupyter_client_does(
    version: str,
) -> None:
    """ReadyClient handles the kernel_info reply with public settings only; the outcome
    must be what jupyter_client's own (private) handler would do."""
    reply = {"content": {"protocol_version": version}}
    ours, theirs = kernel.ReadyClient(), AsyncKernelClient()
    ours._adapt(reply)
    theirs._handle_kernel_info_reply(reply)
    assert ours.session.adapt_version == theirs.session.adapt_version


_DEBUGGER = """
import json, sys
{hide}
import ipykernel.debugger
print(json.dumps({{
    "available": ipykernel.debugger._is_debugpy_available,
    "debugpy_server_loaded": "debugpy.server" in sys.modules,
}}))
"""


@pytest.mark.parametrize(
    ("hide", "expected"),
    [
        ("", {"available": True, "debugpy_server_loaded": True}),
        ("sys.modules['debugpy'] = None", {"available": False, "debugpy_server_loaded": False}),
    ],
    ids=["ipykernel-imports-debugpy", "a-missing-debugpy-means-no-debugger"],
)
def test_ipykernel_treats_a_missing_debugpy_as_no_debugger(
    hide: str, expected: dict[str, bool]
) -> None:
    """kit.kernel_launcher hides debugpy: ipykernel must then start without a debugger rather than
    fail; and without the hiding it must load debugpy (or hiding it buys nothing)."""
    done = subprocess.run(
        [sys.executable, "-c", _DEBUGGER.format(hide=hide)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout) == expected


def test_a_run_kernel_starts_without_debugpy_and_notebooks_can_still_import_it(
    tmp_path: Path,
) -> None:
    nb = _notebook(
        "import sys\nprint('debugpy.server' in sys.modules)",
        "import debugpy\nprint(debugpy.__name__)",
    )
    km = _started()
    try:
        done = NotebookClient(nb, km=km).execute()
    finally:
        kernel.dispose(km)
    assert [c.outputs[0]["text"] for c in done.cells] == ["False\n", "debugpy\n"]
    nbformat.validate(done)
