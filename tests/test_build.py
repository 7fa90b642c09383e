"""`course build`: the same bytes on every machine, fresh, and what students get holds no solution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import nbformat
import pytest

from course import i18n
from course.build import assemble as build, notebook, samples
from course.build.spec import Call, Case, compile_plan, PlanError, Question
from tests.grading import ASSIGNMENTS, ROOT, source_of, student_notebook


def test_committed_generated_files_are_fresh():
    assert build.stale_files(ROOT) == [], "run `course build` and commit"


PLANS_UNDER = """
import json, sys, zipfile
from pathlib import Path
from course.build import assemble as build
root = Path(sys.argv[1])
for source in build.sources(root):
    plan = build.stable_plan(source, root)
    with zipfile.ZipFile(root / "autograder" / f"{source.name}-autograder.zip") as z:
        committed = {k: v for k, v in json.loads(z.read("plan.json")).items() if k in plan}
    assert plan == committed, (source.name, build.plan_drift(source.plan(), committed))
print("same")
"""


@pytest.mark.parametrize("cpu", [{"ATEN_CPU_CAPABILITY": "default"}, {"ATEN_CPU_CAPABILITY": "avx2"},
                                 {"MKL_CBWR": "AVX512"}, {"OMP_NUM_THREADS": "2"}])
def test_plans_are_the_same_on_another_cpu(cpu):
    run = subprocess.run([sys.executable, "-c", PLANS_UNDER, str(ROOT)], capture_output=True, text=True,
                         env={**os.environ, **cpu}, timeout=300)
    assert run.returncode == 0 and "same" in run.stdout, run.stderr[-3000:]


def test_twenty_builds_of_hw02_give_the_same_bytes():
    source = source_of("hw02_gradients")
    with zipfile.ZipFile(ROOT / "autograder" / "hw02_gradients-autograder.zip") as z:
        otter_config = json.loads(z.read("otter_config.json"))
    catalogues = i18n.course_catalogues(ROOT)
    zips = {build.deterministic_zip(build.autograder_files(ROOT, build.stable_plan(source, ROOT), otter_config,
                                                           catalogues)) for _ in range(20)}
    assert len(zips) == 1
    assert zips == {(ROOT / "autograder" / "hw02_gradients-autograder.zip").read_bytes()}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_notebook_has_stubs_not_solutions(name):
    source = source_of(name)
    reference = source.module("reference")
    for language in source.languages():
        nb = nbformat.read(student_notebook(name, language), as_version=4)
        stubs = {samples.defined_name(c.source): c.source for c in nb.cells
                 if samples.ANSWER_TAG in c.metadata.get("tags", [])}
        graded = {f for q in source.module("questions").QUESTIONS for f in q.functions}
        assert graded <= set(stubs), f"functions without a stub: {graded - set(stubs)}"
        for fn, cell in stubs.items():
            assert f'raise NotImplementedError("{fn}")' in cell or f'raise NotImplementedError("{fn}.' in cell
            body = notebook.stub_source(getattr(reference, fn)).split("# BEGIN SOLUTION NO PROMPT")[1]
            assert body.split("# END SOLUTION")[0].strip() not in cell, f"{fn}: the solution leaked"
        text = student_notebook(name, language).read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "download.pytorch.org/whl/cpu" in text and '_("' not in text
        assert nb.metadata["course"] == {"assignment": name, "language": language}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_public_tests_hold_no_hidden_case_and_stay_short(name):
    plan = source_of(name).plan()
    hidden = {c["id"] for q in plan["questions"] for c in q["cases"] if c["hidden"]}
    for test_file in (build.edition_folder(ROOT, name, "en") / "tests").glob("q*.py"):
        text = test_file.read_text(encoding="utf-8")
        assert "hidden=True" not in text and not any(f"'{case_id}'" in text for case_id in hidden)
        assert "def judge" not in text and len(text) < 40_000, "the runtime belongs in calc4ml_runtime/"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_autograder_zip_layout(name):
    with zipfile.ZipFile(ROOT / "autograder" / f"{name}-autograder.zip") as z:
        names = set(z.namelist())
        assert {"run_autograder", "setup.sh", "requirements.txt", "otter_config.json", "plan.json",
                "course/grade/worker.py", "course/grade/gradescope.py", "calc4ml_runtime/calls.py",
                "files/calc4ml_runtime/calls.py"} <= names
        assert not any(n.startswith("solutions") or n.endswith(("build.py", "reference.py")) for n in names)
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
        assert (z.getinfo("run_autograder").external_attr >> 16) & 0o111
        plan = json.loads(z.read("plan.json"))
        tests = {n for n in names if n.startswith("tests/q")}
        assert tests == {f"tests/{q['name']}.py" for q in plan["questions"]}


def square(x):
    return x ** 2


class Reference:
    @staticmethod
    def central_difference(f, x, h=1e-5):
        return float((f(x + h) - f(x - h)) / (2 * h))


def test_a_wrong_documented_value_stops_the_build():
    questions = [Question("q1", "t", 1, [Case("x^2 at 3", Call("central_difference", square, 3.0), expected=6.5)])]
    with pytest.raises(PlanError, match="disagrees with the documented value"):
        compile_plan("hw", questions, Reference)


def test_points_must_split_into_quarters():
    cases = [Case(f"case {i}", Call("central_difference", square, float(i))) for i in range(3)]
    with pytest.raises(PlanError, match="quarter points"):
        compile_plan("hw", [Question("q1", "t", 2, cases)], Reference)
    plan = compile_plan("hw", [Question("q1", "t", 3, cases)], Reference)
    assert [c["points"] for c in plan["questions"][0]["cases"]] == [1.0, 1.0, 1.0]


def test_a_translation_with_another_structure_is_refused():
    english = "# T\n\n```python\nx = 1\n```\n<!-- question q1 -->\ntext\n<!-- solution f -->\n<!-- end question -->\n"
    i18n.check_parity(english, english.replace("text", "텍스트"), "ko")
    with pytest.raises(ValueError, match="differs from the English source"):
        i18n.check_parity(english, english.replace("<!-- solution f -->", "<!-- solution g -->"), "ko")
    with pytest.raises(ValueError, match="code cells and directives"):
        i18n.check_parity(english, english.replace("```python\nx = 1\n```\n", ""), "ko")


def test_code_cell_strings_are_replaced_by_their_translation():
    catalogue = i18n.Catalogue("ko", {"error vs h": "h에 따른 오차"})
    code = 'plt.title(_("error vs h"))\nprint(_("h = {h}").format(h=1))\nobj._("x")'
    assert i18n.translate_code(code, catalogue) == "plt.title('h에 따른 오차')\nprint('h = {h}'.format(h=1))\nobj._(\"x\")"
    assert catalogue.missing == ["h = {h}"]


def test_bundled_sample_submissions_are_fresh():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "examples" / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = [str(p.relative_to(ROOT)) for p, data in module.expected_files().items()
             if not p.exists() or p.read_bytes() != data]
    assert not stale, f"run `python examples/make_samples.py` and commit: {stale}"


def generated_and_sample_files() -> dict[str, bytes]:
    return {str(p): p.read_bytes() for folder in ("assignments", "autograder", "examples", "calc4ml_runtime/locale")
            for p in sorted((ROOT / folder).rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.slow
def test_demo_leaves_tracked_files_alone(tmp_path):
    before = generated_and_sample_files()
    demo = subprocess.run([sys.executable, "-m", "course.cli", "demo", "--output", str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert generated_and_sample_files() == before
    assert (tmp_path / "out" / "hw01_derivatives" / "gradebook.csv").exists()
    assert "correct_ko.ipynb" in demo.stdout and (tmp_path / "out" / "hw01_derivatives" / "report.html").exists()


ENGINE_ALONE = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("__editable__")]
sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in repr(h)]
sys.path.insert(0, sys.argv[1])
import course.grade.gradescope, course.grade.worker
loaded = {name: module.__file__ for name, module in sys.modules.items() if name.startswith(("course", "calc4ml_runtime"))}
assert all(path.startswith(sys.argv[1]) for path in loaded.values()), loaded
assert not [name for name in loaded if name.startswith(("course.lms", "course.outputs", "course.build"))], loaded
print(len(loaded))
"""


def test_the_autograder_zip_carries_every_module_the_grader_imports(tmp_path):
    with zipfile.ZipFile(ROOT / "autograder" / "hw01_derivatives-autograder.zip") as z:
        z.extractall(tmp_path / "source")
    run = subprocess.run([sys.executable, "-c", ENGINE_ALONE, str(tmp_path / "source")], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": ""})
    assert run.returncode == 0, run.stderr[-3000:]
    assert int(run.stdout) >= 10
    shipped = {path.relative_to(tmp_path / "source").as_posix() for path in (tmp_path / "source").rglob("*.py")}
    assert {"course/grade/worker.py", "calc4ml_runtime/checks.py"} <= shipped, shipped
    unneeded = [p for p in shipped if p.startswith(("course/lms", "course/outputs", "course/build", "course/grade/batch"))]
    assert not unneeded, unneeded  # grading needs no LMS file, output or build code


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_hidden_labels_do_not_reveal_values(name):
    import re
    for question in source_of(name).plan()["questions"]:
        for case in question["cases"]:
            if case["hidden"]:
                assert not re.search(r"\b(is|gives|equals)\s+[-\d(\[]", case["label"]), case["label"]


def test_the_build_states_the_points_of_every_question():
    plan = {"questions": [
        {"name": "q1", "title": "Short", "points": 5, "cases": [{"hidden": False}, {"hidden": True}, {"hidden": True}]},
        {"name": "q10", "title": "A longer title", "points": 2.5, "cases": [{"hidden": False}]}]}
    assert build.points_table(plan) == [
        "    q1  Short              5 points  (1 public, 2 hidden)",
        "   q10  A longer title   2.5 points  (1 public, 0 hidden)"]
