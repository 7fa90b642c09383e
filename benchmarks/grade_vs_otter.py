"""`course grade` against a sequential `otter run` loop on the same submissions, at class size.

    python benchmarks/grade_vs_otter.py --assignment hw03_jacobians -n 100 [--otter-sample 10] [--otter-all]

The N submissions cycle through the reference, every realistic bug and other correct solution
of the assignment (solutions/<name>/bugs.py) and the untouched stub, each made distinct by a
comment of its own.  `course grade` grades all N (2 warm workers); `otter run` grades the
first --otter-sample of them one after another (its time per submission does not depend on the
class size, so the loop over N is that median times N; --otter-all runs them all).  Prints the
per-submission medians, both totals, the ratio, the grader's and the workers' peak memory, and
checks that both graders agree on every score they both gave.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course.build import samples
from course.build.assemble import edition_folder, sources

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # solutions/<hw>/bugs.py import their reference as solutions.<hw>.reference

GRADE = """
import json, resource, sys, time
from pathlib import Path
from course.grade.batch import grade_all
start = time.perf_counter()
results = grade_all(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), log=lambda _: None)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "per_submission": [r.seconds for r in results],
                  "scores": {Path(r.source).parts[0]: r.question_scores() for r in results}}))
"""


def variants(name: str) -> list[dict | None]:
    bugs, alternatives = samples.variants(sources(ROOT, [name])[0].module("bugs"))
    return [{}] + [b.answers for b in bugs + alternatives] + [None]


def make(name: str, folder: Path, n: int) -> dict[str, Path]:
    source = sources(ROOT, [name])[0]
    answers = samples.reference_answers(source.module("reference"))
    student = edition_folder(ROOT, name, "en") / f"{name}.ipynb"
    kinds = variants(name)
    paths = {}
    for i in range(n):
        replaced = kinds[i % len(kinds)]
        nb = samples.fill(student, {} if replaced is None else {**answers, **replaced}, [f"# submission {i}"])
        paths[f"s{i:04d}"] = samples.write(nb, folder / f"s{i:04d}" / f"{name}.ipynb")
    return paths


def worker_peak_mb(process: subprocess.Popen) -> float:
    """The largest resident set of any worker or student process while ``process`` runs."""
    peak = 0.0
    while process.poll() is None:
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                cmdline = (status.parent / "cmdline").read_bytes()
                if b"course.grade.worker" in cmdline:
                    for line in status.read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]) / 1024)
            except OSError:
                pass
        time.sleep(0.05)
    return peak


def otter_run(name: str, notebook: Path) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(ROOT / "autograder" / f"{name}-autograder.zip"),
                    "-o", str(notebook.parent), str(notebook)], cwd=notebook.parent, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    results = json.loads((notebook.parent / "results.json").read_text(encoding="utf-8"))
    questions = {q.name for q in sources(ROOT, [name])[0].module("questions").QUESTIONS}
    return seconds, {t["name"]: t["score"] for t in results["tests"] if t["name"] in questions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="hw01_derivatives")
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--otter-sample", type=int, default=10)
    parser.add_argument("--otter-all", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        paths = make(args.assignment, folder, args.n)
        grade = subprocess.Popen([sys.executable, "-c", GRADE, str(folder),
                                  str(ROOT / "autograder" / f"{args.assignment}-autograder.zip"), str(Path(tmp) / "out")],
                                 stdout=subprocess.PIPE, text=True)
        workers_mb = worker_peak_mb(grade)
        ours = json.loads(grade.communicate()[0])
        sample = list(paths.items()) if args.otter_all else list(paths.items())[: args.otter_sample]
        otter_times, disagreements = [], []
        for label, path in sample:
            seconds, scores = otter_run(args.assignment, path)
            otter_times.append(seconds)
            if scores != ours["scores"][label]:
                disagreements.append(label)
    otter_median = statistics.median(otter_times)
    otter_total = sum(otter_times) if args.otter_all else otter_median * args.n
    print(f"{args.n} submissions of {args.assignment} ({len(variants(args.assignment))} distinct variants)")
    print(f"course grade (2 warm workers): {ours['seconds']:7.1f} s in all; per submission, median "
          f"{statistics.median(ours['per_submission']):.3f} s of grading")
    print(f"otter run loop:                {otter_total:7.1f} s {'' if args.otter_all else '(estimated) '}"
          f"in all; per submission, median {otter_median:.2f} s over {len(otter_times)} runs")
    print(f"speed-up: {otter_total / ours['seconds']:.1f}x; scores agree on {len(sample) - len(disagreements)}/{len(sample)}")
    print(f"peak memory: grader {ours['peak_mb']:.0f} MB, a worker or student process {workers_mb:.0f} MB")
    if disagreements:
        raise SystemExit(f"scores differ for {disagreements}")


if __name__ == "__main__":
    main()
