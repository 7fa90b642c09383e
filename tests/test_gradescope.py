"""The autograder zip in Gradescope's layout, for real: ROOT/source, ROOT/submission, ROOT/results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.grading import autograder_zip, make_submission, question_points

pytestmark = pytest.mark.slow
ASSIGNMENT = "hw01_derivatives"


def gradescope(tmp_path: Path, notebook: Path | None, name: str) -> dict:
    root = tmp_path / name / "autograder"
    with zipfile.ZipFile(autograder_zip(ASSIGNMENT)) as z:
        z.extractall(root / "source")
    os.chmod(root / "source" / "run_autograder", 0o755)
    (root / "submission").mkdir()
    if notebook is not None:
        (root / "submission" / notebook.name).write_bytes(notebook.read_bytes())
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "COURSE_PYTHON": sys.executable}
    run = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    return json.loads((root / "results" / "results.json").read_text())


def assert_valid(results: dict) -> None:
    """Gradescope's results.json: score, execution_time, tests with the documented keys."""
    assert isinstance(results["score"], (int, float)) and isinstance(results["execution_time"], (int, float))
    for test in results["tests"]:
        assert set(test) == {"name", "score", "max_score", "output", "visibility"}
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert 0 <= test["score"] <= test["max_score"]
    assert results["score"] == sum(t["score"] for t in results["tests"])


def test_reference_gets_full_marks_and_stub_zero(tmp_path):
    full = sum(question_points(ASSIGNMENT).values())
    right = gradescope(tmp_path, make_submission(ASSIGNMENT, {}, tmp_path / "made", "right"), "right")
    stub = gradescope(tmp_path, make_submission(ASSIGNMENT, None, tmp_path / "made", "stub"), "stub")
    for results in (right, stub):
        assert_valid(results)
    assert right["score"] == full and stub["score"] == 0
    assert all("not implemented" in t["output"] for t in stub["tests"])
    hidden = [t for t in right["tests"] if t["visibility"] == "after_published"]
    public = [t for t in right["tests"] if t["visibility"] == "visible"]
    assert hidden and public


def test_answers_and_results_are_out_of_a_submissions_reach(tmp_path):
    cheat = """
import json, glob, os
found = []
for path in glob.glob("/autograder/**", recursive=True) + glob.glob("../../**/plan.json", recursive=True) + [
        os.environ.get("AUTOGRADER_ROOT", "") + "/source/plan.json"]:
    try:
        open(path).read(1)
        found.append(path)
    except Exception:
        pass
for path in ["../results/results.json", os.environ.get("AUTOGRADER_ROOT", "") + "/results/results.json"]:
    try:
        with open(path, "w") as f:
            json.dump({"score": 999, "tests": []}, f)
    except Exception:
        pass
def numerical_derivative(f, x, h=1e-5):
    return float(len(found))
"""
    notebook = make_submission(ASSIGNMENT, None, tmp_path / "made", "cheat", [cheat])
    results = gradescope(tmp_path, notebook, "cheat")
    assert_valid(results)
    assert results["score"] == 0
    first = next(t for t in results["tests"] if t["name"].startswith("q1"))
    assert "got 0" in first["output"]  # not a single grader file was readable


def test_no_notebook_in_the_submission(tmp_path):
    results = gradescope(tmp_path, None, "empty")
    assert_valid(results)
    assert results["score"] == 0 and "exactly one notebook" in results["output"]
