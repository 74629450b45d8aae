"""Runs as the example DAG's fan-out leaves them, written straight into a bucket (the
records, summaries and index entries `kit run` writes: index_support.write_run).

`forecast` runs weekly over two datasets (kit/dags/notebooks.yaml's fan-out): three weeks
of Peyton Manning and retail sales, one failed with the real notebook's long reason, one
lost; its run ids, versions and parameters are those the DAGs give (every parameter passed
with -p, gs:// URLs). A run of another notebook (`prophet_model`) makes the listing one of
several notebooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from index_support import write_run

from kit import run_contract as contract
from kit.config import Settings
from kit.storage import storage_for
from kit.storage.index import StorageIndex, register_name

DATA = "gs://kit-data/prophet-examples"
PEYTON = f"{DATA}/example_wp_log_peyton_manning.csv"
RETAIL = f"{DATA}/example_retail_sales.csv"
VERSION = "20261201T052629Z-4c538bebc3f9"
# Four weeks ago and on (the lost run's deadline has passed), at 06:00 as the DAG runs.
WEEK0 = (datetime.now(UTC) - timedelta(weeks=4)).replace(hour=6, minute=0, second=0, microsecond=0)
FAILED_REASON = (
    f"ValueError: {PEYTON}: 2905 rows up to 2016-01-20; holdout=4000 leaves fewer than 10 "
    "rows to fit on"
)


@dataclass(frozen=True)
class Series:
    """One fan-out item: its dataset and the metrics its runs record, week by week."""

    url: str
    horizon: int
    holdout: int
    n_train: int
    mape: tuple[float, ...]
    mae: float


SERIES = (
    Series(PEYTON, 365, 180, 2725, (3.665, 3.71, 3.602), 0.4417),
    Series(RETAIL, 24, 36, 257, (2.218, 2.301, 2.197), 10234.56),
)


def run_id(week: int, item: int) -> str:
    """The id kit_run_id gives: date of the DAG run, hash of its run_id, map index, try."""
    return f"{(WEEK0 + timedelta(weeks=week)):%Y%m%dT%H%M%SZ}-3fa2c1d{week}-m{item}-t1"


def write_fanout(settings: Settings) -> list[str]:
    """Write the runs; their ids newest first, as listings show them."""
    written: list[tuple[datetime, str]] = []
    for week in range(3):
        for item, series in enumerate(SERIES):
            started = WEEK0 + timedelta(weeks=week, seconds=2 * item)
            params = {
                "run_date": f"{WEEK0 + timedelta(weeks=week):%Y-%m-%d}",
                "horizon": series.horizon,
                "holdout": 4000 if (week, item) == (2, 0) else series.holdout,
                "dataset_url": series.url,
            }
            failed = (week, item) == (2, 0)
            metrics = (
                {}
                if failed
                else {
                    "mape": series.mape[week],
                    "coverage": 0.9056 - 0.01 * week,
                    "n_train": series.n_train + week,
                    "holdout_rows": series.holdout,
                    "mae": series.mae + week,
                }
            )
            write_run(
                settings,
                "forecast",
                run_id(week, item),
                started,
                status="failed" if failed else "succeeded",
                version=VERSION,
                duration_seconds=61.0 + item,
                parameters={**params, "interval_width": 0.8},
                overridden=list(params),
                metrics=metrics,
                **({"reason": FAILED_REASON} if failed else {}),
            )
            written.append((started, run_id(week, item)))
    lost = WEEK0 + timedelta(weeks=3)
    _write_lost(settings, run_id(3, 0), lost)
    written.append((lost, run_id(3, 0)))
    other = WEEK0 + timedelta(weeks=2, hours=1)
    write_run(
        settings,
        "prophet_model",
        run_id(2, 1).replace("3fa2c1d", "9be07a1"),
        other,
        version="20261201T052700Z-77aa01b2c3d4",
        duration_seconds=58.5,
        parameters={"dataset_url": RETAIL, "horizon": 24},
        overridden=["dataset_url", "horizon"],
        metrics={"mape": 2.25, "n_train": 459912},
    )
    written.append((other, run_id(2, 1).replace("3fa2c1d", "9be07a1")))
    return [rid for _, rid in sorted(written, reverse=True)]


def _write_lost(settings: Settings, rid: str, started: datetime) -> None:
    """A run whose pod died: an output notebook and index entries saying running, past
    their deadline, and no run.json."""
    bucket = settings.outputs_bucket
    store = storage_for(bucket)
    meta = contract.output_metadata(started, 3600, 30, VERSION)
    params = {"run_date": f"{started:%Y-%m-%d}", "horizon": 365, "dataset_url": PEYTON}
    pending = contract.pending_record(
        notebook="forecast",
        run_id=rid,
        version=VERSION,
        started=started,
        metadata=meta,
        parameters=params,
        overridden=list(params),
    )
    urls = contract.index_urls(bucket, "forecast", rid, started)
    contract.write_index(StorageIndex(store), urls, contract.summary(pending))
    register_name(store, bucket, "forecast")
    store.write(
        contract.run_url(bucket, "forecast", rid, contract.OUTPUT_FILE), b"{}", metadata=meta
    )
