"""A bad notebooks.yaml is an import error of kit_notebooks.py naming the file and entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dag_helpers import BASE_CONFIG, import_errors

GOOD = """\
  - name: forecast
    schedule: "0 6 * * *"
    params: {horizon: 30}
"""

CASES = {
    "unknown key": (
        GOOD + "    schedul: '@daily'\n",
        ["notebooks[0] 'forecast'", "unknown key 'schedul'"],
    ),
    "bad cron": (
        GOOD.replace('"0 6 * * *"', '"61 6 * * *"'),
        ["notebooks[0] 'forecast'.schedule", "bad cron expression '61 6 * * *'"],
    ),
    "duplicate name": (
        GOOD + GOOD,
        ["notebooks[1] 'forecast'", "duplicate name"],
    ),
    "invalid name": (
        GOOD.replace("name: forecast", "name: Forecast.v2"),
        ["notebooks[0] 'Forecast.v2'", "must match [a-z0-9][a-z0-9_-]{0,62}"],
    ),
    "bad label value": (
        GOOD + "    labels: {cost-center: 'cc 12'}\n",
        ["notebooks[0] 'forecast'.labels", "label cost-center='cc 12'"],
    ),
    "bad quantity": (
        GOOD + "    resources: {limits: {memory: 4 GB}}\n",
        ["notebooks[0] 'forecast'.resources.limits.memory", "not a Kubernetes quantity"],
    ),
    "empty fan-out": (
        GOOD + "    fan_out: []\n",
        ["notebooks[0] 'forecast'.fan_out", "non-empty list"],
    ),
    "bad parameter name": (
        GOOD.replace("{horizon: 30}", "{horizon-days: 30}"),
        ["notebooks[0] 'forecast'.params", "'horizon-days' is not a Python identifier"],
    ),
    "bad version": (
        GOOD + "    version: v2\n",
        ["notebooks[0] 'forecast'", "version 'v2' must be 'latest'"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_entry_is_an_import_error_naming_file_and_entry(
    case: str, write_config: Callable[[str], Path]
) -> None:
    entries, expected = CASES[case]
    path = write_config(BASE_CONFIG + entries)
    errors = import_errors()
    assert list(errors) == ["kit_notebooks.py"]
    message = errors["kit_notebooks.py"]
    assert "NotebooksConfigError" in message
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


def test_every_problem_is_reported_at_once(write_config: Callable[[str], Path]) -> None:
    from kit_dag_config import NotebooksConfigError, load_config

    path = write_config(
        BASE_CONFIG.replace("mode: in_cluster", "mode: gke")
        + GOOD.replace("0 6 * * *", "every day")
        + "  - {name: other, retries: -1, timeout: soon}\n"
    )
    with pytest.raises(NotebooksConfigError) as raised:
        load_config(path, environ={})
    message = str(raised.value)
    assert message.startswith(f"{path}: 6 problem(s):")
    for fragment in (
        "cluster: mode gke needs 'project'",
        "cluster: mode gke needs 'location'",
        "cluster: mode gke needs 'cluster_name'",
        "notebooks[0] 'forecast'.schedule: bad cron expression 'every day'",
        "notebooks[1] 'other'.retries: must be an integer >= 0, got -1",
        "notebooks[1] 'other'.timeout: 'soon' is not a positive duration",
    ):
        assert fragment in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("notebooks: [\n", "malformed YAML"),
        ("- just\n- a list\n", "top level: must be a mapping"),
        ("cluster: {}\nsettings: {}\n", "notebooks: must be a non-empty list"),
    ],
)
def test_malformed_file(text: str, expected: str, write_config: Callable[[str], Path]) -> None:
    write_config(text)
    assert expected in import_errors()["kit_notebooks.py"]


def test_missing_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope.yaml"
    monkeypatch.setenv("KIT_DAGS_CONFIG", str(missing))
    assert f"{missing}: cannot read the DAG config" in import_errors()["kit_notebooks.py"]


def test_settings_come_from_kit_variables_first(write_config: Callable[[str], Path]) -> None:
    from kit_dag_config import load_config

    path = write_config(BASE_CONFIG + GOOD)
    config = load_config(path, environ={"KIT_DATA_BUCKET": "gs://local-data/"})
    assert config.settings.data_bucket == "gs://local-data"
    assert config.settings.outputs_bucket == "gs://kit-outputs"
