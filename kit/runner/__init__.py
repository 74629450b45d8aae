"""`kit run`: execute one notebook the way a pod does and record how it went.

Steps, in order: resolve the immutable version; check parameters against its
schema (exit 2 before any kernel starts); claim the run's output location;
execute with papermill, saving as it goes; write run.json last.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kit.config import Settings
from kit.errors import UsageError
from kit.runner import record as records
from kit.runner.execute import Session, StopSignal
from kit.runner.nbio import OutputWriter
from kit.runner.outcome import Outcome
from kit.runner.params import resolve_parameters
from kit.runner.source import Source, load_source
from kit.storage import Storage, storage_for

RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
EXIT_CODES = {"succeeded": 0, "failed": 1, "timed_out": 124, "killed": 143}
OUTPUT_PREFIX_PARAM = "output_prefix"

__all__ = ["RunResult", "run"]


@dataclass(frozen=True)
class RunResult:
    """The outcome of `kit run`: its record and where the output is."""

    status: str
    output_url: str
    record_url: str
    record: dict[str, Any]

    @property
    def exit_code(self) -> int:
        """0 on success; otherwise non-zero, distinct per status."""
        return EXIT_CODES[self.status]


def run(
    settings: Settings,
    ref: str,
    run_id: str,
    *,
    cli_params: Sequence[tuple[str, str]] = (),
    params_json: str | None = None,
    timeout: float | None = None,
    grace: float | None = None,
    name: str | None = None,
) -> RunResult:
    """Execute ref (name[@version|@latest], a gs:// URL or a path) as run run_id.

    name: the name an ad-hoc file's runs go under (default: the file name).
    """
    if not RUN_ID_RE.match(run_id):
        raise UsageError(f"invalid --run-id {run_id!r} (letters, digits, '.', '_', '-'; max 128)")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout must be positive, got {timeout:g}")
    source = load_source(settings, ref, name)
    where = f"{source.name}@{source.version}"
    parameters = resolve_parameters(source.schema, cli_params, params_json, where)

    run_dir = settings.url("outputs_bucket", "runs", source.name, run_id)
    if OUTPUT_PREFIX_PARAM in source.schema and OUTPUT_PREFIX_PARAM not in parameters:
        # Files the notebook writes land beside its executed copy.
        parameters[OUTPUT_PREFIX_PARAM] = run_dir + "/"
    store = storage_for(run_dir, retry_deadline=settings.retry_deadline)
    writer = OutputWriter(store, f"{run_dir}/output.ipynb")
    kernel_env = {**os.environ, "KIT_RUN_ID": run_id}
    if kernel_env.get("STORAGE_EMULATOR_HOST"):
        # The kernel's gcsfs would otherwise probe the emulator for gRPC for minutes.
        kernel_env.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    with StopSignal().on_signals() as stop:
        # From here on a SIGTERM still ends with a record, however early it comes.
        session = Session(source.notebook, source.url, kernel_env)
        session.start()  # the kernel boots while we claim the output and load papermill
        try:
            writer.claim(source.notebook)
        except BaseException:
            session.cancel()
            raise
        try:
            return _execute_and_record(
                source, parameters, writer, store, run_id, run_dir, timeout, grace, stop, session
            )
        finally:
            session.close()


def _execute_and_record(
    source: Source,
    parameters: dict[str, Any],
    writer: OutputWriter,
    store: Storage,
    run_id: str,
    run_dir: str,
    timeout: float | None,
    grace: float | None,
    stop: StopSignal,
    session: Session,
) -> RunResult:
    started = datetime.now(UTC)
    if grace is None:
        grace = float(os.environ.get("KIT_GRACE_SECONDS", "30"))
    outcome: Outcome = session.execute(parameters, writer, timeout=timeout, grace=grace, stop=stop)
    finished = datetime.now(UTC)
    body = records.build(
        run_id=run_id,
        source=source,
        parameters=parameters,
        outcome=outcome,
        output_url=writer.url,
        started=started,
        finished=finished,
        notebook=writer.last(),
    )
    record_url = f"{run_dir}/run.json"
    store.write(record_url, records.dumps(body), content_type="application/json")
    return RunResult(outcome.status, writer.url, record_url, body)
