"""The `course` command: build the assignments, grade submissions, translate, report."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path

from course.layout import CourseError, find_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    parser.add_argument("--root", help="the course's folder (default: the current folder or the nearest above "
                                       "it that holds solutions/)")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="generate student notebooks, public tests and autograder zips")
    build.add_argument("assignments", nargs="*", help="names under solutions/ (default: all)")
    build.add_argument("--check", action="store_true",
                       help="fail if a committed generated file differs from a fresh build")

    from course.grade.batch import add_arguments as add_grade_arguments
    add_grade_arguments(commands.add_parser("grade", help="grade a folder or zip of submitted notebooks (no Docker)"))

    demo = commands.add_parser("demo", help="build every assignment, then grade the bundled sample submissions")
    demo.add_argument("--output", default="out", help="where the build and the gradebooks go (default: out/)")

    translate = commands.add_parser("translate", help="add new strings to the translation catalogues (.po)")
    translate.add_argument("targets", nargs="*", help="'course' (its messages) and/or assignment names (default: all)")
    translate.add_argument("--language", default="ko")

    report = commands.add_parser("report", help="rebuild OUTPUT/report.html from OUTPUT/results/ without regrading")
    report.add_argument("output")

    push = commands.add_parser("push", help="send a graded batch's grades and feedback pages to an LMS")
    push.add_argument("lms", choices=["canvas"])
    push.add_argument("output", help="the folder `course grade --output` wrote")
    push.add_argument("--url", required=True, help="your Canvas, e.g. https://canvas.example.edu")
    push.add_argument("--course", type=int, required=True, help="the course's id (the number in its URL)")
    push.add_argument("--assignment", type=int, required=True, help="the assignment's id (the number in its URL)")
    push.add_argument("--yes", action="store_true", help="send (default: a dry run that lists what would change)")

    merge = commands.add_parser("merge", help="one gradebook, LMS file and report from the outputs of "
                                              "`course grade --shard I/N`")
    merge.add_argument("shards", nargs="+", help="the --output folder of every shard")
    merge.add_argument("--output", required=True)
    merge.add_argument("--roster")
    merge.add_argument("--lms-column")
    merge.add_argument("--late-penalty")

    links = commands.add_parser("links", help="print links that open each assignment on a JupyterHub or in Colab")
    links.add_argument("--repo", required=True, help="the course's public repository, e.g. https://github.com/you/calc4ml")
    links.add_argument("--hub", help="your JupyterHub (nbgitpuller installed), e.g. https://hub.example.edu")
    links.add_argument("--branch", default="main")
    links.add_argument("--interface", choices=["lab", "classic"], default="lab")

    args = parser.parse_args(argv)
    try:
        return run(args)
    except CourseError as error:
        print(f"course: {error}", file=sys.stderr)
        return 2


def run(args) -> int:
    if args.command == "grade":
        from course.grade.batch import main as grade_main
        return grade_main(args)
    if args.command == "report":
        from course.outputs.report import rebuild
        print(f"report: {rebuild(Path(args.output))}")
        return 0
    if args.command == "merge":
        from course.grade.batch import merge as merge_shards
        results = merge_shards([Path(p) for p in args.shards], Path(args.output),
                               Path(args.roster) if args.roster else None, args.lms_column, args.late_penalty)
        print(f"merged {len(results)} submissions: gradebook {Path(args.output) / 'gradebook.csv'}; "
              f"class report {Path(args.output) / 'report.html'}")
        return 0
    if args.command == "push":
        from course.lms.canvas_push import push
        push(Path(args.output), args.url, args.course, args.assignment, send=args.yes)
        return 0
    root = Path(args.root).resolve() if args.root else find_root()
    if args.command == "links":
        from course.build.links import links as make_links
        for link in make_links(root, args.repo, args.hub, args.branch, args.interface):
            print(f"{link.assignment:<20} {link.language}  {link.url}")
        return 0
    if args.command == "demo":
        return run_demo(root, Path(args.output))
    if args.command == "translate":
        from course.build.translate import update_catalogues
        for line in update_catalogues(root, args.language, args.targets or None):
            print(line)
        return 0
    from course.build.assemble import build, check_fresh
    start = time.perf_counter()
    if args.check:
        return check_fresh(root, args.assignments or None)
    build(root, only=args.assignments or None)
    print(f"build took {time.perf_counter() - start:.1f} s")
    return 0


def run_demo(root: Path, output: Path) -> int:
    """The main job on the bundled default: build the course into OUTPUT/course (tracked files
    stay as they are), then grade examples/submissions/* with the autograders just built."""
    from course import layout
    from course.grade.batch import grade_all
    from course.build.assemble import build

    start = time.perf_counter()
    built = output / "course"
    build(root, out=built)
    print(f"built every assignment into {built} in {time.perf_counter() - start:.1f} s\n")
    for folder in sorted((root / "examples" / "submissions").iterdir()):
        began = time.perf_counter()
        records = grade_all(folder, layout.autograder_zip(built, folder.name), output / folder.name, log=lambda _: None)
        print(f"{folder.name}: {len(records)} submissions graded in {time.perf_counter() - began:.1f} s "
              f"-> {output / folder.name / 'gradebook.csv'}")
        for r in records:
            detail = f" ({textwrap.shorten(r.detail, 70, placeholder=' ...')})" if r.detail else ""
            print(f"    {r.source:<26} {r.score:>5g} / {r.max_score:<4g} {r.status}{detail}")
    print(f"\ndone in {time.perf_counter() - start:.1f} s; the class reports are {output}/*/report.html, "
          f"students' feedback is in {output}/*/feedback/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
