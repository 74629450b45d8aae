"""What `kit run` takes from the settings: the grace period, and the pod and image it
records; and the run id it gives the notebook, which kit's settings inside accept."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kit.config import Settings
from kit.runner import run

pytestmark = pytest.mark.slow


def test_the_record_carries_the_settings_grace_pod_and_image(
    tmp_path: Path, make_notebook: Callable[..., Path]
) -> None:
    settings = Settings(
        outputs_bucket=str(tmp_path / "outputs"),
        grace_seconds=7.0,
        pod_name="forecast-ab12",
        image="europe-docker.pkg.dev/p/kit/kit-runtime@sha256:0f",
    )
    result = run(settings, str(make_notebook("told", "pass")), "s1")
    assert result.status == "succeeded"
    assert result.record["grace_seconds"] == 7.0
    assert result.record["pod"] == "forecast-ab12"
    assert result.record["image"] == "europe-docker.pkg.dev/p/kit/kit-runtime@sha256:0f"


def test_a_notebook_run_by_kit_can_resolve_kits_settings_with_its_run_id(
    tmp_path: Path, make_notebook: Callable[..., Path]
) -> None:
    settings = Settings(outputs_bucket=str(tmp_path / "outputs"))
    nb = make_notebook(
        "nested",
        "import os\nfrom kit.config import load_settings\n"
        "print(load_settings().outputs_bucket != '', os.environ['KIT_RUN_ID'])",
    )
    result = run(settings, str(nb), "n1")
    assert result.status == "succeeded", result.record["reason"]
    out = json.loads(Path(result.output_url).read_text())
    assert "".join(out["cells"][1]["outputs"][0]["text"]) == "True n1\n"
