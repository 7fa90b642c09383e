"""Regenerate the bundled sample submissions: `python examples/make_samples.py`.

For each assignment, notebooks a new user can grade right away: the reference answers
(correct), two realistic bugs from its bugs.py (partly_wrong), the untouched stub, a truncated
file (broken) and a notebook that forges results and exits (hostile); and the Korean edition's
correct notebook where there is one (correct_ko).
"""

from __future__ import annotations

import sys
from pathlib import Path

from course.build import samples
from course.build.assemble import edition_folder, sources

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # solutions/<hw>/bugs.py import their reference as solutions.<hw>.reference

HOSTILE = '''import json, os
for path in ["results.json", "../results/results.json", "tests/q1.py"]:
    try:
        with open(path, "w") as f:
            json.dump({"score": 1000}, f)
    except OSError as error:
        print("blocked:", error)
os._exit(0)
'''


def notebooks(source) -> dict[str, bytes]:
    answers = samples.reference_answers(source.module("reference"))
    first_two: dict[str, str] = {}
    for bug in samples.variants(source.module("bugs"))[0]:
        if bug.function not in first_two and len(first_two) < 2:
            first_two.update(bug.answers)
    student = edition_folder(ROOT, source.name, "en") / f"{source.name}.ipynb"
    made = {
        "correct": samples.fill(student, answers),
        "partly_wrong": samples.fill(student, {**answers, **first_two}),
        "untouched": samples.fill(student, {}),
        "hostile": samples.fill(student, answers, [HOSTILE]),
    }
    for language in source.languages()[1:]:
        made[f"correct_{language}"] = samples.fill(edition_folder(ROOT, source.name, language) / f"{source.name}.ipynb",
                                                   answers)
    out = {f"{kind}.ipynb": samples.dumps(nb).encode() for kind, nb in made.items()}
    out["broken.ipynb"] = out["correct.ipynb"][: len(out["correct.ipynb"]) // 3]
    return out


def expected_files() -> dict[Path, bytes]:
    return {ROOT / "examples" / "submissions" / s.name / file: data
            for s in sources(ROOT) for file, data in notebooks(s).items()}


if __name__ == "__main__":
    for path, data in expected_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(path.relative_to(ROOT))
