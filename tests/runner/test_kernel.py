"""The runner's kernel: ready without an idle wait, yet no output is lost or misattributed."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from kit.runner import kernel


def _started() -> Any:
    km = kernel.kernel_manager("python3")
    kernel.start(km, dict(os.environ))
    return km


async def _execute(kc: Any, code: str) -> list[str]:
    """Execute code; the text of every stream message whose parent is that request."""
    msg_id = kc.execute(code)
    texts = []
    while True:
        msg = await kc.iopub_channel.get_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            texts.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return texts


def test_ready_client_executes_right_after_the_kernel_answers() -> None:
    km = _started()
    try:
        kc = km.client()
        assert isinstance(kc, kernel.ReadyClient)

        async def scenario() -> list[str]:
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=60)
                return await _execute(kc, "print(6 * 7)")
            finally:
                kc.stop_channels()

        assert asyncio.run(scenario()) == ["42\n"]
    finally:
        kernel.dispose(km)
    assert not os.path.exists(os.path.dirname(km.ip))


def test_ready_client_reports_a_kernel_that_died_before_answering() -> None:
    km = _started()
    try:
        km.provisioner.process.kill()
        km.provisioner.process.wait()
        kc = km.client()

        async def scenario() -> None:
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=60)
            finally:
                kc.stop_channels()

        with pytest.raises(RuntimeError, match="died before replying"):
            asyncio.run(scenario())
    finally:
        kernel.dispose(km)
