"""The autograder zip in Gradescope's layout, for real: ROOT/source, ROOT/submission, ROOT/results,
run by the zip's own run_autograder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from tests.grading import autograder_zip, make_submission, question_points

ASSIGNMENT = "hw01_derivatives"
FULL = sum(question_points(ASSIGNMENT).values())


def layout(tmp_path: Path, notebook: Path | None, name: str) -> Path:
    root = tmp_path / name / "autograder"
    with zipfile.ZipFile(autograder_zip(ASSIGNMENT)) as z:
        z.extractall(root / "source")
    os.chmod(root / "source" / "run_autograder", 0o755)
    (root / "submission").mkdir()
    if notebook is not None:
        (root / "submission" / notebook.name).write_bytes(notebook.read_bytes())
    return root


def gradescope(root: Path, python: str = sys.executable) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "COURSE_PYTHON": python}
    run = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def assert_valid(results: dict) -> None:
    """Gradescope's results.json: score, tests with the documented keys and visibilities."""
    assert isinstance(results["score"], (int, float))
    for test in results["tests"]:
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert 0 <= test["score"] <= test["max_score"]
    if results["tests"]:
        assert abs(results["score"] - sum(t["score"] for t in results["tests"])) < 1e-9


def test_reference_gets_full_marks_and_stub_zero(tmp_path):
    before = set(Path(tempfile.gettempdir()).glob("course-gradescope-*"))
    right = gradescope(layout(tmp_path, make_submission(ASSIGNMENT, {}, tmp_path / "made", "right"), "right"))
    stub = gradescope(layout(tmp_path, make_submission(ASSIGNMENT, None, tmp_path / "made", "stub"), "stub"))
    for results in (right, stub):
        assert_valid(results)
    assert right["score"] == FULL and stub["score"] == 0
    assert all("not implemented" in t["output"] for t in stub["tests"] if t["max_score"])
    visibilities = {t["visibility"] for t in right["tests"]}
    assert {"after_published", "visible"} <= visibilities
    # no folder of ours is left; another run on the machine may remove its own meanwhile
    assert set(Path(tempfile.gettempdir()).glob("course-gradescope-*")) <= before, "scratch left behind"


def test_answers_and_results_are_out_of_a_submissions_reach(tmp_path):
    cheat = """
import json, glob, os
found = []
root = os.environ.get("AUTOGRADER_ROOT", "/autograder")
for path in glob.glob("/autograder/**", recursive=True) + glob.glob(root + "/**", recursive=True) + [
        root + "/source/plan.json", "../source/plan.json", "../../source/plan.json"]:
    try:
        open(path).read(1)
        found.append(path)
    except Exception:
        pass
for path in ["../results/results.json", root + "/results/results.json"]:
    try:
        with open(path, "w") as f:
            json.dump({"score": 999, "tests": []}, f)
    except Exception:
        pass
def numerical_derivative(f, x, h=1e-5):
    return float(len(found))
"""
    root = layout(tmp_path, make_submission(ASSIGNMENT, {}, tmp_path / "made", "cheat", [cheat]), "cheat")
    results = gradescope(root)
    assert_valid(results)
    q1 = question_points(ASSIGNMENT)["q1"]
    assert results["score"] == FULL - q1  # the forged results.json did not count; q1 returns the count
    first = next(t for t in results["tests"] if "q1" in t.get("tags", ()) and t["visibility"] == "visible")
    assert "got 0," in first["output"], first["output"]  # not a single grader file was readable


def test_no_notebook_in_the_submission(tmp_path):
    results = gradescope(layout(tmp_path, None, "empty"))
    assert_valid(results)
    assert results["score"] == 0 and "exactly one notebook" in results["output"]


def test_a_crashing_grader_still_writes_results(tmp_path):
    root = layout(tmp_path, make_submission(ASSIGNMENT, {}, tmp_path / "made", "right"), "broken")
    (root / "source" / "plan.json").write_text("{ this is not a plan")
    results = gradescope(root)
    assert results["score"] == 0 and "not your fault" in results["output"]
    assert any(t["visibility"] == "hidden" and "JSONDecodeError" in t["output"] for t in results["tests"])


def test_a_grader_that_cannot_start_still_writes_results(tmp_path):
    root = layout(tmp_path, make_submission(ASSIGNMENT, {}, tmp_path / "made", "right"), "no_python")
    results = gradescope(root, python="/bin/false")
    assert results["score"] == 0 and "exit status 1" in results["output"] and "not your fault" in results["output"]
