"""Who published, and from which commit: read locally, never a token."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kit.publishing import identity


@pytest.fixture(autouse=True)
def gcloud_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    gcloud = tmp_path / "gcloud"
    gcloud.mkdir()
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(gcloud))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("USER", "analyst")
    return gcloud


def test_service_account_of_the_credentials_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "key.json"
    key.write_text(
        json.dumps(
            {
                "type": "service_account",
                "client_email": "publisher@proj.iam.gserviceaccount.com",
                "private_key": "not read into any output",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    assert identity.publisher(tmp_path) == "publisher@proj.iam.gserviceaccount.com"


def test_impersonated_service_account(gcloud_dir: Path, tmp_path: Path) -> None:
    url = (
        "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/"
        "deployer@proj.iam.gserviceaccount.com:generateAccessToken"
    )
    adc = gcloud_dir / "application_default_credentials.json"
    adc.write_text(
        json.dumps(
            {"type": "impersonated_service_account", "service_account_impersonation_url": url}
        )
    )
    assert identity.publisher(tmp_path) == "deployer@proj.iam.gserviceaccount.com"


def test_gcloud_account(gcloud_dir: Path, tmp_path: Path) -> None:
    (gcloud_dir / "active_config").write_text("work")
    (gcloud_dir / "configurations").mkdir()
    (gcloud_dir / "configurations" / "config_work").write_text(
        "[core]\naccount = ana@example.com\n"
    )
    # User credentials (no e-mail in the file) fall through to the gcloud account.
    (gcloud_dir / "application_default_credentials.json").write_text(
        json.dumps({"type": "authorized_user"})
    )
    assert identity.publisher(tmp_path) == "ana@example.com"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_email_then_user_at_host(tmp_path: Path) -> None:
    assert identity.publisher(tmp_path).startswith("analyst@")
    subprocess.run(["git", "config", "--global", "user.email", "dev@example.com"], check=True)
    assert identity.publisher(tmp_path) == "dev@example.com"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_info(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    nb = repo / "notebooks" / "nb.ipynb"
    nb.write_text("{}")
    assert identity.git_info(tmp_path / "outside.ipynb") == identity.GitInfo()

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q")
    assert identity.git_info(nb) == identity.GitInfo(None, True, "notebooks/nb.ipynb")
    git("add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x")
    info = identity.git_info(nb)
    assert info.commit is not None
    assert len(info.commit) == 40
    assert info.dirty is False
    nb.write_text('{"changed": 1}')
    assert identity.git_info(nb).dirty is True
