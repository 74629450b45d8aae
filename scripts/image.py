"""Build the runtime image with Docker on a machine that reaches no registry (`make image`).

    scripts/image.py engine           a Docker engine answers (installs, starts one as root)
    scripts/image.py base             the local stand-in base image, cached by its inputs
    scripts/image.py build [--tag T]  image/Dockerfile on that base -> T (kit-runtime:local)

The production build (image/cloudbuild.yaml) pulls mambaorg/micromamba by digest. Here no
registry answers, so the base is a stand-in made from Debian's packages: `debootstrap
--variant=minbase bookworm`, `docker import`, then image/local-base/Dockerfile. Each of the
two is tagged with a hash of its inputs and built only when no image has that tag, so a
machine builds it once. image/README.md lists what differs from the production build.

Standard library only: it runs before any environment exists. Exit 3 means no engine can
be had here (the image tests then skip, outside CI); its one line says why.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_BASE = ROOT / "image" / "local-base"
STATE = ROOT / ".kit"
DEFAULT_TAG = "kit-runtime:local"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
ROOTFS_REPO = "kit-debian-rootfs"
BASE_REPO = "kit-micromamba-standin"
ENGINE_WAIT_SECONDS = 90
NO_ENGINE = 3
# What debian:12-slim leaves out (and so mambaorg/micromamba's base): documentation,
# manual pages and translations, for every package installed now or later.
SLIM_DPKG_CFG = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
"""
SOURCES = f"""\
deb {MIRROR} {SUITE} main
deb {MIRROR} {SUITE}-updates main
deb {SECURITY} {SUITE}-security main
"""


class NoEngine(RuntimeError):
    """No Docker engine answers and none can be started here."""


def log(message: str) -> None:
    print(f"image: {message}", file=sys.stderr, flush=True)


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


# ------------------------------------------------------------------------------ engine


def engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def apt_install(*packages: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log(f"installing Debian's {', '.join(packages)} (apt-get)")
    run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL)
    run(["apt-get", "install", "-y", "-qq", *packages], env=env, stdout=subprocess.DEVNULL)


def ensure_engine() -> None:
    """A Docker engine answers: install Debian's docker.io and start dockerd if need be."""
    if engine_answers():
        return
    if os.geteuid() != 0:
        raise NoEngine("none answers, and only root can install or start one")
    if not shutil.which("apt-get"):
        raise NoEngine("none answers, and there is no apt-get to install docker.io")
    if not shutil.which("dockerd"):
        try:
            apt_install("docker.io")
        except subprocess.CalledProcessError as exc:
            raise NoEngine(f"apt-get install docker.io failed (exit {exc.returncode})") from exc
    STATE.mkdir(exist_ok=True)
    log_path = STATE / "dockerd.log"
    log(f"starting dockerd (log: {log_path.relative_to(ROOT)})")
    with log_path.open("ab") as out:
        # Its own session: the daemon outlives this script and make, as a service would.
        subprocess.Popen(["dockerd"], stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + ENGINE_WAIT_SECONDS
    while time.monotonic() < deadline:
        if engine_answers():
            return
        time.sleep(1)
    raise NoEngine(f"dockerd did not answer within {ENGINE_WAIT_SECONDS} s (see {log_path})")


# -------------------------------------------------------------------------------- base


def image_exists(tag: str) -> bool:
    done = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False)
    return done.returncode == 0


def ca_bundle() -> Path:
    """The CA bundle this machine's HTTPS clients trust (its TLS proxy's CA included)."""
    for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return Path("/etc/ssl/certs/ca-certificates.crt")


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def rootfs_tag() -> str:
    key = digest(SUITE.encode(), MIRROR.encode(), SOURCES.encode(), SLIM_DPKG_CFG.encode())
    return f"{ROOTFS_REPO}:{SUITE}-{key}"


def base_inputs() -> dict[str, bytes]:
    """The stand-in's build context: its files, the environment file reader, the CA bundle."""
    return {
        "Dockerfile": (LOCAL_BASE / "Dockerfile").read_bytes(),
        "micromamba": (LOCAL_BASE / "micromamba").read_bytes(),
        "env_requirements.py": (ROOT / "scripts" / "env_requirements.py").read_bytes(),
        "ca-certificates.crt": ca_bundle().read_bytes(),
    }


def base_tag() -> str:
    inputs = base_inputs()
    return f"{BASE_REPO}:{digest(rootfs_tag().encode(), *inputs.values())}"


def build_rootfs(tag: str) -> None:
    """debootstrap --variant=minbase, slimmed like debian:12-slim, then `docker import`."""
    if not shutil.which("debootstrap"):
        apt_install("debootstrap")
    with tempfile.TemporaryDirectory(prefix="kit-rootfs-") as tmp:
        target = Path(tmp) / "rootfs"
        log(f"debootstrap {SUITE} from {MIRROR} (once per machine)")
        started = time.monotonic()
        run(
            ["debootstrap", "--variant=minbase", SUITE, str(target), MIRROR],
            stdout=subprocess.DEVNULL,
        )
        (target / "etc/dpkg/dpkg.cfg.d/kit-slim").write_text(SLIM_DPKG_CFG)
        (target / "etc/apt/sources.list").write_text(SOURCES)
        for pattern in ("usr/share/man/*", "usr/share/info/*", "usr/share/locale/*"):
            for path in target.glob(pattern):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        for doc in (target / "usr/share/doc").glob("*"):
            for path in doc.iterdir() if doc.is_dir() else ():
                if path.name != "copyright":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        for cache in ("var/cache/apt", "var/lib/apt/lists"):
            shutil.rmtree(target / cache, ignore_errors=True)
            (target / cache).mkdir(parents=True)
        shutil.rmtree(target / "debootstrap", ignore_errors=True)
        # GNU tar keeps owners, modes, links and device nodes as debootstrap made them.
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(target), "-c", "."], stdout=subprocess.PIPE
        )
        run(["docker", "import", "-", tag], stdin=tar.stdout, stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise subprocess.CalledProcessError(tar.returncode, tar.args)
        log(f"{tag}: debootstrap and import took {time.monotonic() - started:.0f} s")


def ensure_base() -> str:
    """The stand-in base's tag, built if no image has it yet."""
    tag = base_tag()
    if image_exists(tag):
        return tag
    rootfs = rootfs_tag()
    if not image_exists(rootfs):
        build_rootfs(rootfs)
    log(f"building the stand-in base {tag} (image/local-base)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kit-standin-") as tmp:
        for name, content in base_inputs().items():
            (Path(tmp) / name).write_bytes(content)
        (Path(tmp) / "micromamba").chmod(0o755)
        run(["docker", "build", "--quiet", "--build-arg", f"ROOTFS={rootfs}", "-t", tag, tmp])
    log(f"{tag}: built in {time.monotonic() - started:.0f} s")
    return tag


# ------------------------------------------------------------------------------- build


def build(tag: str, quiet: bool = False) -> None:
    """image/Dockerfile on the stand-in base, from the repository root."""
    base = ensure_base()
    log(f"docker build -f image/Dockerfile --build-arg BASE={base} -t {tag} .")
    started = time.monotonic()
    argv = ["docker", "build", "-f", "image/Dockerfile", "--build-arg", f"BASE={base}"]
    run([*argv, *(["--quiet"] if quiet else []), "-t", tag, "."], cwd=ROOT)
    log(f"{tag}: built in {time.monotonic() - started:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/image.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("engine", help="make sure a Docker engine answers")
    commands.add_parser("base", help="build the local stand-in base (cached)")
    build_cmd = commands.add_parser("build", help="build image/Dockerfile on the stand-in base")
    build_cmd.add_argument("--tag", default=DEFAULT_TAG)
    build_cmd.add_argument("--quiet", action="store_true", help="print only the image id")
    args = parser.parse_args(argv)
    try:
        ensure_engine()
        if args.command == "base":
            print(ensure_base())
        elif args.command == "build":
            build(args.tag, quiet=args.quiet)
    except NoEngine as exc:
        print(f"image: no Docker engine: {exc}", file=sys.stderr)
        return NO_ENGINE
    except subprocess.CalledProcessError as exc:
        print(
            f"image: {' '.join(map(str, exc.cmd))} failed (exit {exc.returncode})", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
