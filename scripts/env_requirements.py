"""Print the pip pins of environment.yml as a requirements file, for uv.

Standard library only: it runs before any environment exists. The format it
reads is the one scripts/lock.py writes (`- name==version` under `- pip:`),
plus the conda `pip=` pin, so that .venv carries the same pip as the image.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PIP_PIN = re.compile(r"^\s+-\s+([A-Za-z0-9][A-Za-z0-9._-]*==[^\s#]+)")
CONDA_PIP = re.compile(r"^\s+-\s+pip=([^\s#]+)\s*$")


def main(path: str) -> None:
    lines = Path(path).read_text().splitlines()
    for line in lines:
        if m := CONDA_PIP.match(line):
            print(f"pip=={m.group(1)}")
        elif m := PIP_PIN.match(line):
            print(m.group(1))


if __name__ == "__main__":
    main(sys.argv[1])
