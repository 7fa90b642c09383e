"""Gradescope's side: grade ROOT/submission with the hardened grader.

Gradescope unpacks the autograder zip into ROOT/source and the student's files into
ROOT/submission, runs ROOT/source/run_autograder, and reads ROOT/results/results.json.
Here the same engine as `course grade` runs, with an overall deadline below Gradescope's
timeout, and a results.json is written whatever happens: when the grader itself fails, the
student sees "the autograder failed: your instructor has the log", and the traceback goes to
a hidden test and to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from course.outputs import feedback
from calc4ml_runtime.plan import all_cases, forbidden_apis
from course.grade.grading import grade_one, Slots
from course.files import digest, write_atomic
from course.grade.judge import all_zero
from course.grade.pool import hide_memory, Limits
from course.results import Result, Status
from course.grade.submissions import collect

DEADLINE_SECONDS = 540  # Gradescope's default timeout is 600 s


def run(root: Path, limits: Limits | None = None) -> dict:
    hide_memory()
    start = time.monotonic()
    limits = limits or Limits()
    if limits.deadline is None:
        limits.deadline = start + DEADLINE_SECONDS - 30
    plan_bytes = (root / "source" / "plan.json").read_bytes()
    plan, plan_digest = json.loads(plan_bytes), digest(plan_bytes)
    notebooks = [s for s in collect(root / "submission") if s.source.lower().endswith((".ipynb", ".zip"))]
    if len(notebooks) != 1:
        names = ", ".join(s.source for s in notebooks) or "none"
        problem = f"expected exactly one notebook in the submission, found {len(notebooks)}: {names}"
        result = all_zero(plan, Result("submission", "submission", ""), Status.NOT_A_NOTEBOOK, problem, start)
    else:
        scratch = Path(tempfile.mkdtemp(prefix="course-gradescope-"))
        os.chmod(scratch, 0o711)
        slots = Slots(1, scratch, forbidden_apis(all_cases(plan)))
        problems: list[str] = []
        try:
            result = grade_one(notebooks[0], plan, plan_digest, limits, slots, problems)
        finally:
            slots.close()
            shutil.rmtree(scratch, ignore_errors=True)
        for problem in problems:
            print(problem, file=sys.stderr)
    results = feedback.gradescope_results(result, plan)
    write_atomic(root / "results" / "results.json", json.dumps(results, indent=1, ensure_ascii=False))
    return results


def failed(root: Path) -> dict:
    """The results.json of a grader that failed: nobody is left without an answer."""
    trace = traceback.format_exc()
    results = {"score": 0, "output": "The autograder failed while grading this submission: this is not your "
                                      "fault. Your instructor has the log and will regrade it.",
               "tests": [{"name": "autograder failure (for the instructor)", "score": 0, "max_score": 0,
                          "output": trace[-4000:], "visibility": "hidden"}],
               "visibility": "visible", "stdout_visibility": "hidden"}
    write_atomic(root / "results" / "results.json", json.dumps(results, indent=1))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.grade.gradescope")
    parser.add_argument("--root", default="/autograder")
    args = parser.parse_args(argv)
    root = Path(args.root)
    start = time.perf_counter()
    try:
        results = run(root)
    except BaseException:
        print(traceback.format_exc(), file=sys.stderr)
        failed(root)
        return 0
    max_score = sum(t["max_score"] for t in results["tests"])
    print(f"score {results['score']:g} / {max_score:g} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
