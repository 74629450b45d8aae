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

# Each case: the entry text, and the exact problem line it must produce. The lines are the
# same on every Airflow version (this file runs on each one).
CASES = {
    "unknown key": (
        GOOD + "    schedul: '@daily'\n",
        "notebooks[0] 'forecast': unknown key 'schedul' (did you mean 'schedule'?)",
    ),
    "bad cron": (
        GOOD.replace('"0 6 * * *"', '"61 6 * * *"'),
        "notebooks[0] 'forecast'.schedule: bad cron expression '61 6 * * *': "
        "[61 6 * * *] is not acceptable, out of range",
    ),
    "duplicate name": (
        GOOD + GOOD,
        "notebooks[1] 'forecast': duplicate name (each notebook is one DAG)",
    ),
    "invalid name": (
        GOOD.replace("name: forecast", "name: Forecast.v2"),
        "notebooks[0] 'Forecast.v2'.name: 'Forecast.v2' must match [a-z0-9][a-z0-9_-]{0,62}",
    ),
    "bad label value": (
        GOOD + "    labels: {cost-center: 'cc 12'}\n",
        "notebooks[0] 'forecast'.labels.cost-center: 'cc 12' is not a label value "
        "(<= 63 of A-Za-z0-9-_., alphanumeric at the ends)",
    ),
    "reserved label": (
        GOOD + "    labels: {notebook: x}\n",
        "notebooks[0] 'forecast'.labels: label 'notebook' is set by kit itself",
    ),
    "bad quantity": (
        GOOD + "    resources: {limits: {memory: 4 GB}}\n",
        "notebooks[0] 'forecast'.resources.limits.memory: '4 GB' is not a Kubernetes quantity "
        "(e.g. 500m, 2, 4Gi)",
    ),
    "no memory limit": (
        GOOD + "    resources: {limits: {cpu: 2}}\n",
        "notebooks[0] 'forecast'.resources: limits.memory is required "
        "(a notebook without one can starve the node)",
    ),
    "empty fan-out": (
        GOOD + "    fan_out: []\n",
        "notebooks[0] 'forecast'.fan_out: List should have at least 1 item after validation, "
        "not 0, got []",
    ),
    "repeated fan-out item": (
        GOOD + "    fan_out: [{a: 1}, {a: '1'}]\n",
        "notebooks[0] 'forecast'.fan_out: item 1 repeats item 0",
    ),
    "bad parameter name": (
        GOOD.replace("{horizon: 30}", "{horizon-days: 30}"),
        "notebooks[0] 'forecast'.params: parameter name 'horizon-days' is not a Python identifier",
    ),
    "parameter not a scalar": (
        GOOD.replace("{horizon: 30}", "{horizon: [30]}"),
        "notebooks[0] 'forecast'.params.horizon: must be a string or a number, got list",
    ),
    "bad version": (
        GOOD + "    version: v2\n",
        "notebooks[0] 'forecast'.version: 'v2' must be 'latest' or like "
        "20260101T000000Z-0123456789ab",
    ),
    "bool for a count": (
        GOOD + "    retries: true\n",
        "notebooks[0] 'forecast'.retries: Input should be a valid integer, got True",
    ),
    "catchup not a bool": (
        GOOD + "    catchup: sometimes\n",
        "notebooks[0] 'forecast'.catchup: Input should be a valid boolean, got 'sometimes'",
    ),
    "unknown time zone": (
        GOOD + "    timezone: Mars/Base\n",
        "notebooks[0] 'forecast'.timezone: unknown time zone 'Mars/Base'",
    ),
    "entry not a mapping": ("  - forecast\n", "notebooks[0]: must be a mapping, got str"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_entry_is_an_import_error_naming_file_and_key(
    case: str, write_config: Callable[[str], Path]
) -> None:
    entries, line = CASES[case]
    path = write_config(BASE_CONFIG + entries)
    errors = import_errors()
    assert list(errors) == ["kit_notebooks.py"]
    message = errors["kit_notebooks.py"]
    assert "NotebooksConfigError" in message
    assert f"{path}: 1 problem(s):\n  - {line}\n" in message + "\n"


def test_every_problem_is_reported_at_once(write_config: Callable[[str], Path]) -> None:
    from kit_dag_config import NotebooksConfigError, load_config

    path = write_config(
        BASE_CONFIG.replace("mode: in_cluster", "mode: gke")
        + GOOD.replace("0 6 * * *", "every day")
        + "  - {name: other, retries: -1, timeout: soon}\n"
    )
    with pytest.raises(NotebooksConfigError) as raised:
        load_config(path, environ={})
    assert str(raised.value).splitlines() == [
        f"{path}: 4 problem(s):",
        "  - cluster: mode gke needs 'project', 'location', 'cluster_name'",
        "  - notebooks[0] 'forecast'.schedule: bad cron expression 'every day': "
        "Exactly 5, 6 or 7 columns has to be specified for iterator expression.",
        "  - notebooks[1] 'other'.retries: Input should be greater than or equal to 0, got -1",
        "  - notebooks[1] 'other'.timeout: 'soon' is not a positive duration "
        "(seconds, or like '90s', '15m', '2h')",
    ]


def test_a_bad_default_is_reported_once_at_its_own_key(
    write_config: Callable[[str], Path],
) -> None:
    from kit_dag_config import NotebooksConfigError, load_config

    path = write_config(
        BASE_CONFIG.replace("retry_delay: 1s", "retry_delay: 1s\n  retries: many")
        + GOOD
        + GOOD.replace("forecast", "other")
    )
    with pytest.raises(NotebooksConfigError) as raised:
        load_config(path, environ={})
    assert str(raised.value).splitlines()[1:] == [
        "  - defaults.retries: Input should be a valid integer, got 'many'"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("notebooks: [\n", "malformed YAML"),
        ("- just\n- a list\n", "1 problem(s):\n  - top level: must be a mapping, got list"),
        ("cluster: {}\nsettings: {}\n", "  - notebooks: must be a non-empty list of entries"),
        ("cluster: [1]\n", "  - cluster: must be a mapping, got list"),
        ("notebook: []\n", "  - top level: unknown key 'notebook' (did you mean 'notebooks'?)"),
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
