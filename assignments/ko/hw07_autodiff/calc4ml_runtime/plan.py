"""The plan's shape: what ``course build`` writes into ``plan.json`` and every test file,
described once.  Plain JSON on the wire (no pickle, no student object); these types cost
nothing at run time and let the type checker catch ``case["hiden"]`` or a key added to the plan
that nobody declared.  Also the one place that says which APIs a plan forbids
(``forbidden_apis``): the guards of otter's run, the hardened grader's workers and the build's
quick check must all be installed for the same set."""

from __future__ import annotations

from typing import Any, Iterable, NotRequired, TypedDict


class CallSpec(TypedDict):
    fn: str  # the student function to call
    args: list[Any]  # plain-data argument descriptions (see ``calls.materialize``)
    kwargs: NotRequired[dict[str, Any]]
    params: NotRequired[list[str]]  # the reference's parameter names, for messages
    forbid: NotRequired[list[str]]  # APIs the function must not call
    because: NotRequired[str]  # "<fn> must not <because>: it called <api>"


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


class Translation(TypedDict):
    """A translated edition's words for the feedback (``course.i18n.with_translations``)."""
    titles: dict[str, str]  # question name -> title
    labels: dict[str, str]  # "<question>/<case id>" -> label


class Plan(TypedDict):
    assignment: str
    fixtures: dict[str, str]  # name -> source of a function passed as an input
    questions: list[QuestionSpec]
    # Added by the build after ``compile_plan`` (``course.build.assemble.stable_plan``):
    # language -> its titles and labels (English, the plan's own, has none)
    translations: NotRequired[dict[str, Translation]]
    # sha256 (``course.cells.digest``) of each code cell the hardened grader may skip when a
    # student left it unchanged
    demonstrations: NotRequired[list[str]]


def forbidden_apis(cases: Iterable[CaseSpec]) -> list[str]:
    """The APIs the calls of ``cases`` forbid, sorted, each once: what the guards must be
    installed for before any student code runs (``guards.install_guards``)."""
    return sorted({api for case in cases for call in case["calls"] for api in call.get("forbid", ())})


def all_cases(plan: Plan) -> list[CaseSpec]:
    """Every case of the plan, question by question."""
    return [case for question in plan["questions"] for case in question["cases"]]
