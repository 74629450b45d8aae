"""What a model module declares, read from its source with ast: no code of it runs.

A model module is the interface of the design kit descends from: a Python file with a
top-level `class Model` that has a `run` method, which the image's entry script loaded
and called as `Model().run()`. kit keeps that call. `Model()` is created without
arguments, as there, and the parameters are run()'s keyword parameters:

    def run(self, horizon: int = 365, run_date: date = "2026-11-23") -> pd.DataFrame:
        '''Fit and forecast.

        Args:
            horizon: periods to forecast
        '''

Each becomes a kit.catalog.Parameter, the schema notebooks have: the type from the
annotation (int, float, str, bool, date, list, dict, Literal[...] for choices, each
optionally `| None`) or else from the default, which must be a literal (a date may also
be `date(2026, 11, 23)`); the description from the docstring's `Args:` entry, else the
parameter line's trailing comment.
"""

from __future__ import annotations

import ast
import datetime
from dataclasses import dataclass
from typing import Any

from kit.catalog import Parameter
from kit.docargs import argument_descriptions
from kit.errors import UsageError
from kit.schema import TYPES, literal_default, trailing_comments

MODEL_CLASS = "Model"
RUN_METHOD = "run"
SUPPORTED = "int, float, str, bool, date, list, dict or Literal[...], optionally | None"
_PLAIN = {"int": "int", "float": "float", "str": "str", "bool": "bool", "date": "date"}
_PLAIN |= {"list": "list", "List": "list", "dict": "dict", "Dict": "dict"}


@dataclass(frozen=True)
class ModelSpec:
    """A model module's declaration: its parameter schema, and where Model and run are."""

    parameters: list[Parameter]
    class_line: int
    run_line: int


def parse(text: str, where: str) -> ast.Module:
    """The module's syntax tree; UsageError naming the line of a syntax error."""
    try:
        return ast.parse(text, filename=where)
    except SyntaxError as exc:
        column = f", column {exc.offset}" if exc.offset else ""
        raise UsageError(
            f"{where}: line {exc.lineno}{column}: syntax error: {exc.msg}; "
            "a model module must be importable"
        ) from exc
    except ValueError as exc:  # e.g. a null byte
        raise UsageError(f"{where}: not Python source: {exc}") from exc


def model_class(tree: ast.Module) -> ast.ClassDef | None:
    """The top-level `class Model`, if the module defines one."""
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == MODEL_CLASS:
            return stmt
    return None


def classes_with_run(tree: ast.Module) -> list[str]:
    """Top-level classes other than Model that define run(): a Model under another name."""
    return [
        stmt.name
        for stmt in tree.body
        if isinstance(stmt, ast.ClassDef)
        and stmt.name != MODEL_CLASS
        and _method(stmt, RUN_METHOD) is not None
    ]


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    found = None
    for stmt in cls.body:  # the last definition wins, as at import
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == name:
            found = stmt
    return found


def _lookup(
    tree: ast.Module, cls: ast.ClassDef, name: str
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """name on cls or on a base class defined in this file (depth first, as a simple MRO)."""
    classes = {s.name: s for s in tree.body if isinstance(s, ast.ClassDef)}
    seen: set[str] = set()
    pending = [cls]
    while pending:
        current = pending.pop(0)
        if current.name in seen:
            continue
        seen.add(current.name)
        method = _method(current, name)
        if method is not None:
            return method
        pending.extend(
            classes[b.id] for b in current.bases if isinstance(b, ast.Name) and b.id in classes
        )
    return None


def _is_static(func: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in func.decorator_list)


@dataclass(frozen=True)
class _Type:
    name: str  # a catalog type name
    nullable: bool = False
    choices: list[Any] | None = None


def _annotation(node: ast.expr, where: str) -> _Type:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "int", a forward ref
        try:
            return _annotation(ast.parse(node.value, mode="eval").body, where)
        except SyntaxError:
            pass
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        parts = [node.left, node.right]
        nones = [p for p in parts if isinstance(p, ast.Constant) and p.value is None]
        if len(nones) == 1:
            inner = _annotation(next(p for p in parts if p not in nones), where)
            return _Type(inner.name, True, inner.choices)
    name = _dotted(node.value if isinstance(node, ast.Subscript) else node)
    if name in _PLAIN and not (
        isinstance(node, ast.Subscript) and _PLAIN[name] not in ("list", "dict")
    ):
        return _Type(_PLAIN[name])
    if isinstance(node, ast.Subscript) and name == "Optional":
        inner = _annotation(node.slice, where)
        return _Type(inner.name, True, inner.choices)
    if isinstance(node, ast.Subscript) and name == "Literal":
        return _literal_type(node.slice, where)
    raise UsageError(
        f"{where}: annotation {ast.unparse(node)!r} is not supported (use {SUPPORTED})"
    )


def _dotted(node: ast.expr) -> str:
    """`date` for `date`, `datetime.date`; `Literal` for `typing.Literal`: the last name."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _literal_type(node: ast.expr, where: str) -> _Type:
    items = node.elts if isinstance(node, ast.Tuple) else [node]
    try:
        values = [ast.literal_eval(item) for item in items]
    except ValueError as exc:
        raise UsageError(f"{where}: Literal[...] must list literal values") from exc
    nullable = None in values
    values = [v for v in values if v is not None]
    kinds = {type(v) for v in values}
    if len(kinds) != 1 or next(iter(kinds)) not in (str, int, float, bool):
        raise UsageError(
            f"{where}: Literal[...] choices must be all str, all int, all float or all bool"
        )
    return _Type(TYPES[next(iter(kinds))], nullable, values)


def _date_default(node: ast.expr, where: str) -> str | None:
    """An ISO date from `date(2026, 11, 23)` (or `datetime.date(...)`); None if not that form."""
    if not (isinstance(node, ast.Call) and _dotted(node.func) == "date" and not node.keywords):
        return None
    try:
        parts = [ast.literal_eval(arg) for arg in node.args]
        return datetime.date(*parts).isoformat()
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{where}: {ast.unparse(node)} is not a valid date") from exc


def _default(node: ast.expr, kind: _Type | None, where: str) -> tuple[str, Any]:
    """The parameter's catalog type and default, checked against its annotation."""
    iso = _date_default(node, where)
    if iso is not None:
        if kind is not None and kind.name != "date":
            raise UsageError(f"{where}: a date default does not match the annotation {kind.name}")
        return "date", iso
    try:
        value = literal_default(node, where)
    except UsageError as exc:
        raise UsageError(
            f"{where}: default {ast.unparse(node)!r} is not a literal; kit reads defaults "
            "without running the module (use a number, string, bool, None, list, dict, "
            "or date(Y, M, D))"
        ) from exc
    if kind is None:
        return TYPES[type(value)], value
    if value is None:
        return kind.name, None
    if kind.name == "date":
        try:
            return "date", datetime.date.fromisoformat(str(value)).isoformat()
        except ValueError as exc:
            raise UsageError(f"{where}: default {value!r} is not an ISO date (YYYY-MM-DD)") from exc
    if kind.name == "float" and type(value) is int:
        value = float(value)
    if TYPES[type(value)] != kind.name:
        raise UsageError(f"{where}: default {value!r} does not match the annotation {kind.name}")
    if kind.choices is not None and value not in kind.choices:
        raise UsageError(f"{where}: default {value!r} is not one of {kind.choices}")
    return kind.name, value


def _run_parameters(func: ast.FunctionDef, comments: dict[int, str], where: str) -> list[Parameter]:
    args = func.args
    named = list(args.args)
    if not _is_static(func):
        named = named[1:]  # self (or cls)
    if args.posonlyargs:
        raise UsageError(
            f"{where}: Model.run() has positional-only parameters (before `/`); kit passes "
            "parameters by name: declare them as keyword parameters with defaults"
        )
    named += args.kwonlyargs
    if not named and (args.vararg or args.kwarg):
        star = ", ".join(
            s
            for s in (args.vararg and f"*{args.vararg.arg}", args.kwarg and f"**{args.kwarg.arg}")
            if s
        )
        raise UsageError(
            f"{where}, line {func.lineno}: Model.run({star}) declares no parameters kit can "
            "check or pass; declare each as a keyword parameter with a type and a default, "
            "e.g. `def run(self, horizon: int = 365)`"
        )
    defaults: list[ast.expr | None] = [None] * (len(args.args) - len(args.defaults))
    defaults += list(args.defaults)
    by_name: dict[str, ast.expr | None] = {
        a.arg: d for a, d in zip(args.args, defaults, strict=True)
    }
    by_name |= {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)}
    described = argument_descriptions(ast.get_docstring(func) or "")
    params = []
    for arg in named:
        at = f"{where}, line {arg.lineno}: run() parameter {arg.arg!r}"
        default = by_name[arg.arg]
        if default is None:
            raise UsageError(
                f"{at} has no default; give it one (`{arg.arg}: int = 0`): a run that does "
                "not set it uses the default"
            )
        kind = _annotation(arg.annotation, at) if arg.annotation is not None else None
        type_name, value = _default(default, kind, at)
        end = default.end_lineno or default.lineno
        comment = described.get(arg.arg) or comments.get(end) or comments.get(arg.lineno, "")
        params.append(Parameter(arg.arg, type_name, value, comment, kind.choices if kind else None))
    return params


def _check_constructor(tree: ast.Module, cls: ast.ClassDef, where: str) -> None:
    init = _lookup(tree, cls, "__init__")
    if not isinstance(init, ast.FunctionDef):
        return
    args = init.args
    required = args.args[1 : len(args.args) - len(args.defaults)] + [
        a for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None
    ]
    if required:
        raise UsageError(
            f"{where}, line {init.lineno}: Model.__init__ needs {required[0].arg!r}; kit "
            "creates Model() without arguments and passes the parameters to run(): "
            "move them to run() or give them defaults"
        )


def docstring(text: str) -> str:
    """The module's docstring ("" when it has none or does not parse)."""
    try:
        return ast.get_docstring(ast.parse(text)) or ""
    except (SyntaxError, ValueError):
        return ""


def read(text: str, where: str) -> ModelSpec:
    """The declaration of a model module's source; UsageError naming where and the line."""
    tree = parse(text, where)
    cls = model_class(tree)
    if cls is None:
        others = classes_with_run(tree)
        hint = f" (class {others[0]} has run(): name it Model)" if others else ""
        raise UsageError(
            f"{where}: no top-level `class {MODEL_CLASS}`{hint}; a model module defines "
            f"class {MODEL_CLASS} with a {RUN_METHOD}() method"
        )
    run = _lookup(tree, cls, RUN_METHOD)
    if run is None:
        raise UsageError(
            f"{where}, line {cls.lineno}: class {MODEL_CLASS} has no {RUN_METHOD}() method "
            f"(kit calls {MODEL_CLASS}().{RUN_METHOD}(**parameters))"
        )
    if isinstance(run, ast.AsyncFunctionDef):
        raise UsageError(f"{where}, line {run.lineno}: Model.run must be a plain def, not async")
    _check_constructor(tree, cls, where)
    parameters = _run_parameters(run, trailing_comments(text), where)
    return ModelSpec(
        parameters=parameters,
        class_line=cls.lineno,
        run_line=run.lineno,
    )
