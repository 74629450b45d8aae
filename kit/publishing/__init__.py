"""Publish notebooks as validated, immutable versions with a safe `latest` pointer.

From a notebook cell: `import kit; kit.publish()`. From a shell: `kit publish PATH`.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from kit.config import Settings
from kit.errors import KitError
from kit.publishing.history import History, RolledBack, Shown, rollback, show, versions
from kit.publishing.release import publish_notebook
from kit.publishing.result import Published
from kit.publishing.session import kernel_shell

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
    """Warn at the caller's line, every time: no once-per-line registry."""
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


def _print_warning(message: str) -> None:
    """In a notebook: one plain line on stderr (red in JupyterLab), no warning machinery."""
    print(f"kit: warning: {message}", file=sys.stderr, flush=True)


def publish(
    path: Path | str | None = None,
    name: str | None = None,
    *,
    settings: Settings | None = None,
    raise_on_error: bool = True,
) -> Published | None:
    """Publish a notebook, by default the one whose cell calls this; print its version and URL.

    In JupyterLab, `import kit; kit.publish()` publishes the saved notebook of the
    current session (save first). The cell is tagged `kit-skip` in the published
    version, so runs never publish again.

    Each warning is printed once as it is found: in a notebook as a `kit: warning:` line,
    elsewhere as a PublishWarning (so scripts can filter or escalate them).

    A refusal raises a kit.errors.KitError (UsageError for bad input), which a notebook
    shows as one red line naming the file, cell and line, not kit's traceback; scripts
    get the exception as usual. With raise_on_error=False the refusal is printed on
    stderr instead and None is returned.
    """
    in_kernel = kernel_shell() is not None
    try:
        result = publish_notebook(
            path, name, settings=settings, warn=_print_warning if in_kernel else _warn
        )
    except KitError as exc:
        if raise_on_error:
            raise
        print(f"kit: error: {exc}", file=sys.stderr, flush=True)
        return None
    print(result)
    for note in result.notes:
        print(f"kit: note: {note}")
    return result
