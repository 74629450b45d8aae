"""Refuse notebooks and Python files that hold credentials, with detect-secrets.

Plugins are chosen for precision, because a refusal blocks publishing:

- detect-secrets' format-specific detectors (private keys, AWS, GitHub, GitLab,
  Slack, Stripe, OpenAI, PyPI, npm, JWTs, basic-auth URLs, Azure, Twilio, ...),
  and KeywordDetector, which in a `.py` file flags only quoted literals assigned to
  names like `password`, `secret`, `token` or `api_key` (not `os.environ[...]`);
- plus three Google formats detect-secrets lacks: API keys (`AIza...`), OAuth
  access tokens (`ya29....`) and service-account key ids (`"private_key_id"`).
  Service-account JSON keys are also caught by PrivateKeyDetector.

Left out on purpose: the high-entropy string plugins (Base64/Hex), which flag
sha256 digests, version ids like `20261123T101500Z-0123456789ab` and encoded
data; and IPPublicDetector, which flags addresses in data URLs. detect-secrets'
default filters stay on, so a line ending in `# pragma: allowlist secret`
(or following `# pragma: allowlist nextline secret`) is accepted.

Big code cells (data pasted into a notebook) are scanned only where some plugin's pattern
matches a line (kit.publishing.prefilter): detect-secrets judges those lines as always,
and never sees the lines it would have passed anyway. Markdown and raw cells, which
detect-secrets may also read as INI files, are scanned whole.
"""

from __future__ import annotations

import functools
import io
import re
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.cells import label
from kit.errors import UsageError
from kit.publishing.prefilter import Pattern, matched_lines, required

EXCLUDED_PLUGINS = frozenset(
    {"Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector"}
)

_GOOGLE = {
    "Google API Key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "Google OAuth Access Token": re.compile(r"\bya29\.[0-9A-Za-z_-]{20,}"),
    "Google Service Account Key Id": re.compile(
        r"[\"']private_key_id[\"']\s*:\s*[\"'][0-9a-f]{40}"
    ),
}
_ALLOW = re.compile(r"pragma:\s*allowlist[ -]secret")
_ALLOW_NEXT = re.compile(r"pragma:\s*allowlist[ -]nextline[ -]secret")
_SUFFIX = {"code": ".py", "markdown": ".md"}
_FILTERED = "code"  # the cell type whose lines are prefiltered (see the module docstring)
_PREFILTER_FROM = 200  # lines: below this, scanning every line costs less than looking
_SECTION = re.compile(r"\[.+\]")  # configparser's SECTCRE (tests check they agree)
_GUARD = "kit-prefilter: only the lines some pattern matches follow"  # never INI, no secret

# detect-secrets keeps its settings in process globals: one scan at a time.
_lock = threading.Lock()


@dataclass(frozen=True)
class Finding:
    """A probable secret: where it is and what it looks like (never its value)."""

    cell: int
    line: int
    kind: str


def _plugins() -> list[dict[str, Any]]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes: list[type] = list(get_mapping_from_secret_type_to_class().values())
    return sorted(
        ({"name": c.__name__} for c in classes if c.__name__ not in EXCLUDED_PLUGINS),
        key=lambda p: str(p["name"]),
    )


def _google(cell: int, lines: list[str], numbers: list[int | None]) -> list[Finding]:
    """kit's Google patterns over lines (numbers: each line's number in the cell, if any)."""
    found: list[Finding] = []
    previous = ""
    for number, line in zip(numbers, lines, strict=True):
        if number and not _ALLOW.search(line) and not _ALLOW_NEXT.search(previous):
            found.extend(Finding(cell, number, k) for k, rx in _GOOGLE.items() if rx.search(line))
        previous = line
    return found


@functools.cache
def _patterns(plugin_names: tuple[str, ...]) -> tuple[Pattern, ...] | None:
    """Every regular expression the plugins (and kit's Google patterns) match lines with;
    None when a plugin is of a kind whose patterns are unknown (then every line is scanned)."""
    from detect_secrets.plugins import keyword
    from detect_secrets.plugins.base import RegexBasedDetector
    from detect_secrets.settings import get_plugins

    del plugin_names  # the cache key: get_plugins() answers for the current settings
    regexes: dict[tuple[str, int], re.Pattern[str]] = {}
    for plugin in get_plugins():
        if isinstance(plugin, RegexBasedDetector):
            found = list(plugin.denylist)
        elif isinstance(plugin, keyword.KeywordDetector):
            tables = [
                *keyword.REGEX_BY_FILETYPE.values(),
                keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
            ]
            found = [regex for table in tables for regex in table]
        else:
            return None
        regexes.update(((r.pattern, r.flags), r) for r in found)
    regexes.update(((r.pattern, r.flags), r) for r in _GOOGLE.values())
    return tuple(required(r) for r in regexes.values())


@contextmanager
def _own_warnings() -> Iterator[None]:
    """Undo detect-secrets' logging.captureWarnings(True), run when its logger is made.

    Left in place, it would send every later warning in the user's kernel
    (kit's own, Prophet's, ...) to a logger instead of the notebook.
    """
    saved = warnings.showwarning
    try:
        yield
    finally:
        warnings.showwarning = saved


def scan_cells(cells: list[tuple[int, str, str]]) -> list[Finding]:
    """Probable secrets in (index, cell_type, source) cells, by cell and line."""
    findings: list[Finding] = []
    with _lock, _own_warnings(), tempfile.TemporaryDirectory(prefix="kit-secrets-") as tmp:
        from detect_secrets.core.scan import scan_file
        from detect_secrets.settings import transient_settings

        with transient_settings({"plugins_used": _plugins()}):
            findings.extend(_scan(Path(tmp), cells, scan_file))
    return sorted(set(findings), key=lambda f: (f.cell, f.line, f.kind))


def _scan(tmp: Path, cells: list[tuple[int, str, str]], scan_file: Any) -> Iterator[Finding]:
    for index, cell_type, source in cells:
        if not source.strip():
            continue
        # Line numbers as detect-secrets counts them (it reads with universal newlines).
        text = source.replace("\r\n", "\n").replace("\r", "\n") if "\r" in source else source
        lines = text.split("\n")
        path = tmp / f"cell{index}{_SUFFIX.get(cell_type, '.txt')}"
        numbers: list[int | None] = list(range(1, len(lines) + 1))
        patterns = None
        if cell_type == _FILTERED and len(lines) >= _PREFILTER_FROM and not _as_ini(text, lines):
            patterns = _patterns(tuple(sorted(p["name"] for p in _plugins())))
        if patterns is not None:
            lines, numbers = _window(lines, matched_lines(text, patterns, lines))
            if not lines:
                continue
            text = "\n".join(lines)
        path.write_text(text, encoding="utf-8")
        for secret in scan_file(str(path)):
            if number := numbers[secret.line_number - 1]:
                yield Finding(index, number, secret.type)
        yield from _google(index, lines, numbers)


def _as_ini(text: str, lines: list[str]) -> bool:
    """Whether detect-secrets would read this cell as an INI file (then lines are not
    independent: it is scanned whole). configparser refuses a file at once when its first
    line that is not blank or a comment is not a [section] header: most code."""
    first = next((t for t in (ln.strip() for ln in lines) if t and t[0] not in "#;"), "")
    if not _SECTION.match(first):
        return False
    from detect_secrets.transformers import get_transformed_file

    with io.StringIO(text) as fh:
        fh.name = "cell.py"  # detect-secrets picks its rules by file name
        return bool(get_transformed_file(fh))  # type: ignore[arg-type]


def _window(lines: list[str], hits: set[int]) -> tuple[list[str], list[int | None]]:
    """The hit lines, each with the line before it (for `allowlist nextline` pragmas), runs
    apart separated by a blank line, after a first line that is not INI; and the cell's
    line number of each (None for the added lines)."""
    if not hits:
        return [], []
    out: list[str] = [_GUARD]
    numbers: list[int | None] = [None]
    last = -2
    for i in sorted(hits):
        start = max(i - 1, last + 1, 0)
        if start > last + 1:
            out.append("")
            numbers.append(None)
        for j in range(start, i + 1):
            out.append(lines[j])
            numbers.append(j + 1)
        last = i
    return out, numbers


def _refuse(findings: list[Finding], where: Callable[[Finding], str]) -> None:
    """UsageError at the first finding (`where` says where it is), if there is one."""
    if not findings:
        return
    first = findings[0]
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    raise UsageError(
        f"{where(first)}: possible secret ({first.kind}){more}; remove it (read it from the "
        "environment or a secret manager), or end the line with "
        "`# pragma: allowlist secret` if it is not one"
    )


def check(nb: Any, path: Path) -> None:
    """UsageError naming the notebook, cell (as JupyterLab numbers it, kit.cells) and line
    of the first probable secret."""
    cells = [(i, str(c.cell_type), str(c.source)) for i, c in enumerate(nb.cells)]

    def where(f: Finding) -> str:
        count = nb.cells[f.cell].get("execution_count")
        return f"{path}: {label(f.cell, count)}, line {f.line}"

    _refuse(scan_cells(cells), where)


def check_text(text: str, path: Path) -> None:
    """UsageError naming a Python file and the file line of its first probable secret."""
    _refuse(scan_cells([(0, "code", text)]), lambda f: f"{path}: line {f.line}")
