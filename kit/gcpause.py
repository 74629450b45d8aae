"""Start-up without the cyclic garbage collector, for `kit run`.

`kit run` imports google-cloud-storage, jupyter_client and papermill before a notebook's
first cell can run, and its kernel ipykernel and IPython: hundreds of modules, whose
objects CPython's collector keeps scanning as they pile up, for nothing (they live as
long as the process). bench/results.md shows what pausing it until start-up is over buys
(kit run and its kernel, kit.kernel_launcher). `resume` then freezes what start-up made, so later
collections (the interpreter's last ones at exit included) skip it, and collects
normally from there on; it does nothing unless `pause` was called, so library callers
of the runner are unaffected. tests/gcpause/test_gc_contract.py checks the collector
behaves as relied on.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Stop cyclic collection until `resume` (only the process's own start-up)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """End a `pause`: freeze the objects made so far and collect normally again."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
