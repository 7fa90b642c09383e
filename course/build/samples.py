"""Make submissions from a student notebook: answer cells replaced by given function sources.

Used by the tests (the reference, realistic bugs, attacks) and to generate the bundled
sample submissions under examples/.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

import nbformat

from calc4ml_runtime.plan import Plan

ANSWER_TAG = "otter_answer_cell"


@dataclass(eq=False)
class Bug:
    """A realistic wrong answer, kept in ``solutions/<name>/bugs.py`` beside the reference:
    ``function`` replaced by ``source`` scores ``expected`` on the questions named there; every
    other question keeps full marks.  With ``expected`` empty it is another correct solution."""

    name: str
    function: str
    source: str
    expected: dict[str, float] = field(default_factory=dict)


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


def functions_with(reference_module: ModuleType, replaced: dict[str, str]) -> dict[str, Any]:
    """The reference's functions with some replaced by source text, as a notebook defines them."""
    import math

    import torch
    namespace: dict = {"__name__": "__main__", "math": math, "torch": torch}
    exec(compile(inspect.getsource(reference_module), inspect.getfile(reference_module), "exec"), namespace)
    for source in replaced.values():
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
