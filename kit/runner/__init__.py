"""`kit run`: execute one notebook the way a pod does and record how it went.

Steps, in order: resolve the immutable version; check parameters against its
schema (exit 2 before any kernel starts); claim the run's output location;
execute with papermill, saving as it goes; write run.json last.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from kit import run_contract as contract
from kit.config import RUN_ID_VAR, Settings
from kit.errors import UsageError
from kit.runner import record_writer as records
from kit.runner.execute import Session, StopSignal
from kit.runner.index import RunIndex
from kit.runner.outcome import Outcome
from kit.runner.papermill_io import OutputWriter
from kit.runner.params import effective, resolve_parameters
from kit.runner.progress import reporter
from kit.runner.source import Source, load_source
from kit.runner.watch import CellWatch
from kit.storage import Storage, storage_for
from kit.storage.emulator import emulator_env

log = logging.getLogger(__name__)
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
EXIT_CODES = contract.EXIT_CODES
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
    progress: TextIO | None = None,
    log_output: bool = False,
    name: str | None = None,
) -> RunResult:
    """Execute ref (name[@version|@latest], a gs:// URL or a path) as run run_id.

    progress: where to report each cell as it runs (kit.runner.progress, in the format of
    settings.log_format); log_output adds the cells' own stdout and stderr there.
    name: the name an ad-hoc file's runs go under (default: the file name).
    """
    if not RUN_ID_RE.match(run_id):
        raise UsageError(f"invalid --run-id {run_id!r} (letters, digits, '.', '_', '-'; max 128)")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout must be positive, got {timeout:g}")
    with StopSignal().on_signals() as stop:
        # Before any I/O: from here on a SIGTERM ends with a record, however early it comes.
        source = load_source(settings, ref, name)
        where = f"{source.name}@{source.version}"
        log.info("running %s from %s as run %s", where, source.url, run_id)
        parameters = resolve_parameters(source.schema, cli_params, params_json, where)

        bucket = settings.outputs_bucket
        run_dir = contract.runs_prefix(bucket, source.name, run_id)
        if OUTPUT_PREFIX_PARAM in source.schema and OUTPUT_PREFIX_PARAM not in parameters:
            # Files the notebook writes land beside its executed copy.
            parameters[OUTPUT_PREFIX_PARAM] = run_dir
        if grace is None:
            grace = settings.grace_seconds
        started = datetime.now(UTC)
        store = storage_for(run_dir, retry_deadline=settings.retry_deadline)
        output_meta = contract.output_metadata(started, timeout, grace, source.version)
        writer = OutputWriter(
            store, contract.run_url(bucket, source.name, run_id, contract.OUTPUT_FILE), output_meta
        )
        index = RunIndex(store, bucket, source.name, run_id, started)
        shown, overridden = effective(source.schema, parameters)
        pending = contract.pending_record(
            notebook=source.name,
            run_id=run_id,
            version=source.version,
            started=started,
            metadata=output_meta,
            parameters=shown,
            overridden=overridden,
        )
        report = reporter(progress, settings.log_format) if progress is not None else None
        watch = CellWatch(report, log_output=log_output)
        kernel_env = emulator_env({**os.environ, RUN_ID_VAR: run_id})
        session = Session(source.notebook, source.url, kernel_env, watch)
        session.start()  # the kernel boots while we index the run, claim the output, load papermill
        try:
            index.open(pending)  # first: a run listed as running that never got further is lost
            try:
                writer.claim(source.notebook)
            except BaseException:
                index.discard()
                raise
        except BaseException:
            session.cancel()
            raise
        if report is not None:
            code_cells = sum(c.get("cell_type") == "code" for c in source.notebook["cells"])
            report.opened(f"{source.name}@{source.version}", run_id, writer.url, code_cells)
        try:
            result = _execute_and_record(
                settings, source, parameters, writer, store, run_id, started, timeout, grace,
                stop, session,
            )  # fmt: skip
            index.close(result.record)
        finally:
            session.close()
            writer.close()
    if report is not None:
        reason = result.record.get("reason")
        report.closed(result.status, result.output_url, reason, watch.clock())
    return result


def _execute_and_record(
    settings: Settings,
    source: Source,
    given: dict[str, Any],
    writer: OutputWriter,
    store: Storage,
    run_id: str,
    started: datetime,
    timeout: float | None,
    grace: float,
    stop: StopSignal,
    session: Session,
) -> RunResult:
    outcome: Outcome = session.execute(given, writer, timeout=timeout, grace=grace, stop=stop)
    finished = datetime.now(UTC)
    parameters, overridden = effective(source.schema, given)
    body = records.build(
        run_id=run_id,
        source=source,
        parameters=parameters,
        overridden=overridden,
        outcome=outcome,
        output_url=writer.url,
        started=started,
        finished=finished,
        notebook=writer.last(),
        timeout=timeout,
        grace=grace,
        peaks=session.watch.peaks,
        pod_name=settings.pod_name,
        image=settings.image,
    )
    record_url = writer.url.removesuffix(contract.OUTPUT_FILE) + contract.RECORD_FILE
    store.write(
        record_url,
        records.dumps(body),
        content_type=contract.RECORD_TYPE,
        metadata=contract.summary(body),  # what listings show, without reading the record
    )
    log.info("%s: recorded in %s", outcome.status, record_url)
    return RunResult(outcome.status, writer.url, record_url, body)
