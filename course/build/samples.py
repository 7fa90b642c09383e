"""Make submissions from a student notebook: answer cells replaced by given function sources.

Used by the tests (the reference, realistic bugs, attacks) and to generate the bundled
sample submissions under examples/.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence, TypeVar

import nbformat

from calc4ml_runtime.plan import Plan

ANSWER_TAG = "otter_answer_cell"


@dataclass(frozen=True, eq=False)
class Bug:
    """A realistic wrong answer, kept in ``solutions/<name>/bugs.py`` beside the reference:
    ``answers`` (student function or class -> source handed in for it, ``function`` first) and
    ``cells`` (extra code cells) fail exactly the cases ``fails`` names, each
    ``"<question>/<case id>"`` of the plan or ``"<question>"`` for all of its cases, and keep
    every other case.  With ``fails`` empty it is another correct solution."""

    name: str
    function: str
    answers: dict[str, str]
    fails: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        """What the student hands in for ``function``."""
        return self.answers[self.function]


def failed_case_ids(variant: Bug, plan: Plan) -> set[str]:
    """``"<question>/<case id>"`` of every case ``variant`` fails; a name the plan lacks is an error."""
    cases = {q["name"]: [f"{q['name']}/{c['id']}" for c in q["cases"]] for q in plan["questions"]}
    failed: set[str] = set()
    for entry in variant.fails:
        question = entry.split("/")[0]
        named = cases.get(question, []) if entry == question else [entry] if entry in cases.get(question, ()) else []
        if not named:
            raise ValueError(f"{variant.name}: no case {entry!r} in the plan of {plan['assignment']}")
        failed.update(named)
    return failed


def expected_scores(variant: Bug, plan: Plan) -> dict[str, float]:
    """Points per question ``variant`` must score: full marks minus the points of the cases it fails
    (a case gives all of its points or none)."""
    failed = failed_case_ids(variant, plan)
    return {q["name"]: float(sum(c["points"] for c in q["cases"] if f"{q['name']}/{c['id']}" not in failed))
            for q in plan["questions"]}


AnswerT = TypeVar("AnswerT", bound=Callable[..., Any] | type)
_IGNORE = re.compile(r"  # type: ignore\[[a-z0-9-, ]+\]$")


def _definition(obj: Callable[..., Any] | type) -> tuple[ast.FunctionDef | ast.ClassDef, list[str]]:
    """The syntax tree of a function or class of a module, and its dedented source lines."""
    text = textwrap.dedent(inspect.getsource(obj))
    node = ast.parse(text).body[0]
    if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        raise TypeError(f"{obj!r} is not a function or a class")
    return node, text.splitlines()


def _span(node: ast.stmt) -> slice:
    """The lines of a definition, its decorators included (0-based slice)."""
    decorators = getattr(node, "decorator_list", [])
    return slice(min([node.lineno] + [d.lineno for d in decorators]) - 1, node.end_lineno)


def _declared(fn: Callable[..., Any] | type, replaces: str) -> str:
    """The source of ``fn`` as the student hands it in: without its decorators or type-checker
    comments, renamed ``replaces``.  A class that subclasses ``replaces`` (the reference's) is
    the reference's class with the methods the subclass defines put in their place: one method
    changed in a whole class, as a student hands in the class's cell."""
    node, lines = _definition(fn)
    own = [_IGNORE.sub("", line) for line in lines]
    base = next((b for b in getattr(fn, "__bases__", ()) if b.__name__ == replaces), None)
    if base is None:
        keyword = "class" if isinstance(node, ast.ClassDef) else "def"
        first = node.lineno - 1
        head = f"{keyword} {fn.__name__}"
        if not own[first].startswith(head):
            raise ValueError(f"{fn.__name__}: the declaration must start its line")
        return "\n".join([f"{keyword} {replaces}" + own[first][len(head):]] + own[first + 1:]) + "\n"
    methods = {m.name: m for m in node.body if isinstance(m, ast.FunctionDef)}
    base_node, merged = _definition(base)
    spans = {m.name: _span(m) for m in base_node.body if isinstance(m, ast.FunctionDef)}
    if set(methods) - set(spans):
        raise ValueError(f"{fn.__name__}: {replaces} has no method {sorted(set(methods) - set(spans))}")
    for name, span in sorted(spans.items(), key=lambda item: -item[1].start):  # bottom up: lines keep their numbers
        if name in methods:
            merged[span] = own[_span(methods[name])]
    return "\n".join(merged) + "\n"


def bug(name: str, replaces: str, fails: tuple[str, ...], also: tuple[tuple[str, Callable[..., Any]], ...] = (),
        cells: tuple[str, ...] = ()) -> Callable[[AnswerT], AnswerT]:
    """Mark a function (or a class) of ``bugs.py`` as a realistic wrong answer for the student's
    ``replaces``, failing exactly the cases ``fails`` names; ``also`` replaces more student
    functions in the same submission, ``cells`` adds code cells."""
    if not fails:
        raise ValueError(f"{name}: a bug fails at least one case (or is an alternative)")
    return _variant(name, replaces, fails, also, cells)


def alternative(name: str, replaces: str) -> Callable[[AnswerT], AnswerT]:
    """Mark a function (or a class) of ``bugs.py`` as another correct answer for ``replaces``."""
    return _variant(name, replaces, (), (), ())


def _variant(name: str, replaces: str, fails: tuple[str, ...], also: tuple[tuple[str, Callable[..., Any]], ...],
             cells: tuple[str, ...]) -> Callable[[AnswerT], AnswerT]:
    def mark(fn: AnswerT) -> AnswerT:
        answers = {replaces: _declared(fn, replaces), **{other: _declared(f, other) for other, f in also}}
        fn.__bug__ = Bug(name, replaces, answers, tuple(fails), tuple(cells))  # type: ignore[union-attr]
        return fn
    return mark


def variants(module: ModuleType) -> tuple[list[Bug], list[Bug]]:
    """(bugs, other correct answers) marked in a ``bugs.py`` module, in the order they are written."""
    found = [v.__bug__ for v in vars(module).values() if isinstance(getattr(v, "__bug__", None), Bug)]
    return [b for b in found if b.fails], [b for b in found if not b.fails]


def defined_name(source: str) -> str | None:
    """The name of the first function or class a cell defines."""
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            return node.name
    return None


def fill(student: Path | nbformat.NotebookNode, answers: dict[str, str],
         extra_cells: Sequence[str] = ()) -> nbformat.NotebookNode:
    """A copy of the student notebook with each stub whose function is in ``answers`` replaced.

    ``extra_cells`` are appended as code cells (for hostile submissions).
    """
    nb = nbformat.read(student, as_version=4) if isinstance(student, Path) else nbformat.from_dict(student)
    for cell in nb.cells:
        if ANSWER_TAG in cell.get("metadata", {}).get("tags", []):
            name = defined_name(cell.source)
            if name in answers:
                cell.source = answers[name]
    for source in extra_cells:
        nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


def reference_answers(reference_module: ModuleType) -> dict[str, str]:
    """Every public function and class of a reference module, as source text."""
    return {name: textwrap.dedent(inspect.getsource(fn))
            for name, fn in vars(reference_module).items()
            if (inspect.isfunction(fn) or inspect.isclass(fn)) and fn.__module__ == reference_module.__name__
            and not name.startswith("_")}


def dumps(nb: nbformat.NotebookNode) -> str:
    """Deterministic text: cell ids numbered, as the build numbers them."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:03d}"
    return nbformat.writes(nb) + "\n"


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(nb))
    return path


def functions_with(reference_module: ModuleType, replaced: dict[str, str], cells: Sequence[str] = ()) -> dict[str, Any]:
    """The reference's functions with some replaced by source text, then ``cells`` run, as a
    notebook defines them."""
    import math

    import torch
    namespace: dict = {"__name__": "__main__", "math": math, "torch": torch}
    exec(compile(inspect.getsource(reference_module), inspect.getfile(reference_module), "exec"), namespace)
    for source in [*replaced.values(), *cells]:
        exec(source, namespace)
    return namespace


def score_in_process(plan: Plan, functions: dict[str, Any]) -> dict[str, float]:
    """Points per question, judged here without a sandbox or otter: a quick check for authors
    (the tests grade the same variants for real with both graders)."""
    import torch

    from calc4ml_runtime import guards
    from calc4ml_runtime.calls import CallFailed, load_fixtures, run_case
    from calc4ml_runtime import checks
    from calc4ml_runtime.plan import all_cases, forbidden_apis

    guards.install_guards(forbidden_apis(all_cases(plan)))
    fixtures = load_fixtures(plan["fixtures"])
    scores: dict[str, float] = {}
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # as every notebook of the course sets it
    try:
        for q in plan["questions"]:
            scores[q["name"]] = 0.0
            for case in q["cases"]:
                try:
                    outputs = run_case(functions, case["calls"], fixtures)
                    checks.judge(case, outputs, fixtures, tuple(q["outputs"]))
                    scores[q["name"]] += case["points"]
                except (CallFailed, checks.CheckFailure):
                    pass
    finally:
        torch.set_default_dtype(dtype)
    return scores
