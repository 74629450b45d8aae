"""Publish notebooks as validated, immutable versions with a safe `latest` pointer.

From a notebook cell: `import kit; kit.publish()`. From a shell: `kit publish PATH`.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from kit.config import Settings
from kit.publishing.history import History, RolledBack, Shown, rollback, show, versions
from kit.publishing.release import Published, publish_notebook

__all__ = [
    "History",
    "PublishWarning",
    "Published",
    "RolledBack",
    "Shown",
    "publish",
    "publish_notebook",
    "rollback",
    "show",
    "versions",
]


class PublishWarning(UserWarning):
    """Something worth knowing about a publish that does not stop it."""


def _warn(message: str) -> None:
    """Warn at the caller's line (the notebook cell), every time: no once-per-line registry."""
    frame = sys._getframe(1)
    while frame.f_back is not None and str(frame.f_globals.get("__name__", "")).startswith("kit."):
        frame = frame.f_back
    warnings.warn_explicit(
        message,
        PublishWarning,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=str(frame.f_globals.get("__name__", "")),
    )


def publish(
    path: Path | str | None = None,
    name: str | None = None,
    *,
    settings: Settings | None = None,
) -> Published:
    """Publish a notebook, by default the one whose cell calls this; print its version and URL.

    In JupyterLab, `import kit; kit.publish()` publishes the saved notebook of the
    current session (save first). The cell is tagged `kit-skip` in the published
    version, so runs never publish again. Refusals raise kit.errors.UsageError.
    """
    result = publish_notebook(path, name, settings=settings, warn=_warn)
    print(result)
    return result
