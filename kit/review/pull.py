"""Download executed notebooks, to open them in JupyterLab: <dest>/<name>/<run-id>.ipynb."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kit.errors import KitError
from kit.review.listing import RunStore
from kit.review.run_view import Run


def target(dest: Path, run: Run) -> Path:
    """Where a run's notebook is saved under dest."""
    return dest / run.notebook / f"{run.run_id}.ipynb"


def pull(store: RunStore, runs: Sequence[Run], dest: Path) -> list[Path]:
    """Save each run's output notebook (concurrently); returns the paths written."""

    def one(run: Run) -> Path:
        path = target(dest, run)
        data = store.notebook_bytes(run)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.part")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as exc:
            raise KitError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return path

    with_output = [r for r in runs if r.has_output]
    if len(with_output) <= 1:
        return [one(r) for r in with_output]
    with ThreadPoolExecutor(max_workers=min(store.workers, len(with_output))) as pool:
        return list(pool.map(one, with_output))
