"""Notebook files read, validated and written as nbformat does, without importing nbformat.

Why: `import nbformat` imports jsonschema, whose format checkers build Lark parsers for
IRIs at import (rfc3987_syntax; python-jsonschema/jsonschema#1428): 1.2 s on a quiet
machine and up to 20 s on a loaded one, all paid by the first `kit.publish()` in a
kernel. kit must not patch the user's kernel to avoid it (no import blocking there), so
the publish path does not import nbformat at all:

- validation uses the same validator nbformat uses by default (fastjsonschema) on the
  same schema file nbformat would pick, read from nbformat's package folder as data;
- reading and writing apply nbformat v4's own transformations: multi-line strings
  joined on read and split on write (rejoin_lines / split_lines), transient metadata
  dropped (strip_transient), and its JSON layout (indent 1, sorted keys, UTF-8).

Anything this fast path does not handle exactly as nbformat would (a minor version this
nbformat does not know, a cell without an id in v4.5+, duplicate cell ids, a document
the schema refuses) is handed to nbformat itself, which repairs or refuses it with its
own message. tests/publishing/test_publish_nbfile.py checks both paths against the
pinned nbformat, byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Any

NBFORMAT = 4
_JSON_DUMPS = {"indent": 1, "sort_keys": True, "separators": (",", ": "), "ensure_ascii": False}
# Mime types whose multi-line strings nbformat splits into lines, besides text/*.
_SPLIT_MIMES = frozenset({"application/javascript", "image/svg+xml"})


class NotebookDict(dict[str, Any]):
    """A JSON object with attribute access, as nbformat.NotebookNode offers (`nb.cells`)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


class Unsupported(Exception):
    """The fast path cannot vouch for this notebook: let nbformat read it."""


def _schema_dir() -> Path:
    spec = importlib.util.find_spec("nbformat")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise Unsupported("nbformat is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "v4"


@cache
def _validator(minor: int) -> Any:
    path = _schema_dir() / f"nbformat.v4.{minor}.schema.json"
    if not path.is_file():
        raise Unsupported(f"no schema for nbformat 4.{minor}")
    import fastjsonschema

    return fastjsonschema.compile(json.loads(path.read_text(encoding="utf-8")))


def _is_json_mime(mime: str) -> bool:
    return mime == "application/json" or (
        mime.startswith("application/") and mime.endswith("+json")
    )


def _rejoin_bundle(data: dict[str, Any]) -> None:
    for key, value in list(data.items()):
        if (
            not _is_json_mime(key)
            and isinstance(value, list)
            and all(isinstance(v, str) for v in value)
        ):
            data[key] = "".join(value)


def _split_bundle(data: dict[str, Any]) -> None:
    for key, value in list(data.items()):
        if isinstance(value, str) and (key.startswith("text/") or key in _SPLIT_MIMES):
            data[key] = value.splitlines(True)


def _strip_transient(nb: dict[str, Any]) -> None:
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        nb["metadata"].pop(key, None)
    for cell in nb["cells"]:
        cell["metadata"].pop("trusted", None)


def _rejoin(nb: dict[str, Any]) -> None:
    for cell in nb["cells"]:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        for bundle in cell.get("attachments", {}).values():
            _rejoin_bundle(bundle)
        if cell.get("cell_type") == "code":
            for output in cell.get("outputs", []):
                kind = output.get("output_type", "")
                if kind in ("execute_result", "display_data"):
                    _rejoin_bundle(output.get("data", {}))
                elif kind and isinstance(output.get("text", ""), list):
                    output["text"] = "".join(output["text"])


def validate(nb: dict[str, Any]) -> None:
    """Validate a v4 notebook as nbformat.validate would; Unsupported when only nbformat can.

    Raises fastjsonschema's JsonSchemaException when the schema refuses it.
    """
    minor = nb.get("nbformat_minor")
    if nb.get("nbformat") != NBFORMAT or not isinstance(minor, int) or minor < 0:
        raise Unsupported("not nbformat 4.x")
    _validator(minor)(nb)
    if minor >= 5:  # nbformat repairs missing or duplicate ids (with a warning): its call
        ids = [cell.get("id") for cell in nb["cells"]]
        if None in ids or len(set(ids)) != len(ids):
            raise Unsupported("cell ids missing or not unique")


def parse(text: str) -> NotebookDict:
    """A v4 notebook's JSON as nbformat.reader.reads + nbformat.validate would return it.

    Raises ValueError for invalid JSON, and Unsupported when nbformat must decide
    (including documents the schema refuses: nbformat words that refusal).
    """
    nb = json.loads(text, object_hook=NotebookDict)
    if not isinstance(nb, NotebookDict) or not isinstance(nb.get("cells"), list):
        raise Unsupported("not a notebook")
    import fastjsonschema

    try:
        validate(nb)  # the on-disk form (lists of lines) is what the schema describes
    except fastjsonschema.JsonSchemaException as exc:
        raise Unsupported(str(exc)) from None
    _rejoin(nb)
    _strip_transient(nb)
    return nb


def dumps(nb: dict[str, Any]) -> str:
    """nb serialised exactly as nbformat.writes(nb, version=4), plus a final newline.

    Works on a copy; nb may be a NotebookDict or an nbformat.NotebookNode.
    """
    data = json.loads(json.dumps(nb))  # a deep copy, as plain JSON
    for cell in data["cells"]:
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(True)
        for bundle in cell.get("attachments", {}).values():
            _split_bundle(bundle)
        if cell["cell_type"] == "code":
            for output in cell["outputs"]:
                if output["output_type"] in ("execute_result", "display_data"):
                    _split_bundle(output.get("data", {}))
                elif output["output_type"] == "stream" and isinstance(output["text"], str):
                    output["text"] = output["text"].splitlines(True)
    _strip_transient(data)
    text = json.dumps(data, **_JSON_DUMPS)  # type: ignore[arg-type]
    return text if text.endswith("\n") else text + "\n"
