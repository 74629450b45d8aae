"""Secret scanning of cell sources: real credentials refused, common look-alikes accepted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from kit.errors import UsageError
from kit.publishing import secrets
from kit.publishing.secrets import Finding, scan_cells

FORECAST = Path(__file__).resolve().parents[2] / "notebooks" / "forecast.ipynb"

# Fake credentials, assembled so that this file itself does not hold them verbatim.
PRIVATE_KEY = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"
GOOGLE_API = "AIza" + "SyA1234567890abcdefghijklmnopqrstuv"
OAUTH = "ya29." + "a0AfH6SMBx7Cq2h4kLm9NpQrStUvWxYz"


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        (f'key = """{PRIVATE_KEY}"""', "Private Key"),
        (f'aws_access_key_id = "{AWS_KEY}"', "AWS Access Key"),
        ('password = "hunter2hunter2"', "Secret Keyword"),
        ('db = {"password": "p4ssw0rd!"}', "Secret Keyword"),
        ('url = "postgres://me:pw1234@db.internal/x"', "Basic Auth Credentials"),
        (f'token = "{GITHUB}"', "GitHub Token"),
        (f'maps_key = "{GOOGLE_API}"', "Google API Key"),
        (f'bearer = "{OAUTH}"', "Google OAuth Access Token"),
        ('sa = {"private_key_id": "' + "0123456789abcdef" * 2 + '01234567"}', "Google Service"),
    ],
)
def test_credentials_are_found_with_cell_and_line(source: str, kind: str) -> None:
    found = scan_cells([(0, "markdown", "# intro"), (3, "code", f"x = 1\n{source}\n")])
    assert found, source
    assert found[0].cell == 3
    assert found[0].line == 2
    assert found[0].kind.startswith(kind)


@pytest.mark.parametrize(
    "source",
    [
        'dataset_url = "gs://kit-data/prophet-examples/example_wp_log_peyton_manning.csv"',
        'version = "20261123T101500Z-0123456789ab"',
        'sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
        'blob = "bGlrZWx5IGVuY29kZWQgZGF0YSwgbm90IGEgc2VjcmV0IGF0IGFsbA=="',
        'password = os.environ["DB_PASSWORD"]',
        "token = get_token()",
        'url = "https://example.com/api?page=2"',
        'host = "8.8.8.8"',
        'password = "not-a-real-one"  # pragma: allowlist secret',
        f'# pragma: allowlist nextline secret\nmaps_key = "{GOOGLE_API}"',
    ],
)
def test_look_alikes_are_accepted(source: str) -> None:
    assert scan_cells([(0, "code", source + "\n")]) == []


def test_forecast_notebook_is_clean() -> None:
    nb = nbformat.read(FORECAST, as_version=4)
    secrets.check(nb, FORECAST)


def test_markdown_cells_are_scanned_too() -> None:
    found = scan_cells([(2, "markdown", f"Use this key:\n\n{AWS_KEY}\n")])
    assert found == [Finding(2, 3, "AWS Access Key")]


def test_check_names_notebook_cell_and_line_but_not_the_secret() -> None:
    nb = new_notebook(
        cells=[
            new_markdown_cell("# x"),
            new_code_cell("a = 1"),
            new_code_cell(
                f'a = 2\nb = 3\naws = "{AWS_KEY}"\npassword = "hunter2hunter2"', execution_count=7
            ),
        ]
    )
    with pytest.raises(UsageError) as info:
        secrets.check(nb, Path("nb/demo.ipynb"))
    message = str(info.value)
    assert message.startswith(
        "nb/demo.ipynb: cell 3, In [7], line 3: possible secret (AWS Access Key)"
    )
    assert "(and 1 more)" in message
    assert AWS_KEY not in message
    assert "hunter2" not in message


def test_scanning_leaves_warnings_alone() -> None:
    # detect-secrets routes warnings to logging when imported; in a kernel that hides them.
    code = (
        "import warnings\n"
        "from kit.publishing.secrets import scan_cells\n"
        "before = warnings.showwarning\n"
        "scan_cells([(0, 'code', 'x = 1')])\n"
        "assert warnings.showwarning is before\n"
        "warnings.warn('still shown')\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "UserWarning: still shown" in done.stderr
