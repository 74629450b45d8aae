"""Compare the running Python environment with environment.yml, the image's pins.

Run inside a notebook kernel (`kit env check`, or `kit.env_check()`), it tells a
data scientist which packages drifted from what the runtime image will run. Laptop-only
tools (requirements/lab.txt: JupyterLab, ...) are not pinned there and not checked: the
image does not have them.
"""

from __future__ import annotations

import hashlib
import platform
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import yaml

from kit.errors import UsageError

# The checkout's file when kit is installed from it (editable); the image keeps a copy in
# the environment itself, since there kit is installed into site-packages.
_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "environment.yml",
    Path(sys.prefix) / "share" / "kit" / "environment.yml",
)
DEFAULT_SPEC = next((p for p in _CANDIDATES if p.is_file()), _CANDIDATES[0])


@dataclass(frozen=True)
class Drift:
    """One package whose installed version differs from its pin (None: not installed)."""

    name: str
    pinned: str
    installed: str | None


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path = DEFAULT_SPEC) -> dict[str, str]:
    """The exact pins of environment.yml: its pip packages plus `python`."""
    try:
        spec = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: environment file not found") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: malformed YAML: {exc}") from exc
    pins: dict[str, str] = {}
    for dep in (spec or {}).get("dependencies", []):
        if isinstance(dep, str) and dep.startswith("python="):
            pins["python"] = dep.split("=", 1)[1]
        elif isinstance(dep, dict):
            for line in dep.get("pip", []):
                name, sep, version = str(line).partition("==")
                if not sep:
                    raise UsageError(f"{path}: {line!r} is not pinned exactly (name==version)")
                pins[canonical(name)] = version.strip()
    if not pins:
        raise UsageError(f"{path}: no pinned dependencies found")
    return pins


def digest(path: Path = DEFAULT_SPEC) -> str:
    """sha256 of environment.yml, recorded in manifests to tie a notebook to an image."""
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: environment file not found") from exc


def check(path: Path = DEFAULT_SPEC) -> list[Drift]:
    """Every pinned package whose installed version differs, in name order."""
    drifts = []
    for name, pinned in sorted(read_pins(path).items()):
        if name == "python":
            installed: str | None = platform.python_version()
        else:
            try:
                installed = metadata.version(name)
            except metadata.PackageNotFoundError:
                installed = None
        if installed != pinned:
            drifts.append(Drift(name, pinned, installed))
    return drifts
