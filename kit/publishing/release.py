"""Publish a notebook: validate it, write an immutable version, then move `latest`.

A .py file is a model module or a jupytext percent script (kit.publishing.pyfile):
a module's version is the file, a percent script's is its notebook; both then take
the same path as an .ipynb.

Order of writes: the notebook (or module), then its manifest, then the pointer. Each
object is created with `if_generation_match=0`, so a version is never overwritten, and
every check happens before the first write, so a refusal writes nothing.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kit
from kit import envcheck
from kit import schema as params
from kit.catalog import Catalog, Manifest, Parameter
from kit.cells import label
from kit.config import Settings, load_settings
from kit.errors import PreconditionFailedError, StorageError, UsageError
from kit.publishing import identity, pointer, pyfile, secrets, session, strip, validate
from kit.publishing.candidate import Candidate
from kit.publishing.result import Published
from kit.storage import Storage

Warn = Callable[[str], None]
MAX_DRIFTS_SHOWN = 3
# The manifest key holding a notebook's identity (kit.publishing.strip.identity); a
# module's identity is its file's sha256, the manifest's own `sha256`.
CODE_SHA256 = "code_sha256"


def _env_warnings() -> tuple[list[str], str]:
    """Drift between this environment and environment.yml, and environment.yml's digest."""
    notes = []
    try:
        drifts = envcheck.check()
    except UsageError as exc:
        notes.append(f"cannot compare installed packages with environment.yml: {exc}")
        drifts = []
    if drifts:
        shown = ", ".join(
            f"{d.name} {d.installed or 'missing'} (pinned {d.pinned})"
            for d in drifts[:MAX_DRIFTS_SHOWN]
        )
        more = ", ..." if len(drifts) > MAX_DRIFTS_SHOWN else ""
        notes.append(
            f"{len(drifts)} installed package(s) differ from environment.yml, which runs use: "
            f"{shown}{more} (see `kit env check`)"
        )
    try:
        digest = envcheck.digest()
    except UsageError:
        digest = ""
    return notes, digest


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _find_identical(catalog: Catalog, name: str, identity: str) -> Manifest | None:
    """The manifest of an already published version with this identity (what runs).

    Versions published before identities (kit 0.1.0's first rule: the sha256 of the
    stored bytes) never match: the first publish after the change makes a new version.
    """
    for version in catalog.versions(name):
        if version.endswith("-" + identity[:12]):
            manifest = catalog.manifest(name, version)
            if manifest.extra.get(CODE_SHA256, manifest.sha256) == identity:
                return manifest
    return None


def _create(storage: Storage, url: str, data: bytes, content_type: str) -> bool:
    """Write an object that must not exist; False when identical bytes are already there."""
    try:
        storage.write(url, data, if_generation_match=0, content_type=content_type)
    except PreconditionFailedError as exc:
        if storage.read(url) != data:
            raise StorageError(f"{url} already exists with different content") from exc
        return False
    return True


def _manifest(candidate: Candidate, environment_digest: str) -> Manifest:
    now = datetime.now(UTC)
    version = f"{now:%Y%m%dT%H%M%SZ}-{candidate.identity[:12]}"
    git = identity.git_info(candidate.path)
    return Manifest(
        name=candidate.name,
        version=version,
        sha256=candidate.sha256,
        size=len(candidate.data),
        published_at=f"{now:%Y-%m-%dT%H:%M:%SZ}",
        publisher=identity.publisher(candidate.path.resolve().parent),
        kit_version=kit.__version__,
        environment_digest=environment_digest,
        parameters=candidate.parameters,
        git_commit=git.commit,
        git_dirty=git.dirty,
        source_path=git.relpath or str(candidate.path.resolve()),
        extra={**candidate.extra, "host": socket.gethostname()},
        kind=candidate.kind,
    )


def _notebook_candidate(
    source: validate.SourceNotebook,
    parameters_cell: int | None,
    parameters: list[Parameter],
    unsaved: str | None,
    note: Warn,
    extra: dict[str, Any] | None = None,
) -> Candidate:
    """A checked notebook as the stripped bytes of its version."""
    stripped = strip.strip(source.nb)
    if unsaved is not None:
        note(unsaved)
    for index in stripped.mixed_cells:
        note(
            f"{source.path}: {label(index)} calls kit.publish() among other code; runs "
            f"skip the whole cell, so keep kit.publish() in a cell of its own"
        )
    return Candidate(
        path=source.path,
        name=source.name,
        kind="notebook",
        data=stripped.data,
        sha256=stripped.sha256,
        identity=stripped.identity,
        parameters=parameters,
        extra={
            CODE_SHA256: stripped.identity,
            "kernel": source.kernel_name,
            "parameters_cell": parameters_cell,
            "skip_cells": list(stripped.publish_cells),
            **(extra or {}),
        },
    )


def _candidate(
    path: Path, name: str | None, shell: Any | None, note: Warn, inform: Warn
) -> Candidate:
    """The checked file as its version's bytes: an .ipynb, or a .py module or percent script.

    shell: the kernel whose unsaved work to look for (None: not this kernel's notebook).
    """
    loaded = pyfile.load(path, name) if path.suffix == ".py" else None
    if isinstance(loaded, Candidate):
        return loaded  # a model module
    extra: dict[str, Any] = {}
    if loaded is None:
        source = validate.load(path, name)
        parameters_cell, parameters = params.schema(source.nb, path)
        secrets.check(source.nb, path)
    else:
        source, parameters_cell = loaded.source, loaded.parameters_cell
        parameters, extra["format"] = loaded.parameters, pyfile.PERCENT
    if parameters_cell is None:
        inform(
            f"{path}: no cell is tagged {params.PARAMETERS_TAG!r}, so it is published without "
            "parameters (runs take no -p); tag the cell holding the defaults to declare some"
        )
    unsaved = session.unsaved_work(shell, source.nb, path) if shell is not None else None
    return _notebook_candidate(source, parameters_cell, parameters, unsaved, note, extra)


def publish_notebook(
    path: Path | str | None = None,
    name: str | None = None,
    *,
    settings: Settings | None = None,
    storage: Storage | None = None,
    warn: Warn | None = None,
    inform: Warn | None = None,
) -> Published:
    """Validate a notebook and publish it as an immutable version; move `latest` forward.

    path may also be a .py model module or percent script (kit.publishing.pyfile).
    None means the notebook of the current Jupyter session. Warnings (unsaved
    work, package drift, ...) go to `warn` and notes (one-line facts, such as "no
    parameters") to `inform` as they are found; both are kept on the result. Raises
    UsageError naming the file, having written nothing, on bad input, and StorageError
    at once when GCS cannot be used here (no emulator, no credentials).
    """
    warnings: list[str] = []
    notes: list[str] = []

    def note(message: str) -> None:
        warnings.append(message)
        if warn is not None:
            warn(message)

    def tell(message: str) -> None:
        notes.append(message)
        if inform is not None:
            inform(message)

    catalog = Catalog(settings or load_settings(), storage)  # fails fast without GCS
    shell = session.kernel_shell()
    nb_path = session.notebook_path(shell) if path is None else Path(path)
    in_session = shell is not None and (path is None or _is_session_notebook(shell, nb_path))
    candidate = _candidate(nb_path, name, shell if in_session else None, note, tell)
    env_notes, environment_digest = _env_warnings()
    for message in env_notes:
        note(message)

    name, kind = candidate.name, candidate.kind
    manifest = _find_identical(catalog, name, candidate.identity)
    created = manifest is None
    if manifest is None:
        manifest = _manifest(candidate, environment_digest)
        version = manifest.version
        url = catalog.notebook_url(name, version, kind)
        _create(catalog.storage, url, candidate.data, candidate.content_type)
        manifest_url = catalog.manifest_url(name, version)
        if not _create(catalog.storage, manifest_url, manifest.to_json(), "application/json"):
            created = False  # a twin publisher wrote this very version in the same second
            manifest = catalog.manifest(name, version)
    mode: pointer.Mode = "publish" if created else "existing"
    moved = pointer.move(catalog, name, manifest.version, mode=mode)
    if moved.latest != manifest.version:
        why = (
            "a version published meanwhile"
            if created
            else f"a newer version (this content was published before, as {manifest.version})"
        )
        note(
            f"{name}: latest stays at {moved.latest}, {why}; to make this version "
            f"latest: kit rollback {name} {manifest.version}"
        )
    return Published(
        name=name,
        version=manifest.version,
        url=catalog.notebook_url(name, manifest.version, manifest.kind),
        manifest=manifest,
        created=created,
        latest=moved.latest,
        warnings=tuple(warnings),
        notes=tuple(notes),
    )


def _is_session_notebook(shell: Any, path: Path) -> bool:
    try:
        return _same_file(session.notebook_path(shell), path)
    except UsageError:
        return False
