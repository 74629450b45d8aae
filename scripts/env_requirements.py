"""Read environment.yml's pins; print its pip pins as a requirements file, for uv.

Standard library only: it runs before any environment exists, and inside the local
stand-in base image (image/local-base), whose `micromamba` reads the same file with it.
The format it reads is the one scripts/lock.py writes: `- name=version` conda pins
(python, pip, tini), then `- name==version` under `- pip:`. The printed requirements
include the conda `pip=` pin, so that .venv carries the same pip as the image.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PIP_PIN = re.compile(r"^\s+-\s+([A-Za-z0-9][A-Za-z0-9._-]*==[^\s#]+)")
CONDA_PIN = re.compile(r"^\s+-\s+([A-Za-z0-9][A-Za-z0-9._-]*)=([^=\s#]+)\s*(?:#.*)?$")


def conda_pins(text: str) -> dict[str, str]:
    """The conda packages of an environment file: name -> exact version."""
    return {m.group(1): m.group(2) for line in text.splitlines() if (m := CONDA_PIN.match(line))}


def pip_pins(text: str) -> list[str]:
    """The `name==version` lines under `- pip:`, in file order."""
    return [m.group(1) for line in text.splitlines() if (m := PIP_PIN.match(line))]


def main(path: str) -> None:
    text = Path(path).read_text()
    if "pip" in (conda := conda_pins(text)):
        print(f"pip=={conda['pip']}")
    for pin in pip_pins(text):
        print(pin)


if __name__ == "__main__":
    main(sys.argv[1])
