"""Executed notebooks as HTML (nbconvert's lab template), failing cell highlighted and anchored.

Every source cell is wrapped in `<div id="cell-<n>">`, n its 1-based number in the source
notebook (kit.cells: the cells papermill added are not counted), so "Failed at cell n"
links to it. No script or CDN reference is emitted: the page
must render on a machine without internet and inside a sandboxed iframe.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from kit.cells import number, source_index
from kit.review.failure import Failure
from kit.review.record import Run
from kit.review.render import render
from kit.review.styles import NOTEBOOK_CSS, RECORD_CSS

if TYPE_CHECKING:
    from nbformat import NotebookNode

TEMPLATE_NAME = "kit-notebook.html.j2"
TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block extra_css -%}<style type="text/css">{{ resources.kit_css }}</style>{%- endblock -%}
{%- block body_header -%}{{ super() }}{{ resources.kit_header }}{%- endblock body_header -%}
{%- block any_cell scoped -%}
{%- set kit = cell.metadata.kit_review -%}
<div id="{{ kit.anchor }}" class="kit-cell {{ kit.state }}"
{%- if kit.label %} data-kit-label="{{ kit.label | e }}"{% endif %}>
{{ super() }}
</div>
{%- endblock any_cell -%}
"""


def annotate(nb: NotebookNode, failure: Failure | None) -> NotebookNode:
    """A copy of nb whose cells carry their anchor and the failing cell's state."""
    marked = copy.deepcopy(nb)
    for i, cell in enumerate(marked.cells):
        at = source_index(marked.cells, i)
        anchor = f"cell-{number(at)}" if at is not None else f"papermill-{i}"
        kit: dict[str, Any] = {"anchor": anchor, "state": "", "label": ""}
        if failure is not None and at is not None and failure.cell_number == number(at):
            if failure.kind == "error":
                kit.update(state="kit-failed", label=f"Failed here: {failure.headline}")
            elif failure.kind == "exit":
                kit.update(state="kit-stopped", label=f"The run ended here: {failure.headline}")
            else:
                kit.update(state="kit-stopped", label="The run stopped while this cell ran")
        cell.metadata["kit_review"] = kit
    return marked


def notebook_html(
    nb: NotebookNode, failure: Failure | None = None, *, title: str = "", header: str = ""
) -> str:
    """The notebook as one self-contained HTML page (header: raw HTML placed above the cells)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="lab",
        extra_loaders=[DictLoader({TEMPLATE_NAME: TEMPLATE})],
        embed_images=True,
    )
    exporter.template_file = TEMPLATE_NAME
    resources = {
        "metadata": {"name": title or "notebook"},
        "kit_css": NOTEBOOK_CSS + (RECORD_CSS if header else ""),
        "kit_header": header,
    }
    body, _ = exporter.from_notebook_node(annotate(nb, failure), resources=resources)
    return str(body)


def record_html(
    run: Run,
    failure: Failure | None,
    *,
    cell_href: str = "",
    target: str = "",
    link: bool = True,
) -> str:
    """The run record block (status, failure link to `cell_href#cell-<n>`, facts, metrics)."""
    return render(
        "record.html",
        run=run,
        rec=run.record or {},
        failure=failure,
        cell_href=cell_href,
        target=target,
        link=link,
    )


def run_html(run: Run, nb: NotebookNode, failure: Failure | None) -> str:
    """A static page: the run record on top, then the executed notebook."""
    return notebook_html(
        nb, failure, title=f"{run.notebook} / {run.run_id}", header=record_html(run, failure)
    )
