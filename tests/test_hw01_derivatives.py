"""hw01_derivatives: the reference against autograd and the notes, the numbers the prose claims,
and the realistic bugs and other correct answers of solutions/hw01_derivatives/bugs.py, scored in
process (the shared grading test grades them for real)."""

import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course.build import assemble as build
from tests.strategies import float64_vectors, moderate_floats, seeds, sizes

ROOT = Path(__file__).resolve().parents[1]
SOURCE = build.sources(ROOT, ["hw01_derivatives"])[0]
ref = SOURCE.module("reference")
questions = SOURCE.module("questions")
bugs = SOURCE.module("bugs")


def autograd_derivative(f, x):
    x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(f(x), x)
    return float(g)


# --- numerical_derivative and central_difference ---------------------------------------------

@given(moderate_floats)
def test_central_difference_matches_autograd(x):
    f = lambda t: torch.sin(t) * t ** 2 if isinstance(t, torch.Tensor) else math.sin(t) * t ** 2
    assert ref.central_difference(f, x) == pytest.approx(autograd_derivative(f, x), rel=1e-7, abs=1e-8)


def test_forward_difference_error_is_first_order():
    # Halving h halves the error of the forward difference (O(h)), quarters the central one's.
    f, exact = math.exp, math.e
    ratio_forward = (ref.numerical_derivative(f, 1.0, 1e-3) - exact) / (ref.numerical_derivative(f, 1.0, 5e-4) - exact)
    ratio_central = (ref.central_difference(f, 1.0, 1e-2) - exact) / (ref.central_difference(f, 1.0, 5e-3) - exact)
    assert ratio_forward == pytest.approx(2, rel=1e-2)
    assert ratio_central == pytest.approx(4, rel=1e-2)


def test_differences_accept_functions_returning_tensors():
    assert ref.numerical_derivative(questions.sine, 0.7) == pytest.approx(math.cos(0.7), rel=1e-5)
    assert ref.central_difference(questions.exp_minus_square, -1.3) == pytest.approx(
        2 * 1.3 * math.exp(-1.69), rel=1e-9)
    assert isinstance(ref.central_difference(questions.sine, 0.7), float)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
def test_finite_difference_fixtures_are_black_boxes_to_autograd():
    # Whatever route a student takes to autograd, these functions give it no graph.
    x = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    for f in (questions.square, questions.cubic, questions.sine, questions.exp_minus_square):
        value = f(x)
        assert not isinstance(value, torch.Tensor) or value.grad_fn is None, f.__name__


# --- activations and losses --------------------------------------------------------------------

@given(float64_vectors())
def test_relu_grad_matches_autograd(x):
    leaf = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(torch.relu(leaf).sum(), leaf)
    torch.testing.assert_close(ref.relu_grad(x), expected, rtol=0, atol=0)


@given(float64_vectors(bound=700.0))
def test_sigmoid_grad_has_full_relative_accuracy(x):
    # e^{-|x|} / (1 + e^{-|x|})^2 is exact in relative terms for every x; autograd's s(1 - s) is not.
    e = torch.exp(-x.abs())
    torch.testing.assert_close(ref.sigmoid_grad(x), e / (1 + e) ** 2, rtol=1e-13, atol=0)


@settings(max_examples=25)
@given(sizes, st.integers(2, 6), seeds)
def test_softmax_cross_entropy_grad_matches_autograd(n, c, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=torch.float64) * 10
    target = torch.randint(c, (n,), generator=g)
    leaf = logits.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(torch.nn.functional.cross_entropy(leaf, target), leaf)
    torch.testing.assert_close(ref.softmax_cross_entropy_grad(logits, target), expected)


@settings(max_examples=25)
@given(sizes, sizes, seeds)
def test_mse_grad_matches_autograd_for_any_shape(rows, cols, seed):
    g = torch.Generator().manual_seed(seed)
    y_pred, y_true = (torch.randn(rows, cols, generator=g, dtype=torch.float64) for _ in range(2))
    leaf = y_pred.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(torch.nn.functional.mse_loss(leaf, y_true), leaf)
    torch.testing.assert_close(ref.mse_grad(y_pred, y_true), expected)


@given(moderate_floats, moderate_floats, moderate_floats, moderate_floats)
def test_linear_model_grads_match_autograd(w, b, x, y):
    params = torch.tensor([w, b], dtype=torch.float64, requires_grad=True)
    ((params[0] * x + params[1] - y) ** 2).backward()
    assert ref.linear_model_grads(w, b, x, y) == pytest.approx(tuple(params.grad.tolist()), rel=1e-12, abs=1e-12)


# --- gradient_check ------------------------------------------------------------------------------

def test_gradient_check_tells_a_right_backward_from_a_wrong_one():
    x = questions.CHECKED_POINT
    assert ref.gradient_check(questions.sum_of_cubes, x) < 1e-6
    # autograd claims 2x = (3, -4, 1), the truth is 3x^2 = (6.75, 12, 0.75): worst entry 16 / 12.
    assert ref.gradient_check(questions.cube_with_wrong_backward, x) == pytest.approx(4 / 3, rel=1e-8)
    assert torch.equal(x, torch.tensor([1.5, -2.0, 0.5], dtype=torch.float64))


@settings(max_examples=25)
@given(sizes, seeds)
def test_gradient_check_finds_the_true_relative_error_of_a_drifting_backward(n, seed):
    x = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    # backward = sigmoid(x) (1 + x^2 / 10): relative error (x^2 / 10) / (1 + x^2 / 10) per entry.
    drift = x ** 2 / 10
    expected = float((drift / (1 + drift)).max())
    assert ref.gradient_check(questions.softplus_with_drifting_backward, x) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert ref.gradient_check(questions.softplus_energy, x) < 1e-6


def test_gradient_check_counts_an_ignored_coordinate_as_zero():
    error = ref.gradient_check(questions.cubes_without_the_second_coordinate, torch.tensor([1.5, 2.0, -0.5],
                                                                                           dtype=torch.float64))
    assert math.isfinite(error) and error < 1e-6


# --- the numbers the prose claims ---------------------------------------------------------------

def test_prose_numbers():
    # Section 1: x^2 at 3 with h = 1e-5 gives 6.00001.
    assert ref.numerical_derivative(lambda x: x ** 2, 3.0) == pytest.approx(6.00001, abs=1e-9)
    # Section 2: with h = 1e-5 the truncation errors are h/2 |f''| and about h^2/6 |f'''|; for sin
    # at 1 (the cell's printout) 4.2e-6 and 1.1e-11.
    forward = abs(ref.numerical_derivative(math.sin, 1.0) - math.cos(1.0))
    central = abs(ref.central_difference(math.sin, 1.0) - math.cos(1.0))
    assert forward == pytest.approx(5e-6 * math.sin(1.0), rel=1e-3)
    assert 5e-12 < central < 2e-11
    # "smallest near h = 1e-8 for the forward difference and 1e-5 for the central one"
    steps = [10.0 ** -k for k in range(1, 16)]
    errors_forward = [abs(ref.numerical_derivative(math.sin, 1.0, h) - math.cos(1.0)) for h in steps]
    errors_central = [abs(ref.central_difference(math.sin, 1.0, h) - math.cos(1.0)) for h in steps]
    assert steps[errors_forward.index(min(errors_forward))] == 1e-8
    assert steps[errors_central.index(min(errors_central))] == 1e-5
    # Section 3: 1 - sigmoid(40) is exactly 0 in float64, while sigmoid'(40) is about 4.2e-18.
    assert float(1 - torch.sigmoid(torch.tensor(40.0, dtype=torch.float64))) == 0.0
    assert float(ref.sigmoid_grad(torch.tensor([40.0], dtype=torch.float64))) == pytest.approx(4.2e-18, rel=0.02)
    assert float(ref.sigmoid_grad(torch.tensor([0.0], dtype=torch.float64))) == 0.25  # "at most 0.25, at 0"
    # Section 4: w = 2, b = 1, x = 3, y = 10: prediction 7, loss 9, gradients (-18, -6).
    assert 2 * 3 + 1 == 7 and (7 - 10) ** 2 == 9
    assert ref.linear_model_grads(2.0, 1.0, 3.0, 10.0) == (-18.0, -6.0)
    assert ref.mse_grad(torch.tensor([2.5]), torch.tensor([3.0])).item() == -1.0
    # The notes' misreadings: x + 1 raises x^2 by 7 at 3 (6h + h^2), not 6; w + 1 lowers the loss by
    # 9 (to 0), not 18; w + 0.01 lowers it by 0.1791, close to the slope's 0.18.
    assert 4.0 ** 2 - 3.0 ** 2 == 7 and (3.1 ** 2 - 3.0 ** 2) == pytest.approx(0.61)
    loss = lambda w: (w * 3.0 + 1.0 - 10.0) ** 2  # noqa: E731
    assert loss(2.0) - loss(3.0) == 9.0 and loss(2.0) - loss(2.01) == pytest.approx(0.1791, abs=1e-12)
