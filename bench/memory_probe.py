"""Measurement 9's probe: what papermill's saves of a notebook with one big output cost in
memory, each step's peak measured alone (VmHWM reset through /proc/self/clear_refs).

    .venv/bin/python bench/memory_probe.py ROWS
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

from kit.runner.engine import _dumps

ROW = "<tr><td>{i}</td><td>{x:.3f}</td><td>row {i:07d} of the big table</td></tr>"


def hwm() -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) * 1024


def reset() -> int:
    Path("/proc/self/clear_refs").write_text("5")
    return hwm()


def main(rows: int) -> dict[str, int]:
    html = "<table>\n" + "\n".join(ROW.format(i=i, x=i * 0.5) for i in range(rows)) + "\n</table>"
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    cell = nbformat.v4.new_code_cell("display(big)")  # type: ignore[no-untyped-call]
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": html})  # type: ignore[no-untyped-call]
    ]
    nb.cells = [cell]
    del html
    base = reset()
    found = {"the notebook in memory (and Python)": base}
    text = _dumps(nb)
    found["kit's engine's save while cells run (json.dumps, indent 1)"] = hwm() - base
    del text
    base = reset()
    text = nbformat.writes(nb)  # type: ignore[no-untyped-call]
    found["papermill's last save (nbformat.writes)"] = hwm() - base
    found["size"] = len(text.encode())
    return found


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
