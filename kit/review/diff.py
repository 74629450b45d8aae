"""What changed between two runs: notebook version, parameters, metrics, and cells (nbdime).

The cell diff compares sources and outputs only: metadata (papermill timings, cell ids)
and execution counts change on every run and would drown the real differences. The cells
papermill added (injected parameters, error banners) are left out, so nbdime's positions
are source positions, named as everywhere else (kit.cells): `cell 3`, from 1.
"""

from __future__ import annotations

import copy
import io
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from kit.cells import is_added, number
from kit.metrics import METRIC_MIME
from kit.review.failure import strip_ansi
from kit.review.run_view import Run

if TYPE_CHECKING:
    from nbformat import NotebookNode


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    """One key whose value differs; MISSING on the side where it is absent."""

    key: str
    before: Any
    after: Any

    @property
    def delta(self) -> float | None:
        """after - before, for two numbers."""
        nums = (self.before, self.after)
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in nums):
            return float(self.after) - float(self.before)
        return None


@dataclass(frozen=True)
class RunDiff:
    """The differences between run a and run b (same or different notebooks)."""

    a: Run
    b: Run
    fields: list[Change] = field(default_factory=list)
    parameters: list[Change] = field(default_factory=list)
    metrics: list[Change] = field(default_factory=list)
    cells: str = ""  # nbdime's pretty-printed cell diff; "" when the cells are the same


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Keys added, removed or changed between two mappings, in a stable order."""
    keys = list(before) + [k for k in after if k not in before]
    found = []
    for key in keys:
        old, new = before.get(key, MISSING), after.get(key, MISSING)
        if old != new or (old is MISSING) != (new is MISSING):
            found.append(Change(key, old, new))
    return found


def _comparable(nb: NotebookNode) -> NotebookNode:
    clean = copy.deepcopy(nb)
    clean.metadata = {}
    clean.cells = [cell for cell in clean.cells if not is_added(cell)]
    for cell in clean.cells:
        cell.metadata = {}
        cell.pop("id", None)
        if "execution_count" in cell:
            cell.execution_count = None
        for output in cell.get("outputs", []):
            if "execution_count" in output:
                output["execution_count"] = None
            data = output.get("data")
            if isinstance(data, dict) and METRIC_MIME in data and "text/plain" in data:
                del data[METRIC_MIME]  # metrics are compared above; their text stays
            if output.get("output_type") == "error":  # IPython colours tracebacks
                output["traceback"] = [strip_ansi(line) for line in output.get("traceback", [])]
    return clean


@dataclass(frozen=True)
class CellChange:
    """One cell that differs between two runs' notebooks, as nbdime aligned them.

    kind: "added" (only in b), "removed" (only in a) or "changed". `lines` is the source,
    line by line, tagged " " (same), "-" (a only) or "+" (b only); the outputs of each side
    are given when they differ.
    """

    kind: str
    cell_type: str
    number_a: int | None
    number_b: int | None
    lines: list[tuple[str, str]]
    outputs_a: list[Any] = field(default_factory=list)
    outputs_b: list[Any] = field(default_factory=list)
    outputs_changed: bool = False


def _source_lines(before: str, entries: list[Any]) -> list[tuple[str, str]]:
    """A cell's source diff (nbdime's line operations) as tagged lines."""
    import nbdime

    left = before.splitlines(keepends=True)
    out: list[tuple[str, str]] = []
    pos = 0
    # nbdime puts a replacement's added lines before the removed ones (both at the same key);
    # show them as a reader expects a replaced line: removed, then added.
    ordered = sorted(entries, key=lambda e: (e.key, e.op == "addrange"))
    for entry in ordered:
        while pos < entry.key:
            out.append((" ", left[pos]))
            pos += 1
        if entry.op == "addrange":
            out.extend(("+", line) for line in entry.valuelist)
        elif entry.op == "removerange":
            out.extend(("-", line) for line in left[pos : pos + entry.length])
            pos += entry.length
        elif entry.op == "patch":  # one line edited: nbdime diffs its characters
            edited = "".join(nbdime.patch(list(left[pos]), entry.diff))
            out.extend([("-", left[pos]), ("+", edited)])
            pos += 1
    out.extend((" ", line) for line in left[pos:])
    return [(tag, line.rstrip("\n")) for tag, line in out]


def cell_changes(a: NotebookNode, b: NotebookNode) -> list[CellChange]:
    """The cells that differ (sources and outputs, as in `cell_diff`), aligned by nbdime."""
    import nbdime

    left, right = _comparable(a), _comparable(b)
    entries = {e.key: e for e in nbdime.diff_notebooks(left, right)}
    cells = entries["cells"].diff if "cells" in entries else []
    found: list[CellChange] = []
    pos_a = pos_b = 0
    for entry in cells:
        pos_b += entry.key - pos_a  # unchanged cells before this entry
        pos_a = entry.key
        if entry.op == "addrange":
            for cell in entry.valuelist:
                lines = [("+", line) for line in cell.source.splitlines()]
                outputs = list(cell.get("outputs", []))
                found.append(
                    CellChange(
                        "added",
                        cell.cell_type,
                        None,
                        number(pos_b),
                        lines,
                        [],
                        outputs,
                        bool(outputs),
                    )
                )
                pos_b += 1
        elif entry.op == "removerange":
            for cell in left.cells[pos_a : pos_a + entry.length]:
                lines = [("-", line) for line in cell.source.splitlines()]
                outputs = list(cell.get("outputs", []))
                found.append(
                    CellChange(
                        "removed",
                        cell.cell_type,
                        number(pos_a),
                        None,
                        lines,
                        outputs,
                        [],
                        bool(outputs),
                    )
                )
                pos_a += 1
        elif entry.op == "patch":
            before, after = left.cells[pos_a], right.cells[pos_b]
            parts = {e.key: e for e in entry.diff}
            source = parts.get("source")
            lines = (
                _source_lines(before.source, source.diff)
                if source is not None and source.op == "patch"
                else [(" ", line) for line in before.source.splitlines()]
            )
            found.append(
                CellChange(
                    "changed",
                    after.cell_type,
                    number(pos_a),
                    number(pos_b),
                    lines,
                    list(before.get("outputs", [])),
                    list(after.get("outputs", [])),
                    "outputs" in parts,
                )
            )
            pos_a, pos_b = pos_a + 1, pos_b + 1
    return found


def cell_diff(a: NotebookNode, b: NotebookNode, *, color: bool = False) -> str:
    """nbdime's diff of cell sources and outputs, as text ("" when none)."""
    import nbdime
    from nbdime.prettyprint import PrettyPrintConfig, pretty_print_diff

    left, right = _comparable(a), _comparable(b)
    diff = nbdime.diff_notebooks(left, right)
    if not diff:
        return ""
    include = SimpleNamespace(
        sources=True, outputs=True, attachments=True, metadata=False, id=False, details=False
    )
    buffer = io.StringIO()
    config = PrettyPrintConfig(
        out=buffer, include=include, use_git=False, use_diff=False, use_color=color
    )
    pretty_print_diff(left, diff, "nb", config)
    return _PATH.sub(_cell_name, buffer.getvalue().rstrip())


_PATH = re.compile(r"\bnb/cells/(\d+)(/?)")


def _cell_name(match: re.Match[str]) -> str:
    """nbdime's `nb/cells/2/source` as `cell 3 source` (positions in the first notebook)."""
    return f"cell {number(int(match[1]))}" + (" " if match[2] else "")


def compare(
    a: Run,
    b: Run,
    nb_a: NotebookNode | None,
    nb_b: NotebookNode | None,
    *,
    color: bool = False,
) -> RunDiff:
    """Compare two runs' records and (when both exist) their executed notebooks."""
    fields = changes(
        {"notebook": a.notebook, "version": a.version, "status": a.status},
        {"notebook": b.notebook, "version": b.version, "status": b.status},
    )
    cells = cell_diff(nb_a, nb_b, color=color) if nb_a is not None and nb_b is not None else ""
    return RunDiff(
        a=a,
        b=b,
        fields=fields,
        parameters=changes(a.effective_parameters(), b.effective_parameters()),
        metrics=changes(a.metrics, b.metrics),
        cells=cells,
    )


def _show(value: Any) -> str:
    from kit.review import formatting as fmt

    return "(absent)" if value is MISSING else fmt.value(value, 60)


def lines(diff: RunDiff) -> list[str]:
    """The diff as plain text lines (the cell diff last)."""
    out = [f"--- {diff.a.notebook}/{diff.a.run_id}", f"+++ {diff.b.notebook}/{diff.b.run_id}"]
    for title, items in (
        ("notebook", diff.fields),
        ("parameters", diff.parameters),
        ("metrics", diff.metrics),
    ):
        if not items:
            out.append(f"{title}: no changes")
            continue
        out.append(f"{title}:")
        for change in items:
            delta = change.delta
            suffix = f"  ({delta:+.4g})" if delta is not None else ""
            out.append(f"  {change.key}: {_show(change.before)} -> {_show(change.after)}{suffix}")
    out.append("cells:" if diff.cells else "cells: no changes to sources or outputs")
    if diff.cells:
        out.extend("  " + line for line in diff.cells.splitlines())
    return out
