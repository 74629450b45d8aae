"""Listing from the run index: a page costs one list request and reads no record; pages
follow each other; runs from before the index still list, and `kit runs reindex` indexes
them; concurrent writers never lose an entry (real GCS: fake-gcs-server)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from gcs_support import fresh_settings
from index_support import T0, Counting, write_run
from record_support import v1_record, v2_record
from review_support import KIT, ReviewRuns

from kit import dev
from kit import run_contract as contract
from kit.cli.main import main
from kit.config import Settings
from kit.errors import NotFoundError, UsageError
from kit.review.listing import RunStore
from kit.review.reindex import reindex
from kit.review.web.routes import ReviewPages
from kit.storage import storage_for
from kit.storage.index import StorageIndex, is_indexed

A_RUNS, B_RUNS = 60, 15


@pytest.fixture(scope="module")
def indexed(gcs_server: dev.Server) -> Settings:
    """A new (hence indexed) outputs bucket: 60 runs of `a` (every 7th failed), 15 of `b`."""
    settings = fresh_settings(gcs_server, prefix="ix")
    jobs = [("a", i) for i in range(A_RUNS)] + [("b", i) for i in range(B_RUNS)]

    def one(job: tuple[str, int]) -> None:
        name, i = job
        started = T0 + timedelta(hours=i, minutes=7 if name == "b" else 0)
        write_run(
            settings,
            name,
            f"{name}-{i:03d}",
            started,
            status="failed" if i % 7 == 3 else "succeeded",
            metrics={"mape": 1.0 + i / 10, "table": [{"x": 1}]},
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, jobs))
    return settings


def _counting(settings: Settings) -> tuple[RunStore, Counting]:
    counting = Counting(storage_for(settings.outputs_bucket))
    return RunStore(settings, counting), counting  # type: ignore[arg-type]


def test_a_page_is_one_list_request_and_reads_no_record(indexed: Settings) -> None:
    store, counting = _counting(indexed)
    page = store.page("a", limit=10)
    assert [r.run_id for r in page.runs] == [f"a-{i:03d}" for i in range(59, 49, -1)]
    assert counting.lists == [contract.index_prefix(indexed.outputs_bucket, "a")]
    assert counting.yielded == 11  # one more than shown: is there a next page?
    assert counting.reads == []
    assert counting.stats == []  # every entry is final: nothing to check
    newest = page.runs[0]
    assert (newest.status, newest.complete, newest.headline()) == (
        "failed",
        False,
        {"mape": 6.9},
    )
    assert newest.parameters == {"horizon": 30}
    assert page.after == page.runs[-1].key


def test_pages_follow_each_other_newest_first_to_the_end(indexed: Settings) -> None:
    store = RunStore(indexed)
    every = store.list()
    assert len(every) == A_RUNS + B_RUNS
    starts = [r.started_at for r in every]
    assert starts == sorted(starts, reverse=True)  # type: ignore[type-var]
    seen, after = [], None
    while True:
        page = store.page(limit=7, after=after)
        seen += page.runs
        if page.after is None:
            break
        after = page.after
    assert [(r.notebook, r.run_id) for r in seen] == [(r.notebook, r.run_id) for r in every]
    with pytest.raises(UsageError, match="not a position"):
        store.page(after="yesterday")


def test_filters_scan_the_index_only_as_far_as_they_need(indexed: Settings) -> None:
    store, counting = _counting(indexed)
    failed = store.list("a", statuses=["failed"], limit=3)
    assert [r.run_id for r in failed] == ["a-059", "a-052", "a-045"]
    assert all(r.status == "failed" and r.reason == "failed on purpose" for r in failed)
    since = T0 + timedelta(hours=A_RUNS - 5)
    store2, counting2 = _counting(indexed)
    recent = store2.list("a", since=since)
    assert [r.run_id for r in recent] == [f"a-{i:03d}" for i in range(59, 54, -1)]
    assert counting2.yielded == 6  # stopped at the first older entry: listed no further
    assert counting.reads == counting2.reads == []


def test_unknown_notebooks_suggest_the_closest_name(indexed: Settings) -> None:
    with pytest.raises(NotFoundError, match=r"no runs of notebook 'aa'.*did you mean a\?"):
        RunStore(indexed).page("aa")
    assert RunStore(indexed).names() == ["a", "b"]


def test_a_run_whose_entries_still_say_running_is_read_from_its_folder(
    indexed: Settings,
) -> None:
    # The runner wrote run.json, then died before updating its entries.
    write_run(indexed, "c", "c-1", T0, status="killed", final_entries=False)
    store, counting = _counting(indexed)
    (run,) = store.list("c")
    assert (run.status, run.complete, run.reason) == ("killed", True, "killed on purpose")
    assert sorted(u.rsplit("/", 1)[1] for u in counting.stats) == ["output.ipynb", "run.json"]
    # An entry whose runner never claimed its output, past its deadline: lost.
    started = datetime.now(UTC) - timedelta(hours=3)
    pending = contract.pending_record(
        notebook="c",
        run_id="c-2",
        version="v",
        started=started,
        metadata=contract.output_metadata(started, 60, 30),
        parameters={},
        overridden=[],
    )
    urls = contract.index_urls(indexed.outputs_bucket, "c", "c-2", started)
    contract.write_index(
        StorageIndex(storage_for(indexed.outputs_bucket)), urls, contract.summary(pending)
    )
    lost = store.list("c", statuses=["lost"])
    assert [(r.run_id, r.has_output) for r in lost] == [("c-2", False)]
    assert "no run.json by its deadline" in (lost[0].reason or "")


def kit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    return int(exc.value.code or 0), captured.out, captured.err


def test_kit_runs_prints_a_page_and_how_to_get_the_next(
    indexed: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIT_OUTPUTS_BUCKET", indexed.outputs_bucket)
    code, out, err = kit(capsys, "runs", "a", "-n", "5")
    assert code == 0
    ids = re.findall(r"^(a-\d+)\s", out, flags=re.M)
    assert ids == [f"a-{i:03d}" for i in range(59, 54, -1)]
    hint = re.search(r"next 5: kit runs a -n 5 --after (\S+)", err)
    assert hint, err
    code, out, err = kit(capsys, "runs", "a", "-n", "5", "--after", hint[1])
    assert re.findall(r"^(a-\d+)\s", out, flags=re.M) == [f"a-{i:03d}" for i in range(54, 49, -1)]
    code, out, _ = kit(capsys, "runs", "a", "-n", "2", "--json")
    records = json.loads(out)
    assert [r["run_id"] for r in records] == ["a-059", "a-058"]
    assert records[0]["host"] == "pod-1"  # the whole record, not the summary
    assert records[0]["metrics"]["table"] == [{"x": 1}]


def test_the_review_page_shows_50_runs_and_links_the_next_50(indexed: Settings) -> None:
    pages = ReviewPages(RunStore(indexed))
    first = pages.handle([], {}).body.decode()
    assert len(re.findall(r'<tr class="run ', first)) == 50
    link = re.search(r'<a class="next" href="/\?after=([^"]+)">Next 50 runs</a>', first)
    assert link, first[-2000:]
    second = pages.handle([], {"after": link[1].replace("%7E", "~")}).body.decode()
    rows = re.findall(r'<tr class="run ', second)
    assert len(rows) == len(RunStore(indexed).list()) - 50
    assert "back to the newest" in second
    assert 'class="next"' not in second
    assert 'data-filter="notebook" data-value="b"' in first  # every notebook, from the index


def _bucket(server: dev.Server) -> Settings:
    """An outputs bucket made without kit: not indexed."""
    from google.cloud import storage as gcs

    name = f"ix-old-{uuid.uuid4().hex[:10]}"
    gcs.Client().create_bucket(name)
    return Settings(outputs_bucket=f"gs://{name}", retry_deadline=10.0)


def test_runs_from_before_the_index_list_then_reindex_indexes_them(
    gcs_server: dev.Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _bucket(gcs_server)
    store = storage_for(settings.outputs_bucket)
    bucket = settings.outputs_bucket
    for i in range(6):
        started = T0 + timedelta(days=i)
        fields = {
            "run_id": f"old-{i}",
            "output_url": contract.run_url(bucket, "nb", f"old-{i}", "output.ipynb"),
            "started_at": contract.iso(started),
            "status": "failed" if i == 2 else "succeeded",
            "metrics": {"mape": float(i)},
        }
        record = v1_record(**fields) if i % 2 else v2_record(**fields)  # kit 0.1, and no summary
        store.write(
            contract.run_url(bucket, "nb", f"old-{i}", "run.json"), json.dumps(record).encode()
        )
    pending_out = contract.run_url(bucket, "nb", "died-1", "output.ipynb")
    store.write(pending_out, b"{}", metadata=contract.output_metadata(T0, 60, 30, "v1"))
    write_run(settings, "nb", "new-1", T0 + timedelta(days=9), index=False)  # a summary, no entry

    before = RunStore(settings).page("nb", limit=None)
    monkeypatch.setenv("KIT_OUTPUTS_BUCKET", bucket)
    code, out, err = kit(capsys, "runs", "nb")
    assert code == 0
    assert "kit runs reindex" in err
    assert len(re.findall(r"^(old-\d|died-1|new-1)\s", out, flags=re.M)) == 8
    assert not is_indexed(store, bucket)

    code, out, _ = kit(capsys, "runs", "reindex")
    assert code == 0
    assert "indexed 8 runs of 1 notebook (8 newly indexed or updated)" in out
    assert is_indexed(store, bucket)
    counting = Counting(store)
    after = RunStore(settings, counting).page("nb", limit=None)  # type: ignore[arg-type]
    assert counting.lists == [contract.index_prefix(bucket, "nb")]
    assert counting.reads == []  # the summaries are in the entries now
    summary = [(r.run_id, r.status, r.headline()) for r in after.runs]
    assert summary == [(r.run_id, r.status, r.headline()) for r in before.runs]
    assert {r.run_id: r.status for r in after.runs}["died-1"] == "lost"
    assert reindex(settings).written == 0  # nothing left to do: safe to run again
    code, _, err = kit(capsys, "runs", "nb")
    assert "reindex" not in err


def test_concurrent_writers_never_lose_an_entry(gcs_server: dev.Server) -> None:
    settings = fresh_settings(gcs_server, prefix="ixc")
    io = StorageIndex(storage_for(settings.outputs_bucket))
    bucket = settings.outputs_bucket
    runs = [(f"r{i:02d}", T0 + timedelta(seconds=i)) for i in range(30)]

    def pending(run_id: str, started: datetime) -> dict[str, str]:
        return contract.summary(
            contract.pending_record(
                notebook="nb",
                run_id=run_id,
                version="v",
                started=started,
                metadata={},
                parameters={},
                overridden=[],
            )
        )

    def final(run_id: str, started: datetime) -> dict[str, str]:
        return contract.summary(
            v2_record(run_id=run_id, notebook="nb", started_at=contract.iso(started))
        )

    jobs = [(r, s, pending) for r, s in runs] + [(r, s, final) for r, s in runs]
    jobs += [(r, s, pending) for r, s in runs]  # late "running" writers (a reindex, say)

    def write(job: tuple[str, datetime, object]) -> None:
        run_id, started, make = job
        contract.write_index(
            io, contract.index_urls(bucket, "nb", run_id, started), make(run_id, started)
        )  # type: ignore[operator]

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(write, jobs))
    listed = RunStore(settings).list("nb")
    assert sorted(r.run_id for r in listed) == [r for r, _ in runs]
    assert {r.status for r in listed} == {"succeeded"}  # the final summary won everywhere
    assert len(RunStore(settings).list()) == len(runs)


def _entries(settings: Settings, name: str) -> dict[str, dict[str, str]]:
    prefix = contract.index_prefix(settings.outputs_bucket, name)
    return {i.url: dict(i.metadata) for i in storage_for(prefix).list(prefix)}


def test_kit_run_indexes_its_run_and_summarises_its_record(review_runs: ReviewRuns) -> None:
    settings = review_runs.settings
    record_url = review_runs.url("demo", "ok-a", "run.json")
    data, info = storage_for(record_url).read_info(record_url)
    record = json.loads(data)
    expected = contract.read_summary(contract.summary(record))
    assert contract.read_summary(info.metadata) == expected  # run.json carries its summary
    started = contract.parse_time(record["started_at"])
    urls = contract.index_urls(settings.outputs_bucket, "demo", "ok-a", started)
    for url in urls:
        assert contract.read_summary(storage_for(url).stat(url).metadata) == expected
    assert "demo" in RunStore(settings).names()
    # A second attempt with a used run id is refused, and leaves no entry behind.
    before = _entries(settings, "demo")
    done = review_runs.kit("run", str(review_runs.workdir / "v1/demo.ipynb"), "--run-id", "ok-a")
    assert done.returncode == 2, done.stderr
    assert "run id already used" in done.stderr
    assert _entries(settings, "demo") == before


def test_a_runner_killed_outright_lists_as_running_then_lost(
    review_runs: ReviewRuns, gcs_server: dev.Server
) -> None:
    settings = fresh_settings(gcs_server, prefix="ixk")  # not the session's shared runs
    env = {**review_runs.env, "KIT_GRACE_SECONDS": "1"}
    env.update(
        KIT_MODULES_BUCKET=settings.modules_bucket, KIT_OUTPUTS_BUCKET=settings.outputs_bucket
    )
    notebook = str(review_runs.workdir / "v1/demo.ipynb")
    argv = [*KIT, "run", notebook, "--run-id", "sigkill-1", "-p", "sleep", "600"]
    proc = subprocess.Popen(
        [*argv, "--timeout", "8"], env=env, cwd=review_runs.workdir, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    store = RunStore(settings)

    def listed() -> list[str]:
        try:
            return [r.status for r in store.list("demo") if r.run_id == "sigkill-1"]
        except NotFoundError:
            return []  # not indexed yet

    try:
        deadline = time.monotonic() + 120
        while listed() != ["running"]:
            assert proc.poll() is None, "the run ended early"
            assert time.monotonic() < deadline, "never listed as running"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its kernel: no record, ever
        proc.wait()
    assert listed() == ["running"]
    while listed() == ["running"]:  # until start + timeout + grace has passed
        assert time.monotonic() < deadline, "never lost"
        time.sleep(0.5)
    (run,) = store.list("demo")
    assert run.status == "lost"
    assert "no run.json by its deadline" in (run.reason or "")


def test_an_entry_this_kit_cannot_read_is_listed_from_its_run_folder(
    gcs_server: dev.Server,
) -> None:
    settings = fresh_settings(gcs_server, prefix="ixn")
    write_run(settings, "nb", "r1", T0, final_entries=False)
    newer = {contract.SUMMARY_META: json.dumps({"schema": "kit.run/9", "run_id": "r1"})}
    io = StorageIndex(storage_for(settings.outputs_bucket))
    urls = contract.index_urls(settings.outputs_bucket, "nb", "r1", T0)
    for url in urls:
        stored = io.stat(url)
        assert stored is not None
        assert io.put(url, b"", newer, stored.generation) is not None
    (run,) = RunStore(settings).list("nb")
    assert (run.run_id, run.status, run.complete) == ("r1", "succeeded", True)
