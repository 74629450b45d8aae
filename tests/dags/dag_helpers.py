"""Shared by the DAG tests (imported by name: pytest puts tests/dags on sys.path)."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
NOTEBOOK_BIN = REPO / ".venv" / "bin"
KIT = str(NOTEBOOK_BIN / "kit")
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"

# A stand-in for the notebook environment's `kit`: records how it was called (in its
# working directory), sleeps `-p sleep S` seconds and exits with `-p exit N`, or with 3 on
# the tries listed in `-p fail_tries 1,2`. Like `kit run`, a clean exit leaves a run record
# (a minimal valid one) when it can reach the embedded GCS; a failing exit leaves none, as
# when the pod dies under the runner: the finisher's case.
FAKE_KIT = """#!{python}
import json, os, sys, time, urllib.parse, urllib.request
args = sys.argv[1:]
params = {{args[i + 1]: args[i + 2] for i, a in enumerate(args) if a == "-p"}}
started = time.time()
print("fake kit started", flush=True)
met = None
if "meet" in params:
    # A rendezvous: each process marks its start in the folder `meet` names, then waits
    # (at most 120 s) until `meet_count` have started. Only processes running at the same
    # time can all meet; one after another, the first gives up.
    folder = params["meet"]
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, str(os.getpid())), "w").close()
    until = time.monotonic() + 120
    while len(os.listdir(folder)) < int(params["meet_count"]) and time.monotonic() < until:
        time.sleep(0.1)
    met = len(os.listdir(folder)) >= int(params["meet_count"])
time.sleep(float(params.get("sleep", "0")))
record = {{
    "argv": args, "env": dict(os.environ), "started": started, "finished": time.time(), "met": met
}}
with open("invocation.json", "w") as out:
    json.dump(record, out)
print("fake kit done", flush=True)
code = int(params.get("exit", "0"))
if os.environ.get("AIRFLOW_CTX_TRY_NUMBER") in params.get("fail_tries", "").split(","):
    code = 3
host, bucket = os.environ.get("STORAGE_EMULATOR_HOST"), os.environ["KIT_OUTPUTS_BUCKET"]
if code == 0 and host and bucket.startswith("gs://"):
    name, run_id = args[1].split("@")[0], args[args.index("--run-id") + 1]
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    run = {{
        "schema": "kit.run/2", "run_id": run_id, "notebook": name, "version": None,
        "output_url": f"{{bucket}}/runs/{{name}}/{{run_id}}/output.ipynb", "status": "succeeded",
        "reason": None, "written_by": "runner", "parameters": params, "overridden": sorted(params),
        "started_at": now, "finished_at": now, "duration_seconds": 0.0, "error": None,
        "stopped_at": None, "cells_not_run": 0, "cells": [], "peak_rss_bytes": None,
        "metrics": {{}}, "kit_version": None,
    }}
    target = urllib.parse.quote(f"runs/{{name}}/{{run_id}}/run.json", safe="")
    url = f"{{host}}/upload/storage/v1/b/{{bucket[5:]}}/o?uploadType=media&name={{target}}"
    upload = urllib.request.Request(url, data=json.dumps(run).encode(), method="POST")
    upload.add_header("Content-Type", "application/json")
    try:
        urllib.request.urlopen(upload, timeout=10).close()
    except OSError as exc:
        print(f"fake kit: no run record ({{exc}})", flush=True)
sys.exit(code)
"""

# A minimal notebooks.yaml; tests append entries or replace lines.
BASE_CONFIG = """\
cluster:
  mode: in_cluster
  namespace: kit-runs
settings:
  project: p-1
  image: registry.example/kit-runtime@sha256:0123
  modules_bucket: gs://kit-modules
  outputs_bucket: gs://kit-outputs
  data_bucket: gs://kit-data
defaults:
  retry_delay: 1s
notebooks:
"""


def airflow_major_minor() -> str:
    """This environment's Airflow version as `kit dag test --airflow` names it (e.g. 3.2)."""
    return ".".join(metadata.version("apache-airflow").split(".")[:2])


def migrated_db(home: Path) -> None:
    """Give AIRFLOW_HOME `home` a migrated metadata DB: a copy of a pristine one kept per
    Airflow version under .kit/airflow-db/ (migrated once per checkout, 15-20 s each)."""
    from kit.dagtools.runner import STAMP

    version = metadata.version("apache-airflow")
    template = REPO / ".kit" / "airflow-db" / version
    if not (template / STAMP).is_file():
        template.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{version}-", dir=template.parent))
        env = {**os.environ, "AIRFLOW_HOME": str(work), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        argv = [sys.executable, "-m", "airflow", "db", "migrate"]
        run_cli(argv, env, timeout=600)
        (work / STAMP).write_text(version)
        shutil.rmtree(template, ignore_errors=True)
        work.rename(template)  # whole or not at all
    home.mkdir(parents=True, exist_ok=True)
    for name in ("airflow.db", STAMP):
        shutil.copy2(template / name, home / name)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_dags() -> dict[str, Any]:
    """Parse dags/ the way the scheduler does; fails on any import error."""
    from kit.dagtools.airflow_compat import dag_bag

    bag = dag_bag(DAGS)
    assert bag.import_errors == {}
    return dict(bag.dags)


def import_errors() -> dict[str, str]:
    """DagBag.import_errors of dags/ (with whatever KIT_DAGS_CONFIG says), by file name."""
    from kit.dagtools.airflow_compat import dag_bag

    # Airflow 3 keys them by path relative to the bundle, Airflow 2 by absolute path.
    return {Path(k).name: v for k, v in dag_bag(DAGS).import_errors.items()}


def render(dag: Any, logical_date: datetime) -> dict[int, tuple[Any, Any]]:
    """Run the DAG with dag.test(), keeping each pod request (V1Pod) instead of creating it.

    Rendering is Airflow's own (templates, mapping, context); only the cluster is absent.
    Returns {map_index: (pod, rendered operator)}.
    """
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    from kit.dagtools.airflow_compat import run_dag_test
    from kit.dagtools.local_pod import NO_CLUSTER

    seen: dict[int, tuple[Any, Any]] = {}

    def capture(self: Any, context: Any, **_sentinel: Any) -> None:
        self.hook = NO_CLUSTER  # shadows the cached_property: no kubeconfig, no cluster
        seen[context["ti"].map_index] = (self.build_pod_request_obj(context), self)

    with mock.patch.object(KubernetesPodOperator, "execute", capture):
        dag_run = run_dag_test(dag, logical_date)
    assert str(dag_run.state).endswith("success"), dag_run.state
    return seen


def retry_delays(operator: Any, tries: int = 4) -> list[float]:
    """Seconds Airflow waits before each retry of this operator's task, tries 1..N, as
    TaskInstance.next_retry_datetime() computes them (backoff, jitter and cap included)."""
    import inspect
    import uuid

    from airflow.models.taskinstance import TaskInstance

    # Airflow 3 ties a task instance to a DAG version; any id does for this computation.
    needs_version = "dag_version_id" in inspect.signature(TaskInstance.__init__).parameters
    extra = {"dag_version_id": uuid.uuid4()} if needs_version else {}
    ti = TaskInstance(operator, run_id="r", **extra)
    ended = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
    delays = []
    for attempt in range(1, tries + 1):
        ti.try_number, ti.end_date = attempt, ended
        delays.append((ti.next_retry_datetime() - ended).total_seconds())
    return delays


def run_cli(argv: list[str], env: dict[str, str], timeout: float = 900) -> str:
    """Run a command; its stdout, or a failure showing everything it printed."""
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def invocations(work_dir: Path) -> list[dict[str, Any]]:
    """What each fake `kit` recorded, in its pod's working directory."""
    return [json.loads(p.read_text()) for p in sorted(work_dir.glob("*/invocation.json"))]


def env_of(pod: Any) -> dict[str, Any]:
    """The container's variables: name -> value, or name -> fieldRef path."""
    container = pod.spec.containers[0]
    return {
        e.name: e.value if e.value is not None else e.value_from.field_ref.field_path
        for e in container.env
    }


@contextlib.contextmanager
def embedded_gcs(root: Path) -> Iterator[dict[str, str]]:
    """`kit dev up` (the notebook environment's kit) on a free port, with the default
    buckets; yields the environment `kit dev env` gives a shell (os.environ, no KIT_*)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    run_cli([KIT, "dev", "up", "--root", str(root), "--port", str(free_port())], base)
    try:
        exports = run_cli([KIT, "dev", "env", "--root", str(root)], base)
        env = dict(base)
        for line in exports.splitlines():
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = shlex.split(value)[0]
        yield env
    finally:
        run_cli([KIT, "dev", "down", "--root", str(root)], base)


def gcs_read(env: dict[str, str], url: str) -> bytes:
    """An object's bytes, straight from the emulator's JSON API."""
    import urllib.parse
    import urllib.request

    bucket, _, name = url.removeprefix("gs://").partition("/")
    quoted = urllib.parse.quote(name, safe="")
    host = env["STORAGE_EMULATOR_HOST"]
    with urllib.request.urlopen(f"{host}/storage/v1/b/{bucket}/o/{quoted}?alt=media") as resp:
        return bytes(resp.read())


class Inbox:
    """aiosmtpd handler: keeps every message a real SMTP server on loopback receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def smtp_connection(port: int) -> str:
    """An Airflow SMTP connection (URI-less JSON form) to a plain server on loopback."""
    extra = {"disable_ssl": True, "disable_tls": True, "from_email": "kit@example.com"}
    extra["retry_limit"] = 0
    return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": extra})


def mail_body(message: EmailMessage) -> str:
    """A received mail's body (the notifier sends HTML)."""
    part = message.get_body(preferencelist=("html", "plain"))
    assert part is not None
    return str(part.get_content())
