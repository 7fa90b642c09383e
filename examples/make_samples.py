"""Regenerate the bundled sample submissions: `python examples/make_samples.py`.

For each assignment, five notebooks a new user can grade right away: the reference answers
(correct), two realistic bugs from the assignment's tests (partly_wrong), the untouched stub,
a truncated file (broken) and a notebook that forges results and exits (hostile).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course import samples  # noqa: E402
from course.build import sources  # noqa: E402
from tests.grading import student_notebook  # noqa: E402

HOSTILE = '''import json, os
for path in ["results.json", "../results/results.json", "tests/q1.py"]:
    try:
        with open(path, "w") as f:
            json.dump({"score": 1000}, f)
    except OSError as error:
        print("blocked:", error)
os._exit(0)
'''


def notebooks(name: str) -> dict[str, bytes]:
    source = sources(only=[name])[0]
    answers = samples.reference_answers(source.module("reference"))
    bugs = importlib.import_module(f"tests.test_{name}").BUGS
    first_two = {}
    for bug in bugs:
        if bug.function not in first_two and len(first_two) < 2:
            first_two[bug.function] = bug.source
    student = student_notebook(name)
    made = {
        "correct": samples.fill(student, answers),
        "partly_wrong": samples.fill(student, {**answers, **first_two}),
        "untouched": samples.fill(student, {}),
        "hostile": samples.fill(student, answers, [HOSTILE]),
    }
    out = {f"{kind}.ipynb": samples.dumps(nb).encode() for kind, nb in made.items()}
    out["broken.ipynb"] = out["correct.ipynb"][: len(out["correct.ipynb"]) // 3]
    return out


def expected_files() -> dict[Path, bytes]:
    return {ROOT / "examples" / "submissions" / s.name / file: data
            for s in sources() for file, data in notebooks(s.name).items()}


if __name__ == "__main__":
    for path, data in expected_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(path.relative_to(ROOT))
