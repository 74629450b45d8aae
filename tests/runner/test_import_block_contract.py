"""What kit.runner.execute.block_unused_imports relies on in papermill, jsonschema and nbformat.

kit keeps gcsfs and two of jsonschema's format checkers out of its own process
(bench/results.md shows what that buys). These tests fail when a pinned library stops
treating them as optional, or stops importing them (the block would then be dead); the
probe also reads and writes GCS with the block in place, as every `kit` command does.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from kit.runner.execute import UNUSED_IMPORTS

# What `kit run`'s process imports, then what it checks; run in a fresh interpreter.
_PROBE = """
import json, sys
if {block}:
    from kit.runner.execute import block_unused_imports
    block_unused_imports()
import kit.cli.main, kit.runner, kit.storage.gcs, papermill, papermill.iorw, nbformat
from nbformat.v4 import new_code_cell, new_notebook
from kit.storage import storage_for
nbformat.validate(new_notebook(cells=[new_code_cell("x = 1")]))
store = storage_for({url!r})
store.write({url!r}, b"through JSON over HTTP", if_generation_match=0)
assert store.read({url!r}) == b"through JSON over HTTP"
print(json.dumps({{
    "loaded": sorted(m for m in {modules!r} if sys.modules.get(m) is not None),
    "papermill_gcs": papermill.iorw.GCSFileSystem.__name__,
}}))
"""


def _probe(block: bool, bucket: str) -> dict[str, object]:
    url = f"{bucket}/probe-{'blocked' if block else 'open'}.txt"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(block=block, modules=UNUSED_IMPORTS, url=url)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_with_the_block_papermill_nbformat_and_gcs_work_without_the_blocked_modules(
    bucket: str,
) -> None:
    found = _probe(block=True, bucket=bucket)
    assert found["loaded"] == []
    # papermill's stand-in for an absent gcsfs: kit's own I/O handlers serve gs:// runs.
    assert found["papermill_gcs"] != "GCSFileSystem"


def test_without_the_block_every_blocked_module_that_is_installed_is_imported(
    bucket: str,
) -> None:
    installed = [m for m in UNUSED_IMPORTS if importlib.util.find_spec(m) is not None]
    if not installed:
        pytest.skip("none of the blocked modules is installed here")
    assert _probe(block=False, bucket=bucket)["loaded"] == sorted(installed)
