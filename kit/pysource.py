"""Python files kit takes beside notebooks: model modules and jupytext percent scripts.

A `.py` file is one of
- a **percent script**: a notebook kept as text, cells marked `# %%` (jupytext's percent
  format; `# %% tags=["parameters"]` marks the parameters cell). jupytext reads it as
  the equivalent notebook, which is then published and run like any .ipynb;
- a **model module**: a top-level `class Model` with a `run` method (kit.modelspec),
  published as the file itself.
A file with cell markers is a percent script, unless it defines `class Model` and tags
no cell `parameters`: then it is a model module whose author's editor marks cells.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal

from kit.errors import UsageError

Kind = Literal["module", "percent"]
PERCENT_FORMAT = "py:percent"
PYTHON_KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# Cell metadata jupytext adds to keep a text file's layout on the way back: not the notebook's.
ROUND_TRIP_METADATA = frozenset(
    {"lines_to_next_cell", "lines_to_end_of_cell_marker", "cell_marker", "region_name"}
)
# jupytext's percent cell markers (cell_reader.DoublePercentScriptCellReader).
_MARKER = re.compile(r"^\s*#\s*(%%(%*)(\s.*)?|<codecell>|In\[[0-9 ]*\]:?)\s*$")
_CLASS_MODEL = re.compile(r"^class\s+Model\b", re.MULTILINE)
_PARAMETERS_TAG = re.compile(r"""tags\s*=\s*\[[^\]]*["']parameters["']""")


def marker_lines(text: str) -> list[int]:
    """The 1-based file lines of the cell markers."""
    return [n for n, line in enumerate(text.splitlines(), start=1) if _MARKER.match(line)]


def has_cell_markers(text: str) -> bool:
    """Whether jupytext reads the text as a script with `# %%` cells."""
    from jupytext.formats import guess_format

    return guess_format(text, ".py")[0] in ("percent", "hydrogen")


def kind_of(text: str) -> Kind | None:
    """Which kind of .py the text is; None when neither."""
    markers = has_cell_markers(text)
    declares_model = bool(_CLASS_MODEL.search(text))
    lines = text.splitlines()
    tagged = any(_PARAMETERS_TAG.search(lines[n - 1]) for n in marker_lines(text))
    if markers and (tagged or not declares_model):
        return "percent"
    return "module" if declares_model else None


def neither(path: Path | str) -> UsageError:
    """The refusal of a .py that is neither kind, saying what each needs."""
    return UsageError(
        f"{path}: neither a model module (no top-level `class Model` with a run() method) "
        "nor a jupytext percent script (no `# %%` cell markers)"
    )


def to_notebook(text: str, where: str) -> Any:
    """The notebook a percent script stands for (jupytext), with a Python kernelspec."""
    import jupytext
    import nbformat

    try:
        nb = jupytext.reads(text, fmt=PERCENT_FORMAT)
    except nbformat.ValidationError as exc:
        first = (str(getattr(exc, "message", "") or exc).splitlines() or ["?"])[0]
        raise UsageError(f"{where}: invalid notebook header: {first}") from exc
    except Exception as exc:  # jupytext's own parse errors have no common base class
        raise UsageError(f"{where}: jupytext cannot read it: {type(exc).__name__}: {exc}") from exc
    nb = copy.deepcopy(nb)
    if not nb.metadata.get("kernelspec"):
        nb.metadata["kernelspec"] = dict(PYTHON_KERNEL)  # a .py file is Python
    for cell in nb.cells:
        for key in ROUND_TRIP_METADATA & set(cell.metadata):
            del cell.metadata[key]
    return nb


def cell_lines(text: str, cells: int) -> list[int] | None:
    """The file line where each cell's source starts, when the markers account for them.

    A cell's source starts on the line after its marker; text before the first marker
    (after any header) is one more cell, whose start is not tracked (line 1).
    """
    markers = marker_lines(text)
    extra = cells - len(markers)
    if extra not in (0, 1):
        return None
    return [1] * extra + [line + 1 for line in markers]
