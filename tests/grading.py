"""Grading helpers for the tests: make submissions from the reference with some functions
replaced, grade them for real, and compare scores per question."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from course import samples
from course.build import ROOT, sources


@dataclass
class Bug:
    """A realistic wrong answer: ``function`` replaced by ``source`` should score ``expected``
    on the questions named there (others keep full marks)."""

    name: str
    function: str
    source: str
    expected: dict[str, float] = field(default_factory=dict)


def source_of(assignment: str):
    return sources(only=[assignment])[0]


def student_notebook(assignment: str) -> Path:
    return ROOT / "assignments" / assignment / f"{assignment}.ipynb"


def question_points(assignment: str) -> dict[str, float]:
    return {q.name: q.points for q in source_of(assignment).module("questions").QUESTIONS}


def make_submission(assignment: str, replaced: dict[str, str] | None, folder: Path, name: str) -> Path:
    """The reference-filled notebook with ``replaced`` functions swapped in (None: the untouched stub)."""
    if replaced is None:
        nb = samples.fill(student_notebook(assignment), {})
    else:
        answers = samples.reference_answers(source_of(assignment).module("reference"))
        nb = samples.fill(student_notebook(assignment), {**answers, **replaced})
    return samples.write(nb, folder / name / f"{assignment}.ipynb")


def otter_run(assignment: str, notebook: Path) -> dict[str, float]:
    """Scores per question from a real `otter run` with the built autograder zip."""
    zip_path = ROOT / "autograder" / f"{assignment}-autograder.zip"
    subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(zip_path), "-o", str(notebook.parent),
                    str(notebook)], cwd=notebook.parent, check=True, capture_output=True)
    results = json.loads((notebook.parent / "results.json").read_text())
    return {t["name"]: t["score"] for t in results["tests"] if "score" in t}


def grade_variants(assignment: str, variants: dict[str, dict[str, str] | None]) -> dict[str, dict[str, float]]:
    """Scores per question for each variant (name -> replaced functions, None for the stub)."""
    with tempfile.TemporaryDirectory() as tmp:
        return {name: otter_run(assignment, make_submission(assignment, replaced, Path(tmp), name))
                for name, replaced in variants.items()}


def assert_bugs_lose_exactly(assignment: str, bugs: list[Bug]) -> None:
    full = question_points(assignment)
    scores = grade_variants(assignment, {b.name: {b.function: b.source} for b in bugs})
    for bug in bugs:
        assert bug.expected, f"{bug.name}: say which question loses points"
        expected = {**full, **bug.expected}
        assert scores[bug.name] == expected, f"{bug.name}: scores {scores[bug.name]}, expected {expected}"
