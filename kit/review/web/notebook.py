"""Executed notebooks as HTML (nbconvert's lab template), failing cell highlighted and anchored.

Every source cell is wrapped in `<div id="cell-<n>">`, n its 1-based number in the source
notebook (kit.cells: the cells papermill added are not counted), so "Failed at cell n"
links to it. No script or CDN reference is emitted: pages render on a machine without
internet. Two forms, from the templates in templates/nbconvert/:
- `notebook_html`: one self-contained page (`kit runs html`), CSS inline;
- `notebook_cells`: the cells alone, placed inside the review's run page (the page scrolls,
  prints whole, and its stylesheet is `notebook_css()`, served as a file). The HTML of
  Markdown cells and outputs is sanitized (nbconvert's `sanitize_html`), as nbviewer does,
  since it then shares the page's origin; with the same cleaner, bleach, but a list of
  tags that keeps what notebooks show (nbconvert's own keeps bleach's short default and
  escapes headings, paragraphs, images and table headers).
"""

from __future__ import annotations

import copy
import functools
import re
from typing import TYPE_CHECKING, Any

from kit.cells import number, source_index
from kit.review.failure import Failure
from kit.review.run_view import Run
from kit.review.web.jinja import PACKAGE, render, stylesheet

if TYPE_CHECKING:
    from nbformat import NotebookNode


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


# The HTML a notebook shows: text, tables, images (data: URLs, or links out). No script,
# style, form, frame, meta or base: those are escaped.
SAFE_TAGS = frozenset(
    {
        "a",
        "abbr",
        "acronym",
        "b",
        "blockquote",
        "br",
        "caption",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "tt",
        "u",
        "ul",
    }
)
SAFE_ATTRIBUTES = {
    "*": ["class", "id", "title", "align"],
    "a": ["href", "name"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan"],
    "th": ["colspan", "rowspan", "scope"],
}


def clean_html(element: str | bytes) -> str:
    """nbconvert's `clean_html` filter, keeping the tags notebooks show (SAFE_TAGS)."""
    import bleach

    text = element.decode() if isinstance(element, bytes) else str(element)
    return str(
        bleach.clean(
            text,
            tags=SAFE_TAGS,
            attributes=SAFE_ATTRIBUTES,
            protocols=["http", "https", "mailto", "data"],
        )
    )


def _export(
    nb: NotebookNode, template: str, resources: dict[str, Any], *, sanitize: bool = False
) -> str:
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="lab",
        extra_loaders=[jinja2.PackageLoader(PACKAGE, "templates/nbconvert")],
        embed_images=True,
        sanitize_html=sanitize,
        filters={"clean_html": clean_html},  # nbconvert's public way to replace a filter
    )
    exporter.template_file = template
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return str(body)


def notebook_html(
    nb: NotebookNode, failure: Failure | None = None, *, title: str = "", header: str = ""
) -> str:
    """The notebook as one self-contained HTML page (header: raw HTML placed above the cells)."""
    css = stylesheet("notebook.css") + (stylesheet("record.css") if header else "")
    resources = {"metadata": {"name": title or "notebook"}, "kit_css": css, "kit_header": header}
    return _export(annotate(nb, failure), "kit-notebook.html.j2", resources)


def notebook_cells(nb: NotebookNode, failure: Failure | None = None) -> str:
    """The notebook's cells as an HTML fragment for the run page (sanitized)."""
    resources = {"metadata": {"name": "notebook"}}
    return _export(annotate(nb, failure), "kit-notebook-cells.html.j2", resources, sanitize=True)


@functools.cache
def notebook_css() -> str:
    """The stylesheet of `notebook_cells`: nbconvert's lab CSS, then kit's notebook.css."""
    from nbformat.v4 import new_notebook

    empty = new_notebook()  # type: ignore[no-untyped-call]
    styles = _export(empty, "kit-notebook-css.html.j2", {})
    found = re.findall(r"<style[^>]*>(.*?)</style>", styles, flags=re.S)
    return "\n".join(found) + "\n" + stylesheet("notebook.css")


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
