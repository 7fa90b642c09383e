"""The plan's shape: what ``course build`` writes into ``plan.json`` and every test file,
described once.  Plain JSON on the wire (no pickle, no student object); these types cost
nothing at run time and let the type checker catch ``case["hiden"]``."""

from __future__ import annotations

from typing import Any, TypedDict


class CallSpec(TypedDict, total=False):
    fn: str  # the student function to call
    args: list  # plain-data argument descriptions (see ``materialize``)
    kwargs: dict
    params: list[str]  # the reference's parameter names, for messages
    forbid: list[str]  # APIs the function must not call
    because: str  # "<fn> must not <because>: it called <api>"


class CaseSpec(TypedDict):
    id: str
    label: str
    points: float
    hidden: bool
    tol: str  # a key of checks.TOLERANCES
    calls: list[CallSpec]
    post: str | None  # a fixture (outputs, inputs) -> value, compared instead of the outputs
    expected: Any  # plain data


class QuestionSpec(TypedDict):
    name: str
    title: str
    points: float
    functions: list[str]
    outputs: list[str]  # names of a tuple result's parts
    cases: list[CaseSpec]


class Plan(TypedDict):
    assignment: str
    fixtures: dict[str, str]  # name -> source of a function passed as an input
    questions: list[QuestionSpec]
