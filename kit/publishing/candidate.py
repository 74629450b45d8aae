"""What is about to be published: a file that passed every check, as its version's bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.catalog import Parameter
from kit.run_contract import NOTEBOOK_TYPE

# The content type each kind of version is stored with (kit.catalog.KINDS names the suffix).
CONTENT_TYPES = {"notebook": NOTEBOOK_TYPE, "module": "text/x-python"}


@dataclass(frozen=True)
class Candidate:
    """The bytes a version will hold, its parameter schema and its kind's manifest facts."""

    path: Path
    name: str
    kind: str  # a key of kit.catalog.KINDS
    data: bytes
    sha256: str
    parameters: list[Parameter]
    extra: dict[str, Any] = field(default_factory=dict)
    # What names the version and makes a republish a no-op: for a notebook the sha256 of
    # what runs (kit.publishing.strip.identity), for a module its bytes' sha256.
    identity: str = ""

    def __post_init__(self) -> None:
        if not self.identity:
            object.__setattr__(self, "identity", self.sha256)

    @property
    def content_type(self) -> str:
        """The stored object's content type."""
        return CONTENT_TYPES[self.kind]
