"""Grade the same N submissions with `course grade` and with a loop of `otter run`; check that
every score agrees; print both times and their ratio.

    python benchmarks/grade_vs_otter.py [--assignment hw01_derivatives] [-n 20]

The submissions cycle through the reference, each realistic bug of the assignment's tests and
the untouched stub, so both graders see passing, partly failing and failing notebooks.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.grading import course_grade, make_submission, otter_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="hw01_derivatives")
    parser.add_argument("-n", type=int, default=20)
    args = parser.parse_args()
    bugs = importlib.import_module(f"tests.test_{args.assignment}").BUGS
    variants = [{}] + [{b.function: b.source} for b in bugs] + [None]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        paths = {f"s{i:03d}": make_submission(args.assignment, variants[i % len(variants)], folder, f"s{i:03d}")
                 for i in range(args.n)}

        start = time.perf_counter()
        ours = course_grade(args.assignment, folder, Path(tmp) / "graded")
        ours_seconds = time.perf_counter() - start

        start = time.perf_counter()
        theirs = {name: otter_run(args.assignment, path) for name, path in paths.items()}
        otter_seconds = time.perf_counter() - start

    disagreements = [name for name in paths if ours[name]["questions"] != theirs[name]]
    print(f"{args.n} submissions of {args.assignment} ({len(variants)} distinct variants)")
    print(f"course grade (2 warm workers): {ours_seconds:7.1f} s  ({ours_seconds / args.n:.2f} s per submission)")
    print(f"otter run loop:                {otter_seconds:7.1f} s  ({otter_seconds / args.n:.2f} s per submission)")
    print(f"speed-up: {otter_seconds / ours_seconds:.1f}x; scores agree on {args.n - len(disagreements)}/{args.n}")
    if disagreements:
        raise SystemExit(f"scores differ for {disagreements}")


if __name__ == "__main__":
    main()
