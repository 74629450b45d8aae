"""kit.publishing.nbfile against the pinned nbformat: same notebooks in, same bytes out.

The publish path reads, validates and writes notebooks without importing nbformat (its
import costs seconds; see nbfile's docstring). These contract tests fail when the pinned
nbformat changes what it reads, which schema file it picks, or how it writes.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import nbformat.reader
import nbformat.v4
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from kit.config import Settings
from kit.publishing import nbfile

ROOT = Path(__file__).resolve().parents[2]
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(64))).decode()


def _rich_notebook() -> Any:
    """Multi-line sources, outputs of every kind, an attachment, unicode, metadata."""
    markdown = new_markdown_cell("# Ünïcode title\n\n![x](attachment:x.png)\nline 3")
    markdown.attachments = {"x.png": {"image/png": PNG}}
    code = new_code_cell("a = 1\nb = 2\n\nprint(a + b)", execution_count=3)
    code.outputs = [
        new_output("stream", name="stdout", text="3\nfour\n"),
        new_output(
            "display_data",
            data={
                "text/plain": "line 1\nline 2",
                "text/html": "<b>x</b>\n<i>y</i>",
                "image/svg+xml": "<svg>\n</svg>",
                "application/json": {"k": [1, 2]},
                "image/png": PNG,
            },
        ),
        new_output("execute_result", data={"text/plain": "42"}, execution_count=3),
        new_output("error", ename="ValueError", evalue="bad", traceback=["tb 1", "tb 2"]),
    ]
    nb = new_notebook(cells=[markdown, code, new_code_cell("")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    return nb


def _texts() -> dict[str, str]:
    rich = _rich_notebook()
    old = copy.deepcopy(rich)  # nbformat 4.4: no cell ids
    old.nbformat_minor = 4
    for cell in old.cells:
        del cell["id"]
    one_line_sources = json.loads(nbformat.writes(rich))
    for cell in one_line_sources["cells"]:
        cell["source"] = "".join(cell["source"])
    return {
        "forecast.ipynb": (ROOT / "notebooks" / "forecast.ipynb").read_text(encoding="utf-8"),
        "rich v4.5": nbformat.writes(rich),
        "rich v4.4 without ids": nbformat.writes(old),
        "sources as one string": json.dumps(one_line_sources),
        "transient metadata": nbformat.writes(rich).replace(
            '"metadata": {\n  "kernelspec"', '"metadata": {\n  "signature": "x",\n  "kernelspec"'
        ),
    }


@pytest.mark.parametrize("name", list(_texts()))
def test_reads_and_writes_as_nbformat_does(name: str) -> None:
    text = _texts()[name]
    ours = nbfile.parse(text)
    theirs = nbformat.reader.reads(text)
    nbformat.validate(theirs)
    assert ours == theirs
    assert nbfile.dumps(ours) == nbformat.writes(theirs) + "\n"
    assert nbfile.dumps(theirs) == nbformat.writes(theirs) + "\n"  # a NotebookNode too


def test_the_schema_files_are_the_ones_nbformat_picks() -> None:
    for minor in range(nbformat.v4.nbformat_minor + 1):
        assert nbformat.v4.nbformat_schema[(4, minor)] == f"nbformat.v4.{minor}.schema.json"
    assert nbformat.v4.nbformat_minor == 5  # a new minor: check nbfile's handling of ids


@pytest.mark.parametrize(
    "change",
    ["future minor", "missing id", "duplicate ids", "schema violation", "nbformat 3"],
)
def test_what_only_nbformat_can_decide_is_left_to_it(change: str) -> None:
    nb = json.loads(nbformat.writes(_rich_notebook()))
    if change == "future minor":
        nb["nbformat_minor"] = 99
    elif change == "missing id":
        del nb["cells"][0]["id"]
    elif change == "duplicate ids":
        nb["cells"][1]["id"] = nb["cells"][0]["id"]
    elif change == "schema violation":
        del nb["cells"][1]["outputs"]
    else:
        nb["nbformat"] = 3
    with pytest.raises(nbfile.Unsupported):
        nbfile.parse(json.dumps(nb))


def test_attribute_access_as_on_a_notebook_node() -> None:
    nb = nbfile.parse(_texts()["rich v4.5"])
    assert nb.cells[1].cell_type == "code"
    assert nb.metadata.kernelspec.name == "python3"
    nb.cells[1].metadata.tags = ["x"]
    assert nb["cells"][1]["metadata"]["tags"] == ["x"]
    assert copy.deepcopy(nb) == nb
    with pytest.raises(AttributeError):
        _ = nb.no_such_key


@pytest.mark.slow
def test_publishing_imports_neither_nbformat_nor_jsonschema(
    gcs_settings: Settings, kit_env: dict[str, str], tmp_path: Path
) -> None:
    """The first kit.publish() in a fresh kernel must not pay for jsonschema's format
    checkers (bench P4 measures the time); nothing in kit blocks imports to get there."""
    notebook = tmp_path / "forecast.ipynb"
    notebook.write_text((ROOT / "notebooks" / "forecast.ipynb").read_text())
    code = (
        "import sys, kit\n"
        f"r = kit.publish({str(notebook)!r})\n"
        # Neither imported nor blocked (a blocked module is a None entry, also `in`).
        "print(sorted(m for m in ('nbformat', 'jsonschema', 'rfc3987_syntax', 'lark') "
        "if m in sys.modules))\n"
    )
    env: dict[str, str] = {**kit_env, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("published forecast@")
    assert lines[-1] == "[]", done.stdout
