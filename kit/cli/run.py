"""`kit run`: the pod's entrypoint, identical on a laptop."""

from __future__ import annotations

import sys

import typer

from kit.cli.common import settings
from kit.errors import UsageError

PARAM_FLAGS = ("-p", "--param")


def _pairs(extra: list[str]) -> list[tuple[str, str]]:
    # typer cannot declare a repeatable two-value option, so `-p KEY VALUE` arrives here.
    pairs, rest = [], list(extra)
    while rest:
        flag = rest.pop(0)
        if flag not in PARAM_FLAGS:
            raise UsageError(f"unexpected argument {flag!r} (parameters are -p KEY VALUE)")
        if len(rest) < 2:
            raise UsageError(f"{flag} needs KEY and VALUE")
        pairs.append((rest.pop(0), rest.pop(0)))
    return pairs


def run(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="NAME[@VERSION|@latest], a gs:// URL or a notebook path."),
    run_id: str = typer.Option(..., "--run-id", help="Unique per attempt; never reused."),
    params_json: str | None = typer.Option(None, "--params-json", help="Parameters as JSON."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds before timed_out."),
) -> None:
    """Execute a notebook with papermill; -p KEY VALUE (repeatable) sets a parameter.

    The output notebook is saved as it runs to runs/<name>/<run-id>/output.ipynb in the
    outputs bucket, and run.json is written last. Exit 0 on success.
    """
    from kit.runner import run as run_notebook

    result = run_notebook(
        settings(),
        ref,
        run_id,
        cli_params=_pairs(ctx.args),
        params_json=params_json,
        timeout=timeout,
    )
    print(f"{result.status}: {result.output_url}", flush=True)
    if result.status != "succeeded" and result.record.get("reason"):
        print(f"reason: {result.record['reason']}", file=sys.stderr)
    raise typer.Exit(result.exit_code)
