"""kit's papermill engine: papermill's saves, minus those around markdown cells."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from papermill.iorw import papermill_io

from kit.runner import engine

pytestmark = pytest.mark.slow


class SaveLog:
    """A papermill I/O handler (papermill's own extension point) keeping every save."""

    def __init__(self) -> None:
        self.saves: list[dict[str, Any]] = []

    def read(self, path: str) -> str:
        raise FileNotFoundError(path)

    def write(self, buf: str, path: str) -> None:
        self.saves.append(json.loads(buf))

    def listdir(self, path: str) -> list[str]:
        return []

    def pretty_path(self, path: str) -> str:
        return path


def _execute(tmp_path: Path, engine_name: str) -> list[dict[str, Any]]:
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Title"),
            new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
            new_markdown_cell("Some words"),
            new_code_cell("print(x + 1)"),
            new_markdown_cell("The end"),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    source = tmp_path / f"{engine_name}.ipynb"
    nbformat.write(nb, source)
    log = SaveLog()
    url = f"savelog-{engine_name}://out.ipynb"
    papermill_io.register(url, log)
    papermill.execute_notebook(
        str(source), url, engine_name=engine_name, kernel_name="python3", progress_bar=False
    )
    return log.saves


def test_saves_around_markdown_cells_are_skipped_and_the_result_is_the_same(
    tmp_path: Path,
) -> None:
    ours = _execute(tmp_path, engine.register())
    papermills = _execute(tmp_path, "nbclient")
    assert len(papermills) - len(ours) == 2 * 3  # a start and an end save per markdown cell
    final = ours[-1]
    assert [c["metadata"]["papermill"]["status"] for c in final["cells"]] == ["completed"] * 5
    outputs = [c.get("outputs") for c in final["cells"]]
    assert outputs == [c.get("outputs") for c in papermills[-1]["cells"]]
    assert "".join(final["cells"][3]["outputs"][0]["text"]) == "2\n"


def test_every_save_is_a_valid_notebook_and_the_last_is_nbformats_own(tmp_path: Path) -> None:
    texts: list[str] = []

    class Raw(SaveLog):
        def write(self, buf: str, path: str) -> None:
            texts.append(buf)

    url = "savelog-raw://out.ipynb"
    papermill_io.register(url, Raw())
    nb = new_notebook(
        cells=[new_code_cell("x = 1"), new_code_cell("print('a\\nb')")],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    source = tmp_path / "raw.ipynb"
    nbformat.write(nb, source)
    papermill.execute_notebook(
        str(source), url, engine_name=engine.register(), kernel_name="python3", progress_bar=False
    )
    for text in texts:
        nbformat.validate(nbformat.reads(text, as_version=4))
    assert texts[-1] == nbformat.writes(nbformat.reads(texts[-1], as_version=4))


# papermill code kit.runner.engine copies (Engine.execute_notebook, to make its own
# manager) or replaces (NotebookExecutionManager.save), as of papermill 2.7.0.
COPIED = {
    "Engine.execute_notebook": "6bda1b1eb72aa8b3863dc34ed5b1843c980b59b92352d00a4b7468edb7945bc8",
    "NotebookExecutionManager.save": (
        "8dc5715f5eb77ad2494d92348af67b7864a5cd827f6076a4aff644a914d81fdc"
    ),
}


@pytest.mark.parametrize("name", sorted(COPIED))
def test_the_papermill_code_the_engine_copies_is_unchanged(name: str) -> None:
    """A papermill upgrade that changes either function fails here: compare it with
    kit.runner.engine (KitEngine.execute_notebook, _Manager.save), follow the change,
    then update the digest."""
    import hashlib
    import inspect

    from papermill import engines

    owner, attr = name.split(".")
    source = inspect.getsource(getattr(getattr(engines, owner), attr))
    assert hashlib.sha256(source.encode()).hexdigest() == COPIED[name]
