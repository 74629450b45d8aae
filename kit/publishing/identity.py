"""Who publishes, and from which git commit: recorded in every manifest.

The publisher is the first of, all read locally and without network calls:
1. the service account of the Google credentials in GOOGLE_APPLICATION_CREDENTIALS
   or the application-default credentials file (only `client_email` is read);
2. the active gcloud account, from gcloud's configuration files;
3. `git config user.email`;
4. `$USER@hostname`.
Tokens and keys are never read into kit's output or stored.
"""

from __future__ import annotations

import configparser
import getpass
import json
import os
import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kit.storage.credentials import ADC_FILE, gcloud_dir

_IMPERSONATED = re.compile(r"serviceAccounts/([^/:]+@[^/:]+):")


@dataclass(frozen=True)
class GitInfo:
    """Where a notebook sits in git: HEAD, whether the file differs from it, its repo path."""

    commit: str | None = None
    dirty: bool | None = None
    relpath: str | None = None


def _credentials_email() -> str | None:
    files = [os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")]
    files.append(str(gcloud_dir() / ADC_FILE))
    for name in filter(None, files):
        try:
            info = json.loads(Path(name).read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict):
            continue
        if isinstance(info.get("client_email"), str):
            return str(info["client_email"])
        match = _IMPERSONATED.search(str(info.get("service_account_impersonation_url", "")))
        if match:
            return match.group(1)
    return None


def _gcloud_account() -> str | None:
    root = gcloud_dir()
    try:
        active = (root / "active_config").read_text().strip() or "default"
    except OSError:
        active = "default"
    parser = configparser.ConfigParser()
    try:
        parser.read(root / "configurations" / f"config_{active}")
    except configparser.Error:
        return None
    account = parser.get("core", "account", fallback="").strip()
    return account or None


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def publisher(cwd: Path | None = None) -> str:
    """Who is publishing: a service account, a gcloud or git identity, or user@host."""
    found = (
        _credentials_email() or _gcloud_account() or _git(cwd or Path.cwd(), "config", "user.email")
    )
    if found:
        return found
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def git_info(path: Path) -> GitInfo:
    """HEAD and the file's dirty state when path is inside a git work tree, else empty."""
    folder = path.resolve().parent
    root = _git(folder, "rev-parse", "--show-toplevel")
    if root is None:
        return GitInfo()
    relpath = os.path.relpath(path.resolve(), root)
    commit = _git(folder, "rev-parse", "--verify", "--quiet", "HEAD")
    status = _git(folder, "status", "--porcelain", "--", path.resolve().name)
    dirty = None if status is None else bool(status) or commit is None
    return GitInfo(commit=commit, dirty=dirty, relpath=relpath)
