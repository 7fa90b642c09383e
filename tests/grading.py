"""Helpers for the tests: make submissions from the reference with some functions replaced, and
grade them for real (the hardened grader and `otter run`)."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

from calc4ml_runtime.plan import Plan
from course import layout
from course.build import samples
from course.cli import grade_and_export
from course.build.assemble import edition_folder, sources
from course.grade.pool import Limits
from course.build.render import SUPPORT
from course.results import Result

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = [s.name for s in sources(ROOT)]


def source_of(assignment: str):
    return sources(ROOT, [assignment])[0]


def student_notebook(assignment: str, language: str = "en") -> Path:
    return edition_folder(ROOT, assignment, language) / f"{assignment}.ipynb"


def autograder_zip(assignment: str) -> Path:
    return layout.autograder_zip(ROOT, assignment)


def question_points(assignment: str) -> dict[str, float]:
    return {q.name: float(q.points) for q in source_of(assignment).module("questions").QUESTIONS}


def bugs_of(assignment: str) -> tuple[list[samples.Bug], list[samples.Bug]]:
    """(bugs, other correct answers) of ``solutions/<assignment>/bugs.py``."""
    return samples.variants(source_of(assignment).module("bugs"))


@functools.cache
def plan_of(assignment: str) -> Plan:
    return source_of(assignment).plan()


def expected_scores(assignment: str, variant: samples.Bug) -> dict[str, float]:
    """Points per question ``variant`` must score, from the cases it names and the plan."""
    return samples.expected_scores(variant, plan_of(assignment))


def make_submission(assignment: str, replaced: dict[str, str] | None, folder: Path, name: str,
                    extra_cells: tuple[str, ...] = (), language: str = "en") -> Path:
    """The reference-filled notebook with ``replaced`` functions swapped in (None: the untouched stub)."""
    answers = {} if replaced is None else {
        **samples.reference_answers(source_of(assignment).module("reference")), **replaced}
    nb = samples.fill(student_notebook(assignment, language), answers, extra_cells)
    return samples.write(nb, folder / name / f"{assignment}.ipynb")


def with_public_tests(notebook: Path, assignment: str, language: str = "en") -> Path:
    """Beside the notebook, what a student downloads with it: tests/ and the support package."""
    for folder in ("tests", SUPPORT):
        shutil.copytree(edition_folder(ROOT, assignment, language) / folder, notebook.parent / folder, dirs_exist_ok=True)
    return notebook


def otter_run(assignment: str, notebook: Path) -> dict[str, float]:
    """Scores per question from a real `otter run` with the built autograder zip."""
    subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(autograder_zip(assignment)),
                    "-o", str(notebook.parent), str(notebook)],
                   cwd=notebook.parent, check=True, capture_output=True, timeout=600)
    results = json.loads((notebook.parent / "results.json").read_text(encoding="utf-8"))
    questions = set(question_points(assignment))
    return {t["name"]: t["score"] for t in results["tests"] if t["name"] in questions}


def course_grade(assignment: str, folder: Path, output: Path, limits: Limits | None = None,
                 workers: int = 2) -> dict[str, Result]:
    """Results per submission folder name from the hardened batch grader."""
    results = grade_and_export(folder, autograder_zip(assignment), output, workers=workers, limits=limits,
                              log=lambda _: None)
    return {Path(r.source).parts[0]: r for r in results}
