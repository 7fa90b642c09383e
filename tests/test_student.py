"""The student's path, with the real tools, for every assignment and edition: the filled
notebook runs top to bottom in a real Jupyter kernel (its grader.check cells pass, its plots
draw, nothing warns); `otter check` on the untouched notebook reports per question; and
`otter run` with the built zip gives the reference full marks and the stub 0."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from tests.grading import (ASSIGNMENTS, bugs_of, course_grade, expected_scores, make_submission, otter_run,
                           question_points, source_of, with_public_tests)

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
def test_otter_run_with_the_zip_gives_the_reference_full_marks_and_the_stub_zero(name, tmp_path):
    """The zip is a real otter autograder too; the hardened grader's own scores for the same
    notebooks are checked in test_grading.py."""
    full = question_points(name)
    assert otter_run(name, make_submission(name, {}, tmp_path, "reference")) == full
    assert otter_run(name, make_submission(name, None, tmp_path, "untouched")) == {q: 0 for q in full}


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_a_korean_notebook_is_graded_as_the_english_one_with_korean_feedback(name, tmp_path):
    """The same zip grades both editions: the same code scores the same in Korean and in English
    (with `course grade` and with `otter run`), a realistic bug loses the same points on the
    same question, and the Korean student's feedback is Korean."""
    if "ko" not in source_of(name).languages():
        pytest.skip(f"{name} has no Korean edition")
    bug = bugs_of(name)[0][0]
    folder = tmp_path / "submissions"
    paths = {}
    for language in ("en", "ko"):
        paths[f"reference-{language}"] = make_submission(name, {}, folder, f"reference-{language}", language=language)
        make_submission(name, None, folder, f"untouched-{language}", language=language)
        make_submission(name, bug.answers, folder, f"bug-{language}", bug.cells, language=language)
    ours = course_grade(name, folder, tmp_path / "graded")
    full = question_points(name)
    for kind, expected in [("reference", full), ("untouched", {q: 0 for q in full}), ("bug", expected_scores(name, bug))]:
        assert ours[f"{kind}-ko"].question_scores() == ours[f"{kind}-en"].question_scores() == expected, kind
    assert ours["bug-ko"].language == "ko" and ours["bug-en"].language == "en"
    page = (tmp_path / "graded" / "feedback" / f"{ours['bug-ko'].key}.html").read_text(encoding="utf-8")
    assert "점" in page and "테스트" in page, "the Korean student's feedback is not in Korean"
    failed = next(c for c in ours["bug-ko"].cases if c.message)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in failed.message), failed.message
    assert otter_run(name, paths["reference-ko"]) == full
