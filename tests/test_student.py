"""The student's path, with the real tools, for every assignment and edition: the filled
notebook runs top to bottom in a real Jupyter kernel (its grader.check cells pass, its plots
draw, nothing warns); `otter check` on the untouched notebook reports per question; and
`otter run` with the built zip gives the reference full marks and the stub 0, as
`course grade` does."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from tests.grading import (ASSIGNMENTS, course_grade, make_submission, otter_run, question_points, source_of,
                           with_public_tests)

EDITIONS = [(name, language) for name in ASSIGNMENTS for language in source_of(name).languages()]
# One Korean edition in the quick suite; every other one in the slow suite (.ci/run runs both).
QUICK = {(name, "en") for name in ASSIGNMENTS} | {("hw01_derivatives", "ko")}
EDITION_PARAMS = [pytest.param(name, language, marks=() if (name, language) in QUICK else pytest.mark.slow,
                               id=f"{name}-{language}") for name, language in EDITIONS]


def otter_check(notebook) -> str:
    run = subprocess.run([sys.executable, "-m", "otter", "check", notebook.name], cwd=notebook.parent,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "Traceback" not in run.stdout, run.stdout + run.stderr
    return run.stdout


@pytest.mark.parametrize("name, language", EDITION_PARAMS)
def test_filled_notebook_runs_clean_in_a_real_kernel(name, language, tmp_path):
    path = with_public_tests(make_submission(name, {}, tmp_path, "reference", language=language), name, language)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("grader.check(")]
    assert checks
    for cell in checks:
        text = "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in cell.outputs)
        assert "passed" in text and "failed" not in text, text
    warnings = [o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
    assert not warnings, warnings
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "no plot was drawn"


@pytest.mark.parametrize("name, language", EDITION_PARAMS)
def test_otter_check_reports_each_question_of_the_untouched_notebook(name, language, tmp_path):
    out = otter_check(with_public_tests(make_submission(name, None, tmp_path, "untouched", language=language),
                                        name, language))
    public = [q.name for q in source_of(name).module("questions").QUESTIONS if any(c.public for c in q.cases)]
    for question in public:
        assert f"{question} results:" in out, out
    assert "❌ Test case failed" in out and "Error at line" not in out
    if language == "en":
        assert "is not implemented yet" in out
    else:
        assert "구현" in out, out


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_reference_full_marks_stub_zero_with_both_graders(name, tmp_path):
    folder = tmp_path / "submissions"
    paths = {label: make_submission(name, replaced, folder, label) for label, replaced in
             [("reference", {}), ("untouched", None)]}
    ours = course_grade(name, folder, tmp_path / "graded")
    full = question_points(name)
    assert ours["reference"].question_scores() == full
    assert ours["untouched"].question_scores() == {q: 0 for q in full}
    for label, path in paths.items():
        assert otter_run(name, path) == ours[label].question_scores(), label


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_korean_notebook_scores_what_the_english_one_does(name, tmp_path):
    languages = source_of(name).languages()
    if "ko" not in languages:
        pytest.skip(f"{name} has no Korean edition")
    folder = tmp_path / "submissions"
    paths = {language: make_submission(name, {}, folder, language, language=language) for language in languages}
    ours = course_grade(name, folder, tmp_path / "graded")
    assert ours["ko"].question_scores() == ours["en"].question_scores() == question_points(name)
    assert otter_run(name, paths["ko"]) == question_points(name)
