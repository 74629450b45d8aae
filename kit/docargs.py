"""Argument descriptions from a docstring: Google style `Args:` or numpy style `Parameters`.

    Args:                               Parameters
        horizon (int): periods to           ----------
            forecast                        horizon : int
        label: shown in titles                  periods to forecast

Both give {"horizon": "periods to forecast", ...}. Standard library only.
"""

from __future__ import annotations

_ARGS_HEADERS = ("args:", "arguments:", "parameters:", "params:", "keyword args:")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def argument_descriptions(docstring: str) -> dict[str, str]:
    """Each argument's description, by name, from the docstring's arguments section."""
    lines = docstring.splitlines()
    for i, line in enumerate(lines):
        header = line.strip().lower()
        if header in _ARGS_HEADERS:
            return _google_entries(lines[i + 1 :], _indent(line))
        if header == "parameters" and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            return _numpy_entries(lines[i + 2 :], _indent(line))
    return {}


def _google_entries(body: list[str], indent: int) -> dict[str, str]:
    """`name (type): text` entries, indented under the header, continued further indented."""
    found: dict[str, str] = {}
    current, entry = "", -1
    for raw in body:
        if not raw.strip():
            continue
        depth = _indent(raw)
        if depth <= indent:
            break  # the next section
        entry = depth if entry < 0 else entry
        if depth == entry:
            key, _, rest = raw.strip().partition(":")
            current = key.split("(")[0].strip().lstrip("*")
            found[current] = rest.strip()
        elif current:
            found[current] = f"{found[current]} {raw.strip()}".strip()
    return found


def _numpy_entries(body: list[str], indent: int) -> dict[str, str]:
    """`name : type` lines at the header's indent, each followed by its indented text."""
    found: dict[str, str] = {}
    current = ""
    for raw in body:
        text = raw.strip()
        if not text:
            continue
        if _indent(raw) > indent:
            if current:
                found[current] = f"{found[current]} {text}".strip()
            continue
        if set(text) == {"-"}:  # the underline of the next section: its title was no entry
            found.pop(current, None)
            break
        current = text.split(":")[0].strip().lstrip("*")
        found[current] = ""
    return found
