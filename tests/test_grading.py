"""Every assignment's reference, untouched stub, realistic bugs and other correct solutions
(solutions/*/bugs.py), graded for real by the hardened grader, all of them through one warm
pool of workers (the batch's own ``Slots`` and ``grade_one``): the reference gets full marks,
the stub 0, a bug loses exactly the points of the cases it names (and keeps every other case),
another correct solution keeps full marks; and the otter test files' judge (the same runtime and
checks, in process) agrees on every score.  Every bug's source is checked quickly first: it
compiles, defines what it replaces with the reference's signature, and names cases the plan has."""

from __future__ import annotations

import ast
import inspect
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
from tests.grading import (ASSIGNMENTS, autograder_zip, bugs_of, expected_scores, make_submission, plan_of,
                           question_points, source_of)

pytestmark = pytest.mark.xdist_group("bugs")

REFERENCE, UNTOUCHED = Bug("the reference", "", {}), Bug("the untouched stub", "", {})
VARIANTS = [(name, kind, variant) for name in ASSIGNMENTS
            for kind, variants in zip(("bug", "alternative"), bugs_of(name)) for variant in variants]


def key(variant) -> tuple:
    return variant.name, variant.function


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
                    make_submission(name, variant.answers, root, label, variant.cells)
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
    full, expected = question_points(name), expected_scores(name, variant)
    if kind == "bug":
        assert expected != full, f"{variant.name} loses nothing"
    else:
        assert not variant.fails, f"{variant.name}: another correct solution keeps full marks"
    assert graded[name][key(variant)] == expected


@pytest.mark.parametrize("name, kind, variant", VARIANTS, ids=[f"{n}-{v.name}" for n, _, v in VARIANTS])
def test_the_otter_tests_judge_each_variant_alike(graded, name, kind, variant):
    """The same runtime and checks, in process as the otter test files run them, on the
    questions that call the replaced function (the others keep full marks, checked above)."""
    plan = plan_of(name)
    touched = {**plan, "questions": [q for q in plan["questions"] if set(variant.answers) & set(q["functions"])]}
    in_process = samples.score_in_process(touched, samples.functions_with(source_of(name).module("reference"),
                                                                          variant.answers, variant.cells))
    assert in_process == {q: graded[name][key(variant)][q] for q in in_process}


@pytest.mark.parametrize("name, kind, variant", VARIANTS, ids=[f"{n}-{v.name}" for n, _, v in VARIANTS])
def test_each_variant_is_code_that_replaces_what_it_names(name, kind, variant):
    """Fast, before any grading: each source handed in compiles, defines the function (or class)
    it replaces, with the reference's parameters (a function may add parameters with defaults),
    and every case it names is in the plan."""
    reference = source_of(name).module("reference")
    plan = plan_of(name)
    for replaced, source in variant.answers.items():
        assert samples.defined_name(source) == replaced, f"{variant.name}: the cell must define {replaced}"
        mine = samples.functions_with(reference, {replaced: source})[replaced]
        theirs = samples.functions_with(reference, {})[replaced]  # annotations read alike
        if inspect.isclass(theirs):
            assert inspect.isclass(mine), f"{variant.name}: {replaced} must be a class"
            continue
        ours, wanted = list(inspect.signature(mine).parameters.values()), list(inspect.signature(theirs).parameters.values())
        assert ours[:len(wanted)] == wanted, f"{variant.name}: {replaced}'s parameters differ from the reference's"
        assert all(p.default is not p.empty for p in ours[len(wanted):]), f"{variant.name}: an added parameter needs a default"
    for cell in variant.cells:
        ast.parse(cell)
    failed = samples.failed_case_ids(variant, plan)  # raises on a case the plan lacks
    assert bool(failed) == (kind == "bug")
    assert len(set(variant.fails)) == len(variant.fails), f"{variant.name} names a case twice"
