"""Notifications through Airflow's own notifiers, read from a real SMTP server on loopback
(aiosmtpd). The DAG runs with dag.test(), its pods as local processes (the fake kit); the
finisher writes the record a failing pod left out, and the mail is built from it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dag_helpers import (
    BASE_CONFIG,
    Inbox,
    free_port,
    gcs_read,
    import_errors,
    invocations,
    mail_body,
    smtp_connection,
)
from record_support import assert_valid

DATE = datetime(2026, 5, 4, tzinfo=UTC)
REVIEW = "https://kit-review.example.com"
CONFIG = BASE_CONFIG.replace(
    "  data_bucket: gs://kit-data\n", f"  data_bucket: gs://kit-data\n  review_url: {REVIEW}/\n"
)


def local_run(config: Path, fake_kit: Path, work_dir: Path) -> str:
    """dag.test() of the config's only DAG, pods as local processes; the run's state."""
    from kit_dag_config import load_config
    from kit_dag_factory import build_dags

    from kit.dagtools.airflow_compat import run_dag_test
    from kit.dagtools.local_pod import local_pods
    from kit.dagtools.process import LocalSettings

    [dag] = build_dags(load_config(config, environ={})).values()
    settings = LocalSettings(notebook_bin=fake_kit, work_dir=work_dir, environ=dict(os.environ))
    with local_pods(settings):
        return str(run_dag_test(dag, DATE).state)


def test_a_failing_run_sends_one_mail_naming_run_reason_and_links(
    airflow_db: Path,
    outputs_gcs: dict[str, str],
    inbox: Inbox,
    fake_kit: Path,
    tmp_path: Path,
    write_config: Callable[[str], Path],
) -> None:
    config = write_config(
        CONFIG
        + "  - name: boom\n    retries: 0\n    params: {exit: 3}\n"
        + "    notify:\n"
        + "      - {email: [ds@example.com, lead@example.com], when: [failure, recovery]}\n"
    )
    assert local_run(config, fake_kit, tmp_path / "pods").endswith("failed")
    [call] = invocations(tmp_path / "pods")
    run_id = call["argv"][call["argv"].index("--run-id") + 1]
    # The pod died without a record (the fake kit writes none when it fails): the finisher's.
    record = json.loads(gcs_read(outputs_gcs, f"gs://kit-outputs/runs/boom/{run_id}/run.json"))
    assert_valid(record)
    assert (record["status"], record["reason"]) == ("failed", "container exited 3")
    assert record["kubernetes"]["container_exit_code"] == 3
    assert record["airflow"]["dag_id"] == "kit_boom"
    [message] = inbox.messages
    assert message["Subject"] == "kit: boom failed: container exited 3"
    assert message["To"] == "ds@example.com, lead@example.com"
    assert message["From"] == "kit@example.com"
    text = mail_body(message)
    assert f"<td>{run_id}</td>" in text
    assert "<td>failed: container exited 3</td>" in text
    assert f"gs://kit-outputs/runs/boom/{run_id}/output.ipynb" in text
    assert f"{REVIEW}/runs/boom/{run_id}</td>" in text
    assert "DAG kit_boom" in text


def test_a_recovery_is_told_once_and_a_failed_delivery_is_only_logged(
    airflow_db: Path,
    inbox: Inbox,
    fake_kit: Path,
    tmp_path: Path,
    write_config: Callable[[str], Path],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = "  - name: {name}\n    retries: 1\n    params: {{fail_tries: '1'}}\n"
    entry += (
        "    notify:\n      - {{email: [ds@example.com], when: [recovery], smtp_conn_id: {conn}}}\n"
    )
    config = write_config(
        CONFIG
        + entry.format(name="flaky", conn="smtp_default")
        + entry.format(name="unheard", conn="smtp_nowhere")
    )
    from kit_dag_config import load_config
    from kit_dag_factory import build_dags

    os.environ["AIRFLOW_CONN_SMTP_NOWHERE"] = smtp_connection(free_port())  # nothing listens
    try:
        dags = build_dags(load_config(config, environ={}))
        for dag_id in ("kit_flaky", "kit_unheard"):
            one = tmp_path / f"{dag_id}.yaml"
            one.write_text(config.read_text())
            started = time.monotonic()
            state = _run_one(dags[dag_id], fake_kit, tmp_path / dag_id)
            assert state.endswith("success"), (dag_id, state, time.monotonic() - started)
    finally:
        os.environ.pop("AIRFLOW_CONN_SMTP_NOWHERE", None)
    [message] = inbox.messages  # the retry's success after try 1 failed; nothing for try 1
    assert message["Subject"] == "kit: flaky recovered"
    assert "<td>succeeded</td>" in mail_body(message)
    # The task log: stdout on Airflow 2's dag.test(), log records on Airflow 3's.
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "kit: could not send the recovery notification (email) to ds@example.com" in logged


def _run_one(dag: Any, fake_kit: Path, work_dir: Path) -> str:
    from kit.dagtools.airflow_compat import run_dag_test
    from kit.dagtools.local_pod import local_pods
    from kit.dagtools.process import LocalSettings

    settings = LocalSettings(notebook_bin=fake_kit, work_dir=work_dir, environ=dict(os.environ))
    with local_pods(settings):
        return str(run_dag_test(dag, DATE).state)


BAD_NOTIFY = {
    "an unknown notifier": (
        "    notify: [{teams: data-science}]\n",
        "notebooks[0] 'x'.notify[0]: unknown notifier 'teams' (known: email, slack)",
    ),
    "a malformed address": (
        "    notify: [{email: [ds@example.com, not-an-address]}]\n",
        "notebooks[0] 'x'.notify[0].email[1]: 'not-an-address' is not an e-mail address "
        "(like name@example.com)",
    ),
    "an unknown event": (
        "    notify: [{email: [ds@example.com], when: [failures]}]\n",
        "notebooks[0] 'x'.notify[0].when[0]: Input should be 'failure' or 'recovery', "
        "got 'failures'",
    ),
    "YAML's boolean key": (
        "    notify: [{email: [ds@example.com], on: [failure]}]\n",
        "notebooks[0] 'x'.notify[0]: key True is not a name (YAML reads on/off/yes/no as booleans)",
    ),
    "two notifiers in one item": (
        "    notify: [{email: [ds@example.com], slack: slack_default}]\n",
        "notebooks[0] 'x'.notify[0]: one notifier per item (email or slack), got 2",
    ),
    "slack without its provider": (
        "    notify: [{slack: slack_default}]\n",
        "notebooks[0] 'x'.notify[0].slack: the slack notifier needs "
        "apache-airflow-providers-slack, not installed here",
    ),
}


@pytest.mark.parametrize("case", BAD_NOTIFY)
def test_a_bad_notify_entry_is_an_import_error_naming_file_and_key(
    case: str, write_config: Callable[[str], Path]
) -> None:
    entry, expected = BAD_NOTIFY[case]
    path = write_config(BASE_CONFIG + "  - name: x\n" + entry)
    error = import_errors()["kit_notebooks.py"]
    assert f"{path}: 1 problem(s):" in error
    assert f"  - {expected}\n" in error + "\n"


def test_a_success_after_the_previous_runs_failure_is_a_recovery(
    airflow_db: Path,
    inbox: Inbox,
    fake_kit: Path,
    tmp_path: Path,
    write_config: Callable[[str], Path],
) -> None:
    from kit_dag_config import load_config
    from kit_dag_factory import build_dags

    from kit.dagtools.airflow_compat import run_dag_test
    from kit.dagtools.local_pod import local_pods
    from kit.dagtools.process import LocalSettings

    # Fails on 2026-05-04, succeeds the day after; both are try 1 of their DAG run.
    config = write_config(
        CONFIG
        + "  - name: comeback\n    retries: 0\n"
        + "    params: {exit: \"{{ 3 if ds == '2026-05-04' else 0 }}\"}\n"
        + "    notify: [{email: [ds@example.com], when: [recovery]}]\n"
    )
    [dag] = build_dags(load_config(config, environ={})).values()
    settings = LocalSettings(notebook_bin=fake_kit, work_dir=tmp_path, environ=dict(os.environ))
    states = []
    for day in (DATE, DATE + timedelta(days=1)):
        with local_pods(settings):
            states.append(str(run_dag_test(dag, day).state))
    assert [s.rsplit(".", 1)[-1].lower() for s in states] == ["failed", "success"]
    [message] = inbox.messages
    assert message["Subject"] == "kit: comeback recovered"
    assert "20260505T000000Z-" in mail_body(message)
