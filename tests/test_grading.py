"""Every assignment's reference, untouched stub, realistic bugs and other correct solutions
(solutions/*/bugs.py), graded for real by the hardened grader, all of them through one warm
pool of workers (the batch's own ``Slots`` and ``grade_one``): the reference gets full marks,
the stub 0, a bug loses exactly the points its entry states, on its own question only, another
correct solution keeps full marks; and the otter test files' judge (the same runtime and checks,
in process) agrees on every score."""

from __future__ import annotations

import functools
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from course.build import samples
from calc4ml_runtime.plan import all_cases, forbidden_apis
from course.grade.batch import grade_one, load_plan, Slots
from course.grade.pool import Limits
from course.build.samples import Bug
from course.build.spec import slug
from course.grade.submissions import collect
from tests.grading import ASSIGNMENTS, autograder_zip, bugs_of, make_submission, question_points, source_of

pytestmark = pytest.mark.xdist_group("bugs")

REFERENCE, UNTOUCHED = Bug("the reference", "", "", {}), Bug("the untouched stub", "", "", {})
VARIANTS = [(name, kind, variant) for name in ASSIGNMENTS
            for kind, variants in zip(("bug", "alternative"), bugs_of(name)) for variant in variants]


def key(variant) -> tuple:
    return variant.name, variant.function


@functools.cache
def plan_of(name: str) -> dict:
    return source_of(name).plan()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Per assignment: scores per question of each variant."""
    plans = {name: load_plan(autograder_zip(name)) for name in ASSIGNMENTS}
    scratch = Path(tempfile.mkdtemp(prefix="course-tests-"))
    slots = Slots(2, scratch, forbidden_apis(case for plan, _ in plans.values() for case in all_cases(plan)))
    slots.warm_up()
    jobs = []
    with ThreadPoolExecutor(2) as pool:
        for name in ASSIGNMENTS:
            root = tmp_path_factory.mktemp(name)
            labels = {slug(REFERENCE.name): REFERENCE, slug(UNTOUCHED.name): UNTOUCHED}
            make_submission(name, {}, root, slug(REFERENCE.name))
            make_submission(name, None, root, slug(UNTOUCHED.name))
            for kind, variants in zip(("bug", "alternative"), bugs_of(name)):
                for variant in variants:
                    label = slug(f"{kind} {variant.name}")
                    assert label not in labels, f"{name}: two variants named {variant.name!r}"
                    labels[label] = variant
                    make_submission(name, {variant.function: variant.source}, root, label)
            plan, digest = plans[name]
            for submission in collect(root):
                variant = labels[Path(submission.source).parts[0]]
                jobs.append((name, variant, pool.submit(grade_one, submission, plan, digest, Limits(), slots, [])))
        scores: dict[str, dict] = {name: {} for name in ASSIGNMENTS}
        for name, variant, job in jobs:
            scores[name][key(variant)] = job.result().question_scores()
    slots.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return scores


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_reference_gets_full_marks_and_the_stub_zero(graded, name):
    full = question_points(name)
    assert graded[name][key(REFERENCE)] == full
    assert graded[name][key(UNTOUCHED)] == {q: 0 for q in full}


@pytest.mark.parametrize("name, kind, variant", VARIANTS, ids=[f"{n}-{v.name}" for n, _, v in VARIANTS])
def test_each_variant_scores_exactly_what_it_states(graded, name, kind, variant):
    full = question_points(name)
    if kind == "bug":
        assert variant.expected, f"{variant.name}: say which question loses points"
        assert all(variant.expected[q] < full[q] for q in variant.expected), f"{variant.name} loses nothing"
    else:
        assert not variant.expected, f"{variant.name}: another correct solution keeps full marks"
    assert graded[name][key(variant)] == {**full, **variant.expected}


@pytest.mark.parametrize("name, kind, variant", VARIANTS, ids=[f"{n}-{v.name}" for n, _, v in VARIANTS])
def test_the_otter_tests_judge_each_variant_alike(graded, name, kind, variant):
    """The same runtime and checks, in process as the otter test files run them, on the
    questions that call the replaced function (the others keep full marks, checked above)."""
    plan = plan_of(name)
    touched = {**plan, "questions": [q for q in plan["questions"] if variant.function in q["functions"]]}
    in_process = samples.score_in_process(touched, samples.functions_with(source_of(name).module("reference"),
                                                                          {variant.function: variant.source}))
    assert in_process == {q: graded[name][key(variant)][q] for q in in_process}
