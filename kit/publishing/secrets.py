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
"""

from __future__ import annotations

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


def _google(cell: int, source: str) -> list[Finding]:
    found: list[Finding] = []
    previous = ""
    for number, line in enumerate(source.splitlines(), start=1):
        if not _ALLOW.search(line) and not _ALLOW_NEXT.search(previous):
            found.extend(Finding(cell, number, k) for k, rx in _GOOGLE.items() if rx.search(line))
        previous = line
    return found


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
        path = tmp / f"cell{index}{_SUFFIX.get(cell_type, '.txt')}"
        path.write_text(source, encoding="utf-8")
        yield from (Finding(index, s.line_number, s.type) for s in scan_file(str(path)))
        yield from _google(index, source)


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
