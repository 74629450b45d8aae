"""The one exception family kit raises on purpose.

The CLI turns a KitError into its message on one line and its exit code;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class KitError(Exception):
    """An error a user can act on: the message names the file, notebook or URL."""

    exit_code: int = 1

    def _render_traceback_(self) -> list[str]:
        """How IPython shows it in a notebook: one red line, without kit's own frames.

        IPython calls this instead of formatting the traceback (a public protocol of
        IPython's InteractiveShell.showtraceback); the exception still stops the cell, so
        "Run All" stops there too. Scripts and `%debug` see the ordinary traceback.
        """
        return [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self}"]


class UsageError(KitError):
    """Bad input: a malformed notebook, parameter, name or setting."""

    exit_code = 2


class ConfigError(UsageError):
    """A setting that is missing, malformed or unknown."""


class StorageError(KitError):
    """Storage could not be reached or refused the request."""


class NotFoundError(StorageError):
    """An object, bucket, notebook or run that does not exist."""

    exit_code = 2


class PreconditionFailedError(StorageError):
    """A generation precondition failed: someone else wrote first (HTTP 412)."""


def did_you_mean(word: str, choices: Iterable[str], n: int = 3) -> str:
    """`; did you mean a, b?` naming the closest choices, or "" (the one hint in messages).

    Choices that start with `word` come first (`r3` -> `r3-bad-holdout`, however long
    the rest), then those difflib finds close (`faild` -> `failed`); each group closest
    first, as difflib ranks them.
    """
    import difflib

    options = list(dict.fromkeys(choices))

    def closeness(choice: str) -> tuple[float, str]:
        return difflib.SequenceMatcher(None, word, choice).ratio(), choice

    folded = word.casefold()
    started = [c for c in options if folded and c != word and c.casefold().startswith(folded)]
    close = difflib.get_close_matches(word, options, n=n, cutoff=0.5)
    ranked = sorted(started, key=closeness, reverse=True)
    picked = list(dict.fromkeys([*ranked, *close]))[:n]
    return f"; did you mean {', '.join(picked)}?" if picked else ""
