"""Copied work in the class report: winnowed fingerprints over normalised tokens
(course/similarity.py), on a class of real notebooks built from hw06's student notebook."""

from __future__ import annotations

import ast
import builtins
import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

from course.build import samples
from course.grade.functions import functions_of
from course.outputs import similarity
from tests.grading import bugs_of, course_grade

ROOT = Path(__file__).resolve().parent.parent
HW = "hw06_backprop"
STUDENT = ROOT / "assignments" / HW / f"{HW}.ipynb"


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Rename(ast.NodeTransformer):
    """What a student who copies does first: every local name changed, the function names kept."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def new(self, name: str) -> str:
        if name in dir(builtins) or name in ("torch", "math"):
            return name
        return self.names.setdefault(name, f"my_{len(self.names)}_{name[::-1]}")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.new(node.arg)
        return node


def disguised(source: str) -> str:
    tree = ast.parse(source)
    name = tree.body[0].name
    tree = Rename().visit(tree)
    tree.body[0].name = name
    return ast.unparse(tree)


def code_cells(nb: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


@pytest.fixture(scope="module")
def plan_functions() -> dict[str, str]:
    questions = load(ROOT / "solutions" / HW / "questions.py").QUESTIONS
    return {fn: q.name for q in questions for fn in q.functions}


@pytest.fixture(scope="module")
def classroom(plan_functions) -> dict[str, nbformat.NotebookNode]:
    """The reference, two independent correct solutions, a disguised copy of the reference
    (names changed, reformatted, its answer cells in reverse order), and two untouched notebooks."""
    reference = samples.reference_answers(load(ROOT / "solutions" / HW / "reference.py"))
    reference = {fn: source for fn, source in reference.items() if fn in plan_functions}
    first, second = {}, {}
    for alternative in bugs_of(HW)[1]:
        (second if alternative.function in first else first)[alternative.function] = alternative.source
    copy = samples.fill(STUDENT, {fn: disguised(source) for fn, source in reference.items()})
    answers = [i for i, cell in enumerate(copy.cells) if samples.ANSWER_TAG in cell.metadata.get("tags", [])]
    for i, j in zip(answers, reversed(answers)):
        if i < j:
            copy.cells[i], copy.cells[j] = copy.cells[j], copy.cells[i]
    return {"reference": samples.fill(STUDENT, reference), "independent": samples.fill(STUDENT, first),
            "another": samples.fill(STUDENT, second), "copy": copy,
            "untouched": nbformat.read(STUDENT, as_version=4), "untouched again": nbformat.read(STUDENT, as_version=4)}


def pairs_of(classroom, plan_functions, stubs: bool = True) -> list[similarity.Pair]:
    code = {key: functions_of(code_cells(nb), set(plan_functions)) for key, nb in classroom.items()}
    stub_code = functions_of(code_cells(nbformat.read(STUDENT, as_version=4)), set(plan_functions))
    return similarity.similar_pairs(code, plan_functions, stub_code if stubs else None)


def test_the_disguised_copy_is_flagged_with_its_source_and_nothing_else(classroom, plan_functions):
    pairs = pairs_of(classroom, plan_functions)
    assert [(p.first, p.second) for p in pairs] == [("copy", "reference")]
    matched = {m.function for m in pairs[0].matches}
    assert {"mlp_backward", "cg_newton_step"} <= matched and len(matched) >= 4
    mlp = next(m for m in pairs[0].matches if m.function == "mlp_backward")
    assert mlp.share > 0.9 and mlp.lines[0] and mlp.lines[1]


def test_the_stubs_alone_never_match(classroom, plan_functions):
    """Two untouched notebooks share every line of the course's code: boilerplate, not copying,
    even without the stubs given (the class shares them)."""
    for stubs in (True, False):
        assert all("untouched" not in p.first + p.second for p in pairs_of(classroom, plan_functions, stubs))


def test_renaming_and_reordering_leave_the_fingerprints_unchanged():
    source = "def f(x, h):\n    y = x * 2 + h\n    return (y - x) / (2 * h) + torch.linalg.norm(y)\n"
    renamed = "def f(a, step):\n    b = a * 3 + step\n    return (b - a) / (2 * step) + torch.linalg.norm(b)\n"
    assert [p.hash for p in similarity.fingerprints(source)] == [p.hash for p in similarity.fingerprints(renamed)]
    other_api = renamed.replace("norm", "vector_norm")
    assert [p.hash for p in similarity.fingerprints(source)] != [p.hash for p in similarity.fingerprints(other_api)]


def test_one_short_answer_in_common_is_not_enough():
    """relu_grad is one line for everyone: too short to compare, and one question is never enough."""
    short = {"relu_grad": "def relu_grad(x):\n    return (x > 0).to(x.dtype)\n"}
    long = {"gradient_check": "def gradient_check(f, x, h):\n" + "".join(
        f"    v{i} = torch.sin(x * {i}) + f(x + h * {i}) - f(x - h)\n" for i in range(8)) + "    return v0\n"}
    code = {"a": {**short, **long}, "b": {**short, **long}}
    questions = {"relu_grad": "q3", "gradient_check": "q8"}
    assert similarity.similar_pairs(code, questions) == []  # one question matches: not listed
    code["a"]["mse_grad"] = code["b"]["mse_grad"] = long["gradient_check"].replace("gradient_check", "mse_grad")
    assert [p.first + p.second for p in similarity.similar_pairs(code, {**questions, "mse_grad": "q5"})] == ["ab"]


def test_unreadable_cells_are_skipped():
    assert functions_of(["torch.linalg.solve?", "def f(x):\n    return x\n", "def ("], {"f"}) == {
        "f": "def f(x):\n    return x"}


def test_the_class_report_lists_the_copy_side_by_side(classroom, tmp_path):
    """The real path: `course grade` keeps each graded function's source on the result, and the
    class report lists the pair with the matching lines marked."""
    folder = tmp_path / "class"
    for key, nb in classroom.items():
        samples.write(nb, folder / f"{key.replace(' ', '_')}.ipynb")
    course_grade(HW, folder, tmp_path / "out")
    records = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "out" / "results").glob("*.json")}
    assert set(records["copy.ipynb"]["code"]) == set(records["reference.ipynb"]["code"]) != set()
    page = (tmp_path / "out" / "report.html").read_text()
    assert 'id="similar">Similar submissions (1)' in page
    listed = page.split('id="similar"')[1].split("<h2")[0]
    assert "<code>copy.ipynb</code> and <code>reference.ipynb</code>" in listed
    assert listed.count('class="match"') > 20 and "untouched" not in listed and "independent" not in listed


def test_the_figures_readme_gives(classroom, plan_functions):
    """README: the disguised copy matches on five of six functions, sharing 87% or more of their
    fingerprints; the independent solutions (with the stubs' typed signatures) share at most 55% with
    the reference on any function."""
    code = {key: functions_of(code_cells(nb), set(plan_functions)) for key, nb in classroom.items()}

    def share(a: str, b: str, fn: str) -> float:
        pa, pb = ({p.hash for p in similarity.fingerprints(code[k][fn])} for k in (a, b))
        return len(pa & pb) / min(len(pa), len(pb))

    copied = sorted(share("reference", "copy", fn) for fn in code["reference"])
    assert len(copied) == 6 and copied[1] >= 0.87
    written = {key: {fn for fn, source in code[key].items() if "NotImplementedError" not in source}
               for key in ("independent", "another")}
    assert len(written["independent"]) == 6 and len(written["another"]) == 4
    assert max(share("reference", key, fn) for key, functions in written.items() for fn in functions) <= 0.55
