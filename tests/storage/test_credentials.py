"""Deciding, from local facts only, whether Google credentials can be found here."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.errors import StorageError
from kit.storage import credentials, storage_for


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with no emulator, no credentials and no sign of Google Cloud."""
    for var in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", *credentials.CLOUD_VARS):
        monkeypatch.delenv(var, raising=False)
    gcloud = tmp_path / "gcloud"
    gcloud.mkdir()
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(gcloud))
    monkeypatch.setattr(credentials, "DMI_PRODUCT", tmp_path / "no-dmi")
    return gcloud


def test_without_any_source_gcs_fails_before_google_auth_is_asked(
    nowhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import google.auth

    def probe(*args: object, **kwargs: object) -> None:
        raise AssertionError("google.auth.default() would probe the metadata server")

    monkeypatch.setattr(google.auth, "default", probe)
    assert not credentials.may_authenticate()
    with pytest.raises(StorageError) as info:
        storage_for("gs://some-bucket/x", retry_deadline=1.0)
    assert str(info.value) == credentials.NO_CREDENTIALS
    assert "kit dev up" in str(info.value)


@pytest.mark.parametrize(
    "source",
    ["GOOGLE_APPLICATION_CREDENTIALS", "adc file", "dmi", "KUBERNETES_SERVICE_HOST", "K_SERVICE"],
)
def test_each_source_google_auth_uses_is_left_to_google_auth(
    source: str, nowhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if source == "adc file":
        (nowhere / credentials.ADC_FILE).write_text("{}")
    elif source == "dmi":
        dmi = tmp_path / "product_name"
        dmi.write_text("Google Compute Engine\n")
        monkeypatch.setattr(credentials, "DMI_PRODUCT", dmi)
    else:
        monkeypatch.setenv(source, "set")
    assert credentials.may_authenticate()
