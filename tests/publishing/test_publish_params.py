"""The parameter schema, read from the `parameters` cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from kit.catalog import Parameter
from kit.errors import UsageError
from kit.schema import parse_parameters, schema

FORECAST = Path(__file__).resolve().parents[2] / "notebooks" / "forecast.ipynb"


def test_forecast_notebook_schema() -> None:
    nb = nbformat.read(FORECAST, as_version=4)
    index, params = schema(nb, FORECAST)
    assert index == 1
    by_name = {p.name: p for p in params}
    assert list(by_name) == [
        "dataset_url",
        "horizon",
        "holdout",
        "run_date",
        "output_prefix",
        "interval_width",
    ]
    assert by_name["horizon"] == Parameter(
        "horizon", "int", 365, "periods to forecast, in the dataset's own frequency"
    )
    assert by_name["interval_width"].type == "float"
    assert by_name["dataset_url"].type == "str"
    assert by_name["dataset_url"].comment == "CSV with columns ds, y"


def test_types_comments_and_multiline_literals() -> None:
    source = (
        "# a leading comment line is ignored\n"
        "flag = True  # on or off\n"
        "nothing = None\n"
        "ratio: float = 0.5  # annotated\n"
        "names = ('a', 'b')\n"
        "mapping = {\n"
        "    'x': [1, 2],\n"
        "}  # closing comment\n"
        "negative = -3\n"
        "text = 'has # inside'\n"
    )
    params = {p.name: p for p in parse_parameters(source, "nb.ipynb")}
    assert params["flag"] == Parameter("flag", "bool", True, "on or off")
    assert params["nothing"] == Parameter("nothing", "NoneType", None, "")
    assert params["ratio"] == Parameter("ratio", "float", 0.5, "annotated")
    assert params["names"] == Parameter("names", "list", ["a", "b"], "")
    assert params["mapping"] == Parameter("mapping", "dict", {"x": [1, 2]}, "closing comment")
    assert params["negative"].default == -3
    assert params["text"] == Parameter("text", "str", "has # inside", "")


def test_empty_cell_gives_an_empty_schema() -> None:
    assert parse_parameters("# nothing to set\n", "nb.ipynb") == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1 +", "cannot parse the parameters cell"),
        ("%matplotlib inline\nx = 1", "cannot parse the parameters cell"),
        ("import os\n", "must hold only assignments"),
        ("print(1)\n", "must hold only assignments"),
        ("x = y = 1\n", "must hold only assignments"),
        ("a, b = 1, 2\n", "one plain name per line"),
        ("obj.attr = 1\n", "one plain name per line"),
        ("x = compute()\n", "default must be a literal"),
        ("x = {1, 2}\n", "a set default cannot be a parameter"),
        ("x = {1: 'a'}\n", "is not JSON-compatible"),
        ("x = 1\nx = 2\n", "parameter 'x' already assigned on line 1"),
    ],
)
def test_unparsable_cells_are_refused(source: str, message: str) -> None:
    with pytest.raises(UsageError, match=r"nb\.ipynb") as info:
        parse_parameters(source, "nb.ipynb")
    assert message in str(info.value)
    assert "\n" not in str(info.value)
