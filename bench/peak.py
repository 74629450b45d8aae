"""Run a module (or code) in this process and write its peak RSS (VmHWM) when it exits.

    .venv/bin/python bench/peak.py OUT_FILE -m kit.cli.main run ...
    .venv/bin/python bench/peak.py OUT_FILE -c CODE ARGS...
    .venv/bin/python bench/peak.py OUT_FILE SCRIPT.py ARGS...

The process's own peak: not its kernel's (`kit run` starts one as another process), and
not its parent's (wait4's ru_maxrss keeps the larger RSS of the process it was forked
from: the bench's). The number lands in OUT_FILE (bytes) however the command exits.
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
    out, flag, *rest = sys.argv[1:]
    atexit.register(lambda: Path(out).write_text(str(_peak())))
    if flag.endswith(".py"):
        sys.argv = [flag, *rest]
        runpy.run_path(flag, run_name="__main__")
        return
    if flag not in ("-m", "-c") or not rest:
        raise SystemExit("usage: peak.py OUT_FILE (-m MODULE | -c CODE | SCRIPT.py) [ARGS...]")
    what, *args = rest
    if flag == "-c":
        sys.argv = ["-c", *args]
        exec(compile(what, "<string>", "exec"), {"__name__": "__main__"})
    else:
        sys.argv = [what, *args]
        runpy.run_module(what, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
