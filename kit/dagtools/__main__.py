"""python -m kit.dagtools test DAG_ID [--date D] [--retries] [--pods process|docker]
(run by `kit dag test`)."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so local_pods() stops every process it started.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run; the exit code."""
    parser = argparse.ArgumentParser(prog="python -m kit.dagtools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    test = commands.add_parser("test", help="run one DAG run locally with dag.test()")
    test.add_argument("dag_id")
    test.add_argument("--date", help="logical date, YYYY-MM-DD or ISO 8601 (default: now)")
    test.add_argument(
        "--retries", action="store_true", help="keep the DAG's retries (default: fail at once)"
    )
    test.add_argument(
        "--pods",
        choices=("process", "docker"),
        default="process",
        help="run each pod as a local process (default) or a container of the image",
    )
    test.add_argument("--image", help="with --pods docker: the local image (kit-runtime:local)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    # Imported here: configure() must set Airflow's environment before Airflow is imported.
    from kit.dagtools import runner

    return runner.run(
        args.dag_id, args.date, retries=args.retries, pods=args.pods, image=args.image
    )


if __name__ == "__main__":
    sys.exit(main())
