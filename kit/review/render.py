"""The Jinja2 environment of the review templates: autoescaped, with run formatting filters."""

from __future__ import annotations

import functools
import re
from typing import Any

from kit.review import fmt
from kit.review.record import Run
from kit.review.templates import TEMPLATES
from kit.run_contract import review_path

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
    """Built once, on first use (jinja2 comes with nbconvert in the notebook environment)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.DictLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        trim_blocks=False,
    )
    env.filters.update(
        duration=fmt.duration,
        moment=fmt.moment,
        value=fmt.value,
        pairs=fmt.pairs,
        kubernetes=fmt.kubernetes,
        size=fmt.size,
        href=run_href,
        short_version=short_version,
    )
    return env


def render(template: str, **context: Any) -> str:
    """Render one of the review templates."""
    return str(environment().get_template(template).render(**context))
