"""Publishing .py files on the embedded GCS: model modules and jupytext percent scripts.

Same versions, pointer, manifest and rollback as notebooks; each bad input a one-line
error naming the file, exit code 2, and nothing written.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import kit
from kit.catalog import VERSION_RE, Catalog
from kit.config import Settings
from kit.errors import UsageError
from kit.publishing import publish_notebook, rollback
from kit.storage import storage_for

ROOT = Path(__file__).resolve().parents[2]
PROPHET_MODEL = ROOT / "models" / "prophet_model.py"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
MODULE = '''\
"""A small model."""
from datetime import date
from typing import Literal


class Model:
    def run(
        self,
        horizon: int = 30,  # periods ahead
        run_date: date = date(2026, 11, 23),
        growth: Literal["linear", "flat"] = "linear",
    ):
        """Forecast.

        Args:
            run_date: forecast as of this date
        """
        return horizon
'''
PERCENT = """\
# %% [markdown]
# # A percent script

# %% tags=["parameters"]
horizon = 30  # periods ahead
label = "demo"

# %%
# %matplotlib inline
print(label, horizon * 2)

# %%
import kit
kit.publish()
"""
Run = Callable[..., subprocess.CompletedProcess[str]]


def write(tmp_path: Path, filename: str, text: str) -> Path:
    path = tmp_path / filename
    path.write_text(textwrap.dedent(text))
    return path


def test_a_model_module_is_stored_as_is_with_its_schema(
    tmp_path: Path, gcs_settings: Settings
) -> None:
    path = write(tmp_path, "small_model.py", MODULE)
    first = publish_notebook(path, settings=gcs_settings)
    assert first.created
    assert first.name == "small_model"
    assert VERSION_RE.match(first.version)
    assert first.url == f"{gcs_settings.modules_bucket}/notebooks/small_model/{first.version}.py"
    assert storage_for(first.url).read(first.url) == path.read_bytes()
    manifest = first.manifest
    assert manifest.kind == "module"
    assert manifest.sha256.startswith(first.version.rsplit("-", 1)[1])
    assert manifest.extra["module_file"] == "small_model.py"
    assert [(p.name, p.type, p.default, p.comment, p.choices) for p in manifest.parameters] == [
        ("horizon", "int", 30, "periods ahead", None),
        ("run_date", "date", "2026-11-23", "forecast as of this date", None),
        ("growth", "str", "linear", "", ["linear", "flat"]),
    ]
    catalog = Catalog(gcs_settings)
    latest = json.loads(catalog.storage.read(catalog.latest_url("small_model")))
    assert (latest["version"], latest["url"]) == (first.version, first.url)
    assert catalog.resolve("small_model").notebook_url == first.url

    again = publish_notebook(path, settings=gcs_settings)
    assert (again.created, again.version) == (False, first.version)

    path.write_text(MODULE.replace("horizon = 30", "horizon = 60").replace("= 30", "= 60"))
    second = publish_notebook(path, settings=gcs_settings)
    assert second.created
    assert second.is_latest
    assert catalog.versions("small_model") == [second.version, first.version]
    back = rollback("small_model", first.version, settings=gcs_settings)
    assert back.url == first.url
    assert catalog.resolve("small_model@latest").version == first.version


def test_kit_publish_from_a_notebook_cell_takes_a_module_path(
    gcs_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    published = kit.publish(str(PROPHET_MODEL), settings=gcs_settings)
    assert published.manifest.kind == "module"
    assert capsys.readouterr().out.startswith(f"published prophet_model@{published.version} ")
    schema = published.manifest.schema()
    assert list(schema) == [
        "dataset_url",
        "horizon",
        "holdout",
        "run_date",
        "output_prefix",
        "interval_width",
    ]
    assert (schema["run_date"].type, schema["run_date"].default) == ("date", "2026-11-23")
    assert schema["horizon"].comment == "periods to forecast, in the dataset's own frequency"
    assert published.manifest.source_path == "models/prophet_model.py"


def test_a_percent_script_is_published_as_its_notebook(
    tmp_path: Path, gcs_settings: Settings
) -> None:
    path = write(tmp_path, "script.py", PERCENT)
    published = publish_notebook(path, settings=gcs_settings)
    assert published.url.endswith(f"/notebooks/script/{published.version}.ipynb")
    manifest = published.manifest
    assert (manifest.kind, manifest.extra["format"]) == ("notebook", "py:percent")
    assert manifest.extra["parameters_cell"] == 1
    assert manifest.extra["skip_cells"] == [3]  # the kit.publish() cell, as for .ipynb
    assert [(p.name, p.default, p.comment) for p in manifest.parameters] == [
        ("horizon", 30, "periods ahead"),
        ("label", "demo", ""),
    ]
    nb = json.loads(storage_for(published.url).read(published.url))
    assert [c["cell_type"] for c in nb["cells"]] == ["markdown", "code", "code", "code"]
    assert nb["cells"][1]["metadata"]["tags"] == ["parameters"]
    assert nb["cells"][3]["metadata"]["tags"] == ["kit-skip"]
    assert all(c.get("outputs", []) == [] for c in nb["cells"])
    assert "jupytext" not in nb["metadata"]
    assert nb["metadata"]["kernelspec"]["language"] == "python"


def test_a_percent_script_without_parameters_cell_is_published_without_parameters(
    tmp_path: Path, gcs_settings: Settings
) -> None:
    path = write(tmp_path, "plain.py", "# %%\nx = 1\n\n# %%\nprint(x)\n")
    told: list[str] = []
    published = publish_notebook(path, settings=gcs_settings, inform=told.append)
    assert published.manifest.parameters == []
    assert published.manifest.extra["parameters_cell"] is None
    assert told == [
        f"{path}: no cell is tagged 'parameters', so it is published without parameters "
        "(runs take no -p); tag the cell holding the defaults to declare some"
    ]
    assert published.notes == tuple(told)


def test_cli_publishes_and_shows_a_module(kit_run: Run, tmp_path: Path) -> None:
    write(tmp_path, "small_model.py", MODULE)
    done = kit_run("publish", "small_model.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("published small_model@")
    assert done.stdout.split()[2].endswith(".py")
    shown = kit_run("show", "small_model")
    assert shown.returncode == 0, shown.stderr
    assert "kind         module" in shown.stdout
    assert 'str, one of ["linear", "flat"]' in shown.stdout
    assert kit_run("versions", "small_model").returncode == 0


@pytest.fixture
def nothing_written(modules_objects: Callable[[], list[str]]) -> object:
    yield None
    assert modules_objects() == []


BAD_INPUTS = {
    "no_model": ("class Forecaster:\n    def run(self): ...\n", "no top-level `class Model`"),
    "no_run": ("class Model:\n    def fit(self): ...\n", "line 1: class Model has no run()"),
    "syntax": (
        "import os\n\nclass Model:\n    def run(self) ->:\n        pass\n",
        "line 4, column 19: syntax error: expected ':'",
    ),
    "star_args": (
        "class Model:\n    def run(self, *args, **kwargs): ...\n",
        "Model.run(*args, **kwargs) declares no parameters kit can check or pass; declare "
        "each as a keyword parameter with a type and a default",
    ),
    "not_literal": (
        "import os\nclass Model:\n    def run(self, home: str = os.environ['HOME']): ...\n",
        "line 3: run() parameter 'home': default \"os.environ['HOME']\" is not a literal",
    ),
    "neither": (
        "import os\nprint(os.getcwd())\n",
        "neither a model module (no top-level `class Model` with a run() method) nor a "
        "jupytext percent script (no `# %%` cell markers)",
    ),
    "secret": (
        f'class Model:\n    def run(self):\n        key = "{AWS_KEY}"\n',
        "line 3: possible secret (AWS Access Key)",
    ),
    "percent_secret": (
        f'# %% tags=["parameters"]\nx = 1\n\n# %%\nkey = "{AWS_KEY}"\n',
        "line 5: possible secret (AWS Access Key)",
    ),
    "percent_syntax": (
        '# %% tags=["parameters"]\nx = 1\n\n# %%\nprint(x\n',
        "line 5: syntax error in cell 2",
    ),
    "percent_parameters": (
        '# %%\nimport os\n\n# %% tags=["parameters"]\nx = 1\nx = os.getcwd()\n',
        "parameters cell (cell 2), line 6: parameter 'x' already assigned on line 5",
    ),
    "bad_name": (MODULE, "invalid notebook name 'Bad Name'"),
}


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_python_files_are_refused_on_one_line_with_exit_2(
    case: str, tmp_path: Path, gcs_settings: Settings, kit_run: Run
) -> None:
    text, expected = BAD_INPUTS[case]
    path = tmp_path / f"{case}.py"
    path.write_text(text)
    args = ["--name", "Bad Name"] if case == "bad_name" else []
    result = kit_run("publish", str(path), *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"kit: error: {path}"), lines[0]
    assert expected in lines[0]
    assert result.stdout == ""
    with pytest.raises(UsageError, match=r"^" + str(path)):
        publish_notebook(path, "bad name" if case == "bad_name" else None, settings=gcs_settings)


@pytest.mark.usefixtures("nothing_written")
def test_unreadable_python_files_are_refused(tmp_path: Path, gcs_settings: Settings) -> None:
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"\xff\xfe\x00class Model")
    with pytest.raises(UsageError, match=r"binary\.py: not a Python file \(not UTF-8 text\)$"):
        publish_notebook(binary, settings=gcs_settings)
    with pytest.raises(UsageError, match=r"absent\.py: no such file$"):
        publish_notebook(tmp_path / "absent.py", settings=gcs_settings)
