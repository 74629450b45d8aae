"""Measurement 4's floor: the least a publish can cost in a fresh Python.

    .venv/bin/python bench/publish_floor.py SPEC_JSON

Reads the notebook with `json` and uploads it with google-cloud-storage, timed the same
way as bench/publish_worker.py's cold publish: from the first import to the upload's
end (the interpreter's own start-up is outside both). SPEC: {"source": notebook,
"bucket": gs:// URL, "key": object name, "out": result file}.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def main(spec: dict[str, str]) -> dict[str, float]:
    from google.cloud import storage

    nb = json.loads(Path(spec["source"]).read_text(encoding="utf-8"))
    data = json.dumps(nb, indent=1).encode("utf-8")
    bucket = spec["bucket"].removeprefix("gs://").split("/", 1)[0]
    blob = storage.Client().bucket(bucket).blob(spec["key"])
    blob.upload_from_string(data, content_type="application/x-ipynb+json")
    return {"seconds": time.perf_counter() - START, "size": len(data)}


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    Path(spec["out"]).write_text(json.dumps(main(spec)))
