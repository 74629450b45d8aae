"""A run's index entries (kit.run_contract): listings find a run from its start, newest first.

The entries are created before the output is claimed, so a run whose runner is killed
later still lists (as running, then lost), and updated once run.json is written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kit import run_contract as contract
from kit.errors import KitError, NotFoundError
from kit.storage import Storage
from kit.storage.index import StorageIndex, register_name

log = logging.getLogger("kit")


class RunIndex:
    """The two index entries of one run, written with generation preconditions."""

    def __init__(
        self, storage: Storage, bucket: str, notebook: str, run_id: str, started: datetime
    ) -> None:
        self.storage = storage
        self.bucket = bucket
        self.notebook = notebook
        self.urls = contract.index_urls(bucket, notebook, run_id, started)
        self._known: dict[str, int] = {}
        self._side: threading.Thread | None = None

    def open(self, pending: Mapping[str, Any]) -> None:
        """Create the entries (status running); register the notebook's name meanwhile."""
        self._side = threading.Thread(target=self._register, name="kit-index", daemon=True)
        self._side.start()
        fresh = dict.fromkeys(self.urls, 0)  # ours alone: the key holds our start time
        self._known = contract.write_index(
            StorageIndex(self.storage), self.urls, contract.summary(pending), known=fresh
        )

    def discard(self) -> None:
        """Remove the entries again (the output could not be claimed)."""
        for url in self.urls:
            try:
                self.storage.delete(url)
            except NotFoundError:
                pass
            except KitError as exc:
                log.warning("kit: could not remove index entry %s: %s", url, exc)

    def close(self, record: Mapping[str, Any]) -> None:
        """Point the entries at the final record; a failure only costs listing speed."""
        if self._side is not None:
            self._side.join(10)
        try:
            contract.write_index(
                StorageIndex(self.storage), self.urls, contract.summary(record), self._known
            )
        except (KitError, RuntimeError) as exc:
            log.warning(
                "kit: the run's index entries still say running (%s); listings check run.json "
                "for such runs, and `kit runs reindex` rewrites them",
                exc,
            )

    def _register(self) -> None:
        try:
            register_name(self.storage, self.bucket, self.notebook)
        except KitError as exc:
            log.debug("kit: could not register notebook %s in the index: %s", self.notebook, exc)
