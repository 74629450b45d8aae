"""`kit publish`, `kit versions`, `kit rollback`, `kit show` end to end, as subprocesses."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kit.catalog import VERSION_RE, Catalog
from kit.config import Settings

MakeNotebook = Callable[..., Path]
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"

pytestmark = pytest.mark.slow


def _one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kit: error: ")
    return lines[0]


def test_publish_versions_show_rollback(
    kit_run: Callable[..., subprocess.CompletedProcess[str]],
    make_notebook: MakeNotebook,
    gcs_settings: Settings,
) -> None:
    first_path = make_notebook("cli.ipynb")
    first = kit_run("publish", str(first_path))
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    words = first.stdout.split()
    assert words[0] == "published"
    name, version = words[1].split("@")
    assert name == "cli"
    assert VERSION_RE.match(version)
    assert words[2] == f"{gcs_settings.modules_bucket}/notebooks/cli/{version}.ipynb"

    same = kit_run("publish", str(first_path))
    assert same.returncode == 0
    assert same.stdout.startswith(f"unchanged, already published: cli@{version} ")

    second = kit_run("publish", str(make_notebook("other.ipynb", body="b = 2")), "--name", "cli")
    assert second.returncode == 0, second.stderr
    version2 = second.stdout.split()[1].split("@")[1]

    listing = kit_run("versions", "cli")
    assert listing.returncode == 0, listing.stderr
    rows = [line.split() for line in listing.stdout.splitlines()[1:]]
    assert rows[0][:2] == ["*", version2]  # newest first, marked latest
    assert rows[1][0] == version
    assert all(any(word.endswith("Z") for word in r[1:]) for r in rows)

    back = kit_run("rollback", "cli", version)
    assert back.returncode == 0, back.stderr
    assert back.stdout.strip() == f"cli: latest -> {version} (was {version2})"
    assert Catalog(gcs_settings).resolve("cli").version == version
    assert kit_run("versions", "cli").stdout.splitlines()[2].split()[:2] == ["*", version]
    assert kit_run("versions", "cli").stdout.splitlines()[1].split()[0] == version2

    shown = kit_run("show", f"cli@{version2}")
    assert shown.returncode == 0, shown.stderr
    assert version2 in shown.stdout
    assert "(latest)" not in shown.stdout
    for expected in ("horizon", "int", "30", "periods ahead", "label", "'demo'", "sha256"):
        assert expected in shown.stdout
    latest = kit_run("show", "cli")
    assert f"{version}  (latest)" in latest.stdout


def test_unknown_version_and_name(
    kit_run: Callable[..., subprocess.CompletedProcess[str]], make_notebook: MakeNotebook
) -> None:
    assert kit_run("publish", str(make_notebook("known.ipynb"))).returncode == 0
    line = _one_line_error(kit_run("rollback", "known", "20000101T000000Z-000000000000"))
    assert "known@20000101T000000Z-000000000000 is not published" in line
    assert "invalid version id" in _one_line_error(kit_run("rollback", "known", "v1"))
    assert "did you mean known" in _one_line_error(kit_run("versions", "knwon"))
    assert "did you mean known" in _one_line_error(kit_run("show", "knwon"))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("missing", "no such file"),
        ("not-json", "invalid JSON"),
        ("not-notebook", "not a Jupyter notebook"),
        ("forecast-Copy1", "publish it as 'forecast-copy1'"),
        ("bad-params", "must hold only assignments"),
        ("bad name", "is not a valid notebook name"),
        ("secret", "possible secret (AWS Access Key)"),
        ("r-kernel", "is not Python"),
    ],
)
def test_refusals_exit_2_with_one_line(
    kind: str,
    expected: str,
    kit_run: Callable[..., subprocess.CompletedProcess[str]],
    make_notebook: MakeNotebook,
    modules_objects: Callable[[], list[str]],
    tmp_path: Path,
) -> None:
    path = tmp_path / f"{kind}.ipynb"
    if kind == "not-json":
        path.write_text("{oops")
    elif kind == "not-notebook":
        path.write_text(json.dumps({"a": 1}))
    elif kind == "forecast-Copy1":  # JupyterLab's Duplicate of forecast.ipynb
        make_notebook(path.name)
    elif kind == "bad-params":
        make_notebook(path.name, params="for i in range(3):\n    pass\n")
    elif kind == "bad name":
        make_notebook(path.name)
    elif kind == "secret":
        make_notebook(path.name, body=f'key = "{AWS_KEY}"')
    elif kind == "r-kernel":
        make_notebook(path.name, kernelspec={"name": "ir", "language": "R", "display_name": "R"})
    line = _one_line_error(kit_run("publish", str(path)))
    assert line.startswith(f"kit: error: {path}: ")
    assert expected in line
    assert modules_objects() == []


def test_usage_errors_from_the_parser(
    kit_run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = kit_run("publish")
    assert result.returncode == 2
    assert "Missing argument" in result.stderr


def test_a_notebook_without_parameters_cell_publishes_and_runs_without_parameters(
    kit_run: Callable[..., subprocess.CompletedProcess[str]],
    make_notebook: MakeNotebook,
    gcs_settings: Settings,
) -> None:
    path = make_notebook("plain.ipynb", params=None, body="print('no parameters here')")
    published = kit_run("publish", str(path))
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith("published plain@")
    assert published.stderr.splitlines() == [
        f"kit: note: {path}: no cell is tagged 'parameters', so it is published without "
        "parameters (runs take no -p); tag the cell holding the defaults to declare some"
    ]
    version = published.stdout.split()[1].split("@")[1]
    assert Catalog(gcs_settings).manifest("plain", version).parameters == []

    unknown = kit_run("run", "plain", "--run-id", "p-1", "-p", "horizon", "3")
    assert "unknown parameter 'horizon' (known: none)" in _one_line_error(unknown)
    ran = kit_run("run", "plain", "--run-id", "p-2")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("succeeded: ")
