"""The manifest's kind: where a version's file is, and notebook manifests as before modules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.catalog import Catalog, Manifest, Parameter
from kit.config import Settings
from kit.errors import UsageError

BASE = {
    "name": "forecast",
    "version": "20261123T101500Z-0123456789ab",
    "sha256": "0123456789ab" + "0" * 52,
    "size": 10,
    "published_at": "2026-11-23T10:15:00Z",
    "publisher": "me@example.com",
    "kit_version": "0.1.0",
    "environment_digest": "sha256:x",
    "parameters": [Parameter("horizon", "int", 365, "periods")],
}


def test_a_notebook_manifest_stores_neither_kind_nor_empty_choices() -> None:
    raw = json.loads(Manifest(**BASE).to_json())
    assert "kind" not in raw  # readable by kit versions that predate model modules
    assert raw["parameters"] == [
        {"name": "horizon", "type": "int", "default": 365, "comment": "periods"}
    ]
    assert Manifest.from_json(Manifest(**BASE).to_json(), "m").kind == "notebook"


def test_a_module_manifest_round_trips_its_kind_and_choices() -> None:
    params = [Parameter("growth", "str", "linear", "", ["linear", "flat"])]
    manifest = Manifest(**{**BASE, "parameters": params}, kind="module")
    raw = json.loads(manifest.to_json())
    assert raw["kind"] == "module"
    assert raw["parameters"][0]["choices"] == ["linear", "flat"]
    assert Manifest.from_json(manifest.to_json(), "m") == manifest


def test_an_unknown_kind_is_a_malformed_manifest() -> None:
    data = json.dumps({**json.loads(Manifest(**BASE).to_json()), "kind": "zip"}).encode()
    with pytest.raises(UsageError, match=r"m\.json: malformed manifest: unknown kind 'zip'"):
        Manifest.from_json(data, "m.json")


def test_the_kind_decides_the_files_suffix(tmp_path: Path) -> None:
    catalog = Catalog(Settings(modules_bucket=str(tmp_path)))
    version = BASE["version"]
    folder = f"{tmp_path}/notebooks/f"
    assert catalog.notebook_url("f", version) == f"{folder}/{version}.ipynb"
    assert catalog.notebook_url("f", version, "module") == f"{folder}/{version}.py"
