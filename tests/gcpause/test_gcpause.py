"""kit.gcpause's promise: between pause and resume no cyclic collection runs; resume freezes
what was made until then, so later collections skip it, and collects normally from there on;
without a pause, resume does nothing.

Each test watches cycles through weak references: only the cyclic collector frees a cycle,
so whether one is still alive says whether a collection that could have freed it ran.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from kit import gcpause

# Far past generation 0's threshold (700 by default): with the collector on, allocating
# this many cycles triggers automatic collections.
MANY = 5_000


class _Cycle:
    """An object that refers to itself: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def _garbage_cycles(count: int) -> list[weakref.ref[_Cycle]]:
    """Make `count` unreachable cycles; weak references to watch them."""
    return [weakref.ref(_Cycle()) for _ in range(count)]


def _alive(refs: list[weakref.ref[_Cycle]]) -> int:
    return sum(ref() is not None for ref in refs)


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    # A clean slate: nothing frozen (an in-process `kit run` of an earlier test may have
    # frozen its start-up) and no garbage left behind.
    gc.unfreeze()
    gc.collect()
    yield
    gcpause.resume()  # a failed test must not leave a pause behind
    gc.unfreeze()
    gc.enable()
    gc.collect()


def test_no_collection_runs_while_paused() -> None:
    gcpause.pause()
    assert not gc.isenabled()
    made = _garbage_cycles(MANY)
    assert _alive(made) == MANY  # no automatic collection freed any of them


def test_the_control_collects_cycles_on_its_own() -> None:
    # What the test above rules out happens without a pause: MANY cycles trigger
    # collections, which free most of them.
    made = _garbage_cycles(MANY)
    assert _alive(made) < MANY


def test_resume_freezes_what_start_up_made() -> None:
    gcpause.pause()
    made_during_start_up = _garbage_cycles(100)
    gcpause.resume()
    gc.collect()
    # Frozen: even a full collection does not look at start-up's objects ...
    assert _alive(made_during_start_up) == 100
    gc.unfreeze()
    gc.collect()
    # ... which were garbage all along: unfrozen, they are freed.
    assert _alive(made_during_start_up) == 0


def test_after_resume_new_garbage_is_collected_automatically() -> None:
    gcpause.pause()
    gcpause.resume()
    assert gc.isenabled()
    made_afterwards = _garbage_cycles(MANY)
    assert _alive(made_afterwards) < MANY  # automatic collections ran, without gc.collect()
    gc.collect()
    assert _alive(made_afterwards) == 0  # none of it was frozen


def test_resume_without_pause_freezes_nothing() -> None:
    made = _garbage_cycles(100)
    gcpause.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert _alive(made) == 0


def test_a_collector_disabled_by_someone_else_stays_disabled() -> None:
    gc.disable()
    gcpause.pause()
    made = _garbage_cycles(100)
    gcpause.resume()
    assert not gc.isenabled()  # not ours to turn back on
    assert gc.get_freeze_count() == 0  # nor to freeze: pause did not pause anything
    gc.collect()
    assert _alive(made) == 0
