"""The `course` command: build the assignments, grade submissions."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="generate student notebooks, public tests and autograder zips")
    build.add_argument("assignments", nargs="*", help="names under solutions/ (default: all)")
    build.add_argument("--check", action="store_true",
                       help="fail if a committed generated file differs from a fresh build")

    args = parser.parse_args(argv)
    if args.command == "build":
        from course.build import build as run_build, check_fresh
        start = time.perf_counter()
        if args.check:
            return check_fresh(args.assignments or None)
        run_build(only=args.assignments or None)
        print(f"build took {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
