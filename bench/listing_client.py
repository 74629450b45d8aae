"""Measurement 6's two plain clients, each a fresh process.

.venv/bin/python bench/listing_client.py floor BUCKET PREFIX SIZE
    F: import google-cloud-storage and list SIZE objects under PREFIX (one page when
    SIZE <= 1000, else every page); prints how many.
.venv/bin/python bench/listing_client.py frame NAME SINCE
    kit.runs(NAME, since=SINCE) as a notebook calls it; prints its rows and statuses.
"""

from __future__ import annotations

import sys


def floor(bucket: str, prefix: str, size: int) -> int:
    from google.cloud import storage

    pages = storage.Client().list_blobs(bucket, prefix=prefix, page_size=min(size, 1000)).pages
    if size <= 1000:
        return sum(1 for _ in next(pages))
    return sum(sum(1 for _ in page) for page in pages)


def frame(name: str, since: str) -> str:
    import kit

    runs = kit.runs(name, since=since)
    return f"{len(runs)} {runs['status'].value_counts().to_dict()}"


if __name__ == "__main__":
    what, *args = sys.argv[1:]
    if what == "floor":
        print(floor(args[0], args[1], int(args[2])))
    else:
        print(frame(args[0], args[1]))
