"""Canonical published bytes: outputs and noise stripped, publish cells tagged kit-skip."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

from kit.catalog import SKIP_TAG
from kit.publishing.strip import is_publish_cell, strip


def test_outputs_counts_and_noise_are_removed(notebook_builder: Callable[..., Any]) -> None:
    nb = notebook_builder()
    nb.cells[2].metadata["collapsed"] = True
    nb.cells[2].metadata["tags"] = ["keep-me"]
    result = strip(nb)
    published = json.loads(result.data)
    nbformat.validate(nbformat.from_dict(published))
    for cell in published["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == []
            assert cell["execution_count"] is None
        assert not {"execution", "collapsed"} & set(cell["metadata"])
    assert published["cells"][2]["metadata"]["tags"] == ["keep-me"]
    assert "widgets" not in published["metadata"]
    assert published["metadata"]["kernelspec"]["name"] == "python3"
    # The input is left alone.
    assert nb.cells[2].outputs


def test_publish_cell_is_tagged_and_bytes_are_stable(notebook_builder: Callable[..., Any]) -> None:
    nb = notebook_builder()
    first, second = strip(nb), strip(nb)
    assert first.data == second.data
    assert first.sha256 == second.sha256
    assert first.publish_cells == (3,)
    assert first.mixed_cells == ()
    cells = json.loads(first.data)["cells"]
    assert cells[3]["metadata"]["tags"] == [SKIP_TAG]
    assert SKIP_TAG not in cells[1]["metadata"]["tags"]
    # Stripping a stripped notebook changes nothing: publishing is idempotent.
    again = strip(nbformat.reads(first.data.decode(), as_version=4))
    assert again.data == first.data


def test_outputs_do_not_change_the_digest(notebook_builder: Callable[..., Any]) -> None:
    nb = notebook_builder()
    other = copy.deepcopy(nb)  # same cell ids
    other.cells[2].outputs = []
    other.cells[2].execution_count = 99
    assert strip(nb).sha256 == strip(other).sha256


def test_mixed_publish_cells_are_reported(notebook_builder: Callable[..., Any]) -> None:
    nb = notebook_builder(extra_cells=[new_code_cell("total = 1\nkit.publish(name='x')")])
    result = strip(nb)
    assert result.publish_cells == (3, 4)
    assert result.mixed_cells == (3,)


def test_publish_cell_detection() -> None:
    assert is_publish_cell("import kit\nkit.publish()")
    assert is_publish_cell("r = kit.publish('nb.ipynb', name='x')")
    assert is_publish_cell("from kit import publish\npublish()")
    assert is_publish_cell("from kit import record, publish")
    assert not is_publish_cell("import kit\nkit.record('x', 1)")
    assert not is_publish_cell("published = True")


def test_the_identity_is_what_runs(notebook_builder: Callable[..., Any]) -> None:
    nb = notebook_builder()
    base = strip(nb).identity

    def changed(edit: Callable[[Any], None]) -> bool:
        other = copy.deepcopy(nb)
        edit(other)
        return strip(other).identity != base

    # What JupyterLab writes on save, and prose, do not make a new version.
    def save_in_jupyterlab(x: Any) -> None:
        x.metadata["language_info"] = {
            "codemirror_mode": {"name": "ipython", "version": 3},
            "file_extension": ".py",
            "mimetype": "text/x-python",
            "name": "python",
            "nbconvert_exporter": "python",
            "pygments_lexer": "ipython3",
            "version": "3.11.7",
        }
        x.metadata["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
        x.cells[2].metadata["execution"] = {"iopub.status.busy": "2026-11-23T10:00:00Z"}
        x.cells[2].id = "renamed-id"

    assert not changed(save_in_jupyterlab)
    assert not changed(lambda x: setattr(x.cells[0], "source", "# Another title"))
    assert not changed(lambda x: x.cells.append(new_markdown_cell("more prose")))
    assert not changed(lambda x: x.cells[2].metadata.update(tags=["keep-me"]))  # not read
    # A publish cell is skipped by runs, whatever it holds.
    assert not changed(lambda x: setattr(x.cells[3], "source", "kit.publish(name='demo')"))
    # What runs does.
    assert changed(lambda x: setattr(x.cells[2], "source", "result = horizon * 3"))
    assert changed(lambda x: setattr(x.cells[1], "source", "horizon = 31"))
    assert changed(lambda x: x.cells[2].metadata.update(tags=["raises-exception"]))
    assert changed(lambda x: x.cells[1].metadata.update(tags=[]))  # no parameters cell now
    assert changed(lambda x: x.metadata["kernelspec"].update(name="python3-forecast"))
    assert changed(lambda x: x.cells.insert(2, new_code_cell("import os")))
