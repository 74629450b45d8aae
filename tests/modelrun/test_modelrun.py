"""The kernel side of a module run, in this process: loading, log records, error location."""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import date

import pytest

from kit import modelrun

SOURCE = """\
import logging

log = logging.getLogger(__name__)


def helper(x):
    return 1 / x


class Model:
    def run(self, x: int = 1):
        log.info("running with %s", x)
        return helper(x)
"""


def test_load_module_imports_from_a_file_named_as_the_module() -> None:
    module = modelrun.load_module("models/mine_a.py", "mine_a", SOURCE)
    try:
        assert module.__file__ is not None
        assert module.__file__.endswith("/models/mine_a.py")
        assert sys.modules["mine_a"] is module
        assert module.Model().run(x=2) == 0.5
    finally:
        del sys.modules["mine_a"]


def test_a_name_another_module_owns_is_not_taken() -> None:
    module = modelrun.load_module("json.py", "json", SOURCE)
    assert module.__name__ == "kit_model_json"
    assert sys.modules["json"].__name__ == "json"
    del sys.modules["kit_model_json"]


@pytest.mark.parametrize("file", ["/abs.py", "../up.py", "notpython.txt"])
def test_load_module_refuses_paths_outside_its_folder(file: str) -> None:
    with pytest.raises(ValueError, match=r"must be a relative path to a \.py file"):
        modelrun.load_module(file, "x", SOURCE)


def test_observe_shows_log_records_and_names_the_raising_module_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a kernel: none (not pytest's)
    module = modelrun.load_module("mine_b.py", "mine_b", SOURCE)
    try:
        with pytest.raises(ZeroDivisionError) as info, modelrun.observe(module):
            module.Model().run(x=0)
        err = capsys.readouterr().err
        assert "INFO mine_b: running with 0" in err
        assert "raised at mine_b.py, line 7, in helper" in err  # outside IPython: stderr
        frames = traceback.extract_tb(info.value.__traceback__)
        assert (frames[-1].filename, frames[-1].lineno) == (module.__file__, 7)
        assert logging.getLogger().handlers == []  # removed again
    finally:
        del sys.modules["mine_b"]


def test_location_is_the_innermost_frame_in_the_module() -> None:
    module = modelrun.load_module("mine_c.py", "mine_c", SOURCE)
    try:
        try:
            module.Model().run(x=0)
        except ZeroDivisionError as exc:
            where = modelrun.location(exc.__traceback__, module.__file__, "mine_c.py")
        assert where == {"file": "mine_c.py", "line": 7, "function": "helper"}
    finally:
        del sys.modules["mine_c"]


def test_located_reads_the_location_from_executed_cells() -> None:
    where = {"file": "m.py", "line": 3, "function": "Model.run"}
    cells = [
        {"outputs": [{"output_type": "display_data", "data": {"text/plain": "x"}}]},
        {"outputs": [{"output_type": "display_data", "data": {modelrun.LOCATION_MIME: where}}]},
    ]
    assert modelrun.located(cells) == where
    assert modelrun.located(cells[:1]) is None


def test_as_date_turns_iso_strings_into_dates() -> None:
    assert modelrun.as_date("2026-11-23") == date(2026, 11, 23)
    assert modelrun.as_date(date(2026, 1, 1)) == date(2026, 1, 1)
    assert modelrun.as_date(None) is None


def test_the_extension_adds_kit_module_which_binds_the_module_in_the_notebook() -> None:
    """What the generated notebook's `%load_ext kit.modelrun` and `%%kit_module` cells do,
    in a real IPython shell."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    try:
        shell.run_line_magic("load_ext", "kit.modelrun")
        shell.run_cell_magic("kit_module", "models/mine_c.py mine_c", SOURCE)
        module = shell.user_ns["mine_c"]
        assert sys.modules["mine_c"] is module
        assert module.Model().run(x=4) == 0.25
        with pytest.raises(ValueError, match=r"^usage: %%kit_module FILE NAME$"):
            shell.run_cell_magic("kit_module", "models/mine_d.py", SOURCE)
    finally:
        sys.modules.pop("mine_c", None)
        InteractiveShell.clear_instance()
