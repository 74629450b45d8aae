"""Measurement 4's worker: publish in-process, as `kit.publish()` in a notebook does.

    .venv/bin/python bench/publish_worker.py SPEC_JSON

A fresh process (so its first publish is "cold": kit.publishing and the GCS client not yet
imported). SPEC: {"source": notebook, "name": published name, "work": scratch file,
"n": new versions, "noop": bool, "warmup": path of a small notebook to publish first or
null, "phases": bool, "floor": bool (before each publish, time reading the file and
uploading it), "profile": a file for a cProfile of the last publish, "out": result
file}. Every new version changes one line of the notebook (a comment with a counter), so
each publish writes a real new version.
"""

from __future__ import annotations

import cProfile
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PHASES: dict[str, float] = {}


def _timed(label: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            PHASES[label] = PHASES.get(label, 0.0) + time.perf_counter() - start

    return wrapper


def instrument() -> None:
    """Time the steps of publish_notebook; steps that no longer exist are skipped.

    release calls them through its module globals (a module's function, or its own
    function), so the patch goes where those globals point."""
    from kit.publishing import release

    steps = {
        "read + validate (json + fastjsonschema)": ("validate", "load"),
        "parameter schema": ("params", "schema"),
        "secret scan (detect-secrets)": ("secrets", "check"),
        "strip outputs + sha256": ("strip", "strip"),
        "environment drift check": ("_env_warnings", None),
        "catalog + GCS client": ("Catalog", None),
        "look for an identical version": ("_find_identical", None),
        "manifest (git, publisher)": ("_manifest", None),
        "write notebook + manifest": ("_create", None),
        "move latest.json": ("pointer", "move"),
    }
    names = vars(release)
    for label, (name, attr) in steps.items():
        if attr is None and name in names:
            setattr(release, name, _timed(label, names[name]))
        elif attr is not None and hasattr(names.get(name), attr):
            setattr(names[name], attr, _timed(label, getattr(names[name], attr)))


def floor(path: Path, url: str) -> float:
    """Seconds to read a file and upload its bytes, with kit's storage."""
    from kit.storage import storage_for

    start = time.perf_counter()
    storage_for(url).write(url, path.read_bytes(), content_type="application/x-ipynb+json")
    return time.perf_counter() - start


def edited(source: dict[str, Any], counter: str) -> dict[str, Any]:
    """The notebook with a comment naming counter at the end of its last code cell."""
    nb: dict[str, Any] = json.loads(json.dumps(source))
    cell = [c for c in nb["cells"] if c["cell_type"] == "code"][-1]
    text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    cell["source"] = f"{text}\n# bench edit {counter}"
    return nb


def main(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    start = time.perf_counter()
    from kit.config import load_settings
    from kit.publishing import publish_notebook

    out["import"] = time.perf_counter() - start
    settings = load_settings()
    work = Path(spec["work"])
    if spec.get("warmup"):
        warm = Path(spec["warmup"])
        publish_notebook(warm, spec["name"] + "-warmup", settings=settings)
    if spec.get("phases"):
        instrument()
    source = json.loads(Path(spec["source"]).read_text())
    latencies, sizes, floors = [], [], []
    for i in range(spec["n"]):
        work.write_text(json.dumps(edited(source, f"{spec['token']}-{spec['tag']}-{i}"), indent=1))
        if spec.get("floor"):  # what publishing cannot beat: read the file, upload it
            floors.append(floor(work, settings.url("modules_bucket", "bench-floor", f"{i}.ipynb")))
        profile = cProfile.Profile() if spec.get("profile") and i == spec["n"] - 1 else None
        start = time.perf_counter()
        if profile is not None:
            profile.enable()
        published = publish_notebook(work, spec["name"], settings=settings)
        latencies.append(time.perf_counter() - start)
        if profile is not None:
            profile.disable()
            profile.dump_stats(spec["profile"])
        if not published.created:
            raise SystemExit(f"publish {i} created no new version: {published}")
        sizes.append(published.manifest.size)
        print(
            f"#4 {spec['name']} publish {i + 1}/{spec['n']}: {latencies[-1]:.3f} s", file=sys.stderr
        )
    out.update(latencies=latencies, file_size=work.stat().st_size, published_size=sizes[-1])
    out["floors"] = floors
    out["phases"] = dict(PHASES)
    if spec.get("noop"):
        start = time.perf_counter()
        again = publish_notebook(work, spec["name"], settings=settings)
        out["noop"] = time.perf_counter() - start
        if again.created:
            raise SystemExit("republishing identical content created a new version")
    return out


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    Path(spec["out"]).write_text(json.dumps(main(spec)))
