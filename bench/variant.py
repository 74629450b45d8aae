"""`kit` with some of the runner's start-up measures switched off, for with/without figures.

    python bench/variant.py [--without=TRICK ...] [--report-cpu] run REF --run-id ID ...

runs kit's CLI exactly as the `kit` console script does, except that each named measure is
undone (kit's own code is not changed; its functions are swapped as their modules load).
The kernel-side measures are undone in the kernel process too: its launcher becomes this
file with `--kernel`. --report-cpu prints the CPU time of kit's own process (not its
kernel's) as the last line on stderr. Bench-only code.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.abc
import importlib.machinery
import resource
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

TRICKS = (
    "engine",  # kit.runner.engine: no save around markdown cells, plain JSON saves
    "ready",  # kit.runner.kernel_manager.ReadyClient: no 0.2 s IOPub flush in wait_for_ready
    "debugpy",  # kit.kernel_launcher: debugpy hidden while ipykernel starts
    "gcpause",  # kit.gcpause: no cyclic GC during start-up (kit run and its kernel)
    "block-gcsfs",  # kit.runner.execute.UNUSED_IMPORTS: gcsfs
    "block-formats",  # kit.runner.execute.UNUSED_IMPORTS: jsonschema's format checkers
)
CPU_LINE = "bench: CPU of kit's process: "
# The entries of kit.runner.execute.UNUSED_IMPORTS each "block-" measure lets through.
UNBLOCKED = {"block-gcsfs": {"gcsfs"}, "block-formats": {"rfc3987_syntax", "isoduration"}}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls patch(module) right after one module has executed, wherever it is imported."""

    def __init__(self, patches: dict[str, Callable[[ModuleType], None]]) -> None:
        self.patches = patches

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        patch = self.patches.get(fullname)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            patch(module)

        loader.exec_module = exec_module
        return spec


def _no_engine(module: ModuleType) -> None:
    setattr(module, "register", lambda: "nbclient")  # noqa: B010  (papermill's own engine)


def _kernel_patches(without: set[str]) -> Callable[[ModuleType], None]:
    def patch(module: ModuleType) -> None:
        from jupyter_client.asynchronous.client import AsyncKernelClient

        if "ready" in without:
            module.ReadyClient.wait_for_ready = AsyncKernelClient.wait_for_ready
        kernel_side = without & {"debugpy", "gcpause"}
        if not kernel_side:
            return
        make = module.kernel_manager

        def kernel_manager(kernel_name: str) -> Any:
            km = make(kernel_name)
            argv = km.kernel_spec.argv
            if argv[1:3] == ["-m", "kit.kernel_launcher"]:
                flags = [f"--without={t}" for t in sorted(kernel_side)]
                km.kernel_spec.argv = [argv[0], __file__, "--kernel", *flags, *argv[3:]]
            return km

        setattr(module, "kernel_manager", kernel_manager)  # noqa: B010

    return patch


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


def _report_cpu() -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{CPU_LINE}{usage.ru_utime + usage.ru_stime:.6f}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> None:
    without = {a.removeprefix("--without=") for a in argv if a.startswith("--without=")}
    if "--report-cpu" in argv:
        atexit.register(_report_cpu)
    rest = [a for a in argv if not a.startswith("--without=") and a != "--report-cpu"]
    if unknown := without - set(TRICKS):
        raise SystemExit(f"unknown trick {sorted(unknown)[0]} (known: {', '.join(TRICKS)})")
    kernel = rest[:1] == ["--kernel"]
    if kernel:
        rest = rest[1:]
        if sys.path and sys.path[0]:
            del sys.path[0]  # this file's folder, as ipykernel_launcher drops the CWD
    sys.argv = [sys.argv[0], *rest]
    from kit import gcpause

    if "gcpause" in without:
        gcpause.pause = _noop
        gcpause.resume = _noop
    if kernel:
        from kit import kernel_launcher as launcher

        if "debugpy" in without:
            launcher.without_debugpy = contextlib.nullcontext  # type: ignore[assignment]
        launcher.main()
        return
    patches: dict[str, Callable[[ModuleType], None]] = {}
    if "engine" in without:
        patches["kit.runner.engine"] = _no_engine
    if without & {"ready", "debugpy", "gcpause"}:
        patches["kit.runner.kernel_manager"] = _kernel_patches(without)
    sys.meta_path.insert(0, _AfterImport(patches))
    from kit.runner import execute

    let_through = set().union(*(UNBLOCKED[t] for t in without if t in UNBLOCKED))
    execute.UNUSED_IMPORTS = tuple(m for m in execute.UNUSED_IMPORTS if m not in let_through)
    from kit.cli import main as cli

    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
