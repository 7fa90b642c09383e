"""The `course` command: build the assignments, grade submissions, translate, report."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from course.layout import CourseError, find_root

if TYPE_CHECKING:
    from course.grade.pool import Limits
    from course.results import Result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    parser.add_argument("--root", help="the course's folder (default: the current folder or the nearest above "
                                       "it that holds solutions/)")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="generate student notebooks, public tests and autograder zips")
    build.add_argument("assignments", nargs="*", help="names under solutions/ (default: all)")
    build.add_argument("--check", action="store_true",
                       help="fail if a committed generated file differs from a fresh build")

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


def add_grade_arguments(parser: argparse.ArgumentParser) -> None:
    from course.grade.pool import Limits

    defaults = Limits()
    parser.add_argument("submissions", help="a folder, a zip (e.g. an LMS's download) or one notebook")
    parser.add_argument("--assignment", required=True, help="e.g. hw01_derivatives")
    parser.add_argument("--output", required=True, help="folder for the gradebook, feedback and results")
    parser.add_argument("--autograder", help="the autograder zip (default: autograder/ASSIGNMENT-autograder.zip "
                                             "in the course's folder)")
    parser.add_argument("--roster", help="the LMS's grade export: a Canvas gradebook CSV or a Moodle grading worksheet")
    parser.add_argument("--lms-column", help="the Canvas column to fill, when its title is not the assignment name")
    parser.add_argument("--late-penalty", help="e.g. 10%%: taken off late submissions' scores (default: none)")
    parser.add_argument("--workers", type=int, default=2, help="parallel warm workers (default 2)")
    parser.add_argument("--timeout", type=float, default=defaults.notebook_seconds, help="seconds to run one notebook")
    parser.add_argument("--call-timeout", type=float, default=defaults.call_seconds, help="seconds for one graded call")
    parser.add_argument("--budget", type=float, default=defaults.budget_seconds,
                        help="seconds for all of one notebook: its cells and every graded call")
    parser.add_argument("--memory-mb", type=int, default=defaults.memory_mb, help="address-space cap of a student process")
    parser.add_argument("--shard", type=parse_shard, help="I/N: grade only the I-th of N shares of the submissions "
                                                          "(by a digest of each file's name), for `course merge`")


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give I/N, e.g. 3/8") from None
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"{text!r}: I must be between 1 and N")
    return index, count


def grade_and_export(submissions: Path, autograder: Path, output: Path, workers: int = 2,
                     limits: Limits | None = None, roster: Path | None = None, lms_column: str | None = None,
                     late_penalty: str | None = None, log: Callable[[str], None] | None = None,
                     shard: tuple[int, int] | None = None) -> list[Result]:
    """`course grade`: grade (``batch``), then write the outputs, unless this is one shard of
    several (``course merge`` writes them once every shard is done)."""
    from course.grade import batch

    log = log or batch.to_stderr
    results = batch.grade_all(submissions, autograder, output, workers, limits, log, shard)
    if shard is None:
        write_outputs(results, output, roster, lms_column, late_penalty, log)
    return results


def write_outputs(results: list[Result], output: Path, roster: Path | None, lms_column: str | None,
                  late_penalty: str | None, log: Callable[[str], None]) -> None:
    """Gradebook, LMS file, feedback, Gradescope files and report for the results in ``output``."""
    from course.grade import batch
    from course.outputs import export
    from course.text import escape

    for protection in export.missing_protections(results):
        log(f"warning: a protection is missing on this machine: NO {escape(protection)}")  # as the gradebook says it
    for line in export.write_all(results, batch.saved_plan(output), output, roster, lms_column=lms_column,
                                 late_penalty=late_penalty):
        log(escape(line))


def grade_command(args: argparse.Namespace) -> int:
    from course import layout
    from course.grade.pool import Limits

    start = time.perf_counter()
    if args.autograder:
        autograder = Path(args.autograder)
    else:
        root = Path(args.root).resolve() if getattr(args, "root", None) else layout.find_root()
        autograder = layout.autograder_zip(root, args.assignment)
    if not autograder.exists():
        raise CourseError(f"no autograder at {autograder}: run `course build` first or pass --autograder")
    limits = Limits(notebook_seconds=args.timeout, call_seconds=args.call_timeout, memory_mb=args.memory_mb,
                    budget_seconds=args.budget)
    results = grade_and_export(Path(args.submissions), autograder, Path(args.output), args.workers, limits,
                               Path(args.roster) if args.roster else None, args.lms_column, args.late_penalty,
                               shard=args.shard)
    if args.shard:
        return 0
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    print(f"graded {len(results)} submissions in {time.perf_counter() - start:.1f} s: "
          + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    print(f"gradebook: {Path(args.output) / 'gradebook.csv'}; class report: {Path(args.output) / 'report.html'}")
    return 0


def run(args) -> int:
    if args.command == "grade":
        return grade_command(args)
    if args.command == "report":
        from course.outputs.report import rebuild
        print(f"report: {rebuild(Path(args.output))}")
        return 0
    if args.command == "merge":
        from course.grade import batch
        results = batch.merge([Path(p) for p in args.shards], Path(args.output))
        write_outputs(results, Path(args.output), Path(args.roster) if args.roster else None, args.lms_column,
                      args.late_penalty, batch.to_stderr)
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
    from course.build.assemble import build

    start = time.perf_counter()
    built = output / "course"
    build(root, out=built)
    print(f"built every assignment into {built} in {time.perf_counter() - start:.1f} s\n")
    for folder in sorted((root / "examples" / "submissions").iterdir()):
        began = time.perf_counter()
        records = grade_and_export(folder, layout.autograder_zip(built, folder.name), output / folder.name,
                                   log=lambda _: None)
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
