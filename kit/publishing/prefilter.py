"""Which lines of a cell detect-secrets needs to see: those where one of its patterns matches.

detect-secrets checks every line with every plugin in Python, about 3 s per MB of source:
a 20 MB data cell took a minute to publish. Yet its plugins find secrets only where their
own regular expressions match a line (RegexBasedDetector.denylist; KeywordDetector's
keyword patterns), and nearly every line of a big cell is data that no pattern matches.
So, before detect-secrets runs:

1. From each pattern, sets of strings are derived such that every match contains a
   string of each set ("AKIA", "xox", "password", ...), by walking the pattern's parse
   tree (the standard library's own regular-expression parser).
2. A pattern some of whose strings use characters the cell does not hold at all is
   skipped (one pass over the cell's bytes tells which characters it holds); for the
   others, the lines holding one of the strings are found with `str.find`, at C speed.
3. Those lines are checked with the pattern itself, line by line, as detect-secrets
   matches them (the line without trailing white space).
4. detect-secrets then scans the lines some pattern matched, with the line before each
   (its `allowlist nextline` pragma), and judges them exactly as it always does.

Soundness: a line no pattern of any plugin can match yields no finding from detect-secrets,
so it is never shown to it. Anything this module cannot analyse (a plugin of another kind,
a pattern without a required string, the parser missing) means "check every line of the
cell with that pattern", never "skip". tests/publishing checks the strings derived for
the pinned detect-secrets and that filtered scans find what unfiltered ones do.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_MAX_CLASS = 3  # a character class of at most this many characters counts as required
_SHORT = 3  # needles shorter than this are common: the rarest requirement is looked for


@dataclass(frozen=True)
class Pattern:
    """A plugin's regular expression and what every match of it contains: a string of
    each set in `needs` (empty: nothing known, so every line is checked with it)."""

    regex: re.Pattern[str]
    needs: tuple[frozenset[str], ...]
    ignorecase: bool


def required(regex: re.Pattern[str]) -> Pattern:
    """The pattern with the sets of strings its matches contain one of, each."""
    try:  # the standard library's own parser (private: tests pin what it yields)
        _parser = importlib.import_module("re._parser")
        _constants = importlib.import_module("re._constants")
    except ImportError:  # pragma: no cover - a Python without it: check every line
        return Pattern(regex, (), False)
    try:
        tree = _parser.parse(regex.pattern, regex.flags)
    except Exception:  # pragma: no cover - compiled already, so it parses
        return Pattern(regex, (), False)
    ignorecase = bool(tree.state.flags & re.IGNORECASE)
    needs = _options(list(tree), _constants)
    if ignorecase:
        needs = [frozenset(s.lower() for s in found) for found in needs]
    return Pattern(regex, tuple(dict.fromkeys(needs)), ignorecase)


def _sequence(items: list[tuple[Any, Any]], c: Any) -> frozenset[str] | None:
    """The best required set of a sequence: a run of literal characters, or one item's."""
    options = _options(items, c)
    if not options:
        return None
    return max(options, key=lambda s: (min(map(len, s)), -len(s)))


def _options(items: list[tuple[Any, Any]], c: Any) -> list[frozenset[str]]:
    """Every required set of a sequence: runs of literal characters, and its items'."""
    options: list[frozenset[str]] = []
    run = ""
    for op, arg in items:
        if op is c.LITERAL:
            run += chr(arg)
            continue
        if run:
            options.append(frozenset({run}))
            run = ""
        if (found := _item(op, arg, c)) is not None:
            options.append(found)
    if run:
        options.append(frozenset({run}))
    return options


def _item(op: Any, arg: Any, c: Any) -> frozenset[str] | None:
    if op is c.SUBPATTERN:
        _group, add, remove, body = arg
        if (add | remove) & re.IGNORECASE:
            return None  # a scoped case rule: not worth following
        return _sequence(list(body), c)
    if op is c.ATOMIC_GROUP:
        return _sequence(list(arg), c)
    if op is c.BRANCH:
        every: set[str] = set()
        for alternative in arg[1]:
            found = _sequence(list(alternative), c)
            if found is None:
                return None
            every |= found
        return frozenset(every)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
        low, _high, body = arg
        return _sequence(list(body), c) if low >= 1 else None
    if op is c.IN and len(arg) <= _MAX_CLASS and all(o is c.LITERAL for o, _ in arg):
        return frozenset(chr(a) for _, a in arg)
    return None  # any character, classes, anchors, look-arounds, back-references


def matched_lines(
    text: str, patterns: Iterable[Pattern], lines: list[str] | None = None
) -> set[int]:
    """0-based numbers of the lines ("\\n"-separated) where some pattern matches.

    lines: text.split("\\n"), when the caller has it already.
    """
    lines = text.split("\n") if lines is None else lines
    ascii_only = text.isascii()
    present = _bytes_present(text)
    lowered: str | None = None
    unusual: set[int] | None = None  # non-ASCII lines: case rules beyond ASCII apply
    hits: set[int] = set()
    for pattern in patterns:
        todo: Iterable[int] = range(len(lines))
        if pattern.needs:
            ci = pattern.ignorecase
            needs = [
                {n for n in s if _possible(n, present, ci and ascii_only)} for s in pattern.needs
            ]
            if ci and not ascii_only:
                needs = [set(s) for s in pattern.needs]  # any case folding may apply
            if not all(needs):
                continue  # some string every match contains cannot be in this cell
            haystack = text
            if ci:
                lowered = lowered if lowered is not None else _lower(text, ascii_only)
                haystack = lowered
            best = max(needs, key=lambda s: (min(map(len, s)), -len(s)))
            if min(map(len, best)) < _SHORT and len(needs) > 1:
                best = min(needs, key=lambda s: sum(_count(haystack, n) for n in s))
            found = set(_lines_with(haystack, best))
            if ci and not ascii_only:
                if unusual is None:
                    unusual = {i for i, line in enumerate(lines) if not line.isascii()}
                found |= unusual
            todo = found - hits
        search = pattern.regex.search
        hits.update(i for i in todo if search(lines[i].rstrip()))
    return hits


def _count(haystack: str, needle: str, cap: int = 1000) -> int:
    """How often needle occurs, counting no further than cap (enough to rank it)."""
    found, at = 0, haystack.find(needle)
    while at >= 0 and found < cap:
        found += 1
        at = haystack.find(needle, at + 1)
    return found


def _bytes_present(text: str) -> frozenset[int]:
    """The bytes the text's UTF-8 holds: one C pass (what a first block does not show is
    what is left after deleting what it does)."""
    data = text.encode("utf-8", "surrogatepass")
    head = set(data[:65536])
    return frozenset(head | set(data.translate(None, bytes(head))))


def _possible(needle: str, present: frozenset[int], ascii_case: bool) -> bool:
    """Whether every character of needle occurs in the text (either case, if ascii_case)."""
    for char in needle:
        forms = {char, char.upper()} if ascii_case else {char}
        if not any(
            all(b in present for b in form.encode("utf-8", "surrogatepass")) for form in forms
        ):
            return False
    return True


def _lower(text: str, ascii_only: bool) -> str:
    """ASCII letters lowered, every offset kept."""
    return text.lower() if ascii_only else text.translate(_ASCII_LOWER)


def _lines_with(haystack: str, needles: Iterable[str]) -> Iterator[int]:
    """The 0-based lines holding one of the needles (each line once per needle)."""
    for needle in needles:
        line, counted = 0, 0  # lines are counted up to `counted` as the search moves on
        at = haystack.find(needle)
        while at >= 0:
            line += haystack.count("\n", counted, at)
            yield line
            end = haystack.find("\n", at)
            if end < 0:
                break
            counted, line = end + 1, line + 1
            at = haystack.find(needle, counted)
