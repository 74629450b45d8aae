"""Which .py is which (model module or percent script), and percent scripts as notebooks."""

from __future__ import annotations

import pytest

from kit.errors import UsageError
from kit.pysource import cell_lines, kind_of, to_notebook

PERCENT = """\
# %% [markdown]
# # Title

# %% tags=["parameters"]
horizon = 3  # periods

# %%
# %matplotlib inline
print(horizon)
"""
MODULE = "class Model:\n    def run(self, horizon: int = 3):\n        return horizon\n"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (PERCENT, "percent"),
        (MODULE, "module"),
        ("# %%\n" + MODULE, "module"),  # an editor's cell markers in a model module
        (PERCENT + "\n# %%\n" + MODULE, "percent"),  # a notebook that defines a Model class
        ("# %%\nprint('cells, no parameters yet')\n", "percent"),
        ("import os\nprint(os.getcwd())\n", None),
        ("", None),
    ],
)
def test_kind_of(text: str, kind: str | None) -> None:
    assert kind_of(text) == kind


def test_a_percent_script_reads_as_its_notebook_with_a_python_kernel() -> None:
    nb = to_notebook(PERCENT, "p.py")
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert nb.cells[1].metadata == {"tags": ["parameters"]}
    assert nb.cells[2].source == "%matplotlib inline\nprint(horizon)"
    assert nb.metadata["kernelspec"]["language"] == "python"
    assert all("lines_to_next_cell" not in c.metadata for c in nb.cells)


def test_cell_lines_map_cells_to_file_lines() -> None:
    nb = to_notebook(PERCENT, "p.py")
    starts = cell_lines(PERCENT, len(nb.cells))
    assert starts == [2, 5, 8]
    lines = PERCENT.splitlines()
    assert lines[starts[1] - 1] == "horizon = 3  # periods"
    text = "import os\n\n# %%\nx = 1\n"
    assert cell_lines(text, len(to_notebook(text, "t.py").cells)) == [1, 4]


def test_a_bad_header_is_one_line_naming_the_file() -> None:
    header = "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n# %%\nx = 1\n"
    with pytest.raises(UsageError, match=r"^h\.py: invalid notebook header: .*display_name"):
        to_notebook(header, "h.py")
