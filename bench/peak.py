"""Run a module in this process and write its peak RSS (VmHWM) when it exits.

    .venv/bin/python bench/peak.py OUT_FILE -m kit.cli.main run ...

For `kit run`: its own memory, without its kernel's (a separate process that wait4 would
count in). The number lands in OUT_FILE (bytes) however the command exits.
"""

from __future__ import annotations

import atexit
import runpy
import sys
from pathlib import Path


def _peak() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    out, flag, module, *args = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: peak.py OUT_FILE -m MODULE [ARGS...]")
    atexit.register(lambda: Path(out).write_text(str(_peak())))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
