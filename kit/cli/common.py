"""What every command shares: settings resolution and output consoles."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from kit.config import Settings, load_settings

if TYPE_CHECKING:
    from rich.console import Console


@cache
def out() -> Console:
    """The console for results (stdout); rich is imported by the commands that print."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@cache
def err() -> Console:
    """The console for warnings and notes (stderr)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def settings(**overrides: Any) -> Settings:
    """Resolve settings once for this command, flags taking precedence."""
    return load_settings(overrides)
