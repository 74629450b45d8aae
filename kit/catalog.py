"""The modules bucket's layout: published versions, their manifests, the latest pointer.

    notebooks/<name>/<version>.ipynb           immutable, outputs stripped
    notebooks/<name>/<version>.py              immutable: a model module, stored as published
    notebooks/<name>/<version>.manifest.json   immutable, written after the notebook or module
    notebooks/<name>/latest.json               {"version": ...}, moved by generation precondition

A version id sorts by time and names its content: 20261123T101500Z-<sha256[:12]>. Its
manifest's `kind` says which file it is ("notebook" or "module"); names are one namespace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kit.config import Settings
from kit.errors import NotFoundError, UsageError, did_you_mean
from kit.storage import Storage, storage_for

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
VERSION_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{12}$")
MANIFEST_SUFFIX = ".manifest.json"
# Cells with this tag are skipped by runs: the cell that called kit.publish() gets it.
SKIP_TAG = "kit-skip"
_STAMP = len("YYYYMMDDTHHMMSSZ")
# What a version's file is, by the manifest's `kind`: its suffix in the bucket.
KINDS = {"notebook": ".ipynb", "module": ".py"}


def published_second(version: str) -> str:
    """The UTC second a version id was published in (`YYYYMMDDTHHMMSSZ`); ids sort by it."""
    return version[:_STAMP]


def check_name(name: str, source: str = "") -> str:
    """Return name if it is a valid notebook name, else raise UsageError naming source."""
    if not NAME_RE.match(name):
        where = f"{source}: " if source else ""
        raise UsageError(
            f"{where}invalid notebook name {name!r} (must match [a-z0-9][a-z0-9_-]{{0,62}})"
        )
    return name


def suggest_name(text: str) -> str | None:
    """A valid notebook name close to text (`forecast-Copy1` -> `forecast-copy1`), if any."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")[:63].rstrip("-_")
    return slug if NAME_RE.match(slug) else None


def check_file_name(
    stem: str, source: str, given: str | None, how: Callable[[str | None], str]
) -> str:
    """The name of a file's notebook: `given` when there is one, else the file's stem.

    Either must be valid. An invalid stem (JupyterLab's Duplicate makes `forecast-Copy1`)
    is refused with a valid name to use instead; how(name) says how to pass it (name is
    None when no valid name is close).
    """
    if given is not None:
        return check_name(given, source)
    if NAME_RE.match(stem):
        return stem
    raise UsageError(
        f"{source}: file name {stem!r} is not a valid notebook name "
        f"([a-z0-9][a-z0-9_-]{{0,62}}); {how(suggest_name(stem))}"
    )


@dataclass(frozen=True)
class Parameter:
    """One entry of a notebook's parameter schema, from its `parameters` cell."""

    name: str
    type: str  # int | float | str | bool | list | dict | NoneType | date (an ISO string)
    default: Any
    comment: str = ""
    choices: list[Any] | None = None  # the allowed values (a model module's Literal[...])


@dataclass(frozen=True)
class Manifest:
    """What a published version is: written beside the notebook, never changed."""

    name: str
    version: str
    sha256: str
    size: int
    published_at: str
    publisher: str
    kit_version: str
    environment_digest: str
    parameters: list[Parameter]
    git_commit: str | None = None
    git_dirty: bool | None = None
    source_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = "notebook"  # a key of KINDS

    def to_json(self) -> bytes:
        """Serialise for storage.

        A notebook's manifest stores no `kind`, and a parameter without choices no
        `choices`: a notebook's manifest stays readable by kit versions before modules.
        """
        raw = asdict(self)
        for param in raw["parameters"]:
            if param["choices"] is None:
                del param["choices"]
        if raw["kind"] == "notebook":
            del raw["kind"]
        return json.dumps(raw, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, source: str) -> Manifest:
        """Parse a stored manifest; UsageError naming source when it is malformed."""
        try:
            raw = json.loads(data)
            raw["parameters"] = [Parameter(**p) for p in raw.get("parameters", [])]
            manifest = cls(**raw)
        except (ValueError, TypeError, KeyError) as exc:
            raise UsageError(f"{source}: malformed manifest: {exc}") from exc
        if manifest.kind not in KINDS:
            raise UsageError(f"{source}: malformed manifest: unknown kind {manifest.kind!r}")
        return manifest

    def schema(self) -> dict[str, Parameter]:
        """Parameters by name."""
        return {p.name: p for p in self.parameters}


@dataclass(frozen=True)
class Resolved:
    """A notebook reference resolved to the immutable version that will run."""

    name: str
    version: str
    notebook_url: str
    manifest: Manifest


class Catalog:
    """Read and write the modules bucket's layout."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.settings = settings
        self.storage = storage or storage_for(
            settings.modules_bucket, retry_deadline=settings.retry_deadline
        )

    def notebook_url(self, name: str, version: str, kind: str = "notebook") -> str:
        """Where one version's file is stored: its notebook, or its module for kind "module"."""
        return self.settings.url("modules_bucket", "notebooks", name, f"{version}{KINDS[kind]}")

    def manifest_url(self, name: str, version: str) -> str:
        """Where one version's manifest is stored."""
        return self.settings.url("modules_bucket", "notebooks", name, f"{version}{MANIFEST_SUFFIX}")

    def latest_url(self, name: str) -> str:
        """Where the name's latest pointer is stored."""
        return self.settings.url("modules_bucket", "notebooks", name, "latest.json")

    def names(self) -> list[str]:
        """Every published notebook name."""
        prefix = self.settings.url("modules_bucket", "notebooks") + "/"
        found = {info.url[len(prefix) :].split("/", 1)[0] for info in self.storage.list(prefix)}
        return sorted(n for n in found if NAME_RE.match(n))

    def versions(self, name: str) -> list[str]:
        """Published version ids of name, newest first (only those with a manifest).

        Ids carry their publish time to the second; versions published within the same
        second are ordered by when their manifest was written.
        """
        prefix = self.settings.url("modules_bucket", "notebooks", name) + "/"
        found = {
            info.url[len(prefix) : -len(MANIFEST_SUFFIX)]: info
            for info in self.storage.list(prefix)
            if info.url.endswith(MANIFEST_SUFFIX)
        }

        def newest_first(version: str) -> tuple[str, float, int]:
            info = found[version]
            written = info.updated.timestamp() if info.updated else 0.0
            return published_second(version), written, info.generation

        return sorted((v for v in found if VERSION_RE.match(v)), key=newest_first, reverse=True)

    def manifest(self, name: str, version: str) -> Manifest:
        """The manifest of one version; NotFoundError naming name@version."""
        url = self.manifest_url(name, version)
        try:
            return Manifest.from_json(self.storage.read(url), url)
        except NotFoundError as exc:
            raise NotFoundError(f"notebook {name}@{version} is not published ({url})") from exc

    def latest(self, name: str) -> str:
        """The version the latest pointer names (one read: every `@latest` run pays it).

        Moving the pointer needs its generation too: see kit.publishing.pointer.
        """
        url = self.latest_url(name)
        try:
            data = self.storage.read(url)
        except NotFoundError as exc:
            raise NotFoundError(self._unknown(name)) from exc
        try:
            return str(json.loads(data)["version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{url}: malformed latest pointer") from exc

    def _unknown(self, name: str) -> str:
        hint = did_you_mean(name, self.names())
        return f"notebook {name!r} is not published in {self.settings.modules_bucket}{hint}"

    def resolve(self, ref: str) -> Resolved:
        """Resolve `name`, `name@latest` or `name@<version>` to an immutable version."""
        name, _, version = ref.partition("@")
        check_name(name, ref)
        if version in ("", "latest"):
            version = self.latest(name)
        elif not VERSION_RE.match(version):
            raise UsageError(f"{ref}: invalid version id {version!r}")
        manifest = self.manifest(name, version)
        return Resolved(name, version, self.notebook_url(name, version, manifest.kind), manifest)
