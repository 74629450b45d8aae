"""Publish to the emulated modules bucket, read back, re-publish, roll back."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

import kit
from kit.catalog import SKIP_TAG, VERSION_RE, Catalog
from kit.config import Settings
from kit.errors import NotFoundError, UsageError
from kit.publishing import PublishWarning, publish_notebook, rollback, show, versions
from kit.publishing.strip import identity
from kit.storage import storage_for

ROOT = Path(__file__).resolve().parents[2]
MakeNotebook = Callable[..., Path]


def _latest(settings: Settings, name: str) -> dict[str, str]:
    url = Catalog(settings).latest_url(name)
    return dict(json.loads(storage_for(url).read(url)))


def test_round_trip(make_notebook: MakeNotebook, gcs_settings: Settings) -> None:
    path = make_notebook("demo.ipynb")
    result = publish_notebook(path, settings=gcs_settings)

    assert result.created
    assert result.is_latest
    assert result.name == "demo"
    assert VERSION_RE.match(result.version)
    bucket = gcs_settings.modules_bucket
    assert result.url == f"{bucket}/notebooks/demo/{result.version}.ipynb"
    assert str(result) == f"published demo@{result.version} {result.url}"

    stored = storage_for(result.url).read(result.url)
    digest = hashlib.sha256(stored).hexdigest()
    nb = nbformat.reads(stored.decode(), as_version=4)
    # The version names what runs (strip.identity), not the bytes JupyterLab may rewrite.
    assert result.version.endswith("-" + identity(nb)[:12])
    assert result.manifest.extra["code_sha256"] == identity(nb)
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if "outputs" in c)
    assert nb.cells[-1].metadata.tags == [SKIP_TAG]
    assert "widgets" not in nb.metadata

    catalog = Catalog(gcs_settings)
    manifest = catalog.manifest("demo", result.version)
    assert manifest == result.manifest
    assert manifest.sha256 == digest
    assert manifest.size == len(stored)
    assert [(p.name, p.type, p.default, p.comment) for p in manifest.parameters] == [
        ("horizon", "int", 30, "periods ahead"),
        ("label", "str", "demo", ""),
        ("width", "float", 0.8, "interval"),
    ]
    assert manifest.publisher
    assert manifest.kit_version == kit.__version__
    assert manifest.environment_digest.startswith("sha256:")
    assert manifest.published_at.endswith("Z")
    assert manifest.source_path == str(path.resolve())  # not inside a git repository
    assert manifest.git_commit is None
    assert manifest.extra["skip_cells"] == [3]

    pointer = _latest(gcs_settings, "demo")
    assert pointer["version"] == result.version
    assert pointer["url"] == result.url
    assert catalog.resolve("demo@latest").version == result.version
    assert sorted(catalog.storage.list(bucket + "/"), key=lambda i: i.url)[0].url.endswith(
        f"{result.version}.ipynb"
    )
    assert "<table>" in result._repr_html_()


def test_identical_content_is_a_no_op(make_notebook: MakeNotebook, gcs_settings: Settings) -> None:
    path = make_notebook("same.ipynb")
    first = publish_notebook(path, settings=gcs_settings)
    generation = storage_for(gcs_settings.modules_bucket).stat(
        Catalog(gcs_settings).latest_url("same")
    )
    # New outputs and execution counts, the metadata JupyterLab writes on save and prose
    # do not make a new version: only what runs does (strip.identity).
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].outputs = []
    nb.cells[2].execution_count = 42
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7", "file_extension": ".py"}
    nb.cells[0].source = "# Demo, reworded"
    nbformat.write(nb, path)
    again = publish_notebook(path, settings=gcs_settings)

    assert not again.created
    assert again.version == first.version
    assert again.manifest == first.manifest
    assert str(again).startswith("unchanged, already published: same@")
    assert Catalog(gcs_settings).versions("same") == [first.version]
    latest_after = storage_for(gcs_settings.modules_bucket).stat(
        Catalog(gcs_settings).latest_url("same")
    )
    assert latest_after.generation == generation.generation  # pointer untouched


def test_edit_publishes_a_new_latest_version(
    make_notebook: MakeNotebook, gcs_settings: Settings
) -> None:
    first = publish_notebook(make_notebook("edit.ipynb"), settings=gcs_settings)
    second = publish_notebook(make_notebook("edit.ipynb", body="y = 2"), settings=gcs_settings)
    assert second.created
    assert second.version != first.version
    assert second.is_latest
    assert _latest(gcs_settings, "edit")["version"] == second.version
    assert set(Catalog(gcs_settings).versions("edit")) == {first.version, second.version}


def test_explicit_name(make_notebook: MakeNotebook, gcs_settings: Settings) -> None:
    result = publish_notebook(make_notebook("Scratch Copy.ipynb"), "demand", settings=gcs_settings)
    assert result.name == "demand"
    assert Catalog(gcs_settings).versions("demand") == [result.version]


def test_publishing_never_moves_latest_back(
    make_notebook: MakeNotebook, gcs_settings: Settings
) -> None:
    catalog = Catalog(gcs_settings)
    first_path = make_notebook("one/fwd.ipynb")
    old = publish_notebook(first_path, settings=gcs_settings)
    # Someone else published a version "from the future" meanwhile.
    future = "29991231T235959Z-" + "f" * 12
    catalog.storage.write(catalog.notebook_url("fwd", future), b"{}", if_generation_match=0)
    future_manifest = replace(old.manifest, version=future, published_at="2999-12-31T23:59:59Z")
    catalog.storage.write(catalog.manifest_url("fwd", future), future_manifest.to_json())
    rollback("fwd", future, settings=gcs_settings)

    newer = publish_notebook(make_notebook("two/fwd.ipynb", body="z = 3"), settings=gcs_settings)
    assert newer.created
    assert newer.latest == future
    assert any("latest stays at " + future in w for w in newer.warnings)
    assert _latest(gcs_settings, "fwd")["version"] == future

    # Re-publishing old content neither creates nor moves anything back.
    rollback("fwd", newer.version, settings=gcs_settings)
    again = publish_notebook(first_path, settings=gcs_settings)
    assert not again.created
    assert again.version == old.version
    assert again.latest == newer.version
    assert any(f"kit rollback fwd {old.version}" in w for w in again.warnings)


def test_republish_repairs_a_missing_pointer(
    make_notebook: MakeNotebook, gcs_settings: Settings
) -> None:
    path = make_notebook("repair.ipynb")
    first = publish_notebook(path, settings=gcs_settings)
    catalog = Catalog(gcs_settings)
    catalog.storage.delete(catalog.latest_url("repair"))  # as if interrupted before the move
    again = publish_notebook(path, settings=gcs_settings)
    assert not again.created
    assert again.is_latest
    assert _latest(gcs_settings, "repair")["version"] == first.version


def test_versions_show_and_rollback(make_notebook: MakeNotebook, gcs_settings: Settings) -> None:
    v1 = publish_notebook(make_notebook("hist.ipynb"), settings=gcs_settings)
    v2 = publish_notebook(make_notebook("hist.ipynb", body="b = 2"), settings=gcs_settings)

    history = versions("hist", settings=gcs_settings)
    assert history.latest == v2.version
    assert [m.version for m in history.manifests] == [v2.version, v1.version]  # newest first

    done = rollback("hist", v1.version, settings=gcs_settings)
    assert (done.version, done.previous) == (v1.version, v2.version)
    assert versions("hist", settings=gcs_settings).latest == v1.version
    assert Catalog(gcs_settings).resolve("hist").version == v1.version

    shown = show(f"hist@{v2.version}", settings=gcs_settings)
    assert shown.resolved.manifest == v2.manifest
    assert shown.latest == v1.version


def test_rollback_refuses_unknown_versions(
    make_notebook: MakeNotebook, gcs_settings: Settings
) -> None:
    publish_notebook(make_notebook("rb.ipynb"), settings=gcs_settings)
    with pytest.raises(NotFoundError, match=r"^rb@20000101T000000Z-000000000000 is not published"):
        rollback("rb", "20000101T000000Z-000000000000", settings=gcs_settings)
    with pytest.raises(UsageError, match="invalid version id"):
        rollback("rb", "yesterday", settings=gcs_settings)
    with pytest.raises(NotFoundError, match=r"'rbx' is not published.*did you mean rb"):
        versions("rbx", settings=gcs_settings)


def test_kit_publish_prints_and_warns(
    tmp_path: Path,
    gcs_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "forecast.ipynb"
    shutil.copy(ROOT / "notebooks" / "forecast.ipynb", path)
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("x = 1\nkit.publish()"))
    nbformat.write(nb, path)
    with pytest.warns(PublishWarning, match="calls kit.publish\\(\\) among other code"):
        result = kit.publish(path, settings=gcs_settings)
    assert result.name == "forecast"
    assert capsys.readouterr().out == f"published forecast@{result.version} {result.url}\n"


@pytest.mark.parametrize("where", ["gcs", "local"])
def test_versions_of_the_same_second_are_listed_newest_written_first(
    where: str, gcs_settings: Settings, tmp_path: Path
) -> None:
    settings = gcs_settings if where == "gcs" else Settings(modules_bucket=str(tmp_path))
    catalog = Catalog(settings)
    # Same publish second: the ids alone would order them by their hash, backwards here.
    first, second = "20260101T000000Z-ffffffffffff", "20260101T000000Z-000000000000"
    for version in (first, second):
        catalog.storage.write(catalog.manifest_url("same-second", version), b"{}")
        time.sleep(0.01)  # distinct write times even on coarse local clocks
    assert catalog.versions("same-second") == [second, first]
