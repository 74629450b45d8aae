"""What every command shares: settings resolution and output consoles."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from kit.config import Settings, load_settings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def settings(**overrides: Any) -> Settings:
    """Resolve settings once for this command, flags taking precedence."""
    return load_settings(overrides)
