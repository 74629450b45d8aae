"""Move a notebook's `latest.json` pointer by compare-and-swap on its generation.

Each attempt reads the pointer and its generation (0 when it does not exist yet)
and writes the new pointer only if that generation is still current; a
concurrent writer makes the write fail with a 412, and tenacity re-runs the attempt
after a jittered, growing pause (full jitter). So no move is lost, and since the
pointer is written only after the version's notebook and manifest exist, it
never names a missing object.

Modes:
- "publish" (a new version): forward only. Version ids start with their UTC
  second, so when `latest` names a version from a later second it stays; within
  the same second the last writer wins (both orders are valid histories).
- "existing" (re-publishing content already published): only when `latest` is
  missing or names a version from an earlier second, so re-publishing old content
  never moves the pointer back, but does repair a publish interrupted before its move.
- "rollback": to any published version.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from kit.catalog import Catalog, published_second
from kit.errors import NotFoundError, PreconditionFailedError, StorageError

ATTEMPT_DEADLINE = 120.0  # seconds of contention before giving up
_FIRST_PAUSE, _MAX_PAUSE = 0.05, 2.0
log = logging.getLogger(__name__)

Mode = Literal["publish", "existing", "rollback"]


@dataclass(frozen=True)
class Moved:
    """The outcome of a pointer move."""

    latest: str  # what the pointer names now
    previous: str | None  # what it named before (None: it did not exist)
    moved: bool  # False when it already named a version at least as new


def current(catalog: Catalog, name: str) -> tuple[str | None, int]:
    """The version the pointer names (None when absent) and its generation (0 when absent)."""
    url = catalog.latest_url(name)
    try:
        data, info = catalog.storage.read_info(url)
    except NotFoundError:
        return None, 0
    try:
        return str(json.loads(data)["version"]), info.generation
    except (ValueError, KeyError, TypeError):
        return None, info.generation  # malformed: any move repairs it


def _body(catalog: Catalog, name: str, version: str) -> bytes:
    moved_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = catalog.manifest(name, version)
    body = {
        "version": version,
        "url": catalog.notebook_url(name, version, manifest.kind),
        "published_at": manifest.published_at,
        "moved_at": moved_at,
    }
    return json.dumps(body, indent=2, sort_keys=True).encode()


def _keep(previous: str, version: str, mode: Mode) -> bool:
    """Whether the pointer should stay on previous rather than move to version."""
    if previous == version:
        return True
    if mode == "publish":
        return published_second(previous) > published_second(version)
    if mode == "existing":
        return published_second(previous) >= published_second(version)
    return False


def move(
    catalog: Catalog,
    name: str,
    version: str,
    *,
    mode: Mode,
    deadline: float = ATTEMPT_DEADLINE,
) -> Moved:
    """Point `latest` of name at version with a generation-checked write, retrying on 412."""
    import tenacity  # only the commands that move a pointer pay for its import

    body = _body(catalog, name, version)
    url = catalog.latest_url(name)
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(PreconditionFailedError),
        wait=tenacity.wait_random_exponential(multiplier=_FIRST_PAUSE, max=_MAX_PAUSE),
        stop=tenacity.stop_after_delay(deadline),
        before_sleep=tenacity.before_sleep_log(log, logging.DEBUG),
        reraise=True,
    )
    try:
        moved: Moved = retrying(_attempt, catalog, name, version, mode, url, body)
    except PreconditionFailedError as exc:
        raise StorageError(
            f"{url}: gave up moving the pointer to {version} after {deadline:.0f}s "
            "of concurrent updates; retry with `kit rollback`"
        ) from exc
    return moved


def _attempt(catalog: Catalog, name: str, version: str, mode: Mode, url: str, body: bytes) -> Moved:
    """One compare-and-swap; PreconditionFailedError when someone moved the pointer meanwhile."""
    previous, generation = current(catalog, name)
    if previous is not None and _keep(previous, version, mode):
        return Moved(latest=previous, previous=previous, moved=False)
    catalog.storage.write(
        url, body, if_generation_match=generation, content_type="application/json"
    )
    log.info("%s: latest -> %s (was %s)", name, version, previous)
    return Moved(latest=version, previous=previous, moved=True)
