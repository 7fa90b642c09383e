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

    grade = commands.add_parser("grade", help="grade a folder or zip of submitted notebooks (no Docker)")
    grade.add_argument("submissions", help="a folder, a zip (e.g. Canvas's Download Submissions) or one notebook")
    grade.add_argument("--assignment", required=True, help="e.g. hw01_derivatives")
    grade.add_argument("--output", required=True, help="folder for the gradebook, feedback and results")
    grade.add_argument("--autograder", help="the autograder zip (default: autograder/ASSIGNMENT-autograder.zip)")
    grade.add_argument("--roster", help="CSV with the LMS's student columns (e.g. Canvas's gradebook export)")
    grade.add_argument("--workers", type=int, default=2, help="parallel warm workers (default 2)")
    grade.add_argument("--timeout", type=float, default=120.0, help="seconds to run one notebook")
    grade.add_argument("--call-timeout", type=float, default=30.0, help="seconds for one graded call")
    grade.add_argument("--memory-mb", type=int, default=4096, help="address-space cap of a student process")

    demo = commands.add_parser("demo", help="build everything, then grade the bundled sample submissions")
    demo.add_argument("--output", default="out", help="where the gradebooks go (default: out/)")

    args = parser.parse_args(argv)
    if args.command == "demo":
        return run_demo(Path(args.output))
    if args.command == "grade":
        from course.batch import main as grade_main
        return grade_main(args)
    if args.command == "build":
        from course.build import build as run_build, check_fresh
        start = time.perf_counter()
        if args.check:
            return check_fresh(args.assignments or None)
        run_build(only=args.assignments or None)
        print(f"build took {time.perf_counter() - start:.1f} s")
    return 0


def run_demo(output: Path) -> int:
    """The main job on the bundled default: build the course, grade examples/submissions/*."""
    from course.batch import grade_all
    from course.build import ROOT, build

    start = time.perf_counter()
    build()
    print(f"built every assignment in {time.perf_counter() - start:.1f} s\n")
    for folder in sorted((ROOT / "examples" / "submissions").iterdir()):
        began = time.perf_counter()
        records = grade_all(folder, ROOT / "autograder" / f"{folder.name}-autograder.zip", output / folder.name,
                            log=lambda _: None)
        print(f"{folder.name}: {len(records)} submissions graded in {time.perf_counter() - began:.1f} s "
              f"-> {output / folder.name / 'gradebook.csv'}")
        for r in records:
            print(f"    {r['source']:<22} {r['score']:>5g} / {r['max_score']:<4g} {r['status']}"
                  + (f" ({r['detail'][:60]})" if r["detail"] else ""))
    print(f"\ndone in {time.perf_counter() - start:.1f} s; students' feedback is in {output}/*/feedback/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
