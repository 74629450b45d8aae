"""A local cache of run.json contents, keyed by URL and generation, shared by CLI invocations.

A run record is written once, last, under a run id that is never reused, and any rewrite
changes its generation: an entry whose generation matches the listing is exactly what the
bucket holds, so `kit runs` only downloads records it has not seen. The cache lives in
$XDG_CACHE_HOME/kit/runs (default ~/.cache/kit/runs), one file per outputs bucket; any
problem with it (unwritable, corrupt) just means reading from the bucket again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

FORMAT = 1


def default_dir() -> Path:
    """$XDG_CACHE_HOME/kit/runs, else ~/.cache/kit/runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kit" / "runs"


class RecordCache:
    """run.json bytes by URL, valid for one generation; persisted on `save()`."""

    def __init__(self, directory: Path, bucket: str) -> None:
        digest = hashlib.sha256(bucket.encode()).hexdigest()[:16]
        self.path = directory / f"{digest}.json"
        self.bucket = bucket
        self._entries: dict[str, tuple[int, str]] = {}
        self._dirty = False
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if raw.get("format") != FORMAT or raw.get("bucket") != self.bucket:
                return
            self._entries = {
                url: (int(gen), str(text)) for url, (gen, text) in raw["records"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self._entries = {}

    def get(self, url: str, generation: int) -> bytes | None:
        """The cached bytes of exactly this generation, else None."""
        with self._lock:
            entry = self._entries.get(url)
        if entry is None or entry[0] != generation:
            return None
        return entry[1].encode()

    def put(self, url: str, generation: int, data: bytes) -> None:
        """Remember one record (only valid UTF-8 text is kept)."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return
        with self._lock:
            self._entries[url] = (generation, text)
            self._dirty = True

    def forget_missing(self, prefix: str, present: Iterable[str]) -> None:
        """Drop entries under prefix that the latest listing no longer shows."""
        keep = set(present)
        with self._lock:
            gone = [u for u in self._entries if u.startswith(prefix) and u not in keep]
            for url in gone:
                del self._entries[url]
            self._dirty = self._dirty or bool(gone)

    def save(self) -> None:
        """Write the cache atomically if it changed; errors are ignored (it is only a cache)."""
        with self._lock:
            if not self._dirty:
                return
            body = json.dumps(
                {"format": FORMAT, "bucket": self.bucket, "records": self._entries},
                separators=(",", ":"),
            )
            self._dirty = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".records-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
            os.replace(tmp, self.path)
        except OSError:
            pass
