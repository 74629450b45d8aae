"""One contract, two backends: the local folder and GCS (fake-gcs-server)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from record_support import v2_record

from kit.errors import NotFoundError, PreconditionFailedError, UsageError
from kit.storage import Storage, join, storage_for


@pytest.fixture(params=["local", "gcs"])
def base(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return f"file://{tmp_path}/bucket"
    return str(request.getfixturevalue("bucket"))


@pytest.fixture
def store(base: str) -> Storage:
    return storage_for(base, retry_deadline=10)


def test_write_then_read_returns_the_same_bytes(store: Storage, base: str) -> None:
    url = join(base, "a/b/c.bin")
    info = store.write(url, b"\x00hello\xff")
    assert store.read(url) == b"\x00hello\xff"
    assert info.size == 7
    assert info.generation > 0


def test_every_write_changes_the_generation(store: Storage, base: str) -> None:
    url = join(base, "pointer.json")
    generations = [store.write(url, str(i).encode()).generation for i in range(5)]
    assert len(set(generations)) == 5
    assert store.stat(url).generation == generations[-1]


def test_read_info_returns_bytes_and_their_generation(store: Storage, base: str) -> None:
    url = join(base, "x")
    written = store.write(url, b"one")
    data, info = store.read_info(url)
    assert (data, info.generation) == (b"one", written.generation)


def test_missing_object_raises_not_found_naming_the_url(store: Storage, base: str) -> None:
    url = join(base, "nope.txt")
    with pytest.raises(NotFoundError, match=r"nope\.txt"):
        store.read(url)
    with pytest.raises(NotFoundError):
        store.stat(url)
    assert not store.exists(url)


def test_generation_zero_creates_only_when_absent(store: Storage, base: str) -> None:
    url = join(base, "once")
    store.write(url, b"first", if_generation_match=0)
    with pytest.raises(PreconditionFailedError, match="once"):
        store.write(url, b"second", if_generation_match=0)
    assert store.read(url) == b"first"


def test_stale_generation_is_refused(store: Storage, base: str) -> None:
    url = join(base, "latest")
    first = store.write(url, b"v1")
    store.write(url, b"v2", if_generation_match=first.generation)
    with pytest.raises(PreconditionFailedError):
        store.write(url, b"v3", if_generation_match=first.generation)
    assert store.read(url) == b"v2"


def test_list_is_recursive_by_prefix_and_in_name_order(store: Storage, base: str) -> None:
    record = json.dumps(v2_record()).encode()  # every run.json the tests write is valid
    for key in ["runs/b/2/run.json", "runs/a/1/run.json", "runs/a/1/output.ipynb", "other/x"]:
        store.write(join(base, key), record if key.endswith("run.json") else b"{}")
    urls = [i.url for i in store.list(join(base, "runs") + "/")]
    assert urls == [
        join(base, "runs/a/1/output.ipynb"),
        join(base, "runs/a/1/run.json"),
        join(base, "runs/b/2/run.json"),
    ]
    assert list(store.list(join(base, "empty") + "/")) == []


def test_write_file_stores_a_big_file_with_its_metadata(
    store: Storage, base: str, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(range(256)) * 50_000)  # 12.8 MB: several upload chunks
    url = join(base, "big/output.ipynb")
    info = store.write_file(url, source, metadata={"kit-version": "v1"})
    assert store.read(url) == source.read_bytes()
    assert info.size == source.stat().st_size
    listed = next(iter(store.list(join(base, "big/"))))
    assert dict(listed.metadata) == {"kit-version": "v1"}


def test_list_starts_at_an_offset_and_fetches_pages_lazily(store: Storage, base: str) -> None:
    for key in ["idx/003", "idx/001", "idx/002", "idx/004", "other/000"]:
        store.write(join(base, key), b"")
    listed = store.list(join(base, "idx/"), start_offset=join(base, "idx/002"), page_size=2)
    assert [i.url for i in listed] == [join(base, f"idx/00{n}") for n in (2, 3, 4)]
    first = next(iter(store.list(join(base, "idx/"), page_size=1)))
    assert first.url == join(base, "idx/001")
    past = join(base, "idx/009")
    assert list(store.list(join(base, "idx/"), start_offset=past)) == []


def test_list_prefix_may_end_inside_a_name(store: Storage, base: str) -> None:
    store.write(join(base, "notebooks/forecast/v1.ipynb"), b"{}")
    store.write(join(base, "notebooks/forecast-b/v1.ipynb"), b"{}")
    store.write(join(base, "notebooks/other/v1.ipynb"), b"{}")
    assert len(list(store.list(join(base, "notebooks/fore")))) == 2


def test_custom_metadata_is_kept_per_write_and_listed(store: Storage, base: str) -> None:
    url = join(base, "runs/a/1/output.ipynb")
    written = store.write(url, b"{}", metadata={"kit-deadline": "2026-01-01T00:00:00.000000Z"})
    assert dict(written.metadata) == {"kit-deadline": "2026-01-01T00:00:00.000000Z"}
    (listed,) = list(store.list(join(base, "runs") + "/"))
    assert dict(listed.metadata) == {"kit-deadline": "2026-01-01T00:00:00.000000Z"}
    assert dict(store.stat(url).metadata) == dict(listed.metadata)
    store.write(url, b"{}")  # a write without metadata replaces it, as a new GCS object does
    assert dict(store.stat(url).metadata) == {}


def test_delete_removes_the_object(store: Storage, base: str) -> None:
    url = join(base, "gone")
    store.write(url, b"x")
    store.delete(url)
    assert not store.exists(url)
    with pytest.raises(NotFoundError):
        store.delete(url)


def test_concurrent_conditional_writers_never_lose_an_update(store: Storage, base: str) -> None:
    url = join(base, "counter")
    store.write(url, b"0")

    def bump() -> None:
        for _ in range(5):
            while True:
                data, info = store.read_info(url)
                try:
                    store.write(
                        url, str(int(data) + 1).encode(), if_generation_match=info.generation
                    )
                    break
                except PreconditionFailedError:
                    continue

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.read(url) == b"20"


def test_unknown_scheme_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="s3://x/y"):
        storage_for("s3://x/y")


def test_plain_paths_use_the_local_folder(tmp_path: Path) -> None:
    store = storage_for(str(tmp_path))
    store.write(str(tmp_path / "k" / "v.txt"), b"v")
    assert (tmp_path / "k" / "v.txt").read_bytes() == b"v"
