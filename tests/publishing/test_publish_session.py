"""Inside a kernel: finding the session's notebook, and noticing unsaved work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kit.config import Settings
from kit.errors import UsageError
from kit.publishing import publish_notebook, session

MakeNotebook = Callable[..., Path]


class FakeShell:
    """What kit.publishing.session uses of an IPython kernel shell.

    last_execution_result as IPython keeps it: the cell run before the current one, with
    the cell id JupyterLab sent (None: a frontend without ids, such as a console).
    """

    kernel = object()

    def __init__(
        self, user_ns: dict[str, Any], last: tuple[str, str | None, int] | None = None
    ) -> None:
        self.user_ns = user_ns
        self.last_execution_result = None
        if last is not None:
            raw, cell_id, count = last
            info = SimpleNamespace(raw_cell=raw, cell_id=cell_id, silent=False)
            self.last_execution_result = SimpleNamespace(info=info, execution_count=count)

    def transform_cell(self, source: str) -> str:
        return source.rstrip() + "\n"


@pytest.fixture(autouse=True)
def _no_session_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(session.SESSION_VAR, raising=False)


def test_path_from_session_global(make_notebook: MakeNotebook) -> None:
    path = make_notebook("nb.ipynb")
    assert session.notebook_path(FakeShell({"__session__": str(path)})) == path


def test_path_from_environment_relative_to_cwd(
    make_notebook: MakeNotebook, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_notebook("sub/nb.ipynb")
    monkeypatch.chdir(path.parent)
    monkeypatch.setenv(session.SESSION_VAR, "sub/nb.ipynb")  # an API path: the kernel runs in sub/
    assert session.notebook_path(FakeShell({})).resolve() == path.resolve()


def test_a_percent_script_opened_as_a_notebook_is_the_sessions_file(tmp_path: Path) -> None:
    script = tmp_path / "weekly.py"  # JupyterLab with jupytext opens .py files as notebooks
    script.write_text('# %% tags=["parameters"]\nx = 1\n')
    assert session.notebook_path(FakeShell({"__session__": str(script)})) == script


def test_renamed_notebook_is_reported(tmp_path: Path) -> None:
    shell = FakeShell({"__session__": str(tmp_path / "gone.ipynb")})
    with pytest.raises(UsageError, match=r"gone.ipynb was not found \(renamed or moved\?\)"):
        session.notebook_path(shell)


def test_no_session_at_all() -> None:
    with pytest.raises(UsageError, match="not in a Jupyter notebook session"):
        session.notebook_path(FakeShell({}))


def test_unsaved_work_without_cell_ids_compares_code(
    make_notebook: MakeNotebook, notebook_builder: Any
) -> None:
    nb = notebook_builder()
    path = Path("nb.ipynb")
    saved = "result = horizon * 2\nprint(label, result)"
    publish = "import kit\nkit.publish()"

    def check(*history: str) -> str | None:
        return session.unsaved_work(FakeShell({"In": ["", *history]}), nb, path)

    assert check(publish) is None  # nothing run before
    assert check(saved, publish) is None
    assert check(saved + "\n\n", "kit.publish()") is None  # whitespace does not matter
    assert check("scratch = 1", saved, publish) is None  # only the last run cell counts
    warning = check(saved, "result = horizon * 3", publish)
    assert warning is not None
    assert warning.startswith(
        "nb.ipynb: the code run last in this kernel (In [2]) is in no cell of the saved file"
    )
    assert "save the notebook" in warning


def test_unsaved_work_by_cell_id_names_the_cell_and_stays_quiet_when_unsure(
    notebook_builder: Any,
) -> None:
    nb = notebook_builder()  # nbformat 4.5: cells have ids
    body = nb.cells[2]
    path = Path("nb.ipynb")

    def check(raw: str, cell_id: str | None, count: int = 7) -> str | None:
        return session.unsaved_work(FakeShell({"In": []}, (raw, cell_id, count)), nb, path)

    assert check(body.source, body.id) is None  # run as saved
    assert check(body.source + "\n  ", body.id) is None  # trailing whitespace
    warning = check("result = horizon * 3", body.id)
    assert warning is not None
    assert warning.startswith("nb.ipynb: cell 3, In [7] ran code that differs from that cell")
    # Not in the saved file: new, deleted, lost in a page reload, or another notebook's.
    assert check("scratch = 1", "abcdef12") is None
    assert check("import kit\nkit.publish()", "other-id") is None  # a publish again


def test_publish_from_a_kernel_warns_about_unsaved_work(
    make_notebook: MakeNotebook, gcs_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_notebook("live.ipynb")
    history = ["", "result = horizon * 5  # edited, not saved", "import kit; kit.publish()"]
    shell = FakeShell({"__session__": str(path), "In": history})
    monkeypatch.setattr(session, "kernel_shell", lambda: shell)
    warned: list[str] = []
    result = publish_notebook(settings=gcs_settings, warn=warned.append)
    assert result.name == "live"
    assert any("is in no cell of the saved file" in w for w in warned)
    assert result.warnings == tuple(warned)
    assert result.title.startswith("Published with warnings")
