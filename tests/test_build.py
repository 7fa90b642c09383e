"""`course build`: deterministic, fresh, and what students get holds no solution."""

import json
import zipfile

import nbformat
import pytest

from course import notebook, samples
from course.build import ROOT, build, generated_files, sources, stale_files

ASSIGNMENTS = [s.name for s in sources()]


def test_committed_generated_files_are_fresh():
    assert stale_files() == [], "run `course build` and commit"


def test_two_builds_give_the_same_bytes(tmp_path):
    for folder in (tmp_path / "a", tmp_path / "b"):
        folder.mkdir()
        (folder / "solutions").symlink_to(ROOT / "solutions")
        build(folder, ["hw01_derivatives"], log=lambda *_: None)
    assert generated_files(tmp_path / "a") == generated_files(tmp_path / "b")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_notebook_has_stubs_not_solutions(name):
    source = sources(only=[name])[0]
    reference = source.module("reference")
    nb = nbformat.read(ROOT / "assignments" / name / f"{name}.ipynb", as_version=4)
    stubs = {samples.defined_name(c.source): c.source for c in nb.cells
             if samples.ANSWER_TAG in c.metadata.get("tags", [])}
    graded = {f for q in source.module("questions").QUESTIONS for f in q.functions}
    assert graded <= set(stubs), f"functions without a stub: {graded - set(stubs)}"
    for fn, cell in stubs.items():
        assert f'raise NotImplementedError("{fn}")' in cell
        body = notebook.stub_source(getattr(reference, fn)).split("# BEGIN SOLUTION NO PROMPT")[1].split("# END SOLUTION")[0]
        assert body.strip() not in cell, f"{fn}: the solution leaked into the student notebook"
    text = (ROOT / "assignments" / name / f"{name}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "pip install" in text


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_public_tests_hold_no_hidden_case(name):
    plan = sources(only=[name])[0].plan()
    hidden = {c["id"] for q in plan["questions"] for c in q["cases"] if c["hidden"]}
    for test_file in (ROOT / "assignments" / name / "tests").glob("*.py"):
        text = test_file.read_text()
        assert "hidden=True" not in text
        assert not any(f"'{case_id}'" in text for case_id in hidden)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_autograder_zip_layout(name):
    with zipfile.ZipFile(ROOT / "autograder" / f"{name}-autograder.zip") as z:
        names = set(z.namelist())
        assert {"run_autograder", "setup.sh", "requirements.txt", "otter_config.json", "plan.json",
                "course/sandbox.py", "course/gradescope.py"} <= names
        assert not any(n.startswith("solutions") or n.endswith("build.py") for n in names)
        requirements = z.read("requirements.txt").decode()
        assert "torch==2.13.0+cpu" in requirements and "whl/cpu" in requirements
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
        assert (z.getinfo("run_autograder").external_attr >> 16) & 0o111
        plan = json.loads(z.read("plan.json"))
        tests = {n for n in names if n.startswith("tests/")}
        assert tests == {f"tests/{q['name']}.py" for q in plan["questions"]}


def square(x):
    return x ** 2


def test_a_wrong_documented_value_stops_the_build():
    from course.spec import Call, Case, PlanError, Question, compile_plan

    class Reference:
        @staticmethod
        def central_difference(f, x, h=1e-5):
            return float((f(x + h) - f(x - h)) / (2 * h))

    questions = [Question("q1", "t", [Case("x^2 at 3", Call("central_difference", square, 3.0), expected=6.5)])]
    with pytest.raises(PlanError, match="disagrees with the documented value"):
        compile_plan("hw", questions, Reference)


def test_bundled_sample_submissions_are_fresh():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "examples" / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = [str(p.relative_to(ROOT)) for p, data in module.expected_files().items()
             if not p.exists() or p.read_bytes() != data]
    assert not stale, f"run `python examples/make_samples.py` and commit: {stale}"
