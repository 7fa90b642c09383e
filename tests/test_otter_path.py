"""`otter run` with the autograder zip, as instructors debug with it, on notebooks as students
save them: any kernelspec name (VS Code's), no otter metadata (a jupytext round trip), and a
function far too slow for a hidden case, which fails that case within the hardened grader's call
timeout and with its message, instead of running for minutes."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

import calc4ml_runtime
from course.build import render
from course.grade.pool import Limits
from tests.grading import (autograder_zip, course_grade, make_submission, question_points, source_of,
                           with_public_tests)


def otter_results(assignment: str, notebook: Path) -> dict:
    """results.json of a real `otter run` (the whole file: tests and their messages)."""
    run = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(autograder_zip(assignment)),
                          "-o", str(notebook.parent), str(notebook)],
                         cwd=notebook.parent, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads((notebook.parent / "results.json").read_text(encoding="utf-8"))


def scores(results: dict, assignment: str) -> dict[str, float]:
    return {t["name"]: t["score"] for t in results["tests"] if t["name"] in question_points(assignment)}


def test_the_call_limit_is_the_hardened_graders():
    assert calc4ml_runtime.CALL_SECONDS == Limits().call_seconds


def test_the_otter_config_names_the_plugin_not_otters_name_check():
    config = render.otter_config({"assignment_name": "hw01_derivatives", "lang": "python"}, "hw01_derivatives")
    assert "assignment_name" not in config and config["lang"] == "python"
    assert config["plugins"] == [{"course.grade.otter_plugin.Normalise": {"assignment": "hw01_derivatives"}}]


def test_a_call_past_its_time_fails_with_the_graders_message():
    env = {"slow": lambda: time.sleep(5) or 1.0, "swallows": None}

    def swallows():
        for _ in range(20):
            try:
                time.sleep(1)
            except BaseException:
                pass
        return 1.0

    env["swallows"] = swallows
    for fn in ("slow", "swallows"):
        start = time.monotonic()
        with pytest.raises(calc4ml_runtime.CheckFailure) as raised:
            calc4ml_runtime._run_in_time(env, [{"fn": fn, "args": []}], {}, 0.5)
        assert str(raised.value) == f"{fn}: timed out after 0.5 s (an infinite loop, or far too slow)"
        assert time.monotonic() - start < 12
    assert calc4ml_runtime._run_in_time({"f": lambda: 2.0}, [{"fn": "f", "args": []}], {}, 5) == [2.0]


def vscode_notebook(path: Path) -> Path:
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "venv-calc4ml", "display_name": "calc4ml (venv)", "language": "python"}
    nbformat.write(nb, path)
    return path


def jupytext_round_trip(path: Path) -> Path:
    import jupytext
    script = jupytext.writes(jupytext.read(path), fmt="py:percent")
    back = jupytext.reads(script, fmt="py:percent")
    assert "otter" not in back.metadata and "course" not in back.metadata
    jupytext.write(back, path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("saved_by", [vscode_notebook, jupytext_round_trip])
def test_otter_run_grades_a_notebook_however_it_was_saved(tmp_path, saved_by):
    assignment = "hw01_derivatives"
    notebook = saved_by(make_submission(assignment, {}, tmp_path, "student"))
    assert scores(otter_results(assignment, notebook), assignment) == question_points(assignment)


@pytest.mark.slow
def test_otter_run_refuses_another_assignments_notebook(tmp_path):
    notebook = make_submission("hw02_gradients", {}, tmp_path, "student")
    run = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(autograder_zip("hw01_derivatives")),
                          "-o", str(notebook.parent), str(notebook)], cwd=notebook.parent, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode != 0 and not (notebook.parent / "results.json").exists()
    assert "this notebook is for assignment 'hw02_gradients'; this autograder grades 'hw01_derivatives'" in \
        run.stdout + run.stderr, run.stdout[-2000:] + run.stderr[-2000:]


ROW_BY_ROW = '''
    def hess_times(v):  # the Hessian one row at a time: n Hessian-vector products per product
        out = torch.zeros_like(v)
        for i in range(v.numel()):
            e = torch.zeros_like(v)
            e[i] = 1
            (row,) = torch.autograd.grad(g, x, grad_outputs=e, retain_graph=True)
            out[i] = row @ v
        return out
'''


def row_by_row_cg() -> str:
    """The reference's conjugate gradient, with each Hessian product formed from the Hessian's rows."""
    source = textwrap.dedent(inspect.getsource(source_of("hw06_backprop").module("reference").cg_newton_step))
    start = source.index("    def hess_times(v):")
    end = source.index("\n\n", start)
    return source[:start] + ROW_BY_ROW.strip("\n") + source[end:]


@pytest.mark.slow
def test_a_function_too_slow_for_the_big_hidden_case_is_cut_at_the_call_timeout(tmp_path):
    assignment = "hw06_backprop"
    notebook = with_public_tests(make_submission(assignment, {"cg_newton_step": row_by_row_cg()}, tmp_path / "otter",
                                                 "slow"), assignment)
    start = time.monotonic()
    results = otter_results(assignment, notebook)
    took = time.monotonic() - start
    big = 1.5  # the n = 300,000 case; every other case of q6 is small and right
    assert scores(results, assignment) == {**question_points(assignment), "q6": question_points(assignment)["q6"] - big}
    q6 = next(t for t in results["tests"] if t["name"] == "q6")
    assert "cg_newton_step: timed out after 30 s (an infinite loop, or far too slow)" in q6["output"], q6["output"]
    assert took < 30 + 120, took  # one call timeout, plus otter's own minute or so
    make_submission(assignment, {"cg_newton_step": row_by_row_cg()}, tmp_path / "hardened", "slow")
    graded = course_grade(assignment, tmp_path / "hardened", tmp_path / "graded",
                          limits=Limits(call_seconds=calc4ml_runtime.CALL_SECONDS))["slow"]
    assert graded.score == sum(scores(results, assignment).values())
    message = next(c.message for c in graded.cases if c.case.startswith("n_300_000"))
    assert message == "cg_newton_step: timed out after 30 s (an infinite loop, or far too slow)"
