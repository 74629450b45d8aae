"""The progress bar's rendering, in this process: a terminal's view of `kit run`."""

from __future__ import annotations

import io

from kit.runner.progress import BarReporter, Cell


def test_the_bar_shows_the_cells_output_line_by_line_and_the_rest_when_the_cell_ends() -> None:
    screen = io.StringIO()
    bar = BarReporter(screen)
    cell = Cell(2, "print('hello')", execution_count=1)
    bar.opened("forecast@v1", "r1", "gs://out/runs/forecast/r1/output.ipynb", code_cells=1)
    bar.cell_started(cell, 0.1)
    bar.cell_output(cell, "stdout", "first line\nsecond ")
    bar.cell_output(cell, "stderr", "a warning\n")
    shown = screen.getvalue()
    assert "first line" in shown
    assert "a warning" in shown
    assert "second" not in shown  # half a line waits for the rest of it
    bar.cell_finished(cell, 0.5, 0.4, None, None)
    bar.closed("succeeded", "gs://out/runs/forecast/r1/output.ipynb", None, 0.6)
    assert "second" in screen.getvalue()  # the cell ended: its last partial line is shown
    assert "kit: run r1 of forecast@v1" in screen.getvalue()
