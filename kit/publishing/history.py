"""Inspect published versions and roll `latest` back."""

from __future__ import annotations

from dataclasses import dataclass

from kit.catalog import VERSION_RE, Catalog, Manifest, Resolved, check_name
from kit.config import Settings, load_settings
from kit.errors import NotFoundError, UsageError
from kit.publishing import pointer


@dataclass(frozen=True)
class History:
    """Every published version of a notebook, newest first, and what `latest` names."""

    name: str
    latest: str | None
    manifests: tuple[Manifest, ...]


@dataclass(frozen=True)
class Shown:
    """One version's manifest, and whether `latest` names it."""

    resolved: Resolved
    latest: str | None


@dataclass(frozen=True)
class RolledBack:
    """The outcome of `kit rollback`."""

    name: str
    version: str
    previous: str | None
    url: str


def _catalog(settings: Settings | None) -> Catalog:
    return Catalog(settings or load_settings())


def versions(name: str, *, settings: Settings | None = None) -> History:
    """The versions of name, newest first; NotFoundError when it was never published."""
    check_name(name, name)
    catalog = _catalog(settings)
    ids = catalog.versions(name)
    if not ids:
        catalog.latest(name)  # raises NotFoundError, with close names as hints
        raise NotFoundError(f"notebook {name!r} has a latest pointer but no versions")
    latest, _ = pointer.current(catalog, name)
    return History(name, latest, tuple(catalog.manifest(name, v) for v in ids))


def show(ref: str, *, settings: Settings | None = None) -> Shown:
    """The manifest of `name`, `name@latest` or `name@<version>`."""
    catalog = _catalog(settings)
    resolved = catalog.resolve(ref)
    latest, _ = pointer.current(catalog, resolved.name)
    return Shown(resolved, latest)


def rollback(name: str, version: str, *, settings: Settings | None = None) -> RolledBack:
    """Point `latest` of name at an earlier (or any) published version."""
    check_name(name, name)
    if not VERSION_RE.match(version):
        raise UsageError(
            f"{name}@{version}: invalid version id (expected YYYYMMDDTHHMMSSZ-<12 hex digits>)"
        )
    catalog = _catalog(settings)
    if version not in catalog.versions(name):
        raise NotFoundError(
            f"{name}@{version} is not published in {catalog.settings.modules_bucket} "
            f"(see `kit versions {name}`)"
        )
    kind = catalog.manifest(name, version).kind
    url = catalog.notebook_url(name, version, kind)
    if not catalog.storage.exists(url):
        raise NotFoundError(f"{name}@{version}: its {kind} {url} is missing")
    moved = pointer.move(catalog, name, version, mode="rollback")
    return RolledBack(name, version, moved.previous, url)
