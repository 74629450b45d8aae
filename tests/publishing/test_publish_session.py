"""Inside a kernel: finding the session's notebook, and noticing unsaved work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kit.config import Settings
from kit.errors import UsageError
from kit.publishing import publish_notebook, session

MakeNotebook = Callable[..., Path]


class FakeShell:
    """What kit.publishing.session uses of an IPython kernel shell."""

    kernel = object()

    def __init__(self, user_ns: dict[str, Any]) -> None:
        self.user_ns = user_ns

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


def test_unsaved_work_detection(make_notebook: MakeNotebook, notebook_builder: Any) -> None:
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
    assert warning.startswith("nb.ipynb: the cell run last in this kernel (In [2])")
    assert "save the notebook" in warning


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
    assert any("is not in the saved file" in w for w in warned)
    assert result.warnings == tuple(warned)
