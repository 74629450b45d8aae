"""The parameter schema of a notebook, read from its one `parameters` cell (none: no
parameters).

The cell must hold only simple assignments of literals, one name each
(`horizon = 365  # periods to forecast`), optionally annotated. Each becomes a
kit.catalog.Parameter with its literal default, the default's type and the
trailing comment of its line.
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kit.catalog import Parameter
from kit.cells import label, number
from kit.errors import UsageError

PARAMETERS_TAG = "parameters"

TYPES: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    list: "list",
    tuple: "list",
    dict: "dict",
    type(None): "NoneType",
}


def find_parameters_cell(cells: Sequence[Mapping[str, Any]], where: str) -> int | None:
    """Index of the code cell tagged `parameters`, None when no cell is; UsageError when
    several are, or the tagged cell is not code.

    The one rule for publishing (which also needs the cell) and for ad-hoc runs.
    """
    tagged = [
        i
        for i, cell in enumerate(cells)
        if PARAMETERS_TAG in (cell.get("metadata", {}).get("tags") or [])
    ]
    if len(tagged) > 1:
        numbers = ", ".join(str(number(i)) for i in tagged)
        raise UsageError(
            f"{where}: {len(tagged)} cells tagged {PARAMETERS_TAG!r} (cells {numbers}); "
            "papermill injects parameters after the first only, so tag one"
        )
    if not tagged:
        return None
    index = tagged[0]
    if cells[index].get("cell_type") != "code":
        raise UsageError(
            f"{where}: the cell tagged {PARAMETERS_TAG!r} ({label(index)}) is not code"
        )
    return index


def parameters_cell(nb: Any, path: Path) -> int:
    """Index of the one code cell tagged `parameters`; UsageError when none or several."""
    index = find_parameters_cell(nb.cells, str(path))
    if index is None:
        raise UsageError(
            f"{path}: no cell tagged {PARAMETERS_TAG!r}; tag the cell holding the defaults "
            "(JupyterLab: Property Inspector > Cell Tags)"
        )
    return index


def cell_schema(cells: Sequence[Mapping[str, Any]], index: int, where: str) -> list[Parameter]:
    """The parameter schema held by the parameters cell at `index`."""
    source = cells[index].get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    return parse_parameters(text, f"{where}: {label(index)} (parameters)")


def trailing_comments(source: str) -> dict[int, str]:
    """Trailing comments by line number (1-based)."""
    found: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                found[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, SyntaxError):
        pass  # ast.parse has already accepted the source; comments are best effort
    return found


def literal_default(node: ast.expr, where: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise UsageError(
            f"{where}: default must be a literal (number, string, bool, None, list, dict), "
            f"not {ast.unparse(node)!r}"
        ) from exc
    if type(value) not in TYPES:
        raise UsageError(f"{where}: a {type(value).__name__} default cannot be a parameter")
    value = list(value) if isinstance(value, tuple) else value
    try:
        same = json.loads(json.dumps(value, allow_nan=False)) == value
    except (TypeError, ValueError):
        same = False
    if not same:  # e.g. non-string dict keys, nested tuples: the manifest could not keep it
        raise UsageError(f"{where}: default {ast.unparse(node)} is not JSON-compatible")
    return value


def _target(stmt: ast.stmt, where: str) -> tuple[str, ast.expr]:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        raise UsageError(
            f"{where}: the parameters cell must hold only assignments like `name = 1`, "
            f"not {ast.unparse(stmt).splitlines()[0]!r}"
        )
    if not isinstance(target, ast.Name):
        raise UsageError(f"{where}: assign one plain name per line, not {ast.unparse(target)!r}")
    return target.id, value


def parse_parameters(source: str, where: str, first_line: int = 1) -> list[Parameter]:
    """The schema of a parameters cell's source; UsageError naming `where` and the line.

    Lines are counted from first_line: a percent script's cell counts its file's lines.
    """
    shift = first_line - 1
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        line = (exc.lineno or 1) + shift
        raise UsageError(
            f"{where}: cannot parse the parameters cell: {exc.msg} (line {line})"
        ) from exc
    comments = trailing_comments(source)
    params: dict[str, Parameter] = {}
    lines: dict[str, int] = {}
    for stmt in tree.body:
        at = f"{where}, line {stmt.lineno + shift}"
        name, node = _target(stmt, at)
        if name in params:
            raise UsageError(f"{at}: parameter {name!r} already assigned on line {lines[name]}")
        value = literal_default(node, f"{at}: parameter {name!r}")
        end = stmt.end_lineno or stmt.lineno
        comment = comments.get(end) or comments.get(stmt.lineno, "")
        params[name] = Parameter(name, TYPES[type(value)], value, comment)
        lines[name] = stmt.lineno + shift
    return list(params.values())


def has_parameters_cell(nb: Any) -> bool:
    """Whether any cell is tagged `parameters` (most notebooks papermill runs have none)."""
    return any(PARAMETERS_TAG in (c.get("metadata", {}).get("tags") or []) for c in nb.cells)


def schema(nb: Any, path: Path) -> tuple[int | None, list[Parameter]]:
    """The parameters cell's index and the notebook's parameter schema: (None, []) when no
    cell is tagged, a notebook without parameters."""
    if not has_parameters_cell(nb):
        return None, []
    index = parameters_cell(nb, path)
    return index, cell_schema(nb.cells, index, str(path))
