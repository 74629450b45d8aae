"""RunStore against real runs: statuses, order, filters, one listing call, concurrent reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from record_support import invalid_on_purpose, v1_record
from review_support import Counting, ReviewRuns

from kit.config import Settings
from kit.errors import NotFoundError, UsageError
from kit.review.listing import RunStore, parse_since
from kit.storage import storage_for

EXPECTED = {
    ("demo", "ok-a"): "succeeded",
    ("demo", "ok-b"): "succeeded",
    ("demo", "fail-1"): "failed",
    ("demo", "killed-1"): "killed",
    ("demo", "running-1"): "running",
    ("demo", "lost-1"): "lost",
    ("sales", "ok-1"): "succeeded",
    ("sales", "slow-1"): "timed_out",
}


def _store(runs: ReviewRuns) -> tuple[RunStore, Counting]:
    counting = Counting(storage_for(runs.settings.outputs_bucket))
    return RunStore(runs.settings, counting), counting  # type: ignore[arg-type]


def test_every_status_is_read_from_the_records(review_runs: ReviewRuns) -> None:
    found = {(r.notebook, r.run_id): r.status for r in RunStore(review_runs.settings).list()}
    for key, status in EXPECTED.items():
        assert found[key] == status, key
    assert sum(k[1].startswith("hist-") for k in found) == 8


def test_listing_makes_one_list_call_of_the_index_and_reads_no_record(
    review_runs: ReviewRuns,
) -> None:
    store, counting = _store(review_runs)
    runs = store.list("demo")
    assert counting.lists == [
        review_runs.settings.url("outputs_bucket", "index/notebooks/demo") + "/"
    ]
    assert counting.reads == []  # the summaries in the index entries are enough
    assert len(runs) == 14


def test_runs_are_newest_first_and_running_is_known_from_the_listing(
    review_runs: ReviewRuns,
) -> None:
    runs = RunStore(review_runs.settings).list("demo")
    whens = [r.when for r in runs]
    assert all(w is not None for w in whens)
    assert whens == sorted(whens, reverse=True)  # type: ignore[type-var]
    running = next(r for r in runs if r.run_id == "running-1")
    assert running.status == "running"
    assert (running.record, running.reason) == (None, None)
    assert running.updated_at is not None
    assert running.started_at is not None  # stored with its output
    assert running.ref == "demo@adhoc-0123456789ab"
    assert runs[-1].run_id == "hist-01"  # the oldest record


def test_a_run_past_its_deadline_without_a_record_is_lost(review_runs: ReviewRuns) -> None:
    lost = RunStore(review_runs.settings).get("demo", "lost-1")
    assert lost.status == "lost"
    assert lost.record is None
    assert "no run.json by its deadline" in (lost.reason or "")
    assert "pod" in (lost.reason or "")


def test_records_of_schema_1_still_read(review_runs: ReviewRuns) -> None:
    store = RunStore(review_runs.settings)
    old, new = store.get("demo", "hist-01"), store.get("demo", "hist-08")
    assert ((old.record or {})["schema"], (new.record or {})["schema"]) == (1, "kit.run/2")
    assert (old.status, old.parameters, old.overridden) == (
        "succeeded",
        {"horizon": 7},
        ("horizon",),
    )
    assert old.headline()["mape"] == pytest.approx(2.9)
    assert (old.stopped_at, old.cells) == (None, ())


def test_records_are_parsed_into_the_summary(review_runs: ReviewRuns) -> None:
    run = RunStore(review_runs.settings).get("demo", "ok-b")
    assert (run.version or "").startswith("adhoc-")
    assert run.parameters["horizon"] == 9
    assert run.headline() == {"mape": 2.9, "coverage": 0.86, "n_train": 36}
    assert isinstance(run.metrics["forecast_tail"], list)  # a table: not a headline
    assert (run.duration_seconds or 0) > 0
    assert run.output_url == review_runs.url("demo", "ok-b", "output.ipynb")
    failed = RunStore(review_runs.settings).get("demo", "fail-1")
    assert (failed.error or {}).get("ename") == "ValueError"


def test_status_and_since_filters(review_runs: ReviewRuns) -> None:
    store = RunStore(review_runs.settings)
    failed = [r.run_id for r in store.list(statuses=["failed"])]
    assert failed[0] == "fail-1"
    assert [r[:10] for r in failed[1:]] == ["scheduled-"]  # notebook forecast's fan-out
    assert {r.run_id for r in store.list(statuses=["killed", "timed_out"])} == {
        "killed-1",
        "slow-1",
    }
    recent = store.list("demo", since=parse_since("1d"))
    assert recent
    assert not any(r.run_id.startswith("hist-") for r in recent)
    assert [r.run_id for r in store.list(statuses=["running"])] == ["running-1"]
    assert [r.run_id for r in store.list(statuses=["lost"])] == ["lost-1"]
    with pytest.raises(UsageError, match="did you mean failed"):
        store.list(statuses=["faild"])


def test_second_listing_reuses_parsed_records(review_runs: ReviewRuns) -> None:
    store, counting = _store(review_runs)
    store.list()
    first = len(counting.reads)
    store.list()
    assert len(counting.reads) == first  # same generations: nothing re-read
    assert len(counting.lists) == 2


def test_unknown_names_and_run_ids_suggest_the_closest(review_runs: ReviewRuns) -> None:
    store = RunStore(review_runs.settings)
    with pytest.raises(NotFoundError, match=r"no runs of notebook 'dmeo'.*did you mean demo\?"):
        store.list("dmeo")
    with pytest.raises(NotFoundError, match=r"no run 'fail-2'.*did you mean fail-1"):
        store.get("demo", "fail-2")
    with pytest.raises(NotFoundError, match="did you mean sales"):
        store.get("sale", "ok-1")
    with pytest.raises(NotFoundError):
        store.get("demo", "../sales")


def _local(tmp_path: Path) -> RunStore:
    return RunStore(Settings(outputs_bucket=f"file://{tmp_path}/out"))


def test_a_malformed_record_is_shown_as_invalid(tmp_path: Path) -> None:
    store = _local(tmp_path)
    bad = tmp_path / "out/runs/nb/r1"
    bad.mkdir(parents=True)
    (bad / "output.ipynb").write_text("{}")
    (bad / "run.json").write_text("{not json")
    invalid_on_purpose(bad / "run.json")
    other = tmp_path / "out/runs/nb/r2"
    other.mkdir(parents=True)
    (other / "run.json").write_text(json.dumps(v1_record(status="exploded")))
    invalid_on_purpose(other / "run.json")
    newer = tmp_path / "out/runs/nb/r3"
    newer.mkdir(parents=True)
    (newer / "run.json").write_text(json.dumps(v1_record(schema="kit.run/9")))
    invalid_on_purpose(newer / "run.json")
    (other / "forecast.csv").write_text("ds,y\n")  # files a notebook wrote: ignored
    runs = {r.run_id: r for r in store.list("nb")}
    assert runs["r1"].status == "invalid"
    assert "malformed run.json" in (runs["r1"].reason or "")
    assert runs["r2"].status == "invalid"
    assert "exploded" in (runs["r2"].reason or "")
    assert not runs["r2"].has_output
    assert runs["r3"].status == "invalid"
    assert "schema 'kit.run/9' is not one this kit reads" in (runs["r3"].reason or "")


def test_parse_since_accepts_durations_and_dates() -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(UsageError, match="7d"):
        parse_since("last week", now)
