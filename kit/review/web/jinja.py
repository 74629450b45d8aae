"""The review pages' Jinja environment: kit.templating's (autoescaped, templates/ as package
data) plus the run formatting filters; and the stylesheets in static/."""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from kit import templating
from kit.review import formatting as fmt
from kit.review.run_view import Run
from kit.run_contract import review_path

PACKAGE = "kit.review.web"
_VERSION = re.compile(r"^(\d{8})T(\d{4})\d{2}Z-([0-9a-f]{12})$")


def run_href(run: Run) -> str:
    """The review page path of a run (names and ids URL-quoted)."""
    return review_path(run.notebook, run.run_id)


def short_version(version: str | None) -> str:
    """20261123T101500Z-0123456789ab -> 20261123T1015 · 0123456"""
    if not version:
        return ""
    match = _VERSION.match(version)
    return f"{match[1]}T{match[2]} · {match[3][:7]}" if match else version


@functools.cache
def environment() -> Any:
    """kit.templating's environment of this package, with the filters (built once)."""
    env = templating.environment(PACKAGE).overlay()
    env.filters.update(
        duration=fmt.duration,
        moment=fmt.moment,
        value=fmt.value,
        result=fmt.result,
        metric_pairs=fmt.metric_pairs,
        pairs=fmt.pairs,
        kubernetes=fmt.kubernetes,
        size=fmt.size,
        href=run_href,
        short_version=short_version,
    )
    env.globals["stylesheet"] = stylesheet
    return env


def render(template: str, **context: Any) -> str:
    """Render one of the review templates (templates/<template>)."""
    return str(environment().get_template(template).render(**context))


@functools.cache
def stylesheet(name: str) -> str:
    """One of static/*.css (record.css, review.css, notebook.css), as text."""
    return resources.files(PACKAGE).joinpath("static", name).read_text(encoding="utf-8")
