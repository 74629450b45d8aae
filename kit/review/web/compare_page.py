"""The compare page (`/compare?run=NAME/RUN&run=NAME/RUN`): what changed between two runs.

The notebook version, status, parameters and metrics (kit.review.diff, as `kit runs diff`
shows them), and the cells whose source or outputs differ, aligned and diffed by nbdime
(`diff.cell_changes`), drawn on the server like the rest of the page.
"""

from __future__ import annotations

from collections.abc import Sequence

from kit.errors import NotFoundError, UsageError
from kit.review.diff import MISSING, cell_changes, compare
from kit.review.listing import RunStore
from kit.review.run_view import Run
from kit.review.web.jinja import render


def picked(store: RunStore, refs: Sequence[str]) -> tuple[Run, Run]:
    """The two runs named `notebook/run-id` (the runs page's checkboxes), oldest first."""
    refs = [r for r in refs if r]
    if len(refs) != 2:
        raise UsageError(f"pick exactly two runs to compare (picked {len(refs)})")
    runs = []
    for ref in refs:
        name, sep, run_id = ref.partition("/")
        if not sep or not name or not run_id:
            raise UsageError(f"{ref!r}: name a run as NOTEBOOK/RUN_ID")
        runs.append(store.get(name, run_id))
    first, second = runs
    when = [r.when.timestamp() if r.when else 0.0 for r in runs]
    return (first, second) if when[0] <= when[1] else (second, first)


def compare_page(store: RunStore, bucket: str, refs: Sequence[str]) -> str:
    """Two runs side by side: the changes of their records, then of their cells."""
    a, b = picked(store, refs)
    notebooks, problems = [], []
    for run in (a, b):
        try:
            notebooks.append(store.notebook(run) if run.has_output else None)
        except (NotFoundError, UsageError) as exc:
            notebooks.append(None)
            problems.append(str(exc))
    nb_a, nb_b = notebooks
    diff = compare(a, b, None, None)  # the records; the cells come from cell_changes
    cells = cell_changes(nb_a, nb_b) if nb_a is not None and nb_b is not None else None
    return render(
        "compare.html",
        bucket=bucket,
        a=a,
        b=b,
        diff=diff,
        cells=cells,
        problems=problems,
        missing=MISSING,
    )
