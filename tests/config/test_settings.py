"""Settings: precedence, validation and one-line errors."""

from __future__ import annotations

import dataclasses
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
    (tmp_path / "kit.toml").write_text('[kit]\nnamespace = "forecasting"\n')
    assert load_settings(environ={}, cwd=tmp_path).namespace == "forecasting"


def test_unknown_kit_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown environment variable KIT_MODULE_BUCKET"):
        load_settings(environ={"KIT_MODULE_BUCKET": "gs://x"})


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
