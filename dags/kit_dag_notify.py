"""Notifications about kit runs, the Airflow way: a notifier per `notify` item of an entry.

`KitRunNotifier` is an Airflow notifier (BaseNotifier) set as the task's
on_failure_callback (event "failure": the task failed for good, after its retries) or
on_success_callback (event "recovery": it succeeded after a failed try, or after the
previous DAG run's task failed). It reads the attempt's run record (run.json, written by
`kit run` or by the finisher) and hands the message to Airflow's own notifier:

- email: the SMTP provider's SmtpNotifier (Airflow connection smtp_conn_id);
- slack: the Slack provider's SlackWebhookNotifier (an incoming-webhook connection),
  imported only when configured (kit_dag_config rejects it where the provider is missing).

The message names the notebook, the run id, the status and reason, the failing cell (its
1-based number, In [k] and first line), the output notebook's URL and, with
`settings.review_url`, the run's page on the team's `kit review`. A notification that
cannot be delivered is logged with its cause and never fails the task.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from kit_airflow_compat import BaseNotifier, previous_state
from kit_dag_config import Config, Notebook, Notify
from kit_run_contract import (
    FAILED,
    OUTPUT_FILE,
    RECORD_FILE,
    SUCCEEDED,
    label,
    review_path,
    run_url,
)
from kit_run_store import store_for

log = logging.getLogger("airflow.task")
FAILURE, RECOVERY = "failure", "recovery"


@dataclass(frozen=True)
class Message:
    """One notification: a subject, and its body as plain text and as HTML."""

    subject: str
    lines: tuple[tuple[str, str], ...]  # (label, value), in order

    @property
    def text(self) -> str:
        width = max(len(name) for name, _ in self.lines) + 1
        return "\n".join(f"{name + ':':<{width}} {value}" for name, value in self.lines)

    @property
    def html(self) -> str:
        rows = "".join(
            f"<tr><th align='left'>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
            for name, value in self.lines
        )
        return f"<p>{html.escape(self.subject)}</p><table>{rows}</table>"


def failing_cell(record: dict[str, Any] | None) -> str | None:
    """`cell 7, In [5]: model.fit(df)` from a record's stopped_at (kit.run_contract's
    numbering), or None."""
    stopped = (record or {}).get("stopped_at")
    if not isinstance(stopped, dict) or not isinstance(stopped.get("cell"), int):
        return None
    where = label(stopped["cell"] - 1, stopped.get("execution_count"))
    return f"{where}: {stopped.get('source') or ''}".rstrip(": ")


def compose(
    event: str,
    *,
    notebook: str,
    run_id: str,
    record: dict[str, Any] | None,
    output_url: str,
    review_url: str | None,
    airflow: str,
    error: str | None = None,
) -> Message:
    """The message for one event of one attempt."""
    status = (record or {}).get("status") or (SUCCEEDED if event == RECOVERY else FAILED)
    reason = (record or {}).get("reason") or (None if record else error)
    cell = failing_cell(record) if event == FAILURE else None
    what = "recovered" if event == RECOVERY else status
    lines = [
        ("Notebook", notebook),
        ("Run", run_id),
        ("Status", f"{status}: {reason}" if reason else status),
    ]
    if record is None and event == FAILURE:
        lines.append(("Run record", "none (run.json was not written)"))
    if cell:
        lines.append(("Failing cell", cell))
    lines.append(("Output notebook", output_url))
    if review_url:
        at = (record or {}).get("stopped_at") or {}
        number = at.get("cell") if cell and isinstance(at.get("cell"), int) else None
        lines.append(("Review", review_url + review_path(notebook, run_id, number)))
    lines.append(("Airflow", airflow))
    subject = f"kit: {notebook} {what}" + (f": {reason}" if reason and event == FAILURE else "")
    return Message(subject[:200], tuple(lines))


class KitRunNotifier(BaseNotifier):  # type: ignore[misc]
    """Tells the people of one `notify` item about a kit run, through Airflow's notifiers."""

    template_fields = ()  # nothing templated: a notebook's cell text is not a template

    def __init__(self, item: Notify, event: str, notebook: str, config: Config) -> None:
        super().__init__()
        self.kind = item.kind
        self.recipients = list(item.email or [])
        self.slack_conn_id = item.slack
        self.smtp_conn_id = item.smtp_conn_id
        self.from_email = item.from_email
        self.event = event
        self.notebook = notebook
        self.outputs_bucket = config.settings.outputs_bucket
        self.review_url = config.settings.review_url
        self.gcp_conn_id = config.cluster.gcp_conn_id

    def notify(self, context: Any) -> None:
        """Send, unless this success is no recovery; a failure to send is only logged."""
        who = ", ".join(self.recipients) if self.kind == "email" else self.slack_conn_id
        try:
            message = self.message(context)
            if message is None:
                return
            self.deliver(message, context)
            log.info("kit: sent the %s notification (%s) to %s", self.event, self.kind, who)
        except Exception as exc:  # never fail (or re-fail) the task for a notification
            log.warning(
                "kit: could not send the %s notification (%s) to %s: %s: %s",
                self.event,
                self.kind,
                who,
                type(exc).__name__,
                exc,
            )

    def _record(self, run_id: str) -> dict[str, Any] | None:
        store = store_for(self.outputs_bucket, self.gcp_conn_id)
        found = store.read(run_url(self.outputs_bucket, self.notebook, run_id, RECORD_FILE))
        return json.loads(found[0]) if found else None

    def _recovered(self, ti: Any, dag_run: Any, run_id: str) -> bool:
        from kit_dag_factory import kit_run_id

        if int(ti.try_number) > 1:
            earlier = SimpleNamespace(map_index=ti.map_index, try_number=int(ti.try_number) - 1)
            record = self._record(kit_run_id(dag_run, earlier))
            if record is None or record.get("status") != SUCCEEDED:
                return True
        return previous_state(ti) == "failed"

    def message(self, context: Any) -> Message | None:
        """The message for this attempt; None for a success that is no recovery."""
        from kit_dag_factory import kit_run_id

        ti, dag_run = context["ti"], context["dag_run"]
        run_id = kit_run_id(dag_run, ti)
        if self.event == RECOVERY and not self._recovered(ti, dag_run, run_id):
            return None
        mapped = f"[{ti.map_index}]" if ti.map_index is not None and ti.map_index >= 0 else ""
        airflow = f"DAG {ti.dag_id}, run {dag_run.run_id}, task {ti.task_id}{mapped}, "
        airflow += f"try {ti.try_number}"
        log_url = getattr(ti, "log_url", None)
        error = context.get("exception")
        return compose(
            self.event,
            notebook=self.notebook,
            run_id=run_id,
            record=self._record(run_id),
            output_url=run_url(self.outputs_bucket, self.notebook, run_id, OUTPUT_FILE),
            review_url=self.review_url,
            airflow=f"{airflow} ({log_url})" if log_url else airflow,
            error=" ".join(str(error).split())[:300] if error else None,
        )

    def deliver(self, message: Message, context: Any) -> None:
        """Hand the message to Airflow's notifier for this kind (called, not templated)."""
        if self.kind == "email":
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            SmtpNotifier(
                to=self.recipients,
                from_email=self.from_email,
                subject=message.subject,
                html_content=message.html,
                smtp_conn_id=self.smtp_conn_id,
            ).notify(context)
        else:
            from airflow.providers.slack.notifications.slack_webhook import (
                SlackWebhookNotifier,
            )

            SlackWebhookNotifier(
                slack_webhook_conn_id=self.slack_conn_id, text=f"{message.subject}\n{message.text}"
            ).notify(context)


def callbacks(config: Config, notebook: Notebook) -> dict[str, list[KitRunNotifier]]:
    """The operator's on_failure_callback / on_success_callback for the entry's `notify`."""
    found: dict[str, list[KitRunNotifier]] = {}
    for item in notebook.notify:
        for event in dict.fromkeys(item.when):
            key = "on_failure_callback" if event == FAILURE else "on_success_callback"
            found.setdefault(key, []).append(KitRunNotifier(item, event, notebook.name, config))
    return found
