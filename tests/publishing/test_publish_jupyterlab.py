"""`kit.publish()` from a notebook cell in the real JupyterLab (`make lab`), in Chromium.

What a data scientist sees: saving without editing publishes nothing new; unsaved edits
are named once, by the cell number JupyterLab shows, and the summary says so; after a
page reload nothing is claimed about cells no longer on screen; a refusal is one red
line; JupyterLab's Duplicate gets the name to use. Also takes the README screenshots
publish-cell.png and publish-failed.png (docs/img with UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from lab_support import ROOT, Lab, Notebook, chromium_page, open_notebook, screenshots
from lab_support import write_notebook as write

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
PUBLISH = "import kit\n\nkit.publish()"
RED = "rgb(178, 43, 49)"  # JupyterLab's ANSI red (--jp-ansi-red: #b22b31)


def _forecast_with_publish_cell(path: Path) -> int:
    """notebooks/forecast.ipynb with README's publish cell added at the end; its index."""
    nb = json.loads((ROOT / "notebooks" / "forecast.ipynb").read_text())
    nb["cells"] += [
        {"cell_type": "markdown", "id": "publish-md", "metadata": {}, "source": "## Publish"},
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "publish",
            "metadata": {},
            "outputs": [],
            "source": PUBLISH,
        },
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))
    return len(nb["cells"]) - 1


def _summary_title(notebook: Notebook, index: int) -> str:
    return str(notebook.cell(index).locator(".kit-published strong").inner_text())


def test_save_without_edits_is_a_no_op_unsaved_edits_are_named_once_and_reloads_are_quiet(
    jupyterlab: Lab, tmp_path: Path
) -> None:
    path = jupyterlab.root / "forecast.ipynb"
    publish = _forecast_with_publish_cell(path)
    first = jupyterlab.kit("publish", "forecast.ipynb")  # published before, from a shell
    assert first.returncode == 0, first.stderr
    v1 = first.stdout.split()[1]
    shots = screenshots(tmp_path)

    with chromium_page(tmp_path) as (page, problems):
        notebook = open_notebook(page, jupyterlab, "forecast.ipynb", cells=publish + 1)
        notebook.save()  # Ctrl+S without editing: JupyterLab rewrites the metadata
        language_info = json.loads(path.read_text())["metadata"]["language_info"]
        assert {"version", "mimetype", "codemirror_mode"} <= set(language_info)

        notebook.run(publish)
        out = notebook.outputs(publish)
        assert f"unchanged, already published: {v1} " in out, out
        assert "kit: warning" not in out
        assert _summary_title(notebook, publish) == "Already published"

        # Cell 2 (the parameters) edited and run, not saved: named once, as JupyterLab
        # numbers it; what was published is the saved file.
        params = json.loads(path.read_text())["cells"][1]["source"]
        params = "".join(params) if isinstance(params, list) else params
        edited = params.replace("example_wp_log_peyton_manning.csv", "example_retail_sales.csv")
        assert edited != params
        notebook.type_into(1, edited)
        ran = notebook.run(1).locator(".jp-InputArea-prompt").inner_text().strip()
        notebook.run(publish)
        out = notebook.outputs(publish)
        warning = f"forecast.ipynb: cell 2, In {ran[:-1]} ran code that differs from that cell"
        assert out.count(warning) == 1, out
        summary = notebook.cell(publish).locator(".kit-published").inner_text()
        assert "ran code that differs" not in summary  # printed once, above it
        assert _summary_title(notebook, publish).startswith("Already published with warnings (")

        notebook.save()
        notebook.run(publish)
        out = notebook.outputs(publish)
        assert out.startswith("published forecast@"), out
        v2 = out.split()[1]
        assert v2 != v1
        assert "kit: warning: forecast.ipynb" not in out
        assert _summary_title(notebook, publish) == "Published"
        notebook.cell(publish).scroll_into_view_if_needed()
        notebook.cell(publish).screenshot(path=str(shots / "publish-cell.png"))

        # A new cell run but never saved, then a page reload: the cell is gone from the
        # screen, and kit says nothing about it.
        notebook.cell(publish).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Escape")
        page.keyboard.press("a")  # insert a cell above
        page.keyboard.press("Enter")
        page.keyboard.insert_text("scratch = 1")
        notebook.run(publish)
        page.reload()
        notebook = open_notebook(page, jupyterlab, "forecast.ipynb", cells=publish + 1)
        notebook.run(publish)
        out = notebook.outputs(publish)
        assert f"unchanged, already published: {v2} " in out, out
        assert "ran code that differs" not in out, out
        assert "is in no cell" not in out, out
    assert not problems, problems
    assert (shots / "publish-cell.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_refusal_is_one_red_line_and_a_duplicate_gets_the_name_to_use(
    jupyterlab: Lab, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    folder = jupyterlab.root / "team"
    write(
        folder / "leaky.ipynb",
        [
            ("markdown", "# Leaky"),
            ("code", "horizon = 30"),
            ("code", f'region = "eu"\naws_key = "{AWS_KEY}"'),
            ("code", PUBLISH),
        ],
        {1: ["parameters"]},
    )
    shutil.copy(folder / "leaky.ipynb", folder / "forecast.ipynb")
    shots = screenshots(tmp_path)

    with chromium_page(tmp_path) as (page, problems):
        notebook = open_notebook(page, jupyterlab, "team/leaky.ipynb", cells=4)
        cell = notebook.run(3)
        errors = cell.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        )
        expect(errors).to_have_count(1)
        text = errors.inner_text().strip()
        assert len(text.splitlines()) == 1, text  # not kit's traceback
        assert text.startswith("UsageError: leaky.ipynb: cell 3, line 2: possible secret (AWS")
        assert AWS_KEY not in text
        colour = errors.locator("span").first.evaluate("e => getComputedStyle(e).color")
        assert colour == RED
        cell.screenshot(path=str(shots / "publish-failed.png"))

        # JupyterLab's Duplicate, from the file browser's context menu.
        page.locator(".jp-DirListing-item", has_text="forecast.ipynb").first.click(button="right")
        page.get_by_role("menuitem", name=re.compile(r"^Duplicate")).click()
        copy = page.locator(".jp-DirListing-item", has_text="forecast-Copy1.ipynb")
        expect(copy).to_have_count(1)
        notebook = open_notebook(page, jupyterlab, "team/forecast-Copy1.ipynb", cells=4)
        text = notebook.run(3).locator(".jp-OutputArea-output").inner_text().strip()
        assert text.startswith(
            "UsageError: forecast-Copy1.ipynb: file name 'forecast-Copy1' is not a valid "
            "notebook name"
        ), text
        assert "publish it as 'forecast-copy1': kit.publish(name=\"forecast-copy1\")" in text
    assert not problems, problems
