"""Can a GCS client find Google credentials here? Decided from local facts only, at once.

google.auth.default() looks, in order, at GOOGLE_APPLICATION_CREDENTIALS, gcloud's
application-default credentials file, and then the metadata server of Compute Engine,
GKE, Cloud Run, ... The first two are files; the last is a network probe (3 attempts of
up to 3 s each, set by google-auth at import), which on a laptop without credentials
is what made the first publish hang for ~13 s before a credentials traceback.

So kit asks google.auth only when one of those sources may answer: a credentials file,
or signs of running on Google Cloud (the machine's DMI product name, as google-auth
itself reads it, or the variables Kubernetes, Cloud Run and Cloud Functions set, or an
explicit GCE_METADATA_HOST/GCE_METADATA_IP). Otherwise kit says at once what to do.
Standard library only, so the check runs before google-cloud-storage is imported; the
publisher's identity (kit.publishing.identity) reads the same gcloud folder.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from kit.errors import StorageError
from kit.storage.emulator import EMULATOR_VAR

ADC_FILE = "application_default_credentials.json"
DMI_PRODUCT = Path("/sys/class/dmi/id/product_name")
# Set in GKE pods (Composer's workers, kit's run pods), Cloud Run services and jobs,
# Cloud Functions; or pointing google-auth at a metadata server explicitly.
CLOUD_VARS = (
    "KUBERNETES_SERVICE_HOST",
    "K_SERVICE",
    "CLOUD_RUN_JOB",
    "FUNCTION_TARGET",
    "GCE_METADATA_HOST",
    "GCE_METADATA_IP",
)


def gcloud_dir() -> Path:
    """gcloud's configuration folder (CLOUDSDK_CONFIG, else the platform default)."""
    if os.environ.get("CLOUDSDK_CONFIG"):
        return Path(os.environ["CLOUDSDK_CONFIG"])
    if os.name == "nt" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "gcloud"
    return Path.home() / ".config" / "gcloud"


def _on_google_cloud() -> bool:
    if any(os.environ.get(var) for var in CLOUD_VARS):
        return True
    try:
        return DMI_PRODUCT.read_text().strip().startswith("Google")
    except OSError:
        return False


def may_authenticate() -> bool:
    """Whether google.auth.default() may find credentials (False: it certainly cannot)."""
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        return True  # google.auth reports a bad path itself, at once
    if (gcloud_dir() / ADC_FILE).is_file():
        return True
    return _on_google_cloud()


NO_CREDENTIALS = (
    "no storage emulator and no Google credentials (STORAGE_EMULATOR_HOST is not set, "
    "there are no application-default credentials, and this is not Google Cloud). "
    'For the embedded GCS: `kit dev up`, then `eval "$(kit dev env)"` in the shell that '
    "starts JupyterLab or kit (in a running notebook: %env STORAGE_EMULATOR_HOST=<the URL "
    "`kit dev env` prints>). For Google Cloud Storage: `gcloud auth application-default login`"
)


def check_emulator(host: str) -> None:
    """Fail fast, with one clear line, when STORAGE_EMULATOR_HOST points nowhere."""
    parsed = urlparse(host if "://" in host else f"http://{host}")
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 80), 2):
            pass
    except OSError as exc:
        raise StorageError(
            f"cannot reach the storage emulator at {host} ({EMULATOR_VAR}); "
            "start it with `kit dev up`"
        ) from exc


def check() -> None:
    """StorageError at once when GCS cannot work here: the emulator named by
    STORAGE_EMULATOR_HOST does not answer, or there is no emulator and no credentials."""
    emulator = os.environ.get(EMULATOR_VAR)
    if emulator:
        check_emulator(emulator)
    elif not may_authenticate():
        raise StorageError(NO_CREDENTIALS)
