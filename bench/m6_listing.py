"""6. Listing at scale: 100,000 runs in the outputs bucket, 5,000 of them of `forecast`.

The runs are seeded on the emulator's disk as `kit run` leaves them (bench/seed.py):
output.ipynb, run.json with its summary, and the index entries. Every figure is a fresh
process with an empty record cache (cold), timed against a floor measured in the same
rounds: F, a fresh Python that imports google-cloud-storage and lists one page of 1,000
objects under runs/forecast/. A second bucket holds 2,000 runs, listed whole against one
listing of their 2,000 index entries; a third, 2,000 runs as kit 0.1 wrote them (no
index, schema 1), shows what listing cost before the index and what `kit runs reindex`
costs once.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from bench.core import (
    KIT,
    PYTHON,
    ROOT,
    WORK,
    BenchError,
    Figure,
    Section,
    Target,
    alternate,
    log,
    samples_table,
    shown,
    stats,
)
from bench.gcs_proxy import CountingProxy, describe
from bench.measure import Measured, first_page, free_port, run_peak, run_timed
from bench.profiling import cprofile
from bench.seed import NOTEBOOKS, Layout, Plan, seed
from bench.stage import GCS_ROOT, Stage
from kit.storage import storage_for

TITLE = "Listing"
BIG, SMALL, OLD = "kit-bench-runs", "kit-bench-runs-2k", "kit-bench-runs-old"
CACHE = WORK / "cache"
MB = 1024 * 1024
CLIENT = ROOT / "bench" / "listing_client.py"


def _bucket(stage: Stage, name: str) -> Layout:
    """Create a bucket through the API, write one object, and learn its on-disk layout."""
    from google.cloud import storage as gcs

    client = gcs.Client(project="kit-bench")
    if not client.bucket(name).exists():
        client.create_bucket(name)
    storage_for(f"gs://{name}").write(f"gs://{name}/probe", b"probe")
    return Layout.of(GCS_ROOT / "data", name, "probe")


def _check(bucket: str, plan: Plan) -> None:
    """Read seeded objects back through the API: listed with their summaries, readable."""
    store = storage_for(f"gs://{bucket}")
    first = next(iter(store.list(f"gs://{bucket}/index/runs/", page_size=5)))
    if "kit-summary" not in first.metadata:
        raise BenchError(f"seeded index entry without its summary: {first}")
    record = next(r for r in plan.runs() if "_pending" not in r)
    url = f"gs://{bucket}/runs/{record['notebook']}/{record['run_id']}/run.json"
    if json.loads(store.read(url))["run_id"] != record["run_id"]:
        raise BenchError(f"seeded record unreadable: {url}")


def setup(stage: Stage, count: int) -> dict[str, Any]:
    """Seed the three buckets (not timed); what was seeded."""
    now = datetime.now(UTC)
    info: dict[str, Any] = {}
    for bucket, n, index in ((BIG, count, True), (SMALL, 2000, True), (OLD, 2000, False)):
        layout = _bucket(stage, bucket)
        plan = Plan(f"gs://{bucket}", n, now, running=6 if bucket == BIG else 0)
        began = datetime.now(UTC)
        objects = seed(layout, plan, index=index)
        seconds = (datetime.now(UTC) - began).total_seconds()
        if index:
            _check(bucket, plan)
        info[bucket] = {"runs": n, "objects": objects, "seconds": round(seconds, 1)}
        log(f"#6 seeded {n:,} runs ({objects:,} objects) into gs://{bucket} in {seconds:.0f} s")
    if not info[OLD]["objects"]:
        raise BenchError("nothing seeded")
    _schema_1(OLD, now)
    info["api_objects_per_second"] = _api_rate(SMALL)
    return info


def _api_rate(bucket: str, count: int = 400) -> float:
    """How many small objects a second the emulator's API takes (16 threads): why the big
    bucket is seeded on disk instead."""
    store = storage_for(f"gs://{bucket}")
    began = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: store.write(f"gs://{bucket}/api-rate/{i}", b"{}"), range(count)))
    return count / (time.perf_counter() - began)


def _schema_1(bucket: str, now: datetime) -> None:
    """Rewrite the OLD bucket's records as kit 0.1 wrote them: schema 1, no summary."""
    store = storage_for(f"gs://{bucket}")
    plan = Plan(f"gs://{bucket}", 2000, now, running=0)
    for record in plan.runs():
        if record.pop("_pending", None):
            continue  # no record: it died without one
        old = {k: v for k, v in record.items() if k not in ("overridden", "written_by", "cells",
               "stopped_at", "cells_not_run", "peak_rss_bytes", "timeout_seconds",
               "grace_seconds", "kubernetes")}  # fmt: skip
        old["schema"] = 1
        url = f"gs://{bucket}/runs/{record['notebook']}/{record['run_id']}/run.json"
        store.write(url, json.dumps(old, indent=1).encode(), content_type="application/json")


def _cold(measure: Callable[[], Measured]) -> Measured:
    shutil.rmtree(CACHE, ignore_errors=True)
    return measure()


def measure(stage: Stage, quick: bool) -> Section:
    count = 20_000 if quick else 100_000
    reps = 2 if quick else 5
    section = Section(6, TITLE)
    seeded = setup(stage, count)
    env = stage.env(KIT_OUTPUTS_BUCKET=f"gs://{BIG}", XDG_CACHE_HOME=str(CACHE))
    port = free_port()
    commands: dict[str, list[str]] = {
        "F": [str(PYTHON), str(CLIENT), "floor", BIG, "runs/forecast/", "1000"],
        "kit runs forecast -n 50": [str(KIT), "runs", "forecast", "-n", "50"],
        "review page, first page": [str(KIT), "review", "--port", str(port), "--quiet"],
        "kit.runs('forecast', since='7d')": [str(PYTHON), str(CLIENT), "frame", "forecast", "7d"],
    }
    results: dict[str, list[Measured]] = {name: [] for name in commands}

    def runner(name: str, environ: dict[str, str], peak: bool) -> Callable[[], Measured]:
        argv = commands[name]
        if name.startswith("review"):
            return lambda: first_page(argv, environ, port)  # the live server's VmHWM
        return lambda: (run_peak if peak else run_timed)(argv, environ)

    def timed(name: str) -> Callable[[int], float]:
        def one(_round: int) -> float:
            done = _cold(runner(name, env, peak=False))
            results[name].append(done)
            return done.seconds

        return one

    samples = alternate({n: timed(n) for n in commands}, reps, warmup=1, label="#6")
    _check_outputs(results)
    medians = {n: statistics.median(v) for n, v in samples.items()}
    f = medians["F"]

    proxy = CountingProxy(stage.server.url)
    try:
        via = {**env, "STORAGE_EMULATOR_HOST": proxy.url}
        requests: dict[str, Counter[str]] = {}
        peaks: dict[str, int] = {}
        for name in commands:  # once more each: its requests, and its own peak memory
            proxy.take()
            peaks[name] = _cold(runner(name, via, peak=True)).peak
            requests[name] = proxy.take()
        small = _small(stage, reps, proxy)
        old = _old(stage, proxy)
    finally:
        proxy.stop()

    limits = {"kit runs forecast -n 50": 2, "review page, first page": 3}
    feel = {
        "kit runs forecast -n 50": f"listing 50 runs of {count:,}",
        "review page, first page": f"opening the review page over {count:,} runs",
        "kit.runs('forecast', since='7d')": "a week of forecast runs as a DataFrame",
    }
    section.figures = [
        Figure(
            f"F: a fresh Python lists 1,000 objects under runs/forecast/ ({count:,} runs in "
            "the bucket)",
            f,
            "s",
            note=describe(requests["F"]),
        )
    ]
    for name in list(commands)[1:]:
        ratio = medians[name] / f
        section.figures.append(
            Figure(
                f"{name}, cold, / F",
                ratio,
                "x",
                Target("<=", limits.get(name, 3)),
                note=f"{feel[name]}: {medians[name]:.2f} s ({ratio:.2f} F); "
                f"{describe(requests[name])}; peak {peaks[name] / MB:.0f} MiB",
            )
        )
    section.figures += small["figures"] + old["figures"]
    section.commands = [
        shown(commands["F"]) + "   # F",
        *(shown(argv, {"KIT_OUTPUTS_BUCKET": f"gs://{BIG}", "XDG_CACHE_HOME": "bench/work/cache"})
          for name, argv in commands.items() if name != "F"),
        "# every one cold: rm -rf bench/work/cache first; the review page: launch "
        "`kit review`, GET / as soon as it listens, time to the whole page",
        *small["commands"],
        *old["commands"],
    ]  # fmt: skip
    plan_note = (
        f"**The bucket.** gs://{BIG}: {count:,} runs of {len(NOTEBOOKS)} notebooks "
        f"({count // len(NOTEBOOKS):,} of `forecast`), one every 86.4 s over the last "
        f"{count / 1000:.0f} days, as a team running 20 notebooks 50 times a day has them; "
        "95% succeeded, the rest failed, killed or timed out; the newest 6 are still "
        "running and 1 in 5,000 was lost. 5% of run ids are typed by hand (no time in them). "
        f"{seeded[BIG]['objects']:,} objects (output.ipynb, run.json with its summary, two "
        "index entries each) written to the emulator's disk in "
        f"{seeded[BIG]['seconds']:.0f} s (bench/seed.py), then read back through its API; "
        f"through the API they would have taken "
        f"{seeded[BIG]['objects'] / seeded['api_objects_per_second'] / 60:.0f} min "
        f"({seeded['api_objects_per_second']:.0f} uploads a second, 16 threads)."
    )
    section.details = [
        plan_note,
        f"Medians of {reps} cold runs each after a warm-up round, the order rotating every "
        "round; each output checked (50 rows; 50 rows on the page; a week of forecast "
        "runs). Requests counted in one more run of each through a counting proxy; peak "
        "memory is the process's own VmHWM (bench/peak.py), the server's once the page is "
        "served.",
        samples_table(samples),
        "**The emulator.** fake-gcs-server's filesystem backend walks the whole bucket on "
        "every list request, whatever its prefix or page size, and reads the attributes of "
        "every object under the prefix: here each list request costs about what F costs, "
        "so these ratios count list requests more than anything. On GCS a page of 50 is "
        "one short request.",
        *small["details"],
        *old["details"],
    ]
    section.data = {
        "seeded": seeded,
        "samples": {k: stats(v) for k, v in samples.items()},
        "requests": {k: dict(v) for k, v in requests.items()},
        "peak_bytes": peaks,
        "small": small["data"],
        "old": old["data"],
    }
    if section.missed:
        missed = [f.label.split(", cold")[0] for f in section.figures[1:4] if f.met is False]
        section.diagnosis = _diagnose(env, missed)
    return section


def _check_outputs(results: dict[str, list[Measured]]) -> None:
    for done in results["kit runs forecast -n 50"]:
        rows = [ln for ln in done.stdout.splitlines() if " forecast@" in ln]
        if len(rows) != 50 or "--after" not in done.stderr:
            raise BenchError(f"kit runs forecast -n 50 printed {len(rows)} rows\n{done.stderr}")
    for done in results["review page, first page"]:
        shown_rows = len(re.findall(r'<tr class="run ', done.stdout))
        if shown_rows != 50 or 'class="next"' not in done.stdout:
            raise BenchError(f"the review page showed {shown_rows} runs")
    for done in results["kit.runs('forecast', since='7d')"]:
        if int(done.stdout.split()[0]) < 300:
            raise BenchError(f"kit.runs('forecast', since='7d'): {done.stdout.strip()}")


def _small(stage: Stage, reps: int, proxy: CountingProxy) -> dict[str, Any]:
    """2,000 runs: the whole `kit runs` against one listing of their 2,000 index entries."""
    env = stage.env(KIT_OUTPUTS_BUCKET=f"gs://{SMALL}", XDG_CACHE_HOME=str(CACHE))
    floor = [str(PYTHON), str(CLIENT), "floor", SMALL, "index/runs/", "2000"]
    full = [str(KIT), "runs"]
    got: dict[str, list[Measured]] = {"floor": [], "kit runs": []}

    def one(name: str, argv: list[str]) -> Callable[[int], float]:
        def go(_round: int) -> float:
            done = _cold(lambda: run_timed(argv, env))
            got[name].append(done)
            return done.seconds

        return go

    samples = alternate(
        {"floor": one("floor", floor), "kit runs": one("kit runs", full)}, reps, label="#6 2k"
    )
    for done in got["kit runs"]:
        rows = len(done.stdout.splitlines()) - 1  # the header
        if rows != 2000:
            raise BenchError(f"kit runs listed {rows} of 2,000 runs")
    via = {**env, "STORAGE_EMULATOR_HOST": proxy.url}
    proxy.take()
    peak = _cold(lambda: run_peak(full, via)).peak
    counted = proxy.take()
    lo, hi = (statistics.median(v) for v in samples.values())
    return {
        "figures": [
            Figure("one listing of 2,000 index entries (fresh Python)", lo, "s"),
            Figure(
                "`kit runs`, 2,000 runs, cold, / that listing",
                hi / lo,
                "x",
                Target("<=", 2),
                note=f"listing all 2,000 runs: {hi:.2f} s ({hi / lo:.2f} times one listing); "
                f"{describe(counted)}; peak {peak / MB:.0f} MiB",
            ),
        ],
        "commands": [
            shown(floor) + "   # both pages",
            shown(full, {"KIT_OUTPUTS_BUCKET": f"gs://{SMALL}"}),
        ],
        "details": [
            f"**2,000 runs** (gs://{SMALL}, seeded the same way): medians of {reps} cold "
            "runs each, alternating; output checked to hold all 2,000 runs.",
            samples_table(samples),
        ],
        "data": {k: stats(v) for k, v in samples.items()} | {"requests": dict(counted)},
    }


def _old(stage: Stage, proxy: CountingProxy) -> dict[str, Any]:
    """2,000 runs as kit 0.1 wrote them: listed from runs/ (every record read, concurrently),
    then indexed once with `kit runs reindex` (information)."""
    env = stage.env(KIT_OUTPUTS_BUCKET=f"gs://{OLD}", XDG_CACHE_HOME=str(CACHE))
    listing = _cold(lambda: run_timed([KIT, "runs"], env))
    if "kit runs reindex" not in listing.stderr:
        raise BenchError("no hint to reindex a bucket without an index")
    # Once more through the counting proxy: its requests, and how many records it reads at
    # once (the reader's thread pool; a serial reader would show 1).
    proxy.take()
    proxy.take_most_in_flight()
    _cold(lambda: run_timed([KIT, "runs"], {**env, "STORAGE_EMULATOR_HOST": proxy.url}))
    counted, at_once = proxy.take(), proxy.take_most_in_flight()
    reindex = _cold(lambda: run_timed([KIT, "runs", "reindex"], env))
    after = _cold(lambda: run_timed([KIT, "runs"], env))
    return {
        "figures": [
            Figure(
                "`kit runs`, 2,000 runs from before the index (schema 1), cold",
                listing.seconds,
                "s",
                note=f"information: every record read, as before the index; {describe(counted)}",
            ),
            Figure(
                "record reads in flight at once in that listing (most)",
                at_once,
                "",
                note="information: the reader's threads (kit.review.listing.DEFAULT_WORKERS)",
            ),
            Figure("`kit runs reindex` of them, once", reindex.seconds, "s", note="information"),
            Figure("`kit runs` after it, cold", after.seconds, "s", note="information"),
        ],
        "commands": [
            shown([KIT, "runs"], {"KIT_OUTPUTS_BUCKET": f"gs://{OLD}"}),
            shown([KIT, "runs", "reindex"], {"KIT_OUTPUTS_BUCKET": f"gs://{OLD}"}),
        ],
        "details": [
            f"**Runs from before the index** (gs://{OLD}: the same 2,000 runs with schema-1 "
            "records, no summaries, no index): `kit runs` lists runs/ and reads every "
            f"record ({listing.seconds:.2f} s cold; through the counting proxy, {at_once} "
            "reads in flight at most) and says to run `kit runs reindex`, "
            f"which indexes them once in {reindex.seconds:.2f} s: " + reindex.stdout.strip(),
        ],
        "data": {
            "before": listing.seconds,
            "requests": dict(counted),
            "most_in_flight": at_once,
            "reindex": reindex.seconds,
            "after": after.seconds,
        },
    }


REVIEW_SCRIPT = (
    "from kit.config import load_settings\n"
    "from kit.review.listing import RunStore\n"
    "from kit.review.web.routes import ReviewPages\n"
    "page = ReviewPages(RunStore(load_settings())).handle([], {})\n"
    "assert page.status == 200, page.body[:300]\n"
)


def _diagnose(env: dict[str, str], missed: list[str]) -> list[str]:
    """A cProfile of each command that missed its target (cold)."""
    scripts = {"review page, first page": REVIEW_SCRIPT}
    found: list[str] = []
    for name in missed:
        shutil.rmtree(CACHE, ignore_errors=True)
        if name in scripts:
            path = WORK / f"m6-{len(found)}.py"
            path.write_text(scripts[name])
            target = [str(path)]
        elif name.startswith("kit.runs"):
            target = [str(CLIENT), "frame", "forecast", "7d"]
        else:
            target = ["-m", "kit.cli.main", "runs", "forecast", "-n", "50"]
        cmd, wall, table = cprofile(
            PYTHON,
            target,
            env,
            f"m6-{len(found)}",
            include=("/kit/", "google/cloud/storage", "requests/", "pandas/", "jinja2/"),
            title="function",
        )
        found += [f"**{name}**: `{cmd}` (cold, {wall:.2f} s under the profiler):", table]
    return found
