"""The runner's kernel: ready without an idle wait, yet no output is lost or misattributed."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kit.config import Settings
from kit.runner import kernel_manager as kernel
from kit.runner import run


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


def test_runs_use_kits_launcher_and_notebooks_see_debugpy_and_the_collector(
    tmp_path: Path, make_notebook: Callable[..., Path]
) -> None:
    settings = Settings(outputs_bucket=str(tmp_path / "outputs"))
    nb = make_notebook(
        "launcher",
        "import sys\nprint(sys.argv[0])",
        "import debugpy\nprint(debugpy.__name__)",
        "import gc\nprint(gc.isenabled())",
    )
    result = run(settings, str(nb), "r1")
    assert result.status == "succeeded"
    out = json.loads(Path(result.output_url).read_text())
    printed = ["".join(o["text"]) for c in out["cells"] for o in c.get("outputs", [])]
    assert printed[0].strip().endswith(os.path.join("kit", "kernel_launcher.py"))
    assert printed[1] == "debugpy\n"
    assert printed[2] == "True\n"  # the collector is back on once the kernel has started


def test_other_kernel_specs_are_left_as_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_dir = tmp_path / "kernels" / "custom"
    spec_dir.mkdir(parents=True)
    argv = ["/opt/other/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec_dir / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Other", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    km = kernel.kernel_manager("custom")
    try:
        assert km.kernel_spec.argv == argv
    finally:
        shutil.rmtree(os.path.dirname(km.ip), ignore_errors=True)
