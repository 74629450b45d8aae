"""The run contract: one definition of the layout, the record and its reading, shared with
dags/ as a verified copy."""

from __future__ import annotations

import ast
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from record_support import SCHEMA_FILE, problems, v1_record, v2_record

from kit import run_contract as contract

ROOT = Path(__file__).resolve().parents[2]
KIT_COPY = ROOT / "kit" / "run_contract.py"
DAGS_COPY = ROOT / "dags" / "kit_run_contract.py"


def test_the_dags_copy_is_byte_for_byte_the_kit_module() -> None:
    # Composer uploads only dags/, so the DAG side keeps its own copy; it must never drift.
    assert DAGS_COPY.read_bytes() == KIT_COPY.read_bytes(), (
        "dags/kit_run_contract.py differs from kit/run_contract.py: edit kit/run_contract.py, "
        "then `cp kit/run_contract.py dags/kit_run_contract.py`"
    )


def test_the_contract_imports_only_the_standard_library() -> None:
    tree = ast.parse(KIT_COPY.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_the_json_schema_is_valid_and_names_the_current_version() -> None:
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$defs"]["v2"]["properties"]["schema"] == {"const": contract.SCHEMA}
    statuses = schema["$defs"]["status"]["enum"]
    assert statuses == list(contract.FINAL_STATUSES)


def test_records_are_checked_against_their_own_version() -> None:
    assert problems(v2_record()) == []
    assert problems(v1_record()) == []
    assert problems(v1_record(schema="kit.run/2")) != []  # a schema-1 shape claiming 2
    assert any("overridden" in p for p in problems({**v2_record(), "overridden": "x"}))


def test_layout() -> None:
    bucket = "gs://outputs/"
    assert contract.runs_prefix(bucket) == "gs://outputs/runs/"
    assert contract.runs_prefix(bucket, "nb") == "gs://outputs/runs/nb/"
    assert contract.runs_prefix(bucket, "nb", "r1") == "gs://outputs/runs/nb/r1/"
    url = contract.run_url(bucket, "nb", "r1", contract.RECORD_FILE)
    assert url == "gs://outputs/runs/nb/r1/run.json"
    assert contract.split_run_url(bucket, url) == ("nb", "r1", "run.json")
    assert contract.split_run_url(bucket, "gs://outputs/runs/nb/r1/forecast.csv") is None
    assert contract.split_run_url(bucket, "gs://outputs/runs/nb/r1/sub/run.json") is None
    assert contract.split_run_url(bucket, "gs://other/runs/nb/r1/run.json") is None
    assert contract.join("file:///x/", "/a/", "", "b") == "file:///x/a/b"


def test_time_is_utc_iso_with_microseconds_and_z() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert contract.iso(moment) == "2026-01-02T03:04:05.000000Z"
    later = datetime(2026, 1, 2, 4, 4, 5, 7, tzinfo=UTC).astimezone(
        __import__("datetime").timezone(timedelta(hours=1))
    )
    assert contract.iso(later) == "2026-01-02T04:04:05.000007Z"
    assert contract.parse_time("2026-01-02T03:04:05Z") == moment
    assert contract.parse_time("2026-01-02T03:04:05") == moment  # naive means UTC
    assert contract.parse_time("not a time") is None
    assert contract.parse_time(None) is None


def test_a_run_without_record_is_running_until_its_deadline_then_lost() -> None:
    started = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
    meta = contract.output_metadata(started, timeout=3600, grace=30, version="v1")
    assert meta == {
        "kit-started-at": "2026-01-01T06:00:00.000000Z",
        "kit-deadline": "2026-01-01T07:00:30.000000Z",
        "kit-version": "v1",
    }
    just_before = started + timedelta(seconds=3630)
    assert contract.pending_status(meta, just_before, just_before) == (contract.RUNNING, None)
    after = just_before + timedelta(seconds=1)
    status, reason = contract.pending_status(meta, started, after)
    assert status == contract.LOST
    assert "no run.json by its deadline 2026-01-01T07:00:30" in str(reason)


def test_without_a_deadline_a_run_is_lost_after_a_day_without_saves() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    no_timeout = contract.output_metadata(now, timeout=None, grace=30)
    assert contract.DEADLINE_META not in no_timeout
    assert contract.pending_status(no_timeout, now - timedelta(hours=23), now)[0] == "running"
    status, reason = contract.pending_status({}, now - timedelta(hours=25), now)
    assert status == "lost"
    assert "no save for 24 h" in str(reason)


def test_schema_1_records_read_in_the_current_shape() -> None:
    old = v1_record(parameters={"horizon": 30}, error={"cell_index": 4, "ename": "E"})
    record = contract.upgrade(old)
    assert record["schema"] == 1  # what was stored stays visible
    assert record["overridden"] == ["horizon"]  # schema 1 recorded only what was given
    assert (record["stopped_at"], record["cells"], record["cells_not_run"]) == (None, [], 0)
    assert record["error"]["cell_index"] == 4
    current = v2_record()
    assert contract.upgrade(current) == current


@pytest.mark.parametrize("version", ["kit.run/3", 2, None, True])
def test_an_unknown_schema_version_is_refused(version: Any) -> None:
    with pytest.raises(ValueError, match="is not one this kit reads"):
        contract.upgrade({**v2_record(), "schema": version})


def _cell(*tags: str, started: bool = True, exception: bool | None = False, **extra: Any) -> Any:
    papermill = {"start_time": "2026-01-01T00:00:00Z" if started else None, "exception": exception}
    papermill.update(extra)
    return {
        "cell_type": "code",
        "source": "x = 1",
        "execution_count": None,
        "metadata": {"tags": list(tags), "papermill": papermill},
        "outputs": [],
    }


def test_stopped_cell_is_the_flagged_one_else_the_last_started_code_cell() -> None:
    banner = _cell("papermill-error-cell-tag", started=False, exception=None)
    failed = [banner, _cell("parameters"), _cell("injected-parameters"), _cell(exception=True)]
    index = contract.stopped_cell(failed, completed=False)
    assert index == 3
    assert contract.cell_ref(failed, 3)["cell"] == 2
    killed = [_cell(), _cell(), _cell(started=False), {"cell_type": "markdown", "metadata": {}}]
    assert contract.stopped_cell(killed, completed=False) == 1
    assert contract.not_run(killed, 1) == 1
    assert contract.stopped_cell(killed[:2], completed=True) is None
    assert contract.stopped_cell([], completed=False) is None


def test_cell_timings_come_from_the_executed_notebook() -> None:
    done = _cell(duration=1.23456, status="completed")
    done["metadata"]["kit"] = {"peak_rss_bytes": 1024}
    done["execution_count"] = 1
    running = _cell(status="running")
    timings = contract.cell_timings([done, _cell("injected-parameters"), running])
    assert timings == [
        {
            "cell": 1,
            "execution_count": 1,
            "source": "x = 1",
            "duration_seconds": 1.235,
            "peak_rss_bytes": 1024,
            "status": "completed",
        },
        {
            "cell": 2,
            "execution_count": None,
            "source": "x = 1",
            "duration_seconds": None,
            "peak_rss_bytes": None,
            "status": "running",
        },
    ]


def test_the_airflow_context_of_a_pod_is_read_once_for_runner_and_finisher() -> None:
    from kit.run_contract import airflow_context

    env = {
        "AIRFLOW_CTX_DAG_ID": "kit_forecast",
        "AIRFLOW_CTX_DAG_RUN_ID": "scheduled__2026-05-04T06:00:00+00:00",
        "AIRFLOW_CTX_TASK_ID": "forecast",
        "AIRFLOW_CTX_TRY_NUMBER": "2",
        "AIRFLOW_CTX_MAP_INDEX": "-1",
    }
    assert airflow_context(env) == {
        "dag_id": "kit_forecast",
        "run_id": "scheduled__2026-05-04T06:00:00+00:00",
        "task_id": "forecast",
        "try_number": 2,
        "map_index": -1,
    }
    assert airflow_context({"PATH": "/bin"}) is None


def test_a_runs_review_page_path_is_quoted_and_can_point_at_a_cell() -> None:
    from kit.run_contract import review_path

    assert review_path("forecast", "r 1") == "/runs/forecast/r%201"
    assert review_path("forecast", "r1", 7) == "/runs/forecast/r1/notebook#cell-7"


# -- the index ------------------------------------------------------------------------------
def test_index_keys_sort_newest_first_and_name_the_run() -> None:
    t0 = datetime(2026, 3, 1, 6, 0, 0, 123456, tzinfo=UTC)
    keys = [contract.index_key(t0 + timedelta(seconds=s), "nb", "r") for s in (0, 1, 3600)]
    assert sorted(keys) == keys[::-1]  # name order is newest first
    assert contract.key_time(keys[0]) == t0
    assert keys[0].endswith("~nb~r")
    earlier = contract.index_key(t0, "a", "z")
    assert earlier < keys[0]  # same start: by notebook, then run id
    assert contract.index_key(None, "nb", "r") > keys[0]  # no start time: last
    assert contract.key_time("not-a-key") is None


def test_index_layout() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    urls = contract.index_urls("gs://out", "forecast", "r1", t0)
    key = contract.index_key(t0, "forecast", "r1")
    assert urls == [f"gs://out/index/runs/{key}", f"gs://out/index/notebooks/forecast/{key}"]
    assert contract.index_prefix("gs://out/") == "gs://out/index/runs/"
    assert contract.names_prefix("gs://out") == "gs://out/index/names/"
    assert contract.format_url("gs://out") == "gs://out/index/format.json"


def test_a_summary_holds_what_a_listing_shows_and_reads_back() -> None:
    record = v2_record(
        metrics={"mape": 3.2, "tail": [{"ds": "2026-01-01", "y": 1.0}]},
        overridden=["horizon"],
        stopped_at={"cell": 4, "execution_count": 3, "source": "fit()"},
    )
    meta = contract.summary(record)
    assert list(meta) == [contract.SUMMARY_META]
    found = contract.read_summary(meta)
    assert found is not None
    assert found["metrics"] == {"mape": 3.2}  # tables stay in run.json
    assert (found["status"], found["run_id"], found["parameters"]) == (
        "succeeded",
        "r1",
        {"horizon": 30},
    )
    assert contract.is_final(found)
    assert "partial" not in found
    assert contract.read_summary({}) is None
    assert contract.read_summary({contract.SUMMARY_META: "{not json"}) is None
    newer = json.dumps({**found, "schema": "kit.run/9"})
    assert contract.read_summary({contract.SUMMARY_META: newer}) is None


def test_a_summary_too_big_for_object_metadata_leaves_out_parameters_first() -> None:
    record = v2_record(parameters={f"p{i}": "x" * 100 for i in range(80)}, metrics={"m": 1})
    meta = contract.summary(record)
    assert len(meta[contract.SUMMARY_META].encode()) <= contract.SUMMARY_LIMIT
    found = contract.read_summary(meta) or {}
    assert found["partial"] is True
    assert "parameters" not in found
    assert found["metrics"] == {"m": 1}


class _Memory:
    """An IndexStore in memory with GCS's generation rule (for the write protocol alone)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[int, dict[str, str]]] = {}
        self.generation = 0
        self.puts = 0

    def stat(self, url: str) -> contract.Stored | None:
        found = self.objects.get(url)
        return None if found is None else contract.Stored(found[0], found[1])

    def put(self, url: str, data: bytes, metadata: Any, generation: int) -> int | None:
        self.puts += 1
        current = self.objects.get(url, (0, {}))[0]
        if current != generation:
            return None
        self.generation += 1
        self.objects[url] = (self.generation, dict(metadata))
        return self.generation


def _pending() -> dict[str, str]:
    return contract.summary(
        contract.pending_record(
            notebook="forecast",
            run_id="r1",
            version="v",
            started=datetime(2026, 3, 1, tzinfo=UTC),
            metadata={contract.DEADLINE_META: "2026-03-01T01:00:00.000000Z"},
            parameters={"horizon": 30},
            overridden=["horizon"],
        )
    )


def test_write_index_creates_then_finishes_and_never_goes_back_to_running() -> None:
    store, urls = _Memory(), ["gs://o/index/runs/k", "gs://o/index/notebooks/forecast/k"]
    created = contract.write_index(store, urls, _pending(), known=dict.fromkeys(urls, 0))
    assert store.puts == 2
    final = contract.summary(v2_record())
    contract.write_index(store, urls, final, known=created)
    assert all(store.objects[u][1] == final for u in urls)
    contract.write_index(store, urls, _pending())  # a late writer of "running"
    assert all(store.objects[u][1] == final for u in urls)


def test_write_index_retries_when_another_writer_got_there_first() -> None:
    store, url = _Memory(), "gs://o/index/runs/k"
    created = contract.write_index(store, [url], _pending(), known={url: 0})
    store.put(url, b"", _pending() | {"x": "1"}, created[url])  # e.g. reindex, meanwhile
    final = contract.summary(v2_record())
    contract.write_index(store, [url], final, known=created)  # stale generation: re-read
    assert store.objects[url][1] == final
