"""What kit.publish() returns: the version, and how it shows below a notebook cell."""

from __future__ import annotations

from dataclasses import dataclass, field

from kit import templating
from kit.catalog import Manifest


@dataclass(frozen=True)
class Published:
    """A published version, returned by kit.publish(); shows as a summary in notebooks.

    Warnings are printed once, as they are found; the summary's title only says there
    were some. Notes are facts worth one line (e.g. "published without parameters").
    """

    name: str
    version: str
    url: str
    manifest: Manifest
    created: bool  # False when a version with the same code was already published
    latest: str | None  # what `latest` names after publishing
    warnings: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def ref(self) -> str:
        """`name@version`, as `kit run` and `kit show` accept it."""
        return f"{self.name}@{self.version}"

    @property
    def is_latest(self) -> bool:
        """Whether `latest` names this version."""
        return self.latest == self.version

    @property
    def title(self) -> str:
        """The summary's title: "Published", "Already published", "... with warnings"."""
        status = "Published" if self.created else "Already published"
        if not self.warnings:
            return status
        return f"{status} with warnings ({len(self.warnings)}, printed above)"

    def __str__(self) -> str:
        what = "published" if self.created else "unchanged, already published:"
        tail = "" if self.is_latest else f" (latest is {self.latest})"
        return f"{what} {self.ref} {self.url}{tail}"

    def _repr_html_(self) -> str:
        return templating.render("kit.publishing", "published.html", published=self)
