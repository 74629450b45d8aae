"""Review works unchanged for model module runs: list, show, pull, html, diff and the page.

Two published versions of one small module, a run of each and a failing run, made once
for this file with the real runner on the embedded GCS.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from gcs_support import fresh_settings

from kit import dev
from kit.cli.main import main
from kit.config import Settings
from kit.publishing import publish_notebook
from kit.review.server import start, url_of
from kit.runner import run

pytestmark = pytest.mark.slow

MODULE = '''\
"""Scores a series."""


def level(values):
    return sum(values) / len(values)  # the mean level


class Model:
    def run(self, points: int = 10):
        values = [100 + 2 * i for i in range(points)]
        if points < 2:
            raise ValueError(f"need at least 2 points, got {points}")
        import kit

        kit.record("level", level(values))
        print(f"scored {points} points")
        return level(values)
'''
CHANGED = "    return values[-1]  # the last value"


@dataclass(frozen=True)
class ModuleRuns:
    settings: Settings
    versions: tuple[str, str]


@pytest.fixture(scope="module")
def module_runs(gcs_server: dev.Server, tmp_path_factory: pytest.TempPathFactory) -> ModuleRuns:
    settings = fresh_settings(gcs_server)
    path = tmp_path_factory.mktemp("module") / "scorer.py"
    path.write_text(MODULE)
    first = publish_notebook(path, settings=settings)
    run(settings, first.ref, "ok-1", cli_params=[("points", "4")])
    path.write_text(
        MODULE.replace("    return sum(values) / len(values)  # the mean level", CHANGED)
    )
    second = publish_notebook(path, settings=settings)
    run(settings, second.ref, "ok-2", cli_params=[("points", "4")])
    run(settings, second.ref, "fail-1", cli_params=[("points", "1")])
    return ModuleRuns(settings, (first.version, second.version))


@pytest.fixture
def env(module_runs: ModuleRuns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleRuns:
    monkeypatch.setenv("KIT_MODULES_BUCKET", module_runs.settings.modules_bucket)
    monkeypatch.setenv("KIT_OUTPUTS_BUCKET", module_runs.settings.outputs_bucket)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return module_runs


def kit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), capsys.readouterr().out


def test_list_and_show(env: ModuleRuns, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = kit(capsys, "runs", "scorer")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    first, second = env.versions
    assert f"scorer@{first}" in lines["ok-1"]
    assert "succeeded" in lines["ok-1"]
    assert "level=103" in lines["ok-1"]
    assert f"scorer@{second}" in lines["ok-2"]
    assert "level=106" in lines["ok-2"]
    assert "failed" in lines["fail-1"]

    code, out = kit(capsys, "runs", "show", "scorer", "fail-1")
    assert code == 0
    assert re.search(
        r"Failed at cell \d+, In \[\d+\]: ValueError: need at least 2 points, got 1", out
    )
    assert "result = model.run(points=points)" in out  # the run cell
    assert re.search(r"File \S+/scorer\.py:12, in Model\.run", out)  # the module's own line
    code, out = kit(capsys, "runs", "show", "scorer", "fail-1", "--json")
    location = json.loads(out)["error"]["location"]
    assert location == {"file": "scorer.py", "line": 12, "function": "Model.run"}


def test_pull_gives_a_notebook_with_the_modules_source(
    env: ModuleRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _ = kit(capsys, "runs", "pull", "scorer", "ok-1", "--to", str(tmp_path))
    assert code == 0
    nb = nbformat.read(tmp_path / "scorer" / "ok-1.ipynb", as_version=4)
    assert any(c.source.startswith("%%kit_module scorer.py scorer\n") for c in nb.cells)


def test_diff_of_two_module_versions_shows_the_source_change(
    env: ModuleRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = kit(capsys, "runs", "diff", "scorer", "ok-1", "ok-2")
    assert code == 0
    first, second = env.versions
    assert f"version: {first} -> {second}" in out
    assert "level: 103 -> 106  (+3)" in out
    assert "## modified cell 4 source:" in out  # the module's source cell (1-based)
    assert "-      return sum(values) / len(values)  # the mean level" in out
    assert f"+  {CHANGED}" in out


def test_html_renders_the_module_run(
    env: ModuleRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "fail.html"
    code, _ = kit(capsys, "runs", "html", "scorer", "fail-1", "-o", str(target))
    assert code == 0
    page = target.read_text()
    assert 'class="kit-cell kit-failed"' in page
    assert "need at least 2 points" in page
    assert "raised at scorer.py, line 12, in Model.run" in page
    assert "the mean level" not in page  # version 2's source: the changed line
    assert "the last value" in page


@pytest.fixture(scope="module")
def page_base(module_runs: ModuleRuns) -> Iterator[str]:
    server, thread = start(module_runs.settings)
    yield url_of(server)
    server.shutdown()
    server.server_close()
    thread.join(5)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200
        return str(resp.read().decode())


def test_the_review_page_shows_module_runs(page_base: str) -> None:
    index = get(page_base + "/")
    assert re.search(r'data-status="failed"\s+data-notebook="scorer"', index)
    assert re.search(r'data-status="succeeded"\s+data-notebook="scorer"', index)
    run_page = get(page_base + "/runs/scorer/fail-1")
    assert re.search(
        r"Failed at cell \d+, In \[\d+\]:\s*ValueError: need at least 2 points", run_page
    )
    notebook = get(page_base + "/runs/scorer/fail-1/notebook")
    assert "kit_module" in notebook
    assert "scored 1 points" not in notebook  # run() raised before printing
    assert "raised at scorer.py, line 12, in Model.run" in notebook
    ok = get(page_base + "/runs/scorer/ok-2/notebook")
    assert "scored 4 points" in ok
