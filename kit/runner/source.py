"""What a run executes: a published version, or an ad-hoc notebook from a path or URL.

A model module (a version of kind "module", or an ad-hoc .py) runs as the notebook
kit.runner.module_source builds for it; a percent script as the notebook jupytext reads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from kit.catalog import Catalog, Parameter, check_file_name
from kit.config import Settings
from kit.errors import NotFoundError, UsageError
from kit.runner import module_source
from kit.schema import cell_schema, find_parameters_cell
from kit.storage import storage_for


@dataclass(frozen=True)
class Source:
    """The immutable notebook a run executes, with its parameter schema."""

    name: str
    version: str
    sha256: str
    url: str
    notebook: dict[str, Any]
    schema: dict[str, Parameter]


def is_adhoc(ref: str) -> bool:
    """Whether ref names a notebook file (path or URL) rather than a published name."""
    return "://" in ref or ref.endswith((".ipynb", ".py")) or "/" in ref


def _parse(data: bytes, url: str) -> dict[str, Any]:
    try:
        nb = json.loads(data)
    except ValueError as exc:
        raise UsageError(f"{url}: not a notebook (invalid JSON: {exc})") from exc
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or "cells" not in nb:
        raise UsageError(f"{url}: not an nbformat v4 notebook")
    return nb


def _schema_from_cells(nb: dict[str, Any], url: str) -> dict[str, Parameter]:
    """Schema of an unpublished notebook, from its `parameters` cell, by publishing's rule
    (kit.schema: at most one such cell); none without one."""
    index = find_parameters_cell(nb["cells"], url)
    if index is None:
        return {}
    return {p.name: p for p in cell_schema(nb["cells"], index, url)}


def _how(name: str | None) -> str:
    return f"run it with --name {name}" if name else "name its runs with --name"


def load_source(settings: Settings, ref: str, name: str | None = None) -> Source:
    """Resolve ref (name[@version|@latest], or a path/URL) and read the notebook.

    name: what to call an ad-hoc file's runs (default: its file name, which must then be
    a valid notebook name); a published ref is already a name.
    """
    if not is_adhoc(ref):
        if name is not None:
            raise UsageError(
                f"{ref}: --name applies to a notebook file or URL; a published notebook "
                "runs under its own name"
            )
        resolved = Catalog(settings).resolve(ref)
        store = storage_for(resolved.notebook_url, retry_deadline=settings.retry_deadline)
        data = store.read(resolved.notebook_url)
        sha = hashlib.sha256(data).hexdigest()
        if sha != resolved.manifest.sha256:
            raise UsageError(f"{resolved.notebook_url}: content does not match its manifest sha256")
        if resolved.manifest.kind == "module":
            nb = module_source.published(data, resolved)
        else:
            nb = _parse(data, resolved.notebook_url)
        return Source(
            name=resolved.name,
            version=resolved.version,
            sha256=sha,
            url=resolved.notebook_url,
            notebook=nb,
            schema=resolved.manifest.schema(),
        )
    store = storage_for(ref, retry_deadline=settings.retry_deadline)
    try:
        data = store.read(ref)
    except NotFoundError as exc:
        raise NotFoundError(f"{ref}: notebook not found") from exc
    stem = PurePosixPath(ref.split("://", 1)[-1]).stem
    name = check_file_name(stem, ref, name, _how)
    sha = hashlib.sha256(data).hexdigest()
    version = f"adhoc-{sha[:12]}"
    if ref.endswith(".py"):
        nb, declared = module_source.adhoc(data, ref, name, version)
        if declared is not None:
            return Source(name, version, sha, ref, nb, {p.name: p for p in declared})
    else:
        nb = _parse(data, ref)
    return Source(name, version, sha, ref, nb, _schema_from_cells(nb, ref))
