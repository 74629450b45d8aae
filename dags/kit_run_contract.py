"""The run contract: what a run leaves in the outputs bucket, and how it is read.

    runs/<notebook>/<run-id>/output.ipynb   the executed notebook, saved while it runs
    runs/<notebook>/<run-id>/run.json       the run record, written last (if_generation_match=0)
    index/runs/<key>                        every run, newest first (see "the index" below)
    index/notebooks/<notebook>/<key>        the same entry, listed per notebook
    index/names/<notebook>                  one empty object per notebook that has runs
    index/format.json                       present once every run in the bucket is indexed

run.json is versioned ("schema": "kit.run/2") and described by the JSON Schema
kit/run_contract.schema.json; records of schema 1 still read (`upgrade`). Cells are
named by their 1-based position in the source notebook, as JupyterLab shows them.
run.json and the index entries carry a summary of the record as object metadata
(`summary`), which listings return, so a listing reads no record.

One definition for the runner, the review code, kit dagtools and the DAGs' finisher.
The DAG side cannot import kit (Composer uploads only dags/), so dags/kit_run_contract.py
is a byte-for-byte copy of this file, checked by tests/run_contract/: edit this
file, then copy it there. Hence: the standard library only, and no import of kit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

# -- versions ------------------------------------------------------------------------------
SCHEMA = "kit.run/2"
LEGACY_SCHEMA = 1  # kit 0.1 wrote an integer; read through `upgrade`
READABLE = (SCHEMA, LEGACY_SCHEMA)

# -- layout --------------------------------------------------------------------------------
RUNS_DIR = "runs"
OUTPUT_FILE = "output.ipynb"
RECORD_FILE = "run.json"
NOTEBOOK_TYPE = "application/x-ipynb+json"
RECORD_TYPE = "application/json"


def join(base: str, *parts: str) -> str:
    """Join URL path parts with exactly one slash between them (empty parts dropped)."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])


def runs_prefix(bucket: str, notebook: str = "", run_id: str = "") -> str:
    """runs/, runs/<notebook>/ or runs/<notebook>/<run-id>/ under the outputs bucket."""
    return join(bucket, RUNS_DIR, notebook, run_id if notebook else "") + "/"


def run_url(bucket: str, notebook: str, run_id: str, file: str) -> str:
    """Where one file of a run is stored (file: OUTPUT_FILE or RECORD_FILE)."""
    return join(bucket, RUNS_DIR, notebook, run_id, file)


def review_path(notebook: str, run_id: str, cell: int | None = None) -> str:
    """The `kit review` page of a run (URL path, names quoted); with a cell number, the
    executed notebook's page at that cell (`/runs/<notebook>/<run-id>/notebook#cell-N`)."""
    path = f"/{RUNS_DIR}/{quote(notebook, safe='')}/{quote(run_id, safe='')}"
    return path if cell is None else f"{path}/notebook#cell-{cell}"


def split_run_url(bucket: str, url: str) -> tuple[str, str, str] | None:
    """(notebook, run_id, file) of a run's output or record URL; None for anything else."""
    root = runs_prefix(bucket)
    if not url.startswith(root):
        return None
    parts = url[len(root) :].split("/")
    if len(parts) != 3 or parts[2] not in (OUTPUT_FILE, RECORD_FILE) or not all(parts[:2]):
        return None  # e.g. files the notebook wrote under its output prefix
    return parts[0], parts[1], parts[2]


# -- statuses ------------------------------------------------------------------------------
SUCCEEDED, FAILED, KILLED, TIMED_OUT = "succeeded", "failed", "killed", "timed_out"
FINAL_STATUSES = (SUCCEEDED, FAILED, KILLED, TIMED_OUT)  # what run.json can say
RUNNING = "running"  # an output notebook, no record, and its deadline has not passed
LOST = "lost"  # an output notebook, no record, and its deadline has passed
INVALID = "invalid"  # a run.json that cannot be read: shown, never hidden
STATUSES = (*FINAL_STATUSES, RUNNING, LOST, INVALID)
EXIT_CODES = {SUCCEEDED: 0, FAILED: 1, TIMED_OUT: 124, KILLED: 143}  # of `kit run`
# Who wrote a record: `kit run` itself, or the DAGs' finisher for a pod that could not.
RUNNER, FINISHER = "runner", "finisher"


# The Airflow context a pod is given as variables (AIRFLOW_CTX_*): the record's `airflow`.
AIRFLOW_VARS = {
    "dag_id": "AIRFLOW_CTX_DAG_ID",
    "run_id": "AIRFLOW_CTX_DAG_RUN_ID",
    "task_id": "AIRFLOW_CTX_TASK_ID",
    "try_number": "AIRFLOW_CTX_TRY_NUMBER",
    "map_index": "AIRFLOW_CTX_MAP_INDEX",
}


def airflow_context(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The record's `airflow` object from a pod's variables; None outside Airflow."""
    found: dict[str, Any] = {key: environ.get(var) for key, var in AIRFLOW_VARS.items()}
    if not any(found.values()):
        return None
    for key in ("try_number", "map_index"):
        value = found[key]
        if isinstance(value, str) and value.lstrip("-").isdigit():
            found[key] = int(value)
    return found


# -- time ----------------------------------------------------------------------------------
def iso(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and a Z: how every record writes time (naive = UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp ("...Z" included) as an aware datetime, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- running or lost -----------------------------------------------------------------------
# Object metadata of every save of output.ipynb: the version that runs, when the run started
# and when it must have ended (start + timeout + grace). Listings return it, so no notebook
# is downloaded.
VERSION_META = "kit-version"
STARTED_META = "kit-started-at"
DEADLINE_META = "kit-deadline"
# A run with no deadline (no --timeout, or a kit that wrote none) counts as lost once its
# output has not been saved for this long.
SILENCE = timedelta(hours=24)


def output_metadata(
    started: datetime, timeout: float | None, grace: float, version: str | None = None
) -> dict[str, str]:
    """The object metadata the runner stores with each save of the output notebook."""
    meta = {STARTED_META: iso(started)}
    if version:
        meta[VERSION_META] = version
    if timeout is not None:
        meta[DEADLINE_META] = iso(started + timedelta(seconds=timeout + grace))
    return meta


def pending_status(
    metadata: Mapping[str, str] | None, updated: datetime | None, now: datetime
) -> tuple[str, str | None]:
    """RUNNING or LOST, with the reason, for a run that has an output notebook but no record."""
    deadline = parse_time((metadata or {}).get(DEADLINE_META))
    if deadline is not None:
        if now <= deadline:
            return RUNNING, None
        return LOST, f"no {RECORD_FILE} by its deadline {iso(deadline)}: {_GONE}"
    if updated is None or now - updated <= SILENCE:
        return RUNNING, None
    hours = SILENCE.total_seconds() / 3600
    return LOST, f"no {RECORD_FILE} and no save for {hours:g} h: {_GONE}"


_GONE = "the run ended without recording how (its pod was deleted, evicted or OOM-killed?)"

# -- cells ---------------------------------------------------------------------------------
# Tags papermill gives the cells it adds to an executed notebook: not source cells.
PAPERMILL_TAGS = frozenset({"injected-parameters", "papermill-error-cell-tag"})
CELL_META = "kit"  # cell metadata kit adds while running: {"peak_rss_bytes": n}


def number(index: int) -> int:
    """The 1-based number JupyterLab shows for the source cell at 0-based `index`."""
    return index + 1


def label(index: int, execution_count: int | None = None) -> str:
    """`cell N` (1-based), with `In [k]` when the cell ran: "cell 3, In [2]"."""
    text = f"cell {number(index)}"
    return f"{text}, In [{execution_count}]" if isinstance(execution_count, int) else text


def is_added(cell: Mapping[str, Any]) -> bool:
    """Whether papermill added this cell to the executed notebook (not a source cell)."""
    tags = cell.get("metadata", {}).get("tags") or ()
    return any(tag in PAPERMILL_TAGS for tag in tags)


def source_index(cells: Sequence[Mapping[str, Any]], executed_index: int) -> int | None:
    """The source position of the executed notebook's cell `executed_index`.

    None when that cell is one papermill added, or the index is out of range.
    """
    if not 0 <= executed_index < len(cells) or is_added(cells[executed_index]):
        return None
    return sum(1 for cell in cells[:executed_index] if not is_added(cell))


def executed_index(cells: Sequence[Mapping[str, Any]], cell_number: int) -> int | None:
    """Where source cell `cell_number` (1-based) is in an executed notebook; None if absent."""
    seen = 0
    for index, cell in enumerate(cells):
        if not is_added(cell):
            seen += 1
            if seen == cell_number:
                return index
    return None


def source_text(cell: Mapping[str, Any]) -> str:
    """A cell's source as one string (nbformat allows a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def first_line(cell: Mapping[str, Any], width: int = 80) -> str:
    """The first non-blank line of a cell's source, shortened to width."""
    line = next((ln.strip() for ln in source_text(cell).splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def _papermill(cell: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = cell.get("metadata", {}).get("papermill")
    return meta if isinstance(meta, Mapping) else {}


def stopped_cell(cells: Sequence[Mapping[str, Any]], completed: bool) -> int | None:
    """The executed index of the cell a run stopped at, or None when it ran every cell.

    The one definition of "which cell failed", for records, reviews and the finisher:
    the cell papermill flagged with an exception (an error, `sys.exit`, or an IPython
    UsageError that has no error output); otherwise, for a run that did not complete,
    the last code cell papermill started (the one that was running when it ended).
    """
    for index, cell in enumerate(cells):
        if not is_added(cell) and _papermill(cell).get("exception") is True:
            return index
    if completed:
        return None
    started = [
        i
        for i, cell in enumerate(cells)
        if cell.get("cell_type") == "code" and not is_added(cell)
        if _papermill(cell).get("start_time")
    ]
    return started[-1] if started else None


def not_run(cells: Sequence[Mapping[str, Any]], after: int) -> int:
    """How many source code cells after executed index `after` never started."""
    return sum(
        1
        for cell in cells[after + 1 :]
        if cell.get("cell_type") == "code"
        and not is_added(cell)
        and not _papermill(cell).get("start_time")
    )


def cell_ref(cells: Sequence[Mapping[str, Any]], index: int) -> dict[str, Any]:
    """How a record names the executed notebook's cell `index`: number, In [k], first line."""
    cell = cells[index]
    at = source_index(cells, index)
    count = cell.get("execution_count")
    return {
        "cell": None if at is None else number(at),
        "execution_count": count if isinstance(count, int) else None,
        "source": first_line(cell),
    }


def cell_timings(cells: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each source code cell that started: its reference, duration, kernel peak RSS, status."""
    found = []
    for index, cell in enumerate(cells):
        meta = _papermill(cell)
        if cell.get("cell_type") != "code" or is_added(cell) or not meta.get("start_time"):
            continue
        kit_meta = cell.get("metadata", {}).get(CELL_META) or {}
        duration, peak = _number(meta.get("duration")), _number(kit_meta.get("peak_rss_bytes"))
        found.append(
            {
                **cell_ref(cells, index),
                "duration_seconds": None if duration is None else round(duration, 3),
                "peak_rss_bytes": None if peak is None else int(peak),
                "status": "failed" if meta.get("exception") is True else meta.get("status"),
            }
        )
    return found


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# -- reading -------------------------------------------------------------------------------
def upgrade(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A record in the current shape: schema-1 fields mapped, missing ones defaulted.

    Raises ValueError for a schema this contract cannot read (a newer kit wrote it).
    """
    version = raw.get("schema")
    if version not in READABLE or isinstance(version, bool):
        raise ValueError(
            f"schema {version!r} is not one this kit reads ({', '.join(map(str, READABLE))})"
        )
    record = dict(raw)
    if version == LEGACY_SCHEMA:
        # Schema 1 recorded only the parameters given, and the failing cell as an index
        # into the executed notebook (kept as error.cell_index; `stopped_at` is unknown).
        params = record.get("parameters")
        record.setdefault("overridden", sorted(params) if isinstance(params, Mapping) else [])
    for key, default in _DEFAULTS.items():
        record.setdefault(key, default() if callable(default) else default)
    return record


_DEFAULTS: dict[str, Any] = {
    "reason": None,
    "parameters": dict,
    "overridden": list,
    "error": None,
    "stopped_at": None,
    "cells_not_run": 0,
    "cells": list,
    "peak_rss_bytes": None,
    "metrics": dict,
    "written_by": RUNNER,
}


# -- the index: runs newest first, one request per page ------------------------------------
# GCS lists names in lexicographic order and run ids do not sort by time, so each run also
# has two small entries whose names start with its start time inverted (newest first):
# index/runs/<key> and index/notebooks/<notebook>/<key>, key = <17-digit inverted start in
# microseconds>~<notebook>~<run-id>. Both carry the run's summary as object metadata. The
# runner creates them (summary "running") before it claims the output, and updates them
# after writing run.json; the finisher, having written a record for a dead pod, updates
# them the same way (`write_index`). `index/format.json` says the index is complete: a
# bucket without it (runs written by kit 0.1, say) is listed from runs/ instead, until
# `kit runs reindex` indexes it.
INDEX_DIR = "index"
INDEX_FORMAT = 1
SUMMARY_META = "kit-summary"  # the object metadata key of the summary (JSON)
KEY_SEP = "~"  # never in a notebook name or a run id
SUMMARY_LIMIT = 4096  # bytes; GCS allows 8 KiB of custom metadata per object
_KEY_SPAN = 10**17  # microseconds: inverted keys keep 17 digits until the year 5138
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def index_key(when: datetime | None, notebook: str, run_id: str) -> str:
    """A run's index key: its start time inverted (newest sorts first), notebook, run id."""
    micros = 0 if when is None else (_aware(when) - _EPOCH) // timedelta(microseconds=1)
    return f"{_KEY_SPAN - 1 - max(micros, 0):017d}{KEY_SEP}{notebook}{KEY_SEP}{run_id}"


def key_time(key: str) -> datetime | None:
    """The start time an index key encodes (None for a key of a run without one)."""
    try:
        micros = _KEY_SPAN - 1 - int(key.split(KEY_SEP, 1)[0])
    except ValueError:
        return None
    return _EPOCH + timedelta(microseconds=micros) if micros > 0 else None


def index_prefix(bucket: str, notebook: str = "") -> str:
    """index/runs/ (every run), or index/notebooks/<notebook>/ (one notebook's runs)."""
    if notebook:
        return join(bucket, INDEX_DIR, "notebooks", notebook) + "/"
    return join(bucket, INDEX_DIR, "runs") + "/"


def index_urls(bucket: str, notebook: str, run_id: str, started: datetime | None) -> list[str]:
    """The URLs of a run's two index entries: in index/runs/ and in its notebook's folder."""
    key = index_key(started, notebook, run_id)
    return [index_prefix(bucket) + key, index_prefix(bucket, notebook) + key]


def names_prefix(bucket: str) -> str:
    """index/names/: one empty object per notebook that has runs."""
    return join(bucket, INDEX_DIR, "names") + "/"


def format_url(bucket: str) -> str:
    """index/format.json: written once every run in the bucket has its index entries."""
    return join(bucket, INDEX_DIR, "format.json")


def format_body(written_by: str, now: datetime) -> bytes:
    """The body of index/format.json."""
    return json.dumps({"format": INDEX_FORMAT, "written_by": written_by, "at": iso(now)}).encode()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def summary(record: Mapping[str, Any]) -> dict[str, str]:
    """The object metadata that summarises a record (or a running run's stand-in record).

    What a listing shows: status, version, times, reason, parameters, scalar metrics and,
    for a run without record, its deadline. Kept under SUMMARY_LIMIT bytes: what does not
    fit is left out and "partial" is set, so a reader knows to read run.json for it.
    """
    metrics = record.get("metrics") if isinstance(record.get("metrics"), Mapping) else {}
    body: dict[str, Any] = {
        "schema": SCHEMA,
        "notebook": record.get("notebook"),
        "run_id": record.get("run_id"),
        "status": record.get("status"),
        "version": record.get("version"),
        "started_at": record.get("started_at"),
        "finished_at": record.get("finished_at"),
        "duration_seconds": record.get("duration_seconds"),
        "reason": record.get("reason"),
        "written_by": record.get("written_by"),
        "deadline": record.get("deadline"),
        "peak_rss_bytes": record.get("peak_rss_bytes"),
        "overridden": list(record.get("overridden") or []),
        "parameters": dict(record.get("parameters") or {}),
        "metrics": {k: v for k, v in (metrics or {}).items() if _scalar(v)},
    }
    body = {k: v for k, v in body.items() if v is not None}
    for cut in ("parameters", "metrics", "overridden", "reason"):
        text = json.dumps(body, separators=(",", ":"), default=str)
        if len(text) <= SUMMARY_LIMIT:
            break
        body.pop(cut, None)
        body["partial"] = True
    return {SUMMARY_META: json.dumps(body, separators=(",", ":"), default=str)}


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def pending_record(
    *,
    notebook: str,
    run_id: str,
    version: str | None,
    started: datetime,
    metadata: Mapping[str, str],
    parameters: Mapping[str, Any],
    overridden: Iterable[str],
) -> dict[str, Any]:
    """The stand-in record a run's index entries summarise until it has run.json."""
    return {
        "schema": SCHEMA,
        "notebook": notebook,
        "run_id": run_id,
        "status": RUNNING,
        "version": version,
        "started_at": iso(started),
        "deadline": metadata.get(DEADLINE_META),
        "parameters": dict(parameters),
        "overridden": sorted(overridden),
    }


def read_summary(metadata: Mapping[str, str] | None) -> dict[str, Any] | None:
    """The summary stored with an object, or None when it has none this kit can read."""
    text = (metadata or {}).get(SUMMARY_META)
    if not text:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    ok = isinstance(found, dict) and found.get("schema") in READABLE and found.get("status")
    return found if ok and isinstance(found.get("run_id"), str) else None


def is_final(found: Mapping[str, Any] | None) -> bool:
    """Whether a summary is of a run that has its record."""
    return bool(found) and (found or {}).get("status") in FINAL_STATUSES


@dataclass(frozen=True)
class Stored:
    """What `IndexStore.stat` knows of an object: its generation and metadata."""

    generation: int
    metadata: Mapping[str, str]


class IndexStore(Protocol):
    """The two calls `write_index` needs, over any client (kit's storage, Airflow's hook)."""

    def stat(self, url: str) -> Stored | None:
        """The object's generation and metadata; None when there is no object."""
        ...

    def put(
        self, url: str, data: bytes, metadata: Mapping[str, str], generation: int
    ) -> int | None:
        """Write if the object's generation is `generation` (0: absent): the new generation,
        or None when the precondition failed."""
        ...


def write_index(
    store: IndexStore,
    urls: Iterable[str],
    metadata: Mapping[str, str],
    known: Mapping[str, int] | None = None,
    attempts: int = 8,
) -> dict[str, int]:
    """Create or update a run's index entries, with generation preconditions.

    known: the generations the caller itself wrote (the runner's own entries), tried
    first. A final summary replaces a running one; a running one never replaces a final
    one; concurrent writers (runner, finisher, reindex) retry on a precondition failure,
    so no entry is lost. Returns each entry's generation as written or found. Raises
    RuntimeError after `attempts` failed preconditions in a row.
    """
    final = is_final(read_summary(metadata))
    body = metadata.get(SUMMARY_META, "").encode()
    seen: dict[str, int] = {}
    for url in urls:
        generation = (known or {}).get(url)
        for _ in range(attempts):
            if generation is None:
                current = store.stat(url)
                if current is not None and (
                    dict(current.metadata) == dict(metadata)
                    or (not final and is_final(read_summary(current.metadata)))
                ):
                    seen[url] = current.generation
                    break
                generation = 0 if current is None else current.generation
            written = store.put(url, body, metadata, generation)
            if written is not None:
                seen[url] = written
                break
            generation = None  # someone else wrote it: look again
        else:
            raise RuntimeError(f"{url}: still changing after {attempts} attempts")
    return seen
