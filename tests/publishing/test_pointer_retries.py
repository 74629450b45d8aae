"""The `latest` pointer's compare-and-swap: retried (through tenacity) while someone else
moves it, logged, and given up after its deadline with the 412 as the cause."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kit.catalog import Catalog
from kit.config import Settings
from kit.errors import PreconditionFailedError, StorageError
from kit.publishing import pointer, publish_notebook
from kit.storage import ObjectInfo, storage_for


class Contended:
    """A storage whose first `fails` writes of a latest.json meet a 412."""

    def __init__(self, inner: Any, fails: float) -> None:
        self.inner, self.fails, self.refused = inner, fails, 0

    def write(self, url: str, data: bytes, **kwargs: Any) -> ObjectInfo:
        if url.endswith("latest.json") and self.refused < self.fails:
            self.refused += 1
            raise PreconditionFailedError(f"precondition failed for {url}")
        info: ObjectInfo = self.inner.write(url, data, **kwargs)
        return info

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def published(tmp_path: Path, make_notebook: Callable[..., Path]) -> tuple[Settings, str]:
    settings = Settings(modules_bucket=str(tmp_path / "modules"))
    result = publish_notebook(make_notebook("demo.ipynb"), "demo", settings=settings)
    return settings, result.version


def _catalog(settings: Settings, fails: float) -> tuple[Catalog, Contended]:
    store = Contended(storage_for(settings.modules_bucket), fails)
    return Catalog(settings, store), store  # type: ignore[arg-type]


def test_a_contended_move_is_retried_and_logged(
    published: tuple[Settings, str], caplog: pytest.LogCaptureFixture
) -> None:
    settings, version = published
    catalog, store = _catalog(settings, fails=2)
    catalog.storage.delete(catalog.latest_url("demo"))  # so the move has to write
    with caplog.at_level(logging.DEBUG, logger="kit.publishing.pointer"):
        moved = pointer.move(catalog, "demo", version, mode="rollback")
    assert (moved.latest, moved.moved, store.refused) == (version, True, 2)
    retries = [r for r in caplog.records if "PreconditionFailedError" in r.getMessage()]
    assert len(retries) == 2


def test_a_move_that_never_wins_gives_up_with_the_412_as_its_cause(
    published: tuple[Settings, str],
) -> None:
    settings, version = published
    catalog, _ = _catalog(settings, fails=float("inf"))
    catalog.storage.delete(catalog.latest_url("demo"))
    with pytest.raises(StorageError, match="gave up moving the pointer") as raised:
        pointer.move(catalog, "demo", version, mode="rollback", deadline=0.3)
    assert isinstance(raised.value.__cause__, PreconditionFailedError)
