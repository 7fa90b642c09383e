"""hw01_derivatives: the reference against autograd and the notes, and realistic bugs graded for real."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.grading import Bug, assert_bugs_lose_exactly, source_of
from tests.strategies import float64_vectors, moderate_floats

ASSIGNMENT = "hw01_derivatives"
ref = source_of(ASSIGNMENT).module("reference")


def autograd_derivative(f, x):
    x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(f(x), x)
    return float(g)


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
@given(st.integers(1, 5), st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_softmax_cross_entropy_grad_matches_autograd(n, c, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=torch.float64) * 10
    target = torch.randint(c, (n,), generator=g)
    leaf = logits.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(torch.nn.functional.cross_entropy(leaf, target), leaf)
    torch.testing.assert_close(ref.softmax_cross_entropy_grad(logits, target), expected)


def test_linear_model_and_mse_match_the_notes():
    assert ref.linear_model_grads(2.0, 1.0, 3.0, 10.0) == (-18.0, -6.0)
    assert ref.mse_grad(torch.tensor([2.5]), torch.tensor([3.0])).item() == -1.0


BUGS = [
    Bug("central difference in numerical_derivative", "numerical_derivative",
        "def numerical_derivative(f, x, h=1e-5):\n    return float((f(x + h) - f(x - h)) / (2 * h))\n", {"q1": 0}),
    Bug("step h ignored", "numerical_derivative",
        "def numerical_derivative(f, x, h=1e-5):\n    return float((f(x + 1e-5) - f(x)) / 1e-5)\n", {"q1": 3}),
    Bug("chain rule without the factor 2", "linear_model_grads",
        "def linear_model_grads(w, b, x, y):\n    r = w * x + b - y\n    return float(r * x), float(r)\n", {"q6": 0}),
    Bug("absolute instead of relative error", "gradient_check",
        "def gradient_check(f, x, h=1e-6):\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    (a,) = torch.autograd.grad(f(leaf), leaf)\n"
        "    n = torch.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in torch.eye(len(x), dtype=x.dtype)])\n"
        "    return float((a - n).abs().max())\n", {"q8": 2}),
    Bug("forward difference in central_difference", "central_difference",
        "def central_difference(f, x, h=1e-5):\n    return float((f(x + h) - f(x)) / h)\n", {"q2": 0}),
    Bug("ReLU' of 1 at zero", "relu_grad",
        "def relu_grad(x):\n    return (x >= 0).to(x.dtype)\n", {"q3": 1}),
    Bug("sigmoid' as s * (1 - s)", "sigmoid_grad",
        "def sigmoid_grad(x):\n    s = torch.sigmoid(x)\n    return s * (1 - s)\n", {"q4": 3}),
    Bug("MSE gradient without the mean", "mse_grad",
        "def mse_grad(y_pred, y_true):\n    return 2 * (y_pred - y_true)\n", {"q5": 1}),
    Bug("cross-entropy gradient not divided by the batch", "softmax_cross_entropy_grad",
        "def softmax_cross_entropy_grad(logits, target):\n"
        "    onehot = torch.nn.functional.one_hot(target, logits.shape[1]).to(logits.dtype)\n"
        "    return torch.softmax(logits, dim=1) - onehot\n", {"q7": 2}),
]


@pytest.mark.slow
def test_realistic_bugs_lose_points_on_their_question_only():
    assert_bugs_lose_exactly(ASSIGNMENT, BUGS)
