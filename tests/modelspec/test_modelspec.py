"""A model module's declaration read from source: Model, run() and its parameter schema."""

from __future__ import annotations

import textwrap

import pytest

from kit.catalog import Parameter
from kit.errors import UsageError
from kit.modelspec import docstring, read


def spec_of(body: str, header: str = "") -> list[Parameter]:
    source = (
        textwrap.dedent(header)
        + "\n\nclass Model:\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    return read(source, "model.py").parameters


def refused(source: str) -> str:
    with pytest.raises(UsageError) as info:
        read(textwrap.dedent(source), "model.py")
    message = str(info.value)
    assert message.startswith("model.py")
    assert "\n" not in message
    return message


def test_the_original_designs_model_has_no_parameters() -> None:
    # The entry script of the design kit comes from called `model.Model().run()`.
    source = "class Model:\n    def run(self):\n        print('running')\n"
    spec = read(source, "test_model.py")
    assert spec.parameters == []
    assert (spec.class_line, spec.run_line) == (1, 2)


def test_types_come_from_annotations_and_defaults() -> None:
    params = spec_of(
        """
        def run(
            self,
            horizon: int = 365,
            width: float = 1,
            label: str = "x",
            flag: bool = False,
            tags: list[str] = ["a"],
            options: dict = {"k": 1},
            run_date: date = date(2026, 11, 23),
            start: datetime.date = "2026-01-02",
            mode: Literal["add", "mul"] = "add",
            level: typing.Literal[1, 2, 3] = 2,
            limit: int | None = None,
            cap: Optional[float] = 2.5,
            plain=3,
            untyped_none=None,
            *,
            keyword_only: "int" = 4,
        ):
            pass
        """,
        header="import datetime, typing\nfrom datetime import date\nfrom typing import *",
    )
    assert [(p.name, p.type, p.default, p.choices) for p in params] == [
        ("horizon", "int", 365, None),
        ("width", "float", 1.0, None),
        ("label", "str", "x", None),
        ("flag", "bool", False, None),
        ("tags", "list", ["a"], None),
        ("options", "dict", {"k": 1}, None),
        ("run_date", "date", "2026-11-23", None),
        ("start", "date", "2026-01-02", None),
        ("mode", "str", "add", ["add", "mul"]),
        ("level", "int", 2, [1, 2, 3]),
        ("limit", "int", None, None),
        ("cap", "float", 2.5, None),
        ("plain", "int", 3, None),
        ("untyped_none", "NoneType", None, None),
        ("keyword_only", "int", 4, None),
    ]


def test_descriptions_come_from_the_docstring_args_or_a_trailing_comment() -> None:
    params = spec_of(
        '''
        def run(
            self,
            horizon: int = 365,  # a comment loses to the docstring
            holdout: int = 30,  # rows held out
            label: str = "x",
        ):
            """Forecast.

            Args:
                horizon (int): periods to forecast,
                    in the data's frequency
                label: shown in titles
            Returns:
                the forecast
            """
        '''
    )
    assert [p.comment for p in params] == [
        "periods to forecast, in the data's frequency",
        "rows held out",
        "shown in titles",
    ]


def test_numpy_style_parameters_sections_are_read() -> None:
    params = spec_of(
        '''
        def run(self, horizon: int = 1, label: str = "x"):
            """Forecast.

            Parameters
            ----------
            horizon : int
                periods to forecast
            label : str
                shown in titles

            Returns
            -------
            DataFrame
            """
        '''
    )
    assert [p.comment for p in params] == ["periods to forecast", "shown in titles"]


def test_run_may_come_from_a_base_class_in_the_same_file_and_be_static() -> None:
    source = textwrap.dedent(
        """
        class Base:
            @staticmethod
            def run(horizon: int = 5):
                pass

        class Model(Base):
            pass
        """
    )
    assert [p.name for p in read(source, "m.py").parameters] == ["horizon"]


def test_an_init_with_defaults_is_fine() -> None:
    params = spec_of("def __init__(self, verbose=False):\n    pass\ndef run(self, x: int = 1): ...")
    assert [p.name for p in params] == ["x"]


def test_docstring_of_the_module() -> None:
    assert docstring('"""A model.\n\nMore."""\nclass Model: ...') == "A model.\n\nMore."
    assert docstring("def (") == ""


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1\n", "no top-level `class Model`; a model module defines class Model"),
        (
            "class Forecaster:\n    def run(self): ...\n",
            "no top-level `class Model` (class Forecaster has run(): name it Model)",
        ),
        ("class Model:\n    def fit(self): ...\n", "line 1: class Model has no run() method"),
        ("class Model:\n    async def run(self): ...\n", "line 2: Model.run must be a plain def"),
        (
            "class Model:\n    def run(self:\n",
            "line 2, column 12: syntax error: '(' was never closed",
        ),
        (
            "class Model:\n    def run(self, *args, **kwargs): ...\n",
            "line 2: Model.run(*args, **kwargs) declares no parameters kit can check or pass; "
            "declare each as a keyword parameter with a type and a default",
        ),
        (
            "class Model:\n    def run(self, **options): ...\n",
            "Model.run(**options) declares no parameters",
        ),
        (
            "class Model:\n    def run(self, a, /, b=1): ...\n",
            "positional-only parameters",
        ),
        (
            "class Model:\n    def run(self, horizon: int): ...\n",
            "line 2: run() parameter 'horizon' has no default",
        ),
        (
            "import os\nclass Model:\n    def run(self, path: str = os.getcwd()): ...\n",
            "line 3: run() parameter 'path': default 'os.getcwd()' is not a literal",
        ),
        (
            "class Model:\n    def run(self, n: int = 1.5): ...\n",
            "run() parameter 'n': default 1.5 does not match the annotation int",
        ),
        (
            "class Model:\n    def run(self, d: date = 'soon'): ...\n",
            "default 'soon' is not an ISO date",
        ),
        (
            "class Model:\n    def run(self, d: date = date(2026, 13, 1)): ...\n",
            "date(2026, 13, 1) is not a valid date",
        ),
        (
            "class Model:\n    def run(self, mode: Literal['a', 'b'] = 'c'): ...\n",
            "default 'c' is not one of ['a', 'b']",
        ),
        (
            "class Model:\n    def run(self, mode: Literal['a', 1] = 'a'): ...\n",
            "Literal[...] choices must be all str",
        ),
        (
            "import pandas as pd\nclass Model:\n    def run(self, t: pd.Timestamp = 'x'): ...\n",
            "annotation 'pd.Timestamp' is not supported (use int, float, str, bool, date",
        ),
        (
            "class Model:\n    def __init__(self, data):\n        pass\n    def run(self): ...\n",
            "line 2: Model.__init__ needs 'data'; kit creates Model() without arguments",
        ),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else "",
)
def test_bad_modules_are_refused_with_the_file_and_line(source: str, message: str) -> None:
    assert message in refused(source)
