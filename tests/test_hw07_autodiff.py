"""hw07_autodiff: the reference engine against torch.autograd, with autograd forbidden while it
runs; the syllabus's examples; the plan's documented values; the realistic bugs and the other
correct answers of solutions/hw07_autodiff/bugs.py scored in process (the shared grading test
grades them for real); and one independent correct notebook graded by `course grade`, the
Gradescope zip and `otter run`, next to the untouched notebook."""

import json
import math
import os
import subprocess
import sys
import zipfile
from functools import lru_cache
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from calc4ml_runtime import guards
from calc4ml_runtime.calls import materialize
from calc4ml_runtime import checks
from course.build import assemble as build, samples
from tests.grading import autograder_zip, course_grade, make_submission, otter_run, question_points
from tests.strategies import float64_matrices, seeds, sizes

ROOT = Path(__file__).resolve().parents[1]
NAME = "hw07_autodiff"
SOURCE = build.sources(ROOT, [NAME])[0]
ref = SOURCE.module("reference")
questions = SOURCE.module("questions")
BUGS, ALTERNATIVES = samples.variants(SOURCE.module("bugs"))
t = questions.t


@lru_cache(maxsize=None)
def plan():
    return SOURCE.plan()


def randn(seed, *shape):
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def engine(f, *xs):
    """The reference's grad as the grader calls it: every autograd API forbidden, grad mode off."""
    guards.install_guards(guards.AUTOGRAD_APIS)
    with guards.forbid(guards.AUTOGRAD_APIS, "no autograd"):
        assert not torch.is_grad_enabled()
        return ref.grad(f, *xs)


def assert_same(got, want, rtol=1e-12, atol=1e-12):
    value, grads = got
    want_value, want_grads = want
    assert math.isclose(value, want_value, rel_tol=rtol, abs_tol=atol)
    assert len(grads) == len(want_grads)
    for g, w in zip(grads, want_grads):
        assert g.shape == w.shape and g.dtype == torch.float64
        torch.testing.assert_close(g, w, rtol=rtol, atol=atol)


# --- the syllabus's examples ------------------------------------------------------------------

def test_the_syllabus_examples_with_autograd_forbidden():
    assert engine(questions.notes_cubic, 2.0) == (18.0, [t(21.0).reshape(())])
    assert engine(questions.notes_linear_model, 2.0, 1.0) == (9.0, [t(-18.0).reshape(()), t(-6.0).reshape(())])
    assert engine(questions.used_twice, 3.0) == (12.0, [t(7.0).reshape(())])
    assert engine(questions.square_diamond, 2.0) == (16.0, [t(16.0).reshape(())])
    value, (gx, gy) = engine(questions.exp_sigmoid_diamond, 1.0, 0.5)
    assert value == 2.2711806019019827
    assert math.isclose(gx.item(), 0.9418624914508613, rel_tol=1e-15)
    assert math.isclose(gy.item(), 1.8837249829017226, rel_tol=1e-15)
    value, (g,) = engine(questions.notes_mean_of_squares, t(1, 2, 3))
    assert math.isclose(value, 14 / 3, rel_tol=1e-15)
    torch.testing.assert_close(g, t(2 / 3, 4 / 3, 2), rtol=1e-15, atol=0)
    value, grads = engine(questions.notes_mlp, questions.MLP_W1, questions.MLP_B1, questions.MLP_W2, questions.MLP_B2)
    assert value == 6.25
    for got, want in zip(grads, (t(0, 0, 10, 20, 0, 0).reshape(3, 2), t(0, 10, 0), t(0, 7.5, 0).reshape(1, 3), t(5.0))):
        assert torch.equal(got, want)
    assert ref.log_softmax(t(1000, 1001, 1002).reshape(1, 3)).tolist() == [
        [-2.4076059644443806, -1.4076059644443804, -0.4076059644443804]]
    value, (g,) = engine(questions.cross_entropy_label_0, t(2, 1, 0.1).reshape(1, 3))
    assert math.isclose(value, 0.41703001627783354, rel_tol=1e-15)
    torch.testing.assert_close(g, t(-0.3409988611140321, 0.2424329707047139, 0.0985658904093182).reshape(1, 3),
                               rtol=1e-14, atol=1e-16)
    value, (g,) = engine(questions.cross_entropy_labels_0_2, t(2, 1, 0.1, 0.5, -1, 3).reshape(2, 3))
    assert math.isclose(value, 0.2563521728461079, rel_tol=1e-15)
    torch.testing.assert_close(g, t(-0.17049943055701605, 0.12121648535235695, 0.0492829452046591, 0.03729777856610721,
                                    0.008322259304636172, -0.04562003787074337).reshape(2, 3), rtol=1e-14, atol=1e-16)
    g = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)
    assert ref.unbroadcast(g, (3, 1)).tolist() == [[60], [92], [124]]
    assert ref.unbroadcast(g, ()).shape == () and ref.unbroadcast(g, ()).item() == 276
    assert torch.equal(ref.unbroadcast(g, (3, 4)), g.sum(dim=0))


def test_the_deep_chain_needs_no_recursion_and_is_linear():
    assert sys.getrecursionlimit() < 100_000
    value, (g,) = engine(questions.deep_chain, 1.0)
    assert value == g.item() == 2.718268237192295 == questions.CHAIN


def test_the_classic_mistakes_give_the_numbers_the_syllabus_names():
    # overwriting instead of accumulating: x*x + x gives 1 (the last write) or 3 (x*x's pair)
    functions = samples.functions_with(ref, {"Node": next(b for b in BUGS if "overwrites" in b.name).source})
    assert functions["grad"](questions.used_twice, 3.0)[1][0].item() in (1.0, 3.0)
    # pushing running totals counts the first path of the exp/sigmoid diamond twice
    functions = samples.functions_with(ref, {"Node": next(b for b in BUGS if "running total" in b.name).source})
    _, (gx, _) = functions["grad"](questions.exp_sigmoid_diamond, 1.0, 0.5)
    assert not math.isclose(gx.item(), 0.9418624914508613, rel_tol=1e-6)
    # the naive log-softmax is -inf at logits of 1000 (the naive softmax, inf / inf, is nan)
    naive = next(b for b in BUGS if b.function == "log_softmax")
    namespace = samples.functions_with(ref, {"log_softmax": naive.source})
    assert not torch.isfinite(namespace["log_softmax"](t(1000, 1001, 1002).reshape(1, 3))).any()
    z = t(1000, 1001, 1002)
    assert (z.exp() / z.exp().sum()).log().isnan().all()


# --- the engine against torch.autograd --------------------------------------------------------

def grad_cases():
    for q in questions.QUESTIONS:
        for case in q.cases:
            call = case.call_list[0]
            if call.fn == "grad" and case.post is None and call.args[0] is not questions.deep_chain:
                yield pytest.param(call.args[0], call.args[1:], id=f"{q.name}-{call.args[0].__name__}")


@pytest.mark.parametrize("f, xs", list(grad_cases()))
def test_every_grad_case_equals_autograd(f, xs):
    xs = [materialize(a.spec(), {}) if hasattr(a, "spec") else a for a in xs]
    assert_same(engine(f, *xs), questions.by_autograd(f, *xs), rtol=1e-11, atol=1e-12)


UNARY = ["exp", "log", "relu", "sigmoid", "tanh", "neg", "square", "sqrt", "inverse", "transpose"]
BINARY = ["add", "sub", "mul", "div", "rsub", "rdiv", "radd", "rmul"]


def expression(ops: list[tuple[str, int]]):
    """A seeded random expression of every operation, on same-shaped (n, n) inputs, shared nodes
    included: each step combines the running node with one of the inputs or an earlier node."""
    def f(a, b, c):
        nodes = [a, b, c]
        for name, k in ops:
            other = nodes[k % len(nodes)]
            x = nodes[-1]
            y = {"exp": lambda: (x * 0.3).exp(), "log": lambda: (x * x + 1).log(), "relu": lambda: x.relu(),
                 "sigmoid": lambda: x.sigmoid(), "tanh": lambda: x.tanh(), "neg": lambda: -x,
                 "square": lambda: x ** 2 / 4, "sqrt": lambda: (x * x + 1) ** 0.5, "inverse": lambda: 1 / (x * x + 1),
                 "transpose": lambda: x.T, "add": lambda: x + other, "sub": lambda: x - other,
                 "mul": lambda: x * other.tanh(), "div": lambda: x / (other * other + 1),
                 "rsub": lambda: 2 - x, "rdiv": lambda: 3 / (x * x + 2), "radd": lambda: 1.5 + x,
                 "rmul": lambda: 0.5 * x, "matmul": lambda: (x @ other) / 3}[name]()
            nodes.append(y)
        last = nodes[-1]
        return (last.log_softmax() * 0.1).sum() + (last @ a.T).mean() + last.cross_entropy(torch.tensor([0] * 3))
    return f


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(UNARY + BINARY + ["matmul"]), st.integers(0, 20)), min_size=1, max_size=12),
       seeds)
def test_random_expressions_of_every_operation_equal_autograd(ops, seed):
    xs = [randn(seed + i, 3, 3) for i in range(3)]
    f = expression(ops)
    assert_same(engine(f, *xs), questions.by_autograd(f, *xs), rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(float64_matrices(bound=3.0), sizes, st.integers(0, 5), seeds)
def test_broadcasting_gradients_are_unbroadcast_like_autograd(A, lead, which, seed):
    """Both operands of a broadcast product: gradients of their own shapes, autograd's values."""
    m, n = A.shape
    shape = [(), (n,), (1, n), (m, 1), (1, 1), (lead, 1, n)][which]
    b = randn(seed, *shape)

    def f(A, b):
        return ((A * b).tanh() + b).sum()
    got = engine(f, A, b)
    assert got[1][0].shape == A.shape and got[1][1].shape == b.shape
    assert_same(got, questions.by_autograd(f, A, b), rtol=1e-11, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(sizes, min_size=1, max_size=4), st.data(), seeds)
def test_unbroadcast_is_autograds_vjp_of_broadcasting(full, data, seed):
    kept = data.draw(st.integers(0, len(full)))
    shape = tuple(1 if data.draw(st.booleans()) else s for s in full[len(full) - kept:])
    g = randn(seed, *full)
    out = ref.unbroadcast(g, shape)
    assert tuple(out.shape) == shape
    assert math.isclose(out.sum().item(), g.sum().item(), rel_tol=1e-12, abs_tol=1e-12)
    x = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    (want,) = torch.autograd.grad((x.expand(*full) * g).sum(), x)
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(sizes, sizes, seeds, st.floats(0, 1000))
def test_log_softmax_is_torchs_and_finite_at_any_shift(N, C, seed, shift):
    z = randn(seed, N, C) * 5 + shift
    got = ref.log_softmax(z)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, torch.log_softmax(z, dim=1), rtol=1e-12, atol=1e-12)


def test_train_mlp_equals_autograd_descent_and_leaves_its_inputs():
    X, y, *params, lr, steps = questions.SPIRAL_RUN
    before = [p.clone() for p in params]
    guards.install_guards(guards.AUTOGRAD_APIS)
    with guards.forbid(guards.AUTOGRAD_APIS, "no autograd"):
        losses = ref.train_mlp(X, y, *params, lr, steps)
    want = questions.autograd_descent(X, y, *params, lr, steps)
    assert len(losses) == steps and all(type(v) is float for v in losses)
    assert max(abs(a - b) / b for a, b in zip(losses, want)) < 1e-10
    assert all(torch.equal(a, b) for a, b in zip(params, before))
    # the threshold of the hidden case, with margin; chance level is ln 3
    assert losses[0] > 1.0 and losses[-1] < 0.2 < 0.3
    assert math.isclose(math.log(3), 1.0986, rel_tol=1e-4)


def test_the_spiral_is_the_same_bits_on_every_machine():
    """Its points lie on a grid of 2^-20, so a last-bit difference of sin or cos changes nothing."""
    X, y = questions.spiral(40)
    assert torch.equal(X * 2 ** 20, torch.round(X * 2 ** 20)) and X.shape == (120, 2)
    assert y.tolist() == [0] * 40 + [1] * 40 + [2] * 40


def test_the_gradient_check_fixture_tells_a_wrong_gradient():
    W, V = randn(181, 4, 3) / 2, randn(182, 3, 5) / 2
    value, grads = engine(questions.matrix_loss, W, V)
    assert questions.gradient_check([(value, grads)], [[questions.matrix_loss, W, V]]) is True
    wrong = [grads[0] * 1.001, grads[1]]
    assert questions.gradient_check([(value, wrong)], [[questions.matrix_loss, W, V]]) is False


def test_a_tensor_that_requires_grad_gets_no_gradient_while_autograd_is_forbidden():
    """What a student who reaches for autograd inside grad meets: no graph is recorded, and
    backward itself is forbidden."""
    guards.install_guards(guards.AUTOGRAD_APIS)
    with guards.forbid(guards.AUTOGRAD_APIS, "grad must not use autograd"):
        x = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
        y = x ** 3
        assert not y.requires_grad
        with pytest.raises(guards.ForbiddenAPIError):
            torch.set_grad_enabled(True)
        with pytest.raises((guards.ForbiddenAPIError, RuntimeError)):
            y.backward()


# --- the plan, the bugs and the other correct answers ---------------------------------------

def test_plan_points_and_labels():
    questions_ = plan()["questions"]
    assert {q["name"]: q["points"] for q in questions_} == {"q1": 3, "q2": 3, "q3": 12, "q4": 6, "q5": 6, "q6": 7,
                                                            "q7": 8}
    # the deep chain is the last case that calls grad (a slow engine loses it and nothing else)
    grad_cases_ = [c for q in questions_ for c in q["cases"] if c["calls"][0]["fn"] == "grad"]
    assert "100,000 times" in grad_cases_[-1]["label"]
    for question in questions_:
        assert any(not c["hidden"] for c in question["cases"])
        for case in question["cases"]:
            assert case["calls"][0].get("forbid"), case["label"]
            if case["hidden"]:
                assert not __import__("re").search(r"\b(is|gives|equals)\s+[-\d(\[]", case["label"]), case["label"]


@pytest.mark.slow
def test_each_bug_loses_its_points_on_its_own_question_in_process():
    the_plan = plan()
    for variant in BUGS + ALTERNATIVES:
        scores = samples.score_in_process(the_plan, samples.functions_with(ref, variant.answers, variant.cells))
        assert scores == samples.expected_scores(variant, the_plan), variant.name


# --- one independent correct notebook, graded for real ---------------------------------------

def alternative_answers() -> dict[str, str]:
    return {b.function: b.source for b in ALTERNATIVES}


def gradescope_run(notebook: Path, root: Path) -> dict:
    with zipfile.ZipFile(autograder_zip(NAME)) as z:
        z.extractall(root / "source")
    os.chmod(root / "source" / "run_autograder", 0o755)
    (root / "submission").mkdir(parents=True)
    (root / "submission" / notebook.name).write_bytes(notebook.read_bytes())
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "COURSE_PYTHON": sys.executable}
    run = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


def test_an_independent_solution_gets_full_marks_with_every_grader_and_the_stub_zero(tmp_path):
    full = question_points(NAME)
    folder = tmp_path / "submissions"
    independent = make_submission(NAME, alternative_answers(), folder, "independent")
    make_submission(NAME, None, folder, "untouched")
    graded = course_grade(NAME, folder, tmp_path / "graded")
    assert graded["independent"].question_scores() == full
    assert graded["untouched"].question_scores() == {q: 0 for q in full}
    assert otter_run(NAME, independent) == full
    results = gradescope_run(independent, tmp_path / "gradescope")
    assert results["score"] == sum(full.values())
