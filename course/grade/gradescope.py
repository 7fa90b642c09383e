"""Gradescope's side: grade ROOT/submission with the hardened grader.

Gradescope unpacks the autograder zip into ROOT/source and the student's files into
ROOT/submission, runs ROOT/source/run_autograder, and reads ROOT/results/results.json.
Here the same engine as `course grade` runs, with an overall deadline below Gradescope's
timeout, and a results.json is written whatever happens: when the grader itself fails, the
student sees "the autograder failed: your instructor has the log", and the traceback goes to
a hidden test and to stderr.

``results_json`` is one submission in Gradescope's format (gradescope/autograder_samples
docs/specs.md), with the feedback page's content (``course.explain``): a visible, unscored
"notebook ran" check whose ``status`` says whether every cell ran; one test per case, numbered
``<question>.<case>``, public cases ``visible`` and hidden cases ``after_published``, so students
see the hidden results (and, per Gradescope, their total) only once the instructor publishes the
grades.  `course grade` writes the same file per submission (``OUTPUT/gradescope/``).
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

from calc4ml_runtime.messages import _
from calc4ml_runtime.plan import Plan, all_cases, forbidden_apis
from course import explain
from course.grade.grading import grade_one, Slots
from course.files import digest, write_atomic
from course.grade.judge import all_zero
from course.grade.pool import hide_memory, Limits
from course.results import Result, Status
from course.grade.submissions import collect
from course.text import clean

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
        result = all_zero(plan, Result("submission", "submission"), Status.NOT_A_NOTEBOOK, problem, start)
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
    results = results_json(result, plan)
    write_atomic(root / "results" / "results.json", json.dumps(results, indent=1, ensure_ascii=False))
    return results


def results_json(result: Result, plan: Plan) -> dict:
    """One submission in Gradescope's ``results.json`` format, in the student's language."""
    with explain.language(result.language):
        qs = explain.questions(result, plan)
        public = [c for q in qs for c in q["cases"] if not c["hidden"]]
        hidden = [c for q in qs for c in q["cases"] if c["hidden"]]
        lines = [explain.status_text(result.status)]
        if result.detail:
            lines.append(clean(result.detail)[:explain.MESSAGE_CHARS])
        lines.append(_("Public checks: {passed} of {total} passed.").format(
            passed=sum(c["state"] == "passed" for c in public), total=len(public)))
        if hidden:
            lines.append(_("{n} hidden checks were graded too; their results, and your total, appear when your "
                           "instructor publishes the grades.").format(n=len(hidden)))
        ran_output = [explain.status_text(result.status)]
        if explain.detail(result):
            ran_output.append(explain.detail(result))
        ran_output += explain.cell_error_lines(result.cell_errors)
        tests = [{
            "name": _("Your notebook ran"), "score": 0, "max_score": 0,
            "status": "passed" if result.status is Status.OK else "failed",
            "output": "\n".join(ran_output),
            "visibility": "visible",
        }]
        states = explain.states()
        for q in qs:
            for c in q["cases"]:
                output = states[c["state"]] + (": " + c["message"] if c["message"] else "")
                tests.append({
                    "name": f"{_('Question')} {q['number']} · {q['title']}: {c['label']}",
                    "number": c["number"], "score": c["points"], "max_score": c["max"],
                    "output": output, "tags": [q["name"], "hidden" if c["hidden"] else "public"],
                    "visibility": "after_published" if c["hidden"] else "visible",
                })
        return {
            "score": result.score, "execution_time": round(result.seconds, 3),
            "output": "\n\n".join(lines), "output_format": "text", "test_output_format": "text",
            "test_name_format": "text", "visibility": "visible", "stdout_visibility": "hidden",
            "tests": tests,
            "extra_data": {"status": result.status.value, "language": result.language,
                           "questions": {q["name"]: q["score"] for q in qs}},
        }


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
