"""kit.gcpause: the cyclic collector is off only between pause and resume."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from kit import gcpause


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    yield
    gc.enable()
    gc.unfreeze()


def test_pause_then_resume_freezes_start_up_and_collects_again() -> None:
    gcpause.pause()
    assert not gc.isenabled()
    made_during_start_up = [object() for _ in range(10)]
    gcpause.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(made_during_start_up)


def test_resume_without_pause_changes_nothing() -> None:
    frozen = gc.get_freeze_count()
    gcpause.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_a_collector_disabled_by_someone_else_stays_disabled() -> None:
    gc.disable()
    gcpause.pause()
    gcpause.resume()
    assert not gc.isenabled()
