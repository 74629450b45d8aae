"""The one way kit renders HTML: Jinja templates shipped as package data, autoescaped.

Each package keeps its templates in its own `templates/` folder (package data, see
pyproject.toml) and gets its environment here, so every page, SVG chart and notebook
`_repr_html_` escapes by the same rule: Jinja's autoescape, with `| safe` only for markup
kit made itself. jinja2 comes with the notebook environment (environment.yml); it is
imported on first use, so `import kit` stays light.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def environment(package: str) -> Any:
    """The autoescaped Jinja environment of `package`'s templates/ folder (built once)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
        keep_trailing_newline=False,
    )


def render(package: str, template: str, **context: Any) -> str:
    """Render one of `package`'s templates."""
    return str(environment(package).get_template(template).render(**context))
