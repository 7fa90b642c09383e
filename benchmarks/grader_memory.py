"""The grader's peak memory as the class grows: it must stay flat (submissions are read one at a
time, when graded).

    python benchmarks/grader_memory.py [--sizes 10 100 1000] [--assignment hw01_derivatives]

Each submission is a reference-filled notebook carrying 2 MB of plot output (a class of
plot-heavy notebooks), distinct from the others; for each size a fresh `course grade` process
grades the folder and reports its own peak resident memory (ru_maxrss).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from course.build import samples
from course.build.assemble import edition_folder, sources

ROOT = Path(__file__).resolve().parent.parent
GRADE = """
import json, resource, sys
from pathlib import Path
from course.grade.batch import grade_all
results = grade_all(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), log=lambda _: None)
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "n": len(results),
                  "ok": sum(str(r.status) == "ok" for r in results)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="hw01_derivatives")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args()
    source = sources(ROOT, [args.assignment])[0]
    nb = samples.fill(edition_folder(ROOT, args.assignment, "en") / f"{args.assignment}.ipynb",
                      samples.reference_answers(source.module("reference")))
    plot = nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(os.urandom(3 << 19)).decode()})
    next(c for c in nb.cells if c.cell_type == "code").outputs = [plot]
    text = samples.dumps(nb)
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            folder = Path(tmp) / f"class{size}"
            folder.mkdir()
            for i in range(size):
                (folder / f"s{i:04d}.ipynb").write_text(text.replace('"cells": [', f'"cells": [{{"cell_type": "code", '
                                                                     f'"execution_count": null, "id": "x{i}", '
                                                                     f'"metadata": {{}}, "outputs": [], '
                                                                     f'"source": "# {i}"}}, ', 1))
            start = time.perf_counter()
            run = subprocess.run([sys.executable, "-c", GRADE, str(folder),
                                  str(ROOT / "autograder" / f"{args.assignment}-autograder.zip"),
                                  str(Path(tmp) / f"out{size}")], capture_output=True, text=True, check=True)
            figures = json.loads(run.stdout)
            size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2 ** 20
            print(f"{size:>5} submissions ({size_mb:,.0f} MB on disk, {figures['ok']} ok): grader peak "
                  f"{figures['peak_mb']:.0f} MB, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
