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
@click.option("--params-json", help="Parameters as JSON.")
@click.option("--timeout", type=float, help="Seconds before timed_out.")
@click.option(
    "--log-output",
    is_flag=True,
    help="Also print each cell's stdout and stderr as it runs (papermill's --log-output).",
)
@click.pass_context
def run(
    ctx: click.Context,
    ref: str,
    run_id: str,
    params_json: str | None,
    timeout: float | None,
    log_output: bool,
) -> None:
    """Execute a notebook with papermill; -p KEY VALUE (repeatable) sets a parameter.

    The output notebook is saved as it runs to runs/<name>/<run-id>/output.ipynb in the
    outputs bucket, and run.json is written last. Each code cell is reported on stderr as
    it starts and ends (KIT_LOG_FORMAT: text, json, or auto: a progress bar on a
    terminal); the last line, on stdout, is `<status>: <output URL>`. Exit 0 on success.
    """
    from kit.runner import run as run_notebook

    result = run_notebook(
        settings(),
        ref,
        run_id,
        cli_params=(ctx.obj or {}).get("params", []),
        params_json=params_json,
        timeout=timeout,
        progress=sys.stderr,
        log_output=log_output,
    )
    sys.stderr.flush()
    print(f"{result.status}: {result.output_url}", flush=True)  # the task log's last line
    ctx.exit(result.exit_code)
