"""`kit runs` in a terminal of 100 columns: one line per run, fitted; piped, every column.

Against fan-out runs as the example DAG leaves them (fanout_support): gs:// URL parameters,
a failed run with the real notebook's long reason, a lost run, two notebooks.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from fcntl import ioctl

import pytest
from fanout_support import FAILED_REASON, PEYTON, run_id, write_fanout
from rich.cells import cell_len
from rich.console import Console
from run_support import kit_env

from kit import dev
from kit.config import Settings
from kit.review.listing import RunStore
from kit.review.runs_table import fit, print_runs

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def fanout(gcs_server: dev.Server) -> tuple[Settings, list[str]]:
    from gcs_support import fresh_settings

    settings = fresh_settings(gcs_server, prefix="fo")
    return settings, write_fanout(settings)


def _in_a_terminal(env: dict[str, str], *args: str, columns: int = 100) -> str:
    """Run `kit ARGS` in a real pseudo-terminal of `columns` x 40; its output, ANSI removed."""
    main, child = pty.openpty()
    ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kit.cli.main", *args],
        stdin=child,
        stdout=child,
        stderr=child,
        env={**env, "TERM": "xterm-256color"},
        close_fds=True,
    )
    os.close(child)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=30) == 0, b"".join(chunks).decode()
    os.close(main)
    return ANSI.sub("", b"".join(chunks).decode().replace("\r\n", "\n"))


def _listing(env: dict[str, str], *args: str) -> tuple[list[str], list[str]]:
    """(stdout lines, stderr lines) of `kit runs ARGS` piped."""
    done = subprocess.run(
        [sys.executable, "-m", "kit.cli.main", "runs", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines(), done.stderr.splitlines()


def test_kit_runs_fits_a_terminal_of_100_columns(fanout: tuple[Settings, list[str]]) -> None:
    settings, ids = fanout
    text = _in_a_terminal(kit_env(settings), "runs")
    lines = text.rstrip("\n").split("\n")
    note = lines.pop()  # on stderr, the same terminal
    assert note == (
        "kit: VERSION, STARTED, DURATION left out to fit 100 columns (--wide shows every column)"
    )
    assert all(cell_len(line) <= 100 for line in lines), "\n".join(lines)
    assert len(lines) == 1 + len(ids)  # one line per run: nothing wrapped
    assert lines[0].split() == ["RUN", "ID", "NOTEBOOK", "STATUS", "PARAMETERS", "RESULT"]
    assert [line.split()[0] for line in lines[1:]] == ids
    rows = {line.split()[0]: line for line in lines[1:]}
    failed = rows[run_id(2, 0)]
    assert re.search(r" failed +dataset_url=…\S*csv, … +ValueError: …/\S*…$", failed)
    assert re.search(r" lost +dataset_url=…\S*csv, … +no run\.json by …$", rows[run_id(3, 0)])
    assert "dataset_url=…les.csv" in rows[run_id(1, 1)]  # the end of the file name
    assert "gs://" not in text
    model = rows[run_id(2, 1).replace("3fa2c1d", "9be07a1")]
    assert " prophet_model " in model
    assert " mape=2.25, n_tr…" in model


def test_kit_runs_of_one_notebook_shows_what_tells_runs_apart(
    fanout: tuple[Settings, list[str]],
) -> None:
    settings, ids = fanout
    lines = _in_a_terminal(kit_env(settings), "runs", "forecast").rstrip("\n").split("\n")
    assert lines.pop() == (
        "kit: NOTEBOOK@VERSION, STARTED, DURATION left out to fit 100 columns "
        "(--wide shows every column)"
    )
    assert len(lines) == len(ids)  # the header, and every run but prophet_model's
    assert all(cell_len(line) <= 100 for line in lines)
    rows = {line.split()[0]: line for line in lines[1:]}
    # The dataset first (it splits the runs into series), its file name's end.
    assert "  dataset_url=…retail_sales.csv, …  mape=2.301, coverage=" in rows[run_id(1, 1)]
    assert "  dataset_url=…yton_manning.csv, …  ValueError: …/example…" in rows[run_id(2, 0)]
    assert rows[run_id(3, 0)].endswith("  no run.json by its de…")
    wider = _in_a_terminal(kit_env(settings), "runs", "forecast", columns=220)
    assert "left out" not in wider
    peyton = next(line for line in wider.splitlines() if line.startswith(run_id(1, 0)))
    assert "  dataset_url=…/example_wp_log_peyton_manning.csv, horizon=365" in peyton
    assert "forecast@20261201T052629Z-4c538bebc3f9" in peyton
    assert "n_train=2,726" in wider.replace("\n", "")  # numbers for people


def test_piped_and_wide_listings_print_every_column_whole(
    fanout: tuple[Settings, list[str]],
) -> None:
    settings, ids = fanout
    out, err = _listing(kit_env(settings, COLUMNS="100"))
    assert err == []
    assert out[0].split() == [
        "RUN", "ID", "NOTEBOOK@VERSION", "STATUS", "STARTED", "DURATION", "PARAMETERS", "RESULT"
    ]  # fmt: skip
    assert len(out) == 1 + len(ids)
    failed = next(line for line in out if " failed " in line)
    assert failed.endswith(FAILED_REASON.replace(PEYTON, "…/example_wp_log_peyton_manning.csv"))
    assert "forecast@20261201T052629Z-4c538bebc3f9" in failed
    assert "n_train=459,912" in "\n".join(out)
    assert max(len(line) for line in out) > 100
    wide = _in_a_terminal(kit_env(settings), "runs", "--wide")
    assert "holdout=4000 leaves fewer than 10 rows to fit on" in wide.replace("\n", "")
    assert "left out" not in wide


def test_the_fit_leaves_out_the_least_needed_columns_first(
    fanout: tuple[Settings, list[str]],
) -> None:
    settings, _ = fanout
    runs = RunStore(settings).list()
    every = ["RUN ID", "NOTEBOOK@VERSION", "STATUS", "STARTED", "DURATION", "PARAMETERS", "RESULT"]
    headers = {w: [c.header for c in fit(runs, w)[0]] for w in (300, 160, 140, 100, 60)}
    assert headers[300] == every
    assert headers[160] == [h.replace("@VERSION", "") for h in every]
    assert headers[140] == ["RUN ID", "NOTEBOOK", "STATUS", "STARTED", "PARAMETERS", "RESULT"]
    assert headers[100] == headers[60] == ["RUN ID", "NOTEBOOK", "STATUS", "PARAMETERS", "RESULT"]
    for width in (300, 160, 140, 100, 80, 60, 40):
        console = Console(file=io.StringIO(), width=width, force_terminal=True)
        print_runs(console, runs)
        printed = ANSI.sub("", console.file.getvalue()).splitlines()  # type: ignore[attr-defined]
        assert len(printed) == 1 + len(runs)
        assert max(cell_len(line) for line in printed) <= width
