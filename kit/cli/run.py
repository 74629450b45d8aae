"""`kit run`: the pod's entrypoint, identical on a laptop."""

from __future__ import annotations

import sys

import click

from kit.cli.common import settings


@click.command("run")
@click.argument("ref", help="NAME[@VERSION|@latest], a gs:// URL or a notebook path.")
@click.option("--run-id", required=True, help="Unique per attempt; never reused.")
@click.option(
    "-p",
    "--param",
    "params",
    nargs=2,
    multiple=True,
    metavar="KEY VALUE",
    help="Set a parameter (repeatable). VALUE is taken verbatim, even `--help` or `-x`, "
    "and cast to the parameter's type.",
)
@click.option("--params-json", help="Parameters as a JSON object (-p wins for the same key).")
@click.option("--timeout", type=float, help="Seconds before timed_out.")
@click.option(
    "--name",
    "-n",
    help="For a notebook file or URL: the name its runs go under (default: the file name).",
)
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
    params: tuple[tuple[str, str], ...],
    params_json: str | None,
    timeout: float | None,
    name: str | None,
    log_output: bool,
) -> None:
    """Execute a notebook with papermill and record how the run ended.

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
        cli_params=params,
        params_json=params_json,
        timeout=timeout,
        progress=sys.stderr,
        log_output=log_output,
        name=name,
    )
    sys.stderr.flush()
    print(f"{result.status}: {result.output_url}", flush=True)  # the task log's last line
    ctx.exit(result.exit_code)
