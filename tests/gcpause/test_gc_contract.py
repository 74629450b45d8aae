"""What kit.gcpause relies on in CPython's collector (bench/results.md shows what the pause
buys): a disabled collector never runs on its own, and objects frozen by gc.freeze() (what
start-up made) are skipped by every later collection."""

from __future__ import annotations

import gc
import weakref


class _Node:
    """A cycle: only the cyclic collector can free it."""

    def __init__(self) -> None:
        self.me = self


def test_a_disabled_collector_leaves_cycles_alone() -> None:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        alive = [weakref.ref(_Node()) for _ in range(5_000)]  # far past every threshold
        assert all(ref() is not None for ref in alive)
    finally:
        if was_enabled:
            gc.enable()
    gc.collect()
    assert all(ref() is None for ref in alive)


def test_collections_skip_what_gc_freeze_froze() -> None:
    node = _Node()
    alive = weakref.ref(node)
    gc.freeze()
    try:
        del node
        gc.collect()
        assert alive() is not None  # frozen: the collector never looked at it
    finally:
        gc.unfreeze()
    gc.collect()
    assert alive() is None  # unfrozen, it is garbage like any other cycle
