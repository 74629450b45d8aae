"""The notebook a model module runs as: the same runner, kernel, output and record.

A model module's version is its .py file. `kit run` executes it as a small notebook
built here, so everything a notebook run has (papermill's parameters, saves while it
runs, kit.record(), failure statuses, review) holds for modules unchanged:

1. markdown: what runs, from which file and version, and the module's docstring;
2. `parameters`: run()'s parameters with their defaults (papermill adds the given ones);
3. `%load_ext kit.modelrun`: the IPython extension that loads the module;
4. the module's source, collapsed, under `%%kit_module FILE NAME`: imported from a file
   of that name, so a traceback shows the module's own file and line numbers;
5. `Model().run(...)` inside `modelrun.observe(...)`, which shows run()'s log records
   and where in the module an exception was raised; the return value is the cell's
   result, so it is displayed (a DataFrame as a table).
"""

from __future__ import annotations

import json
import keyword
import re
import warnings
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from kit import modelspec, pysource
from kit.catalog import Parameter, Resolved
from kit.errors import UsageError

Schema = list[Parameter] | None
MODULE_TAG = "kit-module"
RUN_TAG = "kit-run"


def _literal(value: Any) -> str:
    """Python source for a JSON value (a parameter default)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _free(name: str, taken: set[str]) -> str:
    """name, or name with trailing underscores, so it is not in taken (then taken)."""
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _variable(file: str) -> str:
    stem = PurePosixPath(file).stem
    stem = re.sub(r"\W", "_", stem)
    if not stem or stem[0].isdigit() or keyword.iskeyword(stem):
        stem = f"model_{stem}".rstrip("_")
    return stem


def _comment(param: Parameter) -> str:
    parts = [" ".join(param.comment.split())]
    if param.type == "date":
        parts.append("a date, YYYY-MM-DD")
    if param.choices:
        parts.append(f"one of {', '.join(_literal(c) for c in param.choices)}")
    text = "; ".join(p for p in parts if p)
    return f"  # {text}" if text else ""


def _cell(cell_type: str, cell_id: str, source: str, **metadata: Any) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": cell_type, "id": cell_id, "metadata": metadata}
    cell["source"] = source
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def notebook(
    text: str,
    *,
    name: str,
    version: str,
    url: str,
    file: str,
    parameters: Sequence[Parameter],
) -> dict[str, Any]:
    """The notebook that runs `Model().run(**parameters)` of the module source text."""
    file = PurePosixPath(file).name or f"{name}.py"
    taken = {p.name for p in parameters}
    module = _free(_variable(file), taken)
    model, result, modelrun = (_free(n, taken) for n in ("model", "result", "modelrun"))
    doc = modelspec.docstring(text)
    header = (
        f"# {name}\n\n"
        f"Runs `Model().run(**parameters)` of the model module `{file}`, "
        f"`{name}@{version}` (`{url}`).\n\n"
        "The next cell holds run()'s parameters with their defaults; the module's source "
        "follows, collapsed."
    )
    if doc:
        header += "\n\n" + "\n".join(f"> {line}".rstrip() for line in doc.splitlines())
    defaults = "\n".join(f"{p.name} = {_literal(p.default)}{_comment(p)}" for p in parameters)
    arguments = [
        f"{p.name}={modelrun}.as_date({p.name})" if p.type == "date" else f"{p.name}={p.name}"
        for p in parameters
    ]
    load = "modelrun" if modelrun == "modelrun" else f"modelrun as {modelrun}"
    call = f"{model}.run({', '.join(arguments)})"
    if len(call) > 80:
        call = f"{model}.run(\n" + "".join(f"        {a},\n" for a in arguments) + "    )"
    run = (
        f"{model} = {module}.Model()\n"
        f"with {modelrun}.observe({module}):\n"
        f"    {result} = {call}\n"
        f"{result}"
    )
    cells = [
        _cell("markdown", "kit-header", header),
        _cell(
            "code",
            "kit-parameters",
            defaults or "# Model.run() takes no parameters",
            tags=["parameters"],
        ),
        _cell("code", "kit-load", f"%load_ext kit.modelrun\nfrom kit import {load}"),
        _cell(
            "code",
            "kit-module",
            f"%%kit_module {file} {module}\n{text}",
            tags=[MODULE_TAG],
            jupyter={"source_hidden": True},
        ),
        _cell("code", "kit-run", run, tags=[RUN_TAG]),
    ]
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": dict(pysource.PYTHON_KERNEL),
            "language_info": {"name": "python"},
            "kit": {"module": {"name": name, "version": version, "file": file, "url": url}},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _quiet_papermill(url: str) -> None:
    """papermill warns that the input does not end in .ipynb: it is the .py, on purpose."""
    pattern = rf"The specified file \({re.escape(url)}\) does not end in one of"
    warnings.filterwarnings("ignore", message=pattern, category=UserWarning)


def _text(data: bytes, url: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{url}: not UTF-8 text") from exc


def published(data: bytes, resolved: Resolved) -> dict[str, Any]:
    """The notebook of a published module version, from its manifest's schema."""
    manifest = resolved.manifest
    _quiet_papermill(resolved.notebook_url)
    return notebook(
        _text(data, resolved.notebook_url),
        name=resolved.name,
        version=resolved.version,
        url=resolved.notebook_url,
        file=str(manifest.extra.get("module_file") or f"{resolved.name}.py"),
        parameters=manifest.parameters,
    )


def adhoc(data: bytes, url: str, name: str, version: str) -> tuple[dict[str, Any], Schema]:
    """An unpublished .py (path or URL) as a notebook, with a model module's schema.

    A percent script's schema is None: it is read from its parameters cell, as an .ipynb's.
    """
    text = _text(data, url)
    kind = pysource.kind_of(text)
    if kind is None:
        raise pysource.neither(url)
    _quiet_papermill(url)
    if kind == "percent":
        return dict(pysource.to_notebook(text, url)), None
    spec = modelspec.read(text, url)
    file = PurePosixPath(url.split("://", 1)[-1]).name
    nb = notebook(text, name=name, version=version, url=url, file=file, parameters=spec.parameters)
    return nb, spec.parameters
