"""Check run parameters against a notebook's published schema, before any kernel starts."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any

from kit.catalog import Parameter
from kit.errors import UsageError, did_you_mean

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def _untyped(value: str) -> Any:
    """A value for a parameter whose default is None, read as papermill's CLI reads `-p`."""
    literals: dict[str, Any] = {"True": True, "False": False, "None": None}
    if value in literals:
        return literals[value]
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _cast_text(value: str, param: Parameter, where: str) -> Any:
    kind = param.type
    try:
        if kind == "str":
            return value
        if kind == "NoneType":
            return _untyped(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "date":  # stays an ISO string: papermill passes strings, run() gets a date
            return datetime.date.fromisoformat(value.strip()).isoformat()
        if kind == "bool":
            lowered = value.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError(value)
        if kind in ("list", "dict"):
            parsed = json.loads(value)
            if type(parsed).__name__ != kind:
                raise ValueError(value)
            return parsed
    except ValueError:
        pass
    raise UsageError(f"{where}: parameter {param.name}={value!r} is not a valid {kind}")


def _check_typed(value: Any, param: Parameter, where: str) -> Any:
    kind = param.type
    if kind == "NoneType" or value is None:
        return value
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value).__name__ == kind:
        return value
    if isinstance(value, str):
        return _cast_text(value, param, where)
    raise UsageError(f"{where}: parameter {param.name}={value!r} is not a valid {kind}")


def resolve_parameters(
    schema: Mapping[str, Parameter],
    cli_pairs: Sequence[tuple[str, str]] = (),
    params_json: str | None = None,
    where: str = "",
) -> dict[str, Any]:
    """Merge --params-json then -p pairs, cast to the defaults' types; UsageError on any mismatch.

    `where` names the notebook in error messages. Only given parameters are returned:
    papermill leaves the others at their defaults.
    """
    values: dict[str, Any] = {}
    if params_json:
        try:
            loaded = json.loads(params_json)
        except ValueError as exc:
            raise UsageError(f"{where}: --params-json is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise UsageError(f"{where}: --params-json must be a JSON object")
        for name, value in loaded.items():
            values[name] = _check_typed(value, _known(schema, name, where), where)
    for name, text in cli_pairs:
        values[name] = _cast_text(text, _known(schema, name, where), where)
    for name, value in values.items():
        choices = schema[name].choices
        if choices is not None and value is not None and value not in choices:
            shown = ", ".join(json.dumps(c) for c in choices)
            raise UsageError(f"{where}: parameter {name}={value!r} is not one of {shown}")
    return values


def _known(schema: Mapping[str, Parameter], name: str, where: str) -> Parameter:
    if name not in schema:
        hint = did_you_mean(name, schema) or f" (known: {', '.join(schema) or 'none'})"
        raise UsageError(f"{where}: unknown parameter {name!r}{hint}")
    return schema[name]


def effective(
    schema: Mapping[str, Parameter], given: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Every parameter's value in the run (defaults included), and the names given a value."""
    values = {name: param.default for name, param in schema.items()}
    values.update(given)
    return values, sorted(given)
