"""Bad input: a one-line UsageError naming the file (exit code 2), and nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell

from kit.config import Settings
from kit.errors import UsageError
from kit.publishing import publish_notebook

AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
MakeNotebook = Callable[..., Path]


def _refused(path: Path, settings: Settings, name: str | None = None) -> str:
    with pytest.raises(UsageError) as info:
        publish_notebook(path, name, settings=settings)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in message
    assert message.startswith(str(path)), message
    return message


@pytest.fixture
def nothing_written(modules_objects: Callable[[], list[str]]) -> object:
    yield None
    assert modules_objects() == []


@pytest.mark.usefixtures("nothing_written")
class TestRefusals:
    def test_missing_file(self, tmp_path: Path, gcs_settings: Settings) -> None:
        assert "no such file" in _refused(tmp_path / "absent.ipynb", gcs_settings)

    def test_not_json(self, tmp_path: Path, gcs_settings: Settings) -> None:
        path = tmp_path / "broken.ipynb"
        path.write_text('{"cells": [')
        assert "not a notebook (invalid JSON" in _refused(path, gcs_settings)

    def test_json_but_not_a_notebook(self, tmp_path: Path, gcs_settings: Settings) -> None:
        path = tmp_path / "data.ipynb"
        path.write_text(json.dumps({"hello": [1, 2]}))
        assert "not a Jupyter notebook" in _refused(path, gcs_settings)

    def test_json_list(self, tmp_path: Path, gcs_settings: Settings) -> None:
        path = tmp_path / "list.ipynb"
        path.write_text("[]")
        assert "not a Jupyter notebook" in _refused(path, gcs_settings)

    def test_old_nbformat(self, tmp_path: Path, gcs_settings: Settings) -> None:
        path = tmp_path / "old.ipynb"
        path.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "cells": []}))
        assert "nbformat 3 is not supported" in _refused(path, gcs_settings)

    def test_schema_violation(self, tmp_path: Path, gcs_settings: Settings) -> None:
        path = tmp_path / "invalid.ipynb"
        bad_cell = {"cell_type": "code", "source": "x", "metadata": {}}  # no outputs
        nb = {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [bad_cell]}
        path.write_text(json.dumps(nb))
        assert "invalid notebook" in _refused(path, gcs_settings)

    def test_two_parameters_cells(
        self, make_notebook: MakeNotebook, gcs_settings: Settings
    ) -> None:
        second = new_code_cell("other = 1", metadata={"tags": ["parameters"]})
        message = _refused(make_notebook(extra_cells=[second]), gcs_settings)
        assert "2 cells tagged 'parameters' (cells 2, 4)" in message  # 1-based, as in Lab

    def test_unparsable_parameters(
        self, make_notebook: MakeNotebook, gcs_settings: Settings
    ) -> None:
        path = make_notebook(params="import os\nhorizon = int(os.environ['H'])\n")
        message = _refused(path, gcs_settings)
        assert "cell 2 (parameters), line 1" in message
        assert "must hold only assignments" in message

    def test_invalid_file_name_suggests_name(
        self, make_notebook: MakeNotebook, gcs_settings: Settings
    ) -> None:
        message = _refused(make_notebook("My Notebook.ipynb"), gcs_settings)
        assert "'My Notebook' is not a valid notebook name" in message
        assert "publish it as 'my-notebook'" in message
        assert 'kit.publish(name="my-notebook"), or --name my-notebook in a shell' in message

    def test_a_jupyterlab_copy_is_refused_with_the_name_to_use(
        self, make_notebook: MakeNotebook, gcs_settings: Settings
    ) -> None:
        message = _refused(make_notebook("forecast-Copy1.ipynb"), gcs_settings)
        assert "file name 'forecast-Copy1' is not a valid notebook name" in message
        assert "publish it as 'forecast-copy1'" in message

    def test_upper_case_stem_is_not_lowered(
        self, make_notebook: MakeNotebook, gcs_settings: Settings
    ) -> None:
        assert "'Forecast'" in _refused(make_notebook("Forecast.ipynb"), gcs_settings)

    def test_invalid_explicit_name(
        self, make_notebook: MakeNotebook, gcs_settings: Settings
    ) -> None:
        message = _refused(make_notebook(), gcs_settings, name="Bad Name")
        assert "invalid notebook name 'Bad Name'" in message

    def test_secret(self, make_notebook: MakeNotebook, gcs_settings: Settings) -> None:
        path = make_notebook(body=f'x = 1\naws_key = "{AWS_KEY}"')
        message = _refused(path, gcs_settings)
        # Numbered as JupyterLab shows it (kit.cells): the third cell, run as In [3].
        assert "cell 3, In [3], line 2: possible secret (AWS Access Key)" in message
        assert AWS_KEY not in message

    def test_non_python_kernel(self, make_notebook: MakeNotebook, gcs_settings: Settings) -> None:
        spec = {"name": "ir", "display_name": "R", "language": "R"}
        assert "kernel 'ir' is not Python" in _refused(make_notebook(kernelspec=spec), gcs_settings)

    def test_directory(self, tmp_path: Path, gcs_settings: Settings) -> None:
        folder = tmp_path / "folder.ipynb"
        folder.mkdir()
        assert "is a directory" in _refused(folder, gcs_settings)


def test_kernel_name_alone_is_enough(make_notebook: MakeNotebook, gcs_settings: Settings) -> None:
    path = make_notebook(kernelspec={"name": "python3-forecast", "display_name": "Forecast"})
    assert publish_notebook(path, settings=gcs_settings).created


def test_outside_a_session_a_path_is_required(gcs_settings: Settings) -> None:
    with pytest.raises(UsageError, match=r"not in a Jupyter notebook session; pass"):
        publish_notebook(settings=gcs_settings)
