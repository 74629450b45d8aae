"""What the built image holds: exactly environment.yml, read-only to whoever runs it."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LAB_TXT = ROOT / "requirements" / "lab.txt"


def in_image(image: str, script: str, user: str = "10001:10001") -> str:
    """A shell script's output, run in the image as `user` (not through kit run)."""
    done = subprocess.run(
        ["docker", "run", "--rm", "--user", user, "--entrypoint", "bash", image, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_image_is_configured_as_the_pod_expects(image: str) -> None:
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config}}", image],
        capture_output=True,
        text=True,
        check=True,
    )
    config = json.loads(done.stdout)
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/opt/conda/bin/tini", "--", "kit", "run"]
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["HOME"] == "/home/kit"
    assert env["PATH"].startswith("/opt/conda/bin:")
    assert "STORAGE_EMULATOR_HOST" not in env


def test_the_environment_is_exactly_environment_yml(image: str) -> None:
    listing = in_image(
        image,
        "python -c 'import importlib.metadata as m, json; "
        'print(json.dumps({d.metadata["Name"]: d.version for d in m.distributions()}))\'',
    )
    installed = {canonical(k): v for k, v in json.loads(listing).items()}
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {
        canonical(name): version
        for line in next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        for name, version in [line.split("==")]
    }
    conda = dict(d.split("=", 1) for d in spec["dependencies"] if isinstance(d, str))
    pins["pip"] = conda["pip"]
    assert installed.pop("kit") == "0.1.0"
    assert installed == pins
    # None of the laptop-only tools (JupyterLab, nbdime, ...) is in the image.
    lab = {canonical(line.split("==")[0]) for line in LAB_TXT.read_text().splitlines()[1:]}
    assert lab
    assert not lab & installed.keys()


def test_kit_env_check_in_the_image_sees_only_the_base_pythons_patch_release(image: str) -> None:
    done = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "kit", image, "env", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    pinned = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"][0]
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0:  # the production base: conda-forge's python is the pinned one
        assert lines == ["environment matches /opt/conda/share/kit/environment.yml"]
    else:  # the local stand-in: Debian's python 3.11, another patch release (image/README.md)
        [line] = lines
        assert re.fullmatch(r"python: pinned 3\.11\.\d+, installed 3\.11\.\d+", line), line
        assert line.startswith(f"python: pinned {pinned.removeprefix('python=')},")


@pytest.mark.parametrize("user", ["10001:10001", "54321:54321"])
def test_the_environment_is_not_writable_by_the_runtime_user(image: str, user: str) -> None:
    out = in_image(
        image,
        "find /opt/conda -xdev -writable -print -quit; "
        "touch /opt/conda/x 2>/dev/null && echo touched; "
        "python -c 'import site; print(site.ENABLE_USER_SITE)'; "
        "stat -c '%a %U' /opt/conda /opt/conda/conda-meta",
        user=user,
    )
    # Nothing under /opt/conda is writable; a writable HOME is no second site-packages.
    assert out.splitlines() == ["False", "755 root", "755 root"], out


def test_no_activation_scripts_and_no_build_leftovers(image: str) -> None:
    out = in_image(
        image,
        "ls /opt/conda/etc/conda/activate.d 2>/dev/null; "
        "ls -d /tmp/kit-src /tmp/environment.yml /home/*/.cache /root/.cache 2>/dev/null; "
        "find /opt/conda -xdev -name '*.whl' -o -xdev -type d -name tests -path '*site-packages/*'",
        user="0",
    )
    assert out == ""


def test_kits_templates_and_stylesheets_are_in_the_image(image: str) -> None:
    # Package data (pyproject's package-data globs): a template missing from the wheel
    # would only show as a TemplateNotFound on a page.
    wanted = sorted(
        str(p.relative_to(ROOT))
        for folder in ("templates", "static")
        for p in (ROOT / "kit").rglob(f"{folder}/**/*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert "kit/review/web/templates/chart.svg" in wanted
    listed = in_image(
        image,
        "cd \"$(python -c 'import kit, pathlib; print(pathlib.Path(kit.__file__).parents[1])')\""
        " && find kit -path '*/templates/*' -type f -o -path '*/static/*' -type f | sort",
    )
    assert listed.split() == wanted
    shown = in_image(
        image,
        'python -c "from kit import templating; print(templating.render('
        "'kit.review.web', 'error.html', code=404, message='<b>x</b>', bucket='gs://b'))\"",
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in shown  # autoescaped
