"""Questions as data: what each question grades, with which inputs, worth how many points.

An assignment's ``solutions/<name>/questions.py`` defines ``QUESTIONS``, a list of
``Question``s.  A question carries its points (set by the instructor, by importance and
difficulty) and its ``Case``s, one concept each; a case's share of the points is its
``weight``.  A case makes one or more ``Call``s to student functions; its expected value is
what the reference solution returns on the same calls (an optional ``expected`` states the
lecture notes' true value, and the build fails if the reference disagrees with it).

``compile_plan`` turns the questions into the grading plan: plain JSON (``Plan``) that
the otter test files and the hardened grader both read.  Inputs are plain data or seeded
``randn``/``randint`` descriptions; functions passed as inputs ("fixtures") travel as their
source code.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

import torch

from calc4ml_runtime import checks, values
from calc4ml_runtime.calls import load_fixtures, run_case
from calc4ml_runtime.plan import CallSpec, CaseSpec, Plan


@dataclass(frozen=True)
class Random:
    """A seeded random tensor, described rather than stored: ``randn(0, 300_000)``."""

    kind: str
    seed: int
    shape: tuple[int, ...]
    high: int = 0

    def spec(self) -> dict[str, Any]:
        """The plain-data description a grader draws the same tensor from (``calls.materialize``)."""
        if self.kind == "randn":
            return {"randn": self.seed, "shape": list(self.shape), "dtype": "float64"}
        return {"randint": self.seed, "shape": list(self.shape), "high": self.high}


def randn(seed: int, *shape: int) -> Random:
    return Random("randn", seed, shape)


def randint(seed: int, high: int, *shape: int) -> Random:
    return Random("randint", seed, shape, high)


class Call:
    """``Call("vjp", f, x, v)``: one call of a student function."""

    def __init__(self, fn: str, *args: Any, **kwargs: Any):
        self.fn, self.args, self.kwargs = fn, args, kwargs


@dataclass
class Case:
    """One concept a question checks.

    - ``label``: what is checked, in the student's words; unique within its question, shown in
      feedback (and translated: it is a catalogue message).
    - ``calls``: the student calls it makes, usually one (given alone or as a list; ``call_list``).
    - ``weight``: its share of the question's points (default 1).
    - ``public``: students run it with ``grader.check``; the rest are hidden until grading.
    - ``tol``: a key of ``checks.TOLERANCES``.
    - ``expected``: the lecture notes' true value; the build fails if the reference disagrees.
      Students are always compared with the reference's value.
    - ``post``: a module-level fixture ``(outputs, inputs) -> value`` compared instead of the
      raw outputs (identities such as the adjoint test, or a sketch of a huge vector).
    """

    label: str
    calls: Call | list[Call]
    weight: float = 1
    public: bool = False
    tol: str = "exact"
    expected: Any = None
    post: Callable[[list[Any], list[Any]], Any] | None = None

    def __post_init__(self) -> None:
        if self.tol not in checks.TOLERANCES:
            raise ValueError(f"{self.label}: unknown tolerance {self.tol!r}")

    @property
    def call_list(self) -> list[Call]:
        return [self.calls] if isinstance(self.calls, Call) else self.calls


@dataclass
class Question:
    """A graded question.

    - ``points``: what the question is worth; its cases share them by weight, in quarters.
    - ``forbid``: APIs (qualified names, or the groups in ``runtime``) its functions must not
      call, with ``because`` completing "<function> must not ...".
    - ``outputs``: names of a tuple result's parts, so that messages say "the second returned
      value, grad_b" rather than an index.
    """

    name: str
    title: str
    points: float
    cases: list[Case] = field(default_factory=list)
    forbid: tuple[str, ...] = ()
    because: str = "call it"
    outputs: tuple[str, ...] = ()

    @property
    def functions(self) -> list[str]:
        return sorted({call.fn for c in self.cases for call in c.call_list})

    def case_points(self) -> list[float]:
        """Each case's points: the question's points shared by weight, in quarter points."""
        total = sum(Fraction(c.weight) for c in self.cases)
        shares = [Fraction(self.points) * Fraction(c.weight) / total for c in self.cases]
        if any((4 * share).denominator != 1 for share in shares):
            raise PlanError(f"{self.name}: {self.points} points do not split into quarter points by the weights "
                            f"{[c.weight for c in self.cases]}; change the points or the weights")
        return [float(share) for share in shares]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "case"


class PlanError(ValueError):
    """The questions are inconsistent: the build stops with this message."""


def compile_plan(assignment: str, questions: list[Question], reference: Any) -> Plan:
    """Grade the reference on every case and return the plan (plain JSON data)."""
    found: dict[str, Callable[..., Any]] = {}
    functions = {name: getattr(reference, name) for q in questions for name in q.functions}
    described: list[tuple[Question, Case, str, float, list[CallSpec]]] = []
    for q in questions:
        ids: set[str] = set()
        for case, points in zip(q.cases, q.case_points()):
            case_id = slug(case.label)
            if case_id in ids:
                raise PlanError(f"{q.name}: two cases are labelled {case.label!r}")
            ids.add(case_id)
            if case.post is not None:
                _add_fixture(case.post, found)
            calls = [_call_spec(c, q, functions[c.fn], found) for c in case.call_list]
            described.append((q, case, case_id, points, calls))
    # Fixtures run from their source alone (torch and math in scope), as in the student's world.
    sources = {name: textwrap.dedent(inspect.getsource(fn)) for name, fn in sorted(found.items())}
    fixtures = load_fixtures(sources)

    cases_by_question: dict[str, list[CaseSpec]] = {q.name: [] for q in questions}
    for q, case, case_id, points, calls in described:
        post = case.post.__name__ if case.post is not None else None
        value = evaluate(calls, post, functions, fixtures)
        if case.expected is not None:
            try:
                checks.check(value, case.expected, "documented")
            except checks.CheckFailure as e:
                raise PlanError(f"{q.name} {case.label!r}: the reference disagrees with the documented value: {e}")
        cases_by_question[q.name].append({
            "id": case_id, "label": case.label, "points": points,
            "hidden": not case.public, "tol": case.tol, "calls": calls,
            "post": post, "expected": values.plain(value),
        })
    return {
        "assignment": assignment,
        "fixtures": sources,
        "questions": [{"name": q.name, "title": q.title, "points": q.points, "functions": q.functions,
                       "outputs": list(q.outputs), "cases": cases_by_question[q.name]}
                      for q in questions],
    }


def evaluate(calls: list[CallSpec], post: str | None, functions: dict[str, Any], fixtures: dict[str, Any]) -> Any:
    """Run a case's calls with the reference: the value that the students' is compared with."""
    return checks.compared_value(calls, post, run_case(functions, calls, fixtures), fixtures)


def _call_spec(call: Call, q: Question, reference_fn: Callable[..., Any], fixtures: dict[str, Any]) -> CallSpec:
    spec: CallSpec = {
        "fn": call.fn, "args": [_arg_spec(a, fixtures) for a in call.args],
        "kwargs": {k: _arg_spec(v, fixtures) for k, v in call.kwargs.items()},
        "params": list(inspect.signature(reference_fn).parameters),
    }
    if q.forbid:
        spec["forbid"], spec["because"] = list(q.forbid), q.because
    return spec


def _arg_spec(arg: Any, fixtures: dict[str, Any]) -> Any:
    """An argument as plain data; a function passed as an argument becomes a fixture."""
    if isinstance(arg, Random):
        return arg.spec()
    if isinstance(arg, torch.Tensor):
        return values.plain(arg)
    if isinstance(arg, (tuple, list)):
        return {type(arg).__name__: [_arg_spec(a, fixtures) for a in arg]}
    if callable(arg):
        _add_fixture(arg, fixtures)
        return {"fn": arg.__name__}
    if isinstance(arg, (bool, int, float, str)) or arg is None:
        return arg
    raise PlanError(f"cannot describe an argument of type {type(arg).__name__}")


def _add_fixture(fn: Callable[..., Any], fixtures: dict[str, Any]) -> None:
    name = fn.__name__
    if name == "<lambda>" or "." in fn.__qualname__:
        raise PlanError(f"fixture {fn.__qualname__} must be a module-level def (its source is shipped)")
    if fixtures.setdefault(name, fn) is not fn:
        raise PlanError(f"two different fixtures are named {name}")
