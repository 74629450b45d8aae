"""20 concurrent publishers of distinct edits: 20 versions, and a pointer naming one of them."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from kit.catalog import Catalog
from kit.config import Settings
from kit.publishing import Published, publish_notebook
from kit.storage import storage_for
from kit.storage.gcs import GCSStorage

PUBLISHERS = 20
MakeNotebook = Callable[..., Path]

pytestmark = pytest.mark.slow


def _check_outcome(settings: Settings, name: str, expected: set[str]) -> str:
    catalog = Catalog(settings)
    versions = catalog.versions(name)
    assert len(versions) == PUBLISHERS
    assert set(versions) == expected
    shas = {catalog.manifest(name, v).sha256 for v in versions}
    assert len(shas) == PUBLISHERS
    url = catalog.latest_url(name)
    pointer = json.loads(storage_for(url).read(url))
    latest = str(pointer["version"])
    assert latest in versions
    assert pointer["url"] == catalog.notebook_url(name, latest)
    assert catalog.storage.exists(pointer["url"])
    # Forward only: the pointer is on the newest second any publisher stamped.
    assert latest[:16] == max(v[:16] for v in versions)
    return latest


def test_threads_with_separate_clients(make_notebook: MakeNotebook, gcs_settings: Settings) -> None:
    paths = [make_notebook(f"t{i}/race.ipynb", body=f"edit = {i}") for i in range(PUBLISHERS)]
    barrier = threading.Barrier(PUBLISHERS)
    results: list[Published] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def publisher(path: Path) -> None:
        try:
            storage = GCSStorage(gcs_settings.retry_deadline)  # its own client and connections
            barrier.wait(timeout=60)
            result = publish_notebook(path, settings=gcs_settings, storage=storage)
            with lock:
                results.append(result)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=publisher, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert all(r.created for r in results)
    _check_outcome(gcs_settings, "race", {r.version for r in results})


def test_processes(
    make_notebook: MakeNotebook,
    gcs_settings: Settings,
    kit_cmd: list[str],
    kit_env: dict[str, str],
) -> None:
    paths = [make_notebook(f"p{i}/race.ipynb", body=f"edit = {i}") for i in range(PUBLISHERS)]
    procs = [
        subprocess.Popen(
            [*kit_cmd, "publish", str(path)],
            env=kit_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in paths
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert [p.returncode for p in procs] == [0] * PUBLISHERS, [err for _, err in outputs]
    published = {out.split()[1].split("@")[1] for out, _ in outputs}
    _check_outcome(gcs_settings, "race", published)
