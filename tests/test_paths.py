"""The three user paths, with the real tools, for every assignment.

- student: `otter check` on the untouched notebook reports failures without crashing; on the
  reference-filled notebook every public test passes; the filled notebook runs top to bottom
  in a real Jupyter kernel, plots and `grader.check` cells included;
- LMS: `otter run` with the built zip and `course grade` give the reference full marks and the
  untouched stub 0, and agree on every question.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from course.build import ROOT, sources
from tests.grading import grade_variants, make_submission, question_points

pytestmark = pytest.mark.slow
ASSIGNMENTS = [s.name for s in sources()]


def otter_check(notebook) -> str:
    shutil.copytree(ROOT / "assignments" / notebook.stem / "tests", notebook.parent / "tests")
    run = subprocess.run([sys.executable, "-m", "otter", "check", notebook.name], cwd=notebook.parent,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "Traceback" not in run.stdout, run.stdout + run.stderr
    return run.stdout


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_otter_check_on_the_students_notebook(name, tmp_path):
    untouched = otter_check(make_submission(name, None, tmp_path, "untouched"))
    assert "❌ Test case failed" in untouched and "is not implemented yet" in untouched
    assert "All tests passed!" in otter_check(make_submission(name, {}, tmp_path, "reference"))


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_filled_notebook_runs_in_a_real_kernel(name, tmp_path):
    path = make_submission(name, {}, tmp_path, "reference")
    shutil.copytree(ROOT / "assignments" / name / "tests", path.parent / "tests")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("grader.check(")]
    assert checks
    for cell in checks:
        text = "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "") for o in cell.outputs)
        assert "passed" in text and "failed" not in text, text
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "no plot was drawn"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_reference_full_marks_stub_zero_with_both_graders(name):
    scores = grade_variants(name, {"reference": {}, "untouched": None})
    assert scores["reference"] == question_points(name)
    assert scores["untouched"] == {q: 0 for q in question_points(name)}
