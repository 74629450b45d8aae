"""In a run's kernel: load a model module from its cell and watch `Model().run()`.

The notebook kit runs for a model module (kit.runner.module_source) loads this IPython
extension with `%load_ext kit.modelrun`. Then:

- `%%kit_module FILE NAME` (a cell magic; the cell holds the module's source) writes the
  source to FILE in a folder of this kernel's own and imports it as module NAME, bound
  to NAME in the notebook. Tracebacks therefore name the module's own file and lines,
  and `inspect`, pickling and dataclasses work as for any imported module.
- `with kit.modelrun.observe(module):` around the run() call shows the log records
  of run() below the cell (stderr, when the module configured no logging of its own)
  and, when run() raises, first displays where in the module: the innermost frame in
  its file, under LOCATION_MIME, which `kit run` copies into run.json's error.

Standard library and IPython only: this module is imported inside every module run.
"""

from __future__ import annotations

import atexit
import datetime
import importlib.util
import logging
import shutil
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from types import ModuleType, TracebackType
from typing import Any, Literal

LOCATION_MIME = "application/vnd.kit.error-location+json"
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
_folder: Path | None = None


def _module_folder() -> Path:
    """This kernel's folder for module files, removed when the kernel exits."""
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="kit-module-"))
        atexit.register(shutil.rmtree, _folder, ignore_errors=True)
    return _folder


def load_module(file: str, name: str, source: str) -> ModuleType:
    """Write source to `file` (a relative path) in this kernel's folder; import it as name."""
    relative = PurePosixPath(file)
    if relative.is_absolute() or ".." in relative.parts or not relative.name.endswith(".py"):
        raise ValueError(f"%%kit_module: {file!r} must be a relative path to a .py file")
    if not name.isidentifier():
        raise ValueError(f"%%kit_module: {name!r} is not a module name")
    path = _module_folder().joinpath(*relative.parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    registered = name if _unused(name) else f"kit_model_{name}"
    spec = importlib.util.spec_from_file_location(registered, path)
    if spec is None or spec.loader is None:  # never for a .py path
        raise ImportError(f"%%kit_module: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[registered] = module
    try:
        with observe(module):
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[registered]
        raise
    return module


def _unused(name: str) -> bool:
    """Whether no module is importable as name (a model file named prophet.py is not prophet)."""
    if name in sys.modules:
        return False
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return False


def kit_module(line: str, cell: str) -> None:
    """`%%kit_module FILE NAME`: import the cell's source as module NAME, from file FILE."""
    from IPython import get_ipython

    parts = line.split()
    if len(parts) != 2:
        raise ValueError("usage: %%kit_module FILE NAME")
    module = load_module(parts[0], parts[1], cell)
    shell = get_ipython()
    if shell is not None:
        shell.user_ns[parts[1]] = module


def load_ipython_extension(ipython: Any) -> None:
    """IPython's extension hook (`%load_ext kit.modelrun`): register %%kit_module."""
    ipython.register_magic_function(kit_module, magic_kind="cell", magic_name="kit_module")


def as_date(value: Any) -> datetime.date | None:
    """A date parameter as run() receives it: kit passes ISO strings (YYYY-MM-DD)."""
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value))


def location(tb: TracebackType | None, file: str, shown: str) -> dict[str, Any] | None:
    """The innermost frame of tb in `file`: {file: shown, line, function}; None if none."""
    found = None
    for frame, line in traceback.walk_tb(tb):
        if frame.f_code.co_filename == file:
            found = {"file": shown, "line": line, "function": frame.f_code.co_qualname}
    return found


class observe:  # lower case: used as `with observe(module):`, like contextlib's helpers
    """Show run()'s log records below the cell, and where in the module an error was raised.

    An exception always propagates unchanged (same object, same traceback).
    """

    def __init__(self, module: ModuleType) -> None:
        self.file = str(getattr(module, "__file__", "") or "")
        folder = _module_folder()
        path = Path(self.file)
        self.shown = str(path.relative_to(folder)) if path.is_relative_to(folder) else path.name
        self._handler: logging.Handler | None = None
        self._level = logging.NOTSET

    def __enter__(self) -> observe:
        root = logging.getLogger()
        if not root.handlers:  # the module configured no logging: show records at INFO+
            self._handler = logging.StreamHandler(sys.stderr)
            self._handler.setFormatter(logging.Formatter(LOG_FORMAT))
            self._level = root.level
            root.addHandler(self._handler)
            if root.level > logging.INFO or root.level == logging.NOTSET:
                root.setLevel(logging.INFO)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if self._handler is not None:
            root = logging.getLogger()
            self._handler.flush()
            root.removeHandler(self._handler)
            root.setLevel(self._level)
            self._handler = None
        if isinstance(exc, Exception):
            where = location(tb, self.file, self.shown)
            if where is not None:
                _display_location(where)
        return False


def _display_location(where: Mapping[str, Any]) -> None:
    text = f"raised at {where['file']}, line {where['line']}, in {where['function']}"
    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    if shell is None:  # plain Python: nothing collects it, just say it
        print(text, file=sys.stderr)
        return
    from IPython.display import display

    display({LOCATION_MIME: dict(where), "text/plain": text}, raw=True)  # type: ignore[no-untyped-call]


def located(cells: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The last error location an executed notebook's cells displayed (None: none)."""
    found = None
    for cell in cells:
        for output in cell.get("outputs", ()) or ():
            data = output.get("data") or {}
            where = data.get(LOCATION_MIME)
            if isinstance(where, Mapping) and "line" in where:
                found = dict(where)
    return found
