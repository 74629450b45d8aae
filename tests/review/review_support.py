"""Runs for the review tests, made ONCE per session with the real `kit run` (embedded GCS).

Notebook `demo` (two ad-hoc versions) and `sales`:
  demo/ok-a (succeeded), demo/ok-b (succeeded, other version and parameters),
  demo/fail-1 (failed: ValueError in a helper), demo/killed-1 (SIGTERM while it sleeps),
  demo/running-1 (an output notebook without run.json, before its deadline),
  demo/lost-1 (the same, past its deadline), sales/ok-1 (succeeded), sales/slow-1
  (timed_out), and eight older demo records (hist-01..08) for the charts beside a copy of
  ok-a's executed notebook: hist-01..04 as kit 0.1 wrote them (schema 1), the others
  "kit.run/2". Succeeded runs write forecast.csv and forecast.png into their folder and
  show the plot.
Notebook `forecast`: records of a fan-out over two datasets (FAN_OUT), three days each,
  the newest Peyton Manning run failed (after recording a mape), beside a copy of
  sales/ok-1's executed notebook: the charts' series.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat
from gcs_support import fresh_settings
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from record_support import v1_record

from kit import dev
from kit.config import Settings
from kit.review.reindex import reindex
from kit.run_contract import output_metadata
from kit.storage import ObjectInfo, Storage, storage_for

ROOT = Path(__file__).resolve().parents[2]
KIT = [sys.executable, "-m", "kit.cli.main"]
RUN_TIMEOUT = 120


def _notebook(title: str, fit_comment: str) -> nbformat.NotebookNode:
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [
        new_markdown_cell(f"# {title}\nA small forecast used by the review tests."),
        new_code_cell(
            "horizon = 7  # periods to forecast\n"
            "fail = False  # raise in the fit cell\n"
            "sleep = 0.0  # seconds to sleep after fitting\n"
            "output_prefix = ''  # where the files go (kit run sets it to the run's folder)",
            metadata={"tags": ["parameters"]},
        ),
        new_code_cell(
            "import time\n\nimport kit\n\n"
            "values = [100 + 2 * i + (i % 3) for i in range(horizon * 4)]\n"
            "print(f'loaded {len(values)} rows')"
        ),
        new_code_cell(
            f"def fit(values):\n    {fit_comment}\n    if fail:\n"
            "        raise ValueError(f'holdout is larger than the data ({len(values)} rows)')\n"
            "    return sum(values) / len(values)\n\n"
            "level = fit(values)\nprint('sleeping', flush=True)\ntime.sleep(sleep)"
        ),
        new_code_cell(
            "kit.record('mape', round(2.0 + horizon / 10, 3))\n"
            "kit.record('coverage', round(0.95 - horizon / 100, 3))\n"
            "kit.record('n_train', len(values))\n"
            "kit.record('forecast_tail', [{'step': i, 'yhat': level + i} for i in range(3)])\n"
            "print(f'level={level:.2f}')"
        ),
        new_code_cell(
            "import io\n\nimport fsspec\nimport matplotlib.pyplot as plt\n\n"
            "fig, ax = plt.subplots(figsize=(6, 2.5))\n"
            "ax.plot(values, label='history')\nax.set_title('forecast level')\n"
            "png = io.BytesIO()\nfig.savefig(png, format='png', dpi=80)\n"
            "with fsspec.open(output_prefix + 'forecast.csv', 'w') as out:\n"
            "    out.write('step,yhat\\n' + ''.join(f'{i},{level + i}\\n' for i in range(3)))\n"
            "with fsspec.open(output_prefix + 'forecast.png', 'wb') as out:\n"
            "    out.write(png.getvalue())\n"
            "plt.show()"
        ),
    ]
    return nb


@dataclass(frozen=True)
class ReviewRuns:
    """The session's runs: settings, the environment to run `kit` with, and the run ids."""

    settings: Settings
    env: dict[str, str]
    workdir: Path

    def kit(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the kit CLI in a subprocess against these buckets."""
        return subprocess.run(
            [*KIT, *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.workdir,
            timeout=timeout,
            check=False,
        )

    def url(self, name: str, run_id: str, file: str) -> str:
        return self.settings.url("outputs_bucket", "runs", name, run_id, file)


def _env(server: dev.Server, settings: Settings, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env.update(
        STORAGE_EMULATOR_HOST=server.url,
        GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT="false",
        KIT_MODULES_BUCKET=settings.modules_bucket,
        KIT_OUTPUTS_BUCKET=settings.outputs_bucket,
        KIT_DATA_BUCKET=settings.data_bucket,
        KIT_GRACE_SECONDS="3",
        XDG_CACHE_HOME=str(work / "xdg-cache"),  # kit runs' record cache
    )
    return env


def _sleeping(settings: Settings, name: str, run_id: str) -> bool:
    """Whether the run's saved output shows papermill started the cell that sleeps."""
    url = settings.url("outputs_bucket", "runs", name, run_id, "output.ipynb")
    store = storage_for(url)
    if not store.exists(url):
        return False
    cells = json.loads(store.read(url)).get("cells", [])
    return any(
        "time.sleep(sleep)" in "".join(cell.get("source", ""))
        and cell.get("metadata", {}).get("papermill", {}).get("status") == "running"
        for cell in cells
    )


def _history(settings: Settings, template_id: str, count: int = 8) -> list[str]:
    """Older demo runs (records of both schemas + a copy of a real executed notebook)."""
    store = storage_for(settings.outputs_bucket)
    base = settings.url("outputs_bucket", "runs", "demo")
    record: dict[str, Any] = json.loads(store.read(f"{base}/{template_id}/run.json"))
    notebook = store.read(f"{base}/{template_id}/output.ipynb")
    now = datetime.now(UTC).replace(microsecond=0)
    ids = []
    for i in range(count):
        run_id = f"hist-{i + 1:02d}"
        started = now - timedelta(days=count - i + 2, hours=i % 3)
        duration = 40.0 + 7 * (i % 4)
        metrics = dict(record["metrics"])
        metrics.update(mape=round(2.9 - 0.11 * i + 0.2 * (i % 2), 3), coverage=0.8 + 0.01 * i)
        fields = {
            "run_id": run_id,
            "notebook": "demo",
            "version": record["version"],
            "output_url": f"{base}/{run_id}/output.ipynb",
            "started_at": started.isoformat().replace("+00:00", "Z"),
            "finished_at": (started + timedelta(seconds=duration))
            .isoformat()
            .replace("+00:00", "Z"),
            "duration_seconds": duration,
            "parameters": {"horizon": 7 + i},
            "metrics": metrics,
        }
        record_i = v1_record(**fields) if i < count // 2 else {**record, **fields}
        store.write(f"{base}/{run_id}/output.ipynb", notebook)
        store.write(f"{base}/{run_id}/run.json", json.dumps(record_i, indent=2).encode())
        ids.append(run_id)
    return ids


PEYTON = "gs://kit-data/prophet-examples/example_wp_log_peyton_manning.csv"
RETAIL = "gs://kit-data/prophet-examples/example_retail_sales.csv"
FAN_OUT = ((PEYTON, 365, 3.6), (RETAIL, 24, 11.8))  # dataset, horizon, mape level


def _fan_out(settings: Settings, template: tuple[str, str], days: int = 3) -> list[str]:
    """Runs of notebook `forecast` as a fan-out DAG makes them: one per dataset and day."""
    store = storage_for(settings.outputs_bucket)
    source = settings.url("outputs_bucket", "runs", *template)
    record: dict[str, Any] = json.loads(store.read(f"{source}/run.json"))
    failed_url = settings.url("outputs_bucket", "runs", "demo", "fail-1", "run.json")
    failed: dict[str, Any] = json.loads(store.read(failed_url))
    notebook = store.read(f"{source}/output.ipynb")
    base = settings.url("outputs_bucket", "runs", "forecast")
    today = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    ids = []
    for day in range(days):
        started = today - timedelta(days=days - day)
        for item, (dataset, horizon, level) in enumerate(FAN_OUT):
            run_id = f"scheduled-{started:%Y%m%d}-m{item}"
            newest_peyton = day == days - 1 and item == 0
            at = started + timedelta(minutes=item)
            fields = {
                "run_id": run_id,
                "notebook": "forecast",
                "output_url": f"{base}/{run_id}/output.ipynb",
                "started_at": at.isoformat().replace("+00:00", "Z"),
                "finished_at": (at + timedelta(seconds=30)).isoformat().replace("+00:00", "Z"),
                "duration_seconds": 30.0,
                "parameters": {
                    "dataset_url": dataset,
                    "run_date": f"{started:%Y-%m-%d}",
                    "horizon": horizon,
                },
                "overridden": ["dataset_url", "run_date", "horizon"],
                "metrics": {"mape": 40.0 if newest_peyton else round(level + 0.1 * day, 3)},
            }
            # The newest Peyton Manning run failed after recording a mape: "latest" skips it.
            kept = failed if newest_peyton else record
            store.write(f"{base}/{run_id}/output.ipynb", notebook)
            store.write(f"{base}/{run_id}/run.json", json.dumps({**kept, **fields}).encode())
            ids.append(run_id)
    return ids


def make_runs(server: dev.Server, work: Path) -> ReviewRuns:
    """Make every run (see the module docstring) in fresh buckets; returns where they are."""
    settings = fresh_settings(server, prefix="rv")
    for folder, title, comment in (
        ("v1", "Demo forecast", "# mean level"),
        ("v2", "Demo forecast", "# mean level of the whole history"),
        ("sales", "Sales", "# mean level"),
    ):
        (work / folder).mkdir()
        stem = "sales" if folder == "sales" else "demo"
        nbformat.write(_notebook(title, comment), work / folder / f"{stem}.ipynb")
    runs = ReviewRuns(settings, _env(server, settings, work), work)
    v1, v2, sales = (str(work / f) for f in ("v1/demo.ipynb", "v2/demo.ipynb", "sales/sales.ipynb"))
    plan = {
        "ok-a": ([v1, "-p", "horizon", "5"], 0),
        "ok-b": ([v2, "-p", "horizon", "9"], 0),
        "fail-1": ([v1, "-p", "fail", "True"], 1),
        "killed-1": ([v1, "-p", "sleep", "600"], 143),
        "ok-1": ([sales, "-p", "horizon", "6"], 0),
        "slow-1": ([sales, "-p", "sleep", "600", "--timeout", "4"], 124),
    }
    procs = {
        run_id: subprocess.Popen(
            [*KIT, "run", *args, "--run-id", run_id],
            env=runs.env,
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run_id, (args, _code) in plan.items()
    }
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not _sleeping(settings, "demo", "killed-1"):
            assert procs["killed-1"].poll() is None, procs["killed-1"].communicate()
            assert time.monotonic() < deadline, "killed-1 never reached its sleep"
            time.sleep(0.3)
        procs["killed-1"].send_signal(signal.SIGTERM)
        for run_id, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            expected = plan[run_id][1]
            assert proc.returncode == expected, f"{run_id}: {proc.returncode}\n{stdout}{stderr}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    store = storage_for(settings.outputs_bucket)
    # No run.json: the output notebook as far as it got, with the deadline `kit run` stores.
    so_far = store.read(runs.url("demo", "killed-1", "output.ipynb"))
    now = datetime.now(UTC)
    store.write(
        runs.url("demo", "running-1", "output.ipynb"),
        so_far,
        metadata=output_metadata(now, timeout=3600, grace=30, version="adhoc-0123456789ab"),
    )
    store.write(
        runs.url("demo", "lost-1", "output.ipynb"),
        so_far,
        metadata=output_metadata(now - timedelta(hours=3), timeout=3600, grace=30),
    )
    _history(settings, "ok-a")
    _fan_out(settings, ("sales", "ok-1"))
    # Those were written as kit 0.1 wrote them, and without kit run: the migration indexes them.
    reindex(settings)
    return runs


class Counting:
    """A storage that records what is listed and read (reads come from many threads)."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.lists: list[str] = []
        self.reads: list[str] = []
        self._lock = threading.Lock()

    def list(self, prefix: str, **kwargs: Any) -> Iterator[ObjectInfo]:
        self.lists.append(prefix)
        return self.inner.list(prefix, **kwargs)

    def read(self, url: str) -> bytes:
        with self._lock:
            self.reads.append(url)
        return self.inner.read(url)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
