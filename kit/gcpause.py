"""Start-up without the cyclic garbage collector, for `kit run`.

`kit run` imports google-cloud-storage, jupyter_client and papermill before a notebook's
first cell can run: hundreds of modules, whose objects CPython's collector keeps
scanning as they pile up, for nothing (they live as long as the process). Pausing it
until start-up is over saves ~30 ms of every run. `resume` then freezes what start-up
made, so later collections skip it, and collects normally from there on; it does
nothing unless `pause` was called, so library callers of the runner are unaffected.
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
