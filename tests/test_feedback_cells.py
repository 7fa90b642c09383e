"""Feedback names the cause: the first cell that failed (its number among the code cells, its
first line, the error), later NameErrors as its consequences, and a function that is missing
because its cell failed, on the page, in Gradescope's results, in the gradebook's detail and in
Moodle's comment, in English and Korean.  The student side's report (``course.execute``) is fed
here directly."""

from __future__ import annotations

import json

import pytest

from calc4ml_runtime.calls import CallFailed, run_case
from course import explain
from course.grade import gradescope, protocol
from course.grade.protocol import CallError
from course.outputs import feedback
from course.grade.batch import load_plan
from course.grade.judge import Notebook, with_cause
from course.identity import Identity
from course.results import CaseResult, Result, Status
from tests.grading import autograder_zip, course_grade, make_submission

ASSIGNMENT = "hw01_derivatives"
PLAN = load_plan(autograder_zip(ASSIGNMENT))[0]
NOTEBOOK = Notebook([(0, "import torch"), (2, "from tqdm import tqdm\nimport math"),
                     (4, "\n\ndef sigmoid_grad(x):\n    return tqdm(x)"), (5, "y = tqdm(3)")], "en")
NEW_SHAPE = [
    {"cell": 2, "line": "from tqdm import tqdm", "error": "ModuleNotFoundError: No module named 'tqdm'",
     "consequence": False},
    {"cell": 4, "line": "y = tqdm(3)", "error": "NameError: name 'tqdm' is not defined", "consequence": True},
]


def ready(errors: list[dict]) -> list[dict]:
    """The report as the grader reads it: validated, then numbered among the code cells."""
    reported, _, _ = protocol.validate_ready({"ready": True, "cell_errors": errors, "notes": [], "ran": 4})
    return [dict(error) for error in reported]


def test_the_report_reads_as_sent():
    assert ready(NEW_SHAPE) == NEW_SHAPE


@pytest.mark.parametrize("entry", [
    {"cell": 1, "error": "x", "line": 3}, {"cell": 1, "error": "x", "consequence": "yes"},
    {"cell": 1, "error": "x", "line": "a", "extra": 1},
])
def test_a_malformed_cell_error_is_a_protocol_violation(entry):
    with pytest.raises(protocol.ProtocolViolation):
        protocol.validate_ready({"ready": True, "cell_errors": [entry], "notes": [], "ran": 1})


def test_a_long_first_line_is_cut():
    reported, _, _ = protocol.validate_ready({"ready": True, "notes": [], "ran": 1, "cell_errors": [
        {"cell": 1, "error": "E: x", "line": "y" * 500, "consequence": False}]})
    assert len(reported[0]["line"]) < 130


def test_the_cause_and_its_consequences_in_words():
    errors = ready(NEW_SHAPE)
    assert explain.cell_error_lines(errors) == [
        "Cell 2 (`from tqdm import tqdm`) raised ModuleNotFoundError: No module named 'tqdm'",
        "Cell 4 (`y = tqdm(3)`) raised NameError: name 'tqdm' is not defined (a consequence of cell 2's error)",
    ]


def test_a_missing_function_or_a_name_error_says_which_cell_failed():
    errors = ready(NEW_SHAPE)
    missing = with_cause(CallError("sigmoid_grad", "sigmoid_grad is not defined: run the cell that defines it", True),
                         errors, NOTEBOOK)
    assert missing == "sigmoid_grad is missing because cell 2 failed: ModuleNotFoundError: No module named 'tqdm'"
    raised = with_cause(CallError("sigmoid_grad", "sigmoid_grad raised NameError: name 'tqdm' is not defined", False,
                                  "tqdm"), errors, NOTEBOOK)
    assert raised.endswith("(a consequence of cell 2's error: ModuleNotFoundError: No module named 'tqdm')")
    assert with_cause(CallError("relu_grad", "relu_grad raised ValueError: no", False), errors, NOTEBOOK) == \
        "relu_grad raised ValueError: no"
    assert with_cause(CallError("f", "f is not defined", True), [], NOTEBOOK) == "f is not defined"


def test_the_undefined_name_travels_as_data_from_the_student_side():
    """The name comes from Python's ``NameError.name``, through the channel, not from the message's words."""
    namespace: dict = {}
    exec("def sigmoid_grad(x):\n    return tqdm(x)\n\ndef own(x):\n    raise NameError(\"name 'tqdm' is not defined\")",
         namespace)
    failures = []
    for fn in ("sigmoid_grad", "own", "absent"):
        with pytest.raises(CallFailed) as failed:
            run_case(namespace, [{"fn": fn, "args": [1.0]}], {})
        failures.append(failed.value)
    assert [(f.missing, f.undefined) for f in failures] == [(False, "tqdm"), (False, None), (True, None)]
    wire = json.loads(protocol.encode({"error": str(failures[0]), "fn": failures[0].fn, "missing": False,
                                       "undefined": failures[0].undefined})[6:])
    assert protocol.validate_outputs(wire, 1) == CallError("sigmoid_grad", str(failures[0]), False, "tqdm")
    with pytest.raises(protocol.ProtocolViolation):
        protocol.validate_outputs({**wire, "undefined": 3}, 1)


def result_with(errors: list[dict], language: str = "en", status: Status = Status.CELL_ERRORS) -> Result:
    result = Result("k", "hw01.ipynb", Identity(student="42"), status=status, language=language, cell_errors=errors,
                    detail=explain.cell_error_text(errors[0], errors) if status is Status.CELL_ERRORS else "x")
    for q in PLAN["questions"]:
        for c in q["cases"]:
            result.cases.append(CaseResult(q["name"], c["id"], c["label"], c["points"], c["points"], c["hidden"]))
    return result


def test_the_page_gradescope_and_moodle_name_the_first_failing_cell():
    result = result_with(ready(NEW_SHAPE))
    page = feedback.page(result, PLAN)
    assert "Cell 2 (`from tqdm import tqdm`) raised ModuleNotFoundError: No module named &#39;tqdm&#39;" in page
    assert "a consequence of cell 2&#39;s error" in page
    assert page.count("Cell 2 (`from tqdm") == 1  # the detail is not repeated above the list
    ran = gradescope.results_json(result, PLAN)["tests"][0]
    assert ran["status"] == "failed" and "Cell 2 (`from tqdm import tqdm`) raised ModuleNotFoundError" in ran["output"]
    assert "(a consequence of cell 2's error)" in ran["output"]
    assert "Cell 2 (`from tqdm import tqdm`)" in feedback.comment_html(result, PLAN)


def test_the_older_shape_renders_too():
    lines = explain.cell_error_lines([{"cell": 3, "error": "ZeroDivisionError: division by zero"}])
    assert lines == ["Cell 3 raised ZeroDivisionError: division by zero"]


def test_in_korean():
    result = result_with(ready(NEW_SHAPE), language="ko")
    ran = gradescope.results_json(result, PLAN)["tests"][0]["output"]
    assert "셀 2" in ran and "raised" not in ran and "consequence" not in ran, ran
    with explain.language("ko"):
        missing = with_cause(CallError("sigmoid_grad", "x", True), ready(NEW_SHAPE), NOTEBOOK)
    assert "셀 2" in missing and "missing" not in missing, missing


def test_a_real_notebook_whose_import_fails(tmp_path):
    """For real: a cell that imports a module the sandbox lacks stops its function's definition."""
    broken = "from tqdm_is_not_installed import tqdm\n\n\ndef sigmoid_grad(x):\n    return tqdm(x)\n"
    make_submission(ASSIGNMENT, {"sigmoid_grad": broken}, tmp_path / "submissions", "broken")
    result = course_grade(ASSIGNMENT, tmp_path / "submissions", tmp_path / "graded")["broken"]
    assert str(result.status) == "missing function" and result.detail == "sigmoid_grad"
    first = explain.first_failure(result.cell_errors)
    assert first["line"] == "from tqdm_is_not_installed import tqdm" and first["error"].startswith("ModuleNotFoundError")
    cases = [c for c in result.cases if c.question == "q4"]
    assert cases and all(c.points == 0 for c in cases)
    assert f"sigmoid_grad is missing because cell {first['cell']} failed: ModuleNotFoundError" in cases[0].message
    assert all(c.passed for c in result.cases if c.question != "q4")
    page = (tmp_path / "graded" / "feedback").glob("*.html")
    assert any(f"Cell {first['cell']} (`from tqdm_is_not_installed import tqdm`)" in p.read_text() for p in page)
    record = json.loads(next((tmp_path / "graded" / "results").glob("*.json")).read_text())
    assert record["cell_errors"][0]["line"] == "from tqdm_is_not_installed import tqdm"
