"""`kit run`: the pod's entrypoint, identical on a laptop."""

from __future__ import annotations

import sys

import click

from kit.cli.common import settings
from kit.errors import UsageError

PARAM_FLAGS = ("-p", "--param")


def split_params(args: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Take every `-p KEY VALUE` out of `kit run`'s arguments, before the parser sees them.

    A value may look like an option (`--help`, `-x`, `--timeout`): it must reach the
    notebook verbatim, never be parsed. Everything else is left for the parser.
    """
    rest: list[str] = []
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        if args[i] == "--":
            rest.extend(args[i:])
            break
        if args[i] in PARAM_FLAGS:
            if len(args) - i < 3:
                raise UsageError(f"{args[i]} needs KEY and VALUE")
            pairs.append((args[i + 1], args[i + 2]))
            i += 3
            continue
        rest.append(args[i])
        i += 1
    return rest, pairs


@click.command("run")
@click.argument("ref", help="NAME[@VERSION|@latest], a gs:// URL or a notebook path.")
@click.option("--run-id", required=True, help="Unique per attempt; never reused.")
@click.option(
    "--name",
    "-n",
    help="For a notebook file or URL: the name its runs go under (default: the file name).",
)
@click.option("--params-json", help="Parameters as JSON.")
@click.option("--timeout", type=float, help="Seconds before timed_out.")
@click.option(
    "-p",
    "--param",
    "param",
    nargs=2,
    multiple=True,
    metavar="KEY VALUE",
    help="Set parameter KEY to VALUE (repeatable); VALUE is taken verbatim, even `--help`.",
)
@click.pass_context
def run(
    ctx: click.Context,
    ref: str,
    run_id: str,
    name: str | None,
    params_json: str | None,
    timeout: float | None,
    param: tuple[tuple[str, str], ...],
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
        # `kit` takes every -p out before parsing (split_params), so that a VALUE is never
        # read as an option; the option above documents it, and serves callers of `run`
        # that skip kit.cli.main (click's own parsing).
        cli_params=[*(ctx.obj or {}).get("params", []), *param],
        params_json=params_json,
        timeout=timeout,
        name=name,
    )
    print(f"{result.status}: {result.output_url}", flush=True)
    if result.status != "succeeded" and result.record.get("reason"):
        print(f"reason: {result.record['reason']}", file=sys.stderr)
    ctx.exit(result.exit_code)
