"""Every realistic bug and every other correct solution of every assignment (solutions/*/bugs.py),
graded for real by `course grade` in one batch per assignment: a bug loses exactly the points
its entry states, on its own question only; another correct solution keeps full marks; and
the otter test files' judge (the same runtime and checks, in process) agrees on every score."""

from __future__ import annotations

import functools

import pytest

from course import samples
from course.spec import slug
from tests.grading import ASSIGNMENTS, bugs_of, course_grade, make_submission, question_points, source_of

pytestmark = pytest.mark.xdist_group("bugs")

VARIANTS = [(name, kind, variant) for name in ASSIGNMENTS
            for kind, variants in zip(("bug", "alternative"), bugs_of(name)) for variant in variants]


@functools.cache
def plan_of(name: str) -> dict:
    return source_of(name).plan()


def key(variant) -> tuple:
    return type(variant).__name__, variant.name, variant.function


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Per assignment: scores per question of each variant, from one `course grade` batch."""
    scores = {}
    for name in ASSIGNMENTS:
        root = tmp_path_factory.mktemp(name)
        labels = {}
        for kind, variants in zip(("bug", "alternative"), bugs_of(name)):
            for variant in variants:
                label = slug(f"{kind} {variant.name}")
                assert label not in labels, f"{name}: two variants named {variant.name!r}"
                labels[label] = variant
                make_submission(name, {variant.function: variant.source}, root / "in", label)
        results = course_grade(name, root / "in", root / "out")
        scores[name] = {key(labels[label]): r.question_scores() for label, r in results.items()}
    return scores


@pytest.mark.parametrize("name, kind, variant", VARIANTS, ids=[f"{n}-{v.name}" for n, _, v in VARIANTS])
def test_each_variant_scores_exactly_what_it_states(graded, name, kind, variant):
    full = question_points(name)
    if kind == "bug":
        assert variant.expected, f"{variant.name}: say which question loses points"
        assert all(variant.expected[q] < full[q] for q in variant.expected), f"{variant.name} loses nothing"
    expected = {**full, **variant.expected}
    assert graded[name][key(variant)] == expected


@pytest.mark.parametrize("name, kind, variant", VARIANTS, ids=[f"{n}-{v.name}" for n, _, v in VARIANTS])
def test_the_otter_tests_judge_each_variant_alike(graded, name, kind, variant):
    """The same runtime and checks, in process as the otter test files run them, on the
    questions that call the replaced function (the others keep full marks, checked above)."""
    source = source_of(name)
    plan = plan_of(name)
    touched = {**plan, "questions": [q for q in plan["questions"] if variant.function in q["functions"]]}
    in_process = samples.score_in_process(touched, samples.functions_with(source.module("reference"),
                                                                          {variant.function: variant.source}))
    assert in_process == {q: graded[name][key(variant)][q] for q in in_process}
