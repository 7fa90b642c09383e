"""Gradescope's side: grade /autograder/submission with the hardened grader.

Gradescope unpacks the autograder zip into ROOT/source and the student's files into
ROOT/submission, runs ROOT/source/run_autograder, and reads ROOT/results/results.json.
Here the same engine as `course grade` runs: the plan stays in the grader process, the
student's code runs in the sandbox, where ROOT/source and ROOT/results are out of reach.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from course import export
from course.batch import Submission, collect, record
from course.grade import Limits, Worker, digest, grade_notebook, hide_memory, zero_result


def run(root: Path, limits: Limits | None = None) -> dict:
    hide_memory()
    limits = limits or Limits()
    plan = json.loads((root / "source" / "plan.json").read_text())
    plan_digest = digest((root / "source" / "plan.json").read_bytes())
    submissions = [s for s in collect(root / "submission") if s.raw is not None or s.source.endswith(".ipynb")]
    if len(submissions) != 1:
        names = ", ".join(s.source for s in submissions) or "none"
        problem = f"expected exactly one notebook in the submission, found {len(submissions)}: {names}"
        result, submission = zero_result(plan, "not a notebook", problem), None
    else:
        submission = submissions[0]
        if submission.raw is None:
            result = zero_result(plan, "not a notebook", submission.problem)
        else:
            scratch = Path(tempfile.mkdtemp(prefix="course-gradescope-"))
            os.chmod(scratch, 0o711)
            worker = Worker(0, scratch)
            try:
                result = grade_notebook(worker, plan, submission.raw, limits)
            finally:
                worker.close()
    if submission is None:
        submission = Submission("submission", "submission", "", None, result.detail)
    results = export.gradescope_results(record(submission, result, plan_digest))
    (root / "results").mkdir(parents=True, exist_ok=True)
    export.write_atomic(root / "results" / "results.json", json.dumps(results, indent=1))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.gradescope")
    parser.add_argument("--root", default="/autograder")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = run(Path(args.root))
    max_score = sum(t["max_score"] for t in results["tests"])
    print(f"score {results['score']:g} / {max_score:g} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
