"""The finisher: every attempt of a kit task ends with a run record.

`kit run` writes runs/<name>/<run-id>/run.json itself, last, for every end it sees. A pod
can end in ways its runner never sees: the OOM killer takes the container, SIGKILL after
the grace period, eviction, a lost node, a pod deleted before the runner started, an image
that cannot be pulled, no node in time, activeDeadlineSeconds. When the task's pod has
ended and run.json is missing, the operator writes one: status failed (killed when the
task was stopped), the reason in words (kit_pod_status), the container's exit code, the pod,
node and limits, and the cell the output notebook's last save shows running. The write
creates the object (if_generation_match=0): a record the runner managed to write is kept.

How it hooks into KubernetesPodOperator, through its public methods only, the same on
cncf-kubernetes 10.14 (Composer's) and 10.25, sync or deferrable, and for
GKEStartPodOperator, which inherits them:

- post_complete_action(): execute_sync's `finally` and the deferrable trigger_reentry (via
  _clean) call it once the pod is done, before cleanup() deletes it: the last moment its
  final status can be read. The finisher reads it there.
- execute() and trigger_reentry(): when either ends without deferring or rescheduling, the
  attempt is over: finish (also when the pod was never created or is already gone).
- on_kill(): the task is stopped. A runner that is running gets the pod deletion's SIGTERM
  and records `killed` itself; a pod whose runner never started is finished at once
  (Airflow 3 gives on_kill about 5 s before SIGKILL).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kit_airflow_compat import AirflowRescheduleException, TaskDeferred
from kit_attempt import Attempt, attempt_of, build_record, gone
from kit_pod_status import PodEnd, pod_end
from kit_run_contract import (
    OUTPUT_FILE,
    RECORD_FILE,
    RECORD_TYPE,
    index_urls,
    names_prefix,
    parse_time,
    summary,
    write_index,
)
from kit_run_store import OutputsStore, store_for

log = logging.getLogger(__name__)
DEFAULT_CONN = "google_cloud_default"
# How long the end of an attempt waits for a runner still running in a pod being deleted:
# kit run records `killed` within its own grace (KIT_GRACE_SECONDS, 30 s).
RUNNER_WAIT = 45.0
POLL_SECONDS = 2.0
NOT_FOUND = 404


def record_attempt(
    store: OutputsStore,
    attempt: Attempt,
    end: PodEnd,
    output: tuple[bytes, dict[str, str]] | None,
    *,
    killed: bool,
    started: datetime | None,
    now: datetime,
) -> dict[str, Any] | None:
    """Build the attempt's run record and write it: the one place the Airflow side writes
    a record. Creates the object only (if_generation_match=0); None when one exists."""
    record = build_record(attempt, end, output, killed=killed, started=started, now=now)
    data = json.dumps(record, indent=2, sort_keys=True, default=str).encode()
    if not store.create(attempt.url(RECORD_FILE), data, RECORD_TYPE):
        return None
    try:
        index_attempt(store, attempt, record)
    except Exception as exc:
        log.warning(
            "kit: wrote %s, but its index entries still say running (%s); listings read the "
            "record for such runs, and `kit runs reindex` rewrites them",
            attempt.url(RECORD_FILE),
            exc,
        )
    return record


def index_attempt(store: OutputsStore, attempt: Attempt, record: dict[str, Any]) -> None:
    """Point the run's index entries at the finisher's record (kit_run_contract's index).

    The runner keyed them by its start, which the record's started_at carries; a pod whose
    runner never started gets new entries. The record is already written: listings fall
    back to it, so a failure here is only logged by the caller.
    """
    bucket = attempt.outputs_bucket
    when = parse_time(record.get("started_at")) or parse_time(record.get("finished_at"))
    urls = index_urls(bucket, attempt.notebook, attempt.run_id, when)
    write_index(store, urls, summary(record))
    # An empty marker, as kit.storage.index.register_name writes it (no JSON body).
    store.create(names_prefix(bucket) + attempt.notebook, b"", "application/octet-stream")


class FinishesAttempts:
    """Mixin for kit's pod operators (before KubernetesPodOperator in the bases)."""

    log: Any
    pod: Any
    pod_request_obj: Any
    pod_manager: Any

    def __init__(self, *, outputs_conn_id: str = DEFAULT_CONN, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outputs_conn_id = outputs_conn_id

    def execute(self, context: Any, **kwargs: Any) -> Any:
        # kwargs: Airflow 2's sentinel for its own wrapper of the operator's execute.
        self._kit_context = context
        return self._ends_attempt(super().execute, context, **kwargs)  # type: ignore[misc]

    def trigger_reentry(self, context: Any, event: dict[str, Any]) -> Any:
        # A fresh operator after the deferral: its pod was created by the first half.
        self._kit_resumed, self._kit_context = True, context
        return self._ends_attempt(super().trigger_reentry, context, event)  # type: ignore[misc]

    def post_complete_action(
        self, *, pod: Any, remote_pod: Any, context: Any, result: Any, **kwargs: Any
    ) -> None:
        self._kit_last_pod = self._read_pod(remote_pod)
        super().post_complete_action(  # type: ignore[misc]
            pod=pod, remote_pod=remote_pod, context=context, result=result, **kwargs
        )

    def on_kill(self) -> None:
        self._kit_killed = True
        super().on_kill()  # type: ignore[misc]
        self.finish_attempt(wait=0.0)

    def _ends_attempt(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        error: BaseException | None = None
        try:
            return call(*args, **kwargs)
        except (TaskDeferred, AirflowRescheduleException):
            error = None
            self._kit_continues = True
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            if not getattr(self, "_kit_continues", False):
                self.finish_attempt(error=error)
            self._kit_continues = False

    def _read_pod(self, fallback: Any = None) -> Any:
        """The pod as the cluster has it now; None once it is gone."""
        pod = getattr(self, "pod", None)
        if pod is None:
            return fallback
        try:
            return self.pod_manager.read_pod(pod)
        except Exception as exc:
            if getattr(exc, "status", None) == NOT_FOUND:
                return None
            self.log.warning("kit: could not read pod %s: %s", pod.metadata.name, exc)
            return fallback

    def _created(self) -> bool:
        return getattr(self, "pod", None) is not None or getattr(self, "_kit_resumed", False)

    def _end_now(self, error: BaseException | None, output: bool) -> tuple[PodEnd, Any]:
        """How the pod ended as far as can be told now, and the pod it was read from."""
        last = getattr(self, "_kit_last_pod", None)
        current = self._read_pod(fallback=last)
        if current is None and last is not None and not pod_end(last).running:
            current = last  # read before cleanup() deleted it: its final status
        if current is None:
            return gone(created=self._created(), error=error, output=output), None
        return pod_end(current), current

    def _request(self) -> Any:
        """The pod this attempt runs: as built, as read back, or (resumed after a deferral
        whose pod is gone) built again from the rendered task."""
        found = getattr(self, "pod_request_obj", None) or getattr(self, "pod", None)
        context = getattr(self, "_kit_context", None)
        if found is None and getattr(self, "_kit_resumed", False) and context is not None:
            try:
                found = self.build_pod_request_obj(context)  # type: ignore[attr-defined]
            except Exception as exc:
                self.log.warning("kit: cannot rebuild the pod request: %s", exc)
        return found

    def finish_attempt(
        self, *, error: BaseException | None = None, wait: float = RUNNER_WAIT
    ) -> None:
        """Write the attempt's run record if its pod ended without one. Never raises: the
        task's own outcome stays what the operator made it."""
        if getattr(self, "_kit_finished", False):
            return
        try:
            self._finish(error, wait)
        except Exception as exc:
            self.log.warning(
                "kit: could not finish this attempt's run record: %s", exc, exc_info=True
            )

    def _finish(self, error: BaseException | None, wait: float) -> None:
        request = self._request()
        attempt = attempt_of(request) if request is not None else None
        if attempt is None:
            self.log.warning("kit: no kit run pod was built; no run record to finish")
            return
        store = store_for(attempt.outputs_bucket, self.outputs_conn_id)
        record_url = attempt.url(RECORD_FILE)
        end, pod = self._end_now(error, store.exists(attempt.url(OUTPUT_FILE)))
        waited_until = time.monotonic() + wait
        while end.running and not store.exists(record_url):
            if time.monotonic() >= waited_until:
                self.log.info("kit: kit run still runs in pod %s; it records its end", attempt.pod)
                return
            time.sleep(POLL_SECONDS)
            end, pod = self._end_now(error, True)
        if store.exists(record_url):
            self._kit_finished = True
            return
        output = store.read(attempt.url(OUTPUT_FILE))
        if pod is None:
            end = gone(created=self._created(), error=error, output=bool(output))
        start = getattr(getattr(pod, "status", None), "start_time", None)
        killed = getattr(self, "_kit_killed", False)
        record = record_attempt(
            store, attempt, end, output, killed=killed, started=start, now=datetime.now(UTC)
        )
        self._kit_finished = True
        if record is not None:
            self.log.warning(
                "kit: the pod ended without a run record; wrote %s: %s: %s",
                record_url,
                record["status"],
                record["reason"],
            )
