"""python -m bench [--only 1,3] [--quick] [--out DIR]: run the benchmark suite.

Writes results.md and results.json to bench/ (a full run) or bench/work/ (--only or
--quick, so a partial run never replaces the committed results). One measurement failing
is reported as an error in the results; the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.core import ROOT, WORK, Section, log
from bench.stage import Stage, git_state, machine, versions

MODULES = {
    1: "bench.m1_overhead",
    2: "bench.m2_forecast",
    3: "bench.m3_dag_parse",
    4: "bench.m4_publish",
    5: "bench.m5_fanout",
    6: "bench.m6_listing",
    7: "bench.m7_size",
    8: "bench.m8_image",
    9: "bench.m9_memory",
}


def _one(number: int, stage: Stage, quick: bool) -> Section:
    start = time.perf_counter()
    title = f"measurement {number}"
    try:
        module = importlib.import_module(MODULES[number])
        title = str(getattr(module, "TITLE", title))
        measure: Callable[[Stage, bool], Section] = module.measure
        section = measure(stage, quick)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log(f"#{number} failed: {error}")
        section = Section(number, title, error=f"{error}\n\n{traceback.format_exc(limit=4)}")
    section.elapsed = time.perf_counter() - start
    log(f"#{number} {title}: done in {section.elapsed:.0f} s")
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", help="comma-separated measurement numbers, e.g. 1,3")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller inputs")
    parser.add_argument("--out", type=Path, help="folder for results.md/.json")
    args = parser.parse_args(argv)
    numbers = sorted(int(n) for n in args.only.split(",")) if args.only else sorted(MODULES)
    if unknown := [n for n in numbers if n not in MODULES]:
        parser.error(f"no measurement {unknown[0]} (measurements: 1 to {len(MODULES)})")
    partial = bool(args.only) or args.quick
    out_dir: Path = args.out or (WORK if partial else ROOT / "bench")
    os.chdir(ROOT)
    WORK.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    meta = {
        "command": shlex_command(argv),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "versions": versions(),
        "git": git_state(),
        "quick": args.quick,
    }
    stage = Stage.start()
    sections: list[Section] = []
    try:
        for number in numbers:
            log(f"#{number} starting ({len(sections) + 1}/{len(numbers)})")
            sections.append(_one(number, stage, args.quick))
    finally:
        stage.stop()
    meta["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    meta["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    meta["storage_env"] = {
        **stage.storage_env,
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:<free port>",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(report.markdown(sections, meta))
    (out_dir / "results.json").write_text(report.as_json(sections, meta))
    log(f"wrote {out_dir / 'results.md'} and results.json in {meta['elapsed_seconds']:.0f} s")
    print(report.summary_table(sections))
    return 1 if any(s.error for s in sections) else 0


def shlex_command(argv: list[str] | None) -> str:
    rest = sys.argv[1:] if argv is None else argv
    return " ".join(["python -m bench", *rest]) if rest else "make bench"


if __name__ == "__main__":
    sys.exit(main())
