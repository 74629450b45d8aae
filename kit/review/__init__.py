"""Reviewing runs: `kit runs`, `kit review`, and `kit.runs()` / `kit.load_run()` in notebooks.

Runs are read from the outputs bucket's run records (run.json, kit.run_contract); executed
notebooks are downloaded only to show, pull, diff or render one run.
"""

from __future__ import annotations

from kit.review.api import LoadedRun, load_run, runs

__all__ = ["LoadedRun", "load_run", "runs"]
