"""Settings: precedence, validation and one-line errors."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from kit.config import Settings, load_settings
from kit.errors import ConfigError


def test_embedded_defaults_name_the_three_buckets(tmp_path: Path) -> None:
    conf = load_settings(environ={}, cwd=tmp_path)
    assert (conf.modules_bucket, conf.outputs_bucket, conf.data_bucket) == (
        "gs://kit-modules",
        "gs://kit-outputs",
        "gs://kit-data",
    )


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().modules_bucket = "gs://x"  # type: ignore[misc]


def test_flags_beat_env_beat_toml(tmp_path: Path) -> None:
    toml = tmp_path / "kit.toml"
    toml.write_text(
        'modules_bucket = "gs://from-toml"\noutputs_bucket = "gs://out-toml"\n'
        'data_bucket = "gs://data-toml"\n'
    )
    env = {
        "KIT_CONFIG": str(toml),
        "KIT_OUTPUTS_BUCKET": "gs://out-env",
        "KIT_DATA_BUCKET": "gs://data-env",
    }
    conf = load_settings({"data_bucket": "gs://data-flag"}, environ=env)
    assert conf.modules_bucket == "gs://from-toml"
    assert conf.outputs_bucket == "gs://out-env"
    assert conf.data_bucket == "gs://data-flag"


def test_kit_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "kit.toml").write_text('[kit]\ndata_bucket = "gs://forecasting"\n')
    assert load_settings(environ={}, cwd=tmp_path).data_bucket == "gs://forecasting"


def test_unknown_kit_variable_is_named_with_the_closest_setting() -> None:
    with pytest.raises(
        ConfigError,
        match="unknown environment variable KIT_MODULE_BUCKET; did you mean KIT_MODULES_BUCKET",
    ):
        load_settings(environ={"KIT_MODULE_BUCKET": "gs://x"})


def test_every_kit_variable_kit_reads_is_a_setting() -> None:
    environ = {
        "KIT_GRACE_SECONDS": "5",
        "KIT_LOG_FORMAT": "json",
        "KIT_LOG_LEVEL": "debug",
        "KIT_POD_NAME": "forecast-ab12",
        "KIT_IMAGE": "europe-docker.pkg.dev/p/kit/kit-runtime@sha256:0f",
        "KIT_DEV_ROOT": "/tmp/gcs",
        "KIT_DEV_PORT": "4444",
        "KIT_AIRFLOW_PYTHON": "/opt/airflow/bin/python",
        "KIT_NOTEBOOK_PYTHON": "/opt/kit/bin/python",
    }
    conf = load_settings(environ=environ)
    assert (conf.grace_seconds, conf.log_format, conf.log_level) == (5.0, "json", "DEBUG")
    assert (conf.pod_name, conf.image) == (environ["KIT_POD_NAME"], environ["KIT_IMAGE"])
    assert (conf.dev_root, conf.dev_port) == ("/tmp/gcs", 4444)
    assert conf.airflow_python == "/opt/airflow/bin/python"
    assert conf.notebook_python == "/opt/kit/bin/python"


def test_no_setting_is_left_unread() -> None:
    """Each field is read somewhere in kit: settings.<field>, conf.<field>, settings().<field>,
    or by name (the bucket fields, through Settings.url)."""
    kit = Path(__file__).resolve().parents[2] / "kit"
    code = "\n".join(p.read_text() for p in kit.rglob("*.py") if p.name != "config.py")
    unread = [
        f.name
        for f in dataclasses.fields(Settings)
        if not re.search(rf"\b(settings|conf)(\(\))?\.{f.name}\b|[\"']{f.name}[\"']", code)
    ]
    assert unread == []


@pytest.mark.parametrize(
    "name", ["KIT_RUN_ID", "KIT_DAGS_CONFIG", "KIT_PROJECT", "KIT_NAMESPACE", "KIT_CONFIG"]
)
def test_variables_set_for_others_are_accepted(name: str, tmp_path: Path) -> None:
    """KIT_RUN_ID is set by `kit run` in its kernel (where notebooks may call kit),
    KIT_DAGS_CONFIG is the DAGs', and the DAGs' pods carry KIT_PROJECT/KIT_NAMESPACE."""
    toml = tmp_path / "kit.toml"
    toml.write_text("")
    value = str(toml) if name == "KIT_CONFIG" else "x"
    assert load_settings(environ={name: value}, cwd=tmp_path) == Settings()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("KIT_LOG_LEVEL", "loud", "KIT_LOG_LEVEL: log_level 'loud' must be one of DEBUG"),
        ("KIT_GRACE_SECONDS", "-1", "KIT_GRACE_SECONDS: grace_seconds '-1' is out of range"),
        ("KIT_DEV_PORT", "70000", "KIT_DEV_PORT: dev_port '70000' is out of range"),
        ("KIT_DEV_PORT", "4443.5", "KIT_DEV_PORT: dev_port must be a whole number"),
    ],
)
def test_malformed_settings_are_named(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(environ={variable: value})


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "kit.toml"
    bad.write_text("modules_bucket = 'unterminated\n")
    with pytest.raises(ConfigError, match=rf"{bad}: malformed TOML"):
        load_settings(environ={"KIT_CONFIG": str(bad)})


def test_unknown_toml_key_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "kit.toml"
    bad.write_text('modules = "gs://x"\n')
    with pytest.raises(ConfigError, match="unknown setting 'modules'"):
        load_settings(environ={"KIT_CONFIG": str(bad)})


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(environ={"KIT_CONFIG": str(tmp_path / "absent.toml")})


@pytest.mark.parametrize("value", ["gs://", "gs://UPPER", "s3://bucket", "gs://a"])
def test_bad_bucket_urls_are_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="KIT_MODULES_BUCKET"):
        load_settings(environ={"KIT_MODULES_BUCKET": value})


def test_local_folders_are_valid_buckets(tmp_path: Path) -> None:
    conf = load_settings(environ={"KIT_OUTPUTS_BUCKET": f"file://{tmp_path}"})
    assert conf.url("outputs_bucket", "runs", "x") == f"file://{tmp_path}/runs/x"


def test_non_numeric_retry_deadline_is_refused() -> None:
    with pytest.raises(ConfigError, match="retry_deadline must be a number"):
        load_settings(environ={"KIT_RETRY_DEADLINE": "soon"})
