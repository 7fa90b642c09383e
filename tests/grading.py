"""Grading helpers for the tests: make submissions from the reference with some functions
replaced, grade them for real (the hardened grader and `otter run`), compare per question."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from course import samples
from course.batch import grade_all
from course.build import ROOT, sources
from course.spec import slug


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


def autograder_zip(assignment: str) -> Path:
    return ROOT / "autograder" / f"{assignment}-autograder.zip"


def question_points(assignment: str) -> dict[str, float]:
    return {q.name: q.points for q in source_of(assignment).module("questions").QUESTIONS}


def make_submission(assignment: str, replaced: dict[str, str] | None, folder: Path, name: str,
                    extra_cells: list[str] = ()) -> Path:
    """The reference-filled notebook with ``replaced`` functions swapped in (None: the untouched stub)."""
    answers = {} if replaced is None else {
        **samples.reference_answers(source_of(assignment).module("reference")), **replaced}
    nb = samples.fill(student_notebook(assignment), answers, extra_cells)
    return samples.write(nb, folder / name / f"{assignment}.ipynb")


def otter_run(assignment: str, notebook: Path) -> dict[str, float]:
    """Scores per question from a real `otter run` with the built autograder zip."""
    subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(autograder_zip(assignment)),
                    "-o", str(notebook.parent), str(notebook)],
                   cwd=notebook.parent, check=True, capture_output=True, timeout=600)
    results = json.loads((notebook.parent / "results.json").read_text())
    return {t["name"]: t["score"] for t in results["tests"] if "score" in t}


def course_grade(assignment: str, folder: Path, output: Path) -> dict[str, dict]:
    """Records per submission folder name from the hardened batch grader."""
    records = grade_all(folder, autograder_zip(assignment), output, workers=2, log=lambda _: None)
    return {Path(r["source"]).parts[0]: r for r in records}


def grade_variants(assignment: str, variants: dict[str, dict[str, str] | None],
                   with_otter: bool = True) -> dict[str, dict[str, float]]:
    """Scores per question of each variant (name -> replaced functions; None: the stub), graded by
    `course grade`; with ``with_otter``, also by `otter run`, which must agree on every score."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        folders = {name: slug(name) for name in variants}
        assert len(set(folders.values())) == len(folders), "two variants have the same name"
        paths = {name: make_submission(assignment, replaced, folder, folders[name])
                 for name, replaced in variants.items()}
        records = course_grade(assignment, folder, Path(tmp) / "graded")
        scores = {name: records[folders[name]]["questions"] for name in variants}
        if with_otter:
            with ThreadPoolExecutor(2) as pool:
                otter = dict(zip(paths, pool.map(lambda p: otter_run(assignment, p), paths.values())))
            for name in variants:
                assert otter[name] == scores[name], f"{name}: otter run {otter[name]} != course grade {scores[name]}"
        return scores


def assert_bugs_lose_exactly(assignment: str, bugs: list[Bug]) -> None:
    full = question_points(assignment)
    scores = grade_variants(assignment, {b.name: {b.function: b.source} for b in bugs})
    for bug in bugs:
        assert bug.expected, f"{bug.name}: say which question loses points"
        expected = {**full, **bug.expected}
        assert scores[bug.name] == expected, f"{bug.name}: scores {scores[bug.name]}, expected {expected}"
