"""The output writer: saves in the background, newest content last, failures surfaced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.errors import StorageError, UsageError
from kit.runner.papermill_io import OutputWriter, PreparedSource
from kit.storage import storage_for


def _writer(tmp_path: Path) -> OutputWriter:
    url = str(tmp_path / "runs" / "nb" / "r1" / "output.ipynb")
    return OutputWriter(storage_for(url), url)


def test_the_newest_save_is_what_is_stored_after_flush(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    writer.claim({"cells": [], "n": -1})
    for n in range(200):
        writer.write(json.dumps({"cells": [], "n": n}), writer.url)
    writer.flush(timeout=30)
    assert json.loads(Path(writer.url).read_text())["n"] == 199
    assert writer.last() == {"cells": [], "n": 199}


def test_a_claimed_output_cannot_be_claimed_again(tmp_path: Path) -> None:
    _writer(tmp_path).claim({"cells": []})
    with pytest.raises(UsageError, match=r"run id already used: .*output\.ipynb exists"):
        _writer(tmp_path).claim({"cells": []})


def test_a_failed_upload_is_raised_by_flush_and_stops_later_saves(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    writer.claim({"cells": []})
    # The object's path becomes a folder: every later upload fails, for real.
    Path(writer.url).unlink()
    Path(writer.url).mkdir()
    writer.write(json.dumps({"cells": [], "n": 1}), writer.url)
    with pytest.raises(StorageError, match=r"cannot write .*output\.ipynb"):
        writer.flush(timeout=30)
    with pytest.raises(StorageError, match=r"cannot write .*output\.ipynb"):
        writer.write(json.dumps({"cells": [], "n": 2}), writer.url)


def test_a_big_save_goes_through_a_file_and_only_the_newest_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kit.runner import papermill_io

    monkeypatch.setattr(papermill_io, "SPOOL_FROM", 1000)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "spool"))
    (tmp_path / "spool").mkdir()
    monkeypatch.setattr(papermill_io.tempfile, "tempdir", None)  # TMPDIR is read again
    writer = _writer(tmp_path)
    writer.claim({"cells": []})
    for n in range(20):
        big = {"cells": [], "n": n, "text": "é" * 2000}  # over SPOOL_FROM, not ASCII
        writer.write(json.dumps(big, ensure_ascii=False), writer.url)
    writer.flush(timeout=30)
    stored = json.loads(Path(writer.url).read_text(encoding="utf-8"))
    assert (stored["n"], stored["text"]) == (19, "é" * 2000)
    assert writer.last() == stored
    assert writer.last() is writer.last()  # parsed once
    assert len(list((tmp_path / "spool").iterdir())) == 1  # the newest save's file alone
    writer.close()
    assert list((tmp_path / "spool").iterdir()) == []


def test_papermill_reads_and_lists_a_claimed_output_through_the_writer(tmp_path: Path) -> None:
    from papermill.iorw import papermill_io

    writer = _writer(tmp_path)
    writer.claim({"cells": [], "n": 0})
    writer.register()
    assert json.loads(papermill_io.read(writer.url)) == {"cells": [], "n": 0}
    assert papermill_io.listdir(writer.url) == [writer.url]


def test_papermill_reads_the_prepared_source_and_may_never_write_it(tmp_path: Path) -> None:
    from papermill.iorw import papermill_io

    url = str(tmp_path / "modules" / "nb" / "v1" / "notebook.ipynb")  # never stored
    source = PreparedSource(url, {"cells": [], "nbformat": 4})
    source.register()
    assert json.loads(papermill_io.read(url)) == {"cells": [], "nbformat": 4}
    assert papermill_io.listdir(url) == [url]
    with pytest.raises(PermissionError, match=r"notebook\.ipynb is a run's source"):
        papermill_io.write("{}", url)
    assert not Path(url).exists()
