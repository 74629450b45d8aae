"""What every command shares: the command group class, settings resolution and output
consoles."""

from __future__ import annotations

import sys
from functools import cache
from typing import TYPE_CHECKING, Any

import click

from kit.config import Settings, load_settings

if TYPE_CHECKING:
    from rich.console import Console

_SETTINGS = "kit.settings"


class KitGroup(click.Group):
    """A command group as kit shows it: commands in the order they were added, each with
    its whole first sentence; with no_args_is_help, no arguments print the help on
    stdout and exit 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=sys.maxsize)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            click.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(2)
        return super().parse_args(ctx, args)


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
    """The settings of this command line, resolved once (the `kit` group resolves them for
    its log; the command reuses them); flags given as overrides take precedence."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or overrides:
        return load_settings(overrides)
    if _SETTINGS not in ctx.meta:  # shared by every context of one invocation
        ctx.meta[_SETTINGS] = load_settings()
    resolved: Settings = ctx.meta[_SETTINGS]
    return resolved
