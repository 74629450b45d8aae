"""Parameters are checked against the schema before any kernel starts."""

from __future__ import annotations

import pytest

from kit.catalog import Parameter
from kit.errors import UsageError
from kit.runner.params import effective, resolve_parameters

SCHEMA = {
    p.name: p
    for p in [
        Parameter("horizon", "int", 365),
        Parameter("width", "float", 0.8),
        Parameter("url", "str", "gs://x"),
        Parameter("full", "bool", False),
        Parameter("datasets", "list", ["a"]),
        Parameter("options", "dict", {}),
        Parameter("maybe", "NoneType", None),
    ]
}


def test_cli_strings_are_cast_to_the_defaults_types() -> None:
    got = resolve_parameters(
        SCHEMA,
        [
            ("horizon", "30"),
            ("width", "0.9"),
            ("full", "yes"),
            ("datasets", '["b", "c"]'),
            ("options", '{"k": 1}'),
            ("maybe", "anything"),
            ("url", "gs://y"),
        ],
    )
    assert got == {
        "horizon": 30,
        "width": 0.9,
        "full": True,
        "datasets": ["b", "c"],
        "options": {"k": 1},
        "maybe": "anything",
        "url": "gs://y",
    }


def test_json_values_keep_their_types_and_ints_widen_to_float() -> None:
    got = resolve_parameters(SCHEMA, params_json='{"horizon": 7, "width": 1, "full": false}')
    assert got == {"horizon": 7, "width": 1.0, "full": False}
    assert isinstance(got["width"], float)


def test_cli_pairs_override_json() -> None:
    got = resolve_parameters(SCHEMA, [("horizon", "9")], '{"horizon": 7}')
    assert got == {"horizon": 9}


def test_unknown_parameter_names_the_notebook_and_suggests() -> None:
    with pytest.raises(
        UsageError, match=r"forecast@v1: unknown parameter 'horizn'; did you mean horizon\?"
    ):
        resolve_parameters(SCHEMA, [("horizn", "3")], where="forecast@v1")


@pytest.mark.parametrize(
    ("text", "value"),
    [("None", None), ("True", True), ("7", 7), ("0.5", 0.5), ("anything", "anything")],
)
def test_a_none_default_reads_values_as_papermills_cli_does(text: str, value: object) -> None:
    got = resolve_parameters(SCHEMA, [("maybe", text)])["maybe"]
    assert got == value
    assert type(got) is type(value)


def test_none_is_a_string_where_the_default_is_a_string() -> None:
    assert resolve_parameters(SCHEMA, [("url", "None")]) == {"url": "None"}


def test_effective_parameters_include_defaults_and_name_those_given() -> None:
    given = resolve_parameters(SCHEMA, [("horizon", "30"), ("maybe", "None")])
    values, overridden = effective(SCHEMA, given)
    assert values == {
        "horizon": 30,
        "width": 0.8,
        "url": "gs://x",
        "full": False,
        "datasets": ["a"],
        "options": {},
        "maybe": None,
    }
    assert overridden == ["horizon", "maybe"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("horizon", "3.5"),
        ("horizon", "many"),
        ("width", "wide"),
        ("full", "maybe"),
        ("datasets", '{"a": 1}'),
        ("options", "[1]"),
    ],
)
def test_uncastable_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(UsageError, match=rf"parameter {name}="):
        resolve_parameters(SCHEMA, [(name, value)], where="nb")


@pytest.mark.parametrize("payload", ['{"horizon": "x"}', '{"horizon": true}', "[1]", "{oops"])
def test_bad_params_json_is_refused(payload: str) -> None:
    with pytest.raises(UsageError):
        resolve_parameters(SCHEMA, params_json=payload)
