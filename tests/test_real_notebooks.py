"""Honest notebooks as Jupyter users write them, graded by the real hardened grader.

Each variant is the full-marks sample (examples/submissions/hw04_hessians/correct.ipynb) with
what real students' notebooks hold: ``?`` help lines, nbconvert's ``get_ipython()`` magic on top
of the imports, ``%time``/``%timeit``/``%%time``, ``display`` without an import, ``!pip`` and
``%pip`` lines, a ``torch.jit.script`` helper, ``inspect.getsource``.  Honest work keeps full
marks; a missing package and a genuinely broken cell are reported with the cell's number among
the code cells, its first line and the real error, and the NameErrors they cause downstream are
marked as consequences.  The unit tests below run ``course.execute`` alone (no sandbox).
"""

from __future__ import annotations

import inspect
import json
import tempfile
from pathlib import Path
from typing import Callable

import pytest

from calc4ml_runtime import messages
from course.grade import execute
from calc4ml_runtime.plan import all_cases, forbidden_apis
from course.grade.batch import load_plan
from course.grade.judge import grade_notebook, read_notebook, Session
from course.grade.pool import Limits, Worker
from course.results import Result, Status
from tests.grading import ROOT, autograder_zip

ASSIGNMENT = "hw04_hessians"
CORRECT = ROOT / "examples" / "submissions" / ASSIGNMENT / "correct.ipynb"
LIMITS = Limits(notebook_seconds=60, call_seconds=10, memory_mb=3072)


def code_cell(starts: str) -> int:
    """The number (from 1, among code cells) of the sample's first code cell that starts with ``starts``."""
    sources = ["".join(c["source"]) for c in json.loads(CORRECT.read_text(encoding="utf-8"))["cells"]
               if c["cell_type"] == "code"]
    return next(n for n, source in enumerate(sources, 1) if source.startswith(starts))


IMPORTS, NUMERICAL_HESSIAN, BUMPY, NEWTON_STEP = (code_cell(start) for start in (
    "import math", "def numerical_hessian", "def bumpy", "def newton_step"))


def variant(changes: dict[int, Callable[[str], str]] = {}, after: dict[int, str] = {}) -> bytes:
    """The sample with code cell N changed by ``changes[N]``, and a new code cell ``after[N]``
    inserted after code cell N (numbers as in the sample)."""
    nb = json.loads(CORRECT.read_text(encoding="utf-8"))
    cells, number = [], 0
    for cell in nb["cells"]:
        cells.append(cell)
        if cell["cell_type"] != "code":
            continue
        number += 1
        if number in changes:
            cell["source"] = changes[number]("".join(cell["source"]))
        if number in after:
            cells.append({"cell_type": "code", "execution_count": None, "id": f"added-{number}", "metadata": {},
                          "outputs": [], "source": after[number]})
    nb["cells"] = cells
    return json.dumps(nb).encode()


JIT_NEWTON = '''@torch.jit.script
def _solve(H: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return torch.linalg.solve(H, -g)


def newton_step(g: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """The Newton step, by a TorchScript helper."""
    return _solve(H, g)
'''
TIMED = '''calls = []

def counted(v):
    calls.append(1)
    return (v ** 3).sum()

%time H = numerical_hessian(counted, torch.ones(3))
once = len(calls)
%timeit -n 100 -r 7 H2 = numerical_hessian(counted, torch.ones(3))
assert H.shape == (3, 3) and torch.equal(H, H2) and len(calls) == 2 * once, (len(calls), once)
'''
HONEST = {
    "question_mark": variant({NEWTON_STEP: lambda s: s.rstrip() + "\n\nhelp(newton_step)\ntorch.linalg.solve?"}),
    "nbconvert_magic": variant({IMPORTS: lambda s: "get_ipython().run_line_magic('matplotlib', 'inline')\n" + s}),
    "matplotlib_inline": variant({IMPORTS: lambda s: "%matplotlib inline\n" + s}),
    "time_and_timeit": variant(after={NUMERICAL_HESSIAN: TIMED}),
    "time_cell": variant({IMPORTS: lambda s: "%%time\n" + s}),
    "display": variant({BUMPY: lambda s: s + "\ndisplay(approx)\n"}),
    "pip_lines": variant({IMPORTS: lambda s: "!pip install tqdm\n%pip install tqdm\n" + s}),
    "jit_helper": variant({NEWTON_STEP: lambda s: JIT_NEWTON}),
    "getsource": variant(after={NUMERICAL_HESSIAN: "import inspect\nsource = inspect.getsource(numerical_hessian)\n"
                                                   "assert source.startswith('def numerical_hessian('), source[:80]"}),
}
# A package no grading environment has (tqdm itself may be installed on the grader's machine).
MISSING_PACKAGE = variant({IMPORTS: lambda s: "from tqdm_is_not_installed.auto import tqdm\n" + s})
BROKEN = variant({BUMPY: lambda s: s.replace("approx = numerical_hessian(", "approx = numerical_hesian(")},
                 after={BUMPY: "print(approx.shape)"})


@pytest.fixture(scope="module")
def grader():
    """Grade a notebook with one warm worker: (result, the ready message's cell errors, notes)."""
    plan, _ = load_plan(autograder_zip(ASSIGNMENT))
    with tempfile.TemporaryDirectory() as scratch:
        worker = Worker(0, Path(scratch), forbidden_apis(all_cases(plan)))
        messages.set_language("en")

        def grade(raw: bytes) -> tuple[Result, list, list[str]]:
            session = Session(worker, plan, read_notebook(raw), LIMITS)
            try:
                session.start()
            finally:
                session.drop()
            result = grade_notebook(worker, plan, raw, LIMITS, Result("key", "source"))
            return result, session.cell_errors, session.notes

        try:
            yield grade
        finally:
            worker.close()


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_jupyter_notebooks_get_full_marks(grader, name):
    result, errors, notes = grader(HONEST[name])
    assert errors == [], errors
    assert result.status is Status.OK, (result.status, result.detail, result.log)
    assert result.score == result.max_score > 0, [c.message for c in result.cases if c.message]
    if name == "pip_lines":
        assert f"the notebook: cell {IMPORTS}: `!pip install tqdm` skipped: the grader runs no shell commands" in notes
        assert f"the notebook: cell {IMPORTS}: `%pip install tqdm` skipped: the grader runs no shell commands" in notes


def test_a_missing_package_is_named_and_what_it_stopped_is_a_consequence(grader):
    result, errors, _ = grader(MISSING_PACKAGE)
    assert errors[0] == {"cell": IMPORTS, "line": "from tqdm_is_not_installed.auto import tqdm",
                         "error": "ModuleNotFoundError: No module named 'tqdm_is_not_installed'", "consequence": False}
    assert errors[1] == {"cell": NUMERICAL_HESSIAN, "line": "def numerical_hessian(f: Callable, x: torch.Tensor, "
                                                            "h: float = 1e-4) -> torch.Tensor:",
                         "error": "NameError: name 'Callable' is not defined", "consequence": True}
    assert len(errors) > 3 and all(e["consequence"] and e["error"].startswith("NameError") for e in errors[1:])
    assert result.score == 0 and result.status is Status.MISSING_FUNCTION


def test_a_broken_cell_loses_only_what_it_breaks(grader):
    result, errors, _ = grader(BROKEN)
    assert errors == [
        {"cell": BUMPY, "line": "def bumpy(x):", "error": "NameError: name 'numerical_hesian' is not defined",
         "consequence": False},
        {"cell": BUMPY + 1, "line": "print(approx.shape)", "error": "NameError: name 'approx' is not defined",
         "consequence": True}]
    assert result.status is Status.CELL_ERRORS and result.score == result.max_score  # a demonstration: no points


# ---------------------------------------------------------------- course.execute alone


def run(*sources: str, translate: Callable[[str], str] = lambda m: m) -> tuple[dict, list, list[str]]:
    namespace: dict = {"__name__": "__main__"}
    errors, notes = execute.run_cells(list(enumerate(sources, 1)), namespace, translate)
    return namespace, errors, notes


def test_magics_run_as_in_jupyter(capsys):
    namespace, errors, notes = run("get_ipython().run_line_magic('matplotlib', 'inline')\nimport math",
                                   "%time a = math.sqrt(4)\nb = %time math.sqrt(9)\nlen?\nhelp??",
                                   "%%time\nc = a + b\n%time d = c", "%timeit -n 1000 -r 7 -q e = d + 1",
                                   "%config InlineBackend.figure_format = 'retina'\n%load_ext autoreload\n"
                                   "%autoreload 2\nf = 1")
    assert errors == [] and notes == []
    assert (namespace["a"], namespace["b"], namespace["c"], namespace["d"], namespace["e"], namespace["f"]) == \
        (2.0, 3.0, 5.0, 5.0, 6.0, 1)
    assert capsys.readouterr().out.count("Wall time:") == 5


def test_timeit_runs_its_statement_once():
    namespace, errors, _ = run("n = []", "%timeit n.append(1)", "%timeit -n10 -r3 n.append(2)", "%%timeit\nn.append(3)")
    assert errors == [] and namespace["n"] == [1, 2, 3]


def test_shell_commands_are_skipped_with_a_note_and_the_cell_goes_on():
    namespace, errors, notes = run("x = 1", "!pip install tqdm\nfiles = !ls\n%pip install numpy\ny = 2",
                                   "%%bash\nrm -rf /", "%conda install x\n%run other.py\nz = 3")
    assert errors == [] and (namespace["y"], namespace["z"], namespace["files"]) == (2, 3, [])
    assert notes == ["cell 2: `!pip install tqdm` skipped: the grader runs no shell commands",
                     "cell 2: `!ls` skipped: the grader runs no shell commands",
                     "cell 2: `%pip install numpy` skipped: the grader runs no shell commands",
                     "cell 3: `%%bash` skipped: the grader runs no shell commands",
                     "cell 4: `%conda install x` skipped: the grader runs no shell commands",
                     "cell 4: `%run other.py` skipped: the grader does not run this magic command"]


def test_notes_are_capped():
    _, _, notes = run("\n".join(f"!echo {i}" for i in range(50)))
    assert len(notes) == execute.MAX_NOTES + 1 and notes[-1] == "... and 30 more skipped commands"


def test_notes_are_in_the_notebooks_language():
    messages.set_language("ko")
    try:
        _, _, notes = run("!pip install tqdm\n%run x.py\n" + "\n".join(f"!echo {i}" for i in range(30)),
                          translate=messages._)
    finally:
        messages.set_language("en")
    assert notes[0] == "셀 1: `!pip install tqdm` 건너뜀: 채점기는 셸 명령을 실행하지 않습니다"
    assert notes[1] == "셀 1: `%run x.py` 건너뜀: 채점기는 이 매직 명령을 실행하지 않습니다"
    assert notes[-1] == "... 건너뛴 명령이 12개 더 있습니다"


def test_display_works_without_an_import(capsys):
    _, errors, _ = run("display(41 + 1)\nimport IPython.display\nIPython.display.display('shown')")
    assert errors == [] and capsys.readouterr().out.split() == ["42", "shown"]


def test_source_is_registered_like_jupyters():
    namespace, errors, _ = run("import inspect\n\ndef double(x):\n    return 2 * x\n",
                               "text = inspect.getsource(double)\n1 / 0")
    assert namespace["text"] == "def double(x):\n    return 2 * x\n"
    assert errors[0]["error"] == "ZeroDivisionError: division by zero"
    assert inspect.getsourcefile(namespace["double"]).startswith("<ipython-input-")


def test_a_failing_cell_stops_at_the_failing_statement():
    namespace, errors, _ = run("a = 1\nraise ValueError('x' * 500)\nb = 2", "c = a")
    assert "b" not in namespace and namespace["c"] == 1
    assert errors == [{"cell": 1, "line": "a = 1", "error": "ValueError: " + "x" * 285 + "...", "consequence": False}]


def test_syntax_errors_say_their_line_and_unbound_names_are_consequences():
    _, errors, _ = run("\n\nimport math\ndef f(x):\n    return math.sin(x\nfrom os import path as p, sep",
                       "f(1)", "p", "sep", "g(1)", "exit()")
    assert errors[0] == {"cell": 1, "line": "import math", "error": "SyntaxError: '(' was never closed (line 5)",
                         "consequence": False}
    assert [e["consequence"] for e in errors[1:]] == [True, True, True, False, False]
    assert errors[-1]["error"] == "SystemExit"


def test_bound_names_of_cells_python_cannot_parse():
    assert execute.bound_names("import a.b as c, d\nfrom x import (p, q as r)\nx: int = 3\ny == 2\ndef (\n"
                               "class K:\n    z = 1\n") == {"c", "d", "p", "r", "x", "K"}


def test_annotations_are_evaluated_as_in_jupyter():
    """No ``from __future__ import annotations`` leaks from the grader's modules into the cells."""
    namespace, errors, _ = run("def f(x: Callable) -> int:\n    return x", "from typing import Callable\ny: int = 1\n"
                               "def g(x: Callable) -> int:\n    return x")
    assert errors[0]["error"] == "NameError: name 'Callable' is not defined" and "f" not in namespace
    assert namespace["g"].__annotations__["x"] is namespace["Callable"] and namespace["__annotations__"] == {"y": int}


def test_a_magic_does_not_make_every_demonstration_run():
    import hashlib

    from course import cells
    demo = "plt.plot([1, 2])\nplt.show()"
    notebook = [(0, "%matplotlib inline\nimport matplotlib.pyplot as plt"), (1, demo), (2, "x = 1\nx?")]
    skip = {hashlib.sha256(demo.encode()).hexdigest()}
    assert cells.runnable(notebook, skip, execute.as_python) == [notebook[0], notebook[2]]
    assert cells.runnable(notebook, skip) == notebook  # read as plain Python, the magics do not parse


def test_an_exception_that_cannot_describe_itself_is_still_reported():
    _, errors, _ = run("class Odd(Exception):\n    def __str__(self):\n        raise RuntimeError\n\n"
                       "    def __eq__(self, other):\n        raise RuntimeError\n\nraise Odd(1)",
                       "class Named(NameError):\n    name = property(lambda self: 1 / 0)\n\nraise Named('x')")
    assert [e["error"] for e in errors] == ["Odd: ?", "Named: x"]


def test_writefile_writes_and_the_file_imports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace, errors, _ = run("%%writefile helper_for_test.py\nVALUE = 41\n",
                               "%%writefile -a helper_for_test.py\nVALUE += 1\n",
                               "import helper_for_test\nvalue = helper_for_test.VALUE")
    assert errors == [] and namespace["value"] == 42
