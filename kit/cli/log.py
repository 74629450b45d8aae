"""kit's log on stderr, configured by the CLI entry only (libraries never configure logging).

Every module logs to its own `kit.*` logger; nothing is shown below the level the settings
ask for (KIT_LOG_LEVEL, default WARNING; `kit -v` is DEBUG). The lines are text, or one
JSON object each with Cloud Logging's `severity` when KIT_LOG_FORMAT is json. papermill's
logger (which nbclient logs through) repeats what kit reports about cells and how a run
ended, so its INFO and above are shown at DEBUG only (nbclient's DEBUG is every kernel
message); google-api-core's retry logger says when a storage call is retried (DEBUG).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

# Other libraries' loggers shown when kit's level is DEBUG, and from which level.
SHOWN_AT_DEBUG = {"papermill": logging.INFO, "google.api_core.retry": logging.DEBUG}
TEXT_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    """One JSON object per record, with the fields Cloud Logging reads from a container."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str, log_format: str, stream: TextIO | None = None) -> Callable[[], None]:
    """Send kit's records at level and above to stream (stderr); returns the undo."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, datefmt="%H:%M:%S"))
    numeric = logging.getLevelName(level)
    loggers = {"kit": numeric}
    for name, threshold in SHOWN_AT_DEBUG.items():
        loggers[name] = threshold if numeric <= logging.DEBUG else logging.CRITICAL + 1
    saved = []
    for name, threshold in loggers.items():
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.setLevel(threshold)
        logger.propagate = False  # only this handler: the root logger's are not kit's
        logger.addHandler(handler)

    def undo() -> None:
        for logger, previous, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(previous)
            logger.propagate = propagate

    return undo
