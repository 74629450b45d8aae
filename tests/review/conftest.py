"""Fixtures of the review tests: runs of every status, made once per session (review_support)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from review_support import ReviewRuns, make_runs

from kit import dev
from kit.review.server import start, url_of


@pytest.fixture(scope="session")
def review_runs(gcs_server: dev.Server, tmp_path_factory: pytest.TempPathFactory) -> ReviewRuns:
    """Runs of every status, made once with `kit run` (real kernels, real papermill)."""
    return make_runs(gcs_server, tmp_path_factory.mktemp("review"))


@pytest.fixture(autouse=True)
def _review_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `kit runs` caches run records under $XDG_CACHE_HOME: never the developer's home here.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def review_env(review_runs: ReviewRuns, monkeypatch: pytest.MonkeyPatch) -> ReviewRuns:
    """The session runs, with this process's KIT_* buckets pointing at them."""
    for key in ("KIT_MODULES_BUCKET", "KIT_OUTPUTS_BUCKET", "KIT_DATA_BUCKET"):
        monkeypatch.setenv(key, review_runs.env[key])
    return review_runs


@pytest.fixture(scope="module")
def review_url(review_runs: ReviewRuns) -> Iterator[str]:
    """A review server on loopback over the session runs; its base URL."""
    server, thread = start(review_runs.settings)
    yield url_of(server)
    server.shutdown()
    server.server_close()
    thread.join(5)
