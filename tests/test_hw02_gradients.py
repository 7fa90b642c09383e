"""hw02_gradients: the reference against autograd, closed forms and the notes, and realistic bugs graded for real."""


import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.grading import Bug, assert_bugs_lose_exactly, grade_variants, question_points, source_of
from tests.strategies import float64_matrices, float64_vectors

ASSIGNMENT = "hw02_gradients"
ref = source_of(ASSIGNMENT).module("reference")


def autograd_gradient(f, x):
    leaf = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(leaf), leaf)
    return g


def wavy(x):
    return (torch.sin(x) * x ** 2).sum() + torch.logsumexp(x, dim=0)


@given(float64_vectors(bound=3.0))
def test_numerical_gradient_matches_autograd(x):
    torch.testing.assert_close(ref.numerical_gradient(wavy, x), autograd_gradient(wavy, x), rtol=1e-6, atol=1e-7)


def test_numerical_gradient_is_a_central_difference():
    # On sum(x^3) the central difference is 3x^2 + h^2 exactly; a forward one would be off by 3xh.
    x = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(ref.numerical_gradient(lambda v: (v ** 3).sum(), x, h=0.1), 3 * x ** 2 + 0.01)


def test_numerical_gradient_keeps_dtype_and_input():
    x = torch.tensor([1.5, -2.0], dtype=torch.float32)
    g = ref.numerical_gradient(lambda v: (v ** 2).sum(), x, h=0.5)
    assert g.dtype == torch.float32 and g.tolist() == [3.0, -4.0]
    assert x.tolist() == [1.5, -2.0]


def test_the_notes_gradient_examples():
    f = lambda v: v[0] ** 2 + 3 * v[0] * v[1] + v[1] ** 2
    torch.testing.assert_close(ref.numerical_gradient(f, torch.tensor([2.0, 3.0], dtype=torch.float64)),
                               torch.tensor([13.0, 12.0], dtype=torch.float64))
    bowl = lambda v: (v ** 2).sum()
    for point, norm in [((1, 0), 2.0), ((0, 1), 2.0), ((1, 1), 2.83), ((2, 1), 4.47)]:
        g = ref.numerical_gradient(bowl, torch.tensor(point, dtype=torch.float64))
        torch.testing.assert_close(g, 2 * torch.tensor(point, dtype=torch.float64))
        assert float(g.norm()) == pytest.approx(norm, abs=5e-3)
    saddle = lambda v: v[0] ** 2 - v[1] ** 2
    assert ref.numerical_gradient(saddle, torch.zeros(2, dtype=torch.float64)).tolist() == [0.0, 0.0]


def test_gradient_descent_on_a_shifted_square_has_the_true_numbers():
    grad = lambda x: 2 * (x - 3)
    x0 = torch.zeros(1, dtype=torch.float64)
    # lr 0.1: the error x - 3 shrinks by 1 - 2 * 0.1 = 0.8 per step, so x_t = 3 (1 - 0.8^t).
    path = ref.gradient_descent(grad, x0, 0.1, 20)
    assert path.shape == (21, 1)
    torch.testing.assert_close(path[:, 0], 3 * (1 - 0.8 ** torch.arange(21, dtype=torch.float64)))
    assert float(path[6, 0]) == pytest.approx(2.2136, abs=1e-4)
    assert float(path[20, 0]) == pytest.approx(2.9654, abs=1e-4)
    # lr 2.0: x_{t+1} = -3 x_t + 12.
    assert ref.gradient_descent(grad, x0, 2.0, 4)[:, 0].tolist() == [0, 12, -24, 84, -240]
    assert float(ref.gradient_descent(grad, x0, 0.001, 100)[-1, 0]) == pytest.approx(0.5443, abs=1e-4)
    assert x0.tolist() == [0.0]


def test_gradient_descent_on_rosenbrock_matches_the_notes_autograd_loop():
    def rosenbrock_grad(v):
        return autograd_gradient(lambda w: (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2, v)

    path = ref.gradient_descent(rosenbrock_grad, torch.tensor([-1.0, 1.0], dtype=torch.float64), 0.001, 5000)
    assert path.shape == (5001, 2)
    torch.testing.assert_close(path[-1], torch.tensor([0.93983, 0.88302], dtype=torch.float64), rtol=0, atol=1e-5)


@settings(max_examples=25)
@given(st.integers(1, 6), st.integers(0, 15), st.floats(0.01, 0.3), st.integers(0, 2**31 - 1))
def test_gradient_descent_matches_torch_sgd(n, steps, lr, seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(n, n, generator=g, dtype=torch.float64)
    b = torch.randn(n, generator=g, dtype=torch.float64)
    x0 = torch.randn(n, generator=g, dtype=torch.float64)
    loss = lambda x: 0.5 * (A @ x - b).square().sum() / n
    path = ref.gradient_descent(lambda x: autograd_gradient(loss, x), x0, lr, steps)
    param = x0.clone().requires_grad_(True)
    optimizer = torch.optim.SGD([param], lr=lr)
    expected = [x0.clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        loss(param).backward()
        optimizer.step()
        expected.append(param.detach().clone())
    torch.testing.assert_close(path, torch.stack(expected), rtol=1e-12, atol=1e-12)


@given(float64_vectors(bound=1e3))
def test_steepest_ascent_direction_is_a_unit_vector_along_g(g):
    d = ref.steepest_ascent_direction(g)
    if torch.linalg.vector_norm(g) == 0:  # zero, or so small that its norm underflows
        assert d.tolist() == [0.0] * len(g)
    else:
        assert float(d.norm()) == pytest.approx(1.0, rel=1e-12)
        torch.testing.assert_close(d * g.norm(), g)


@settings(max_examples=25)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_steepest_ascent_beats_every_other_direction(n, seed):
    # The directional derivative g . u over unit vectors u is largest for u = g / |g| (Cauchy-Schwarz).
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(n, generator=gen, dtype=torch.float64)
    others = torch.randn(100, n, generator=gen, dtype=torch.float64)
    others = others / others.norm(dim=1, keepdim=True)
    best = g @ ref.steepest_ascent_direction(g)
    assert float(best) == pytest.approx(float(g.norm()))
    assert bool((others @ g <= best + 1e-12).all())


def test_steepest_ascent_direction_of_zero_has_no_nan():
    for dtype in (torch.float64, torch.float32):
        d = ref.steepest_ascent_direction(torch.zeros(3, dtype=dtype))
        assert d.dtype == dtype and d.tolist() == [0.0, 0.0, 0.0]


@given(float64_matrices(rows=st.shared(st.integers(1, 5), key="n"), cols=st.shared(st.integers(1, 5), key="n")),
       st.integers(0, 2**31 - 1))
def test_quadratic_form_grad_matches_autograd(A, seed):
    x = torch.randn(A.shape[0], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    torch.testing.assert_close(ref.quadratic_form_grad(A, x), autograd_gradient(lambda v: v @ A @ v, x))


def test_quadratic_form_grad_of_the_notes_polynomials():
    x = torch.tensor([2.0, 3.0], dtype=torch.float64)
    A = torch.tensor([[1.0, 3.0], [0.0, 1.0]], dtype=torch.float64)
    assert ref.quadratic_form_grad(A, x).tolist() == [13.0, 12.0]
    A = torch.tensor([[1.0, 3.0], [0.0, 2.0]], dtype=torch.float64)
    assert ref.quadratic_form_grad(A, torch.ones(2, dtype=torch.float64)).tolist() == [5.0, 7.0]


@settings(max_examples=25)
@given(st.integers(1, 8), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_least_squares_grad_matches_autograd(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    Phi = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    theta = torch.randn(d, generator=g, dtype=torch.float64)
    expected = autograd_gradient(lambda th: (y - Phi @ th).square().sum(), theta)
    torch.testing.assert_close(ref.least_squares_grad(Phi, y, theta), expected)


def test_least_squares_grad_vanishes_at_the_least_squares_solution():
    g = torch.Generator().manual_seed(3)
    Phi = torch.randn(10, 4, generator=g, dtype=torch.float64)
    y = torch.randn(10, generator=g, dtype=torch.float64)
    theta = torch.linalg.lstsq(Phi, y.unsqueeze(1)).solution.squeeze(1)
    torch.testing.assert_close(ref.least_squares_grad(Phi, y, theta), torch.zeros(4, dtype=torch.float64),
                               rtol=0, atol=1e-12)


BUGS = [
    Bug("forward difference in numerical_gradient", "numerical_gradient",
        "def numerical_gradient(f, x, h=1e-5):\n"
        "    grad = torch.empty_like(x)\n"
        "    for i in range(x.numel()):\n"
        "        step = torch.zeros_like(x)\n"
        "        step[i] = h\n"
        "        grad[i] = (f(x + step) - f(x)) / h\n"
        "    return grad\n", {"q1": 0}),
    Bug("central difference divided by h instead of 2h", "numerical_gradient",
        "def numerical_gradient(f, x, h=1e-5):\n"
        "    grad = torch.empty_like(x)\n"
        "    for i in range(x.numel()):\n"
        "        step = torch.zeros_like(x)\n"
        "        step[i] = h\n"
        "        grad[i] = (f(x + step) - f(x - step)) / h\n"
        "    return grad\n", {"q1": 1}),
    Bug("gradient ascent instead of descent", "gradient_descent",
        "def gradient_descent(grad_f, x0, lr, steps):\n"
        "    xs = [x0.clone()]\n"
        "    for _ in range(steps):\n"
        "        xs.append(xs[-1] + lr * grad_f(xs[-1]))\n"
        "    return torch.stack(xs)\n", {"q2": 1}),
    Bug("steps rows: the start x0 is not recorded", "gradient_descent",
        "def gradient_descent(grad_f, x0, lr, steps):\n"
        "    x, xs = x0.clone(), []\n"
        "    for _ in range(steps):\n"
        "        x = x - lr * grad_f(x)\n"
        "        xs.append(x)\n"
        "    return torch.stack(xs)\n", {"q2": 0}),
    Bug("in-place update: every row is the same tensor", "gradient_descent",
        "def gradient_descent(grad_f, x0, lr, steps):\n"
        "    x = x0.clone()\n"
        "    xs = [x]\n"
        "    for _ in range(steps):\n"
        "        x -= lr * grad_f(x)\n"
        "        xs.append(x)\n"
        "    return torch.stack(xs)\n", {"q2": 1}),
    Bug("NaN for the zero vector", "steepest_ascent_direction",
        "def steepest_ascent_direction(g):\n    return g / torch.linalg.vector_norm(g)\n", {"q3": 5}),
    Bug("epsilon in the denominator shortens the direction", "steepest_ascent_direction",
        "def steepest_ascent_direction(g):\n    return g / (torch.linalg.vector_norm(g) + 1e-8)\n", {"q3": 3}),
    Bug("A x instead of (A + A^T) x", "quadratic_form_grad",
        "def quadratic_form_grad(A, x):\n    return A @ x\n", {"q4": 0}),
    Bug("2 A x: right only for a symmetric A", "quadratic_form_grad",
        "def quadratic_form_grad(A, x):\n    return 2 * A @ x\n", {"q4": 3}),
    Bug("least-squares gradient without the factor 2", "least_squares_grad",
        "def least_squares_grad(Phi, y, theta):\n    return -Phi.T @ (y - Phi @ theta)\n", {"q5": 2}),
    Bug("least-squares gradient with the wrong sign", "least_squares_grad",
        "def least_squares_grad(Phi, y, theta):\n    return 2 * Phi.T @ (y - Phi @ theta)\n", {"q5": 2}),
]

# Correct answers written differently from the reference: they must keep full marks.
ALTERNATIVES = {
    "numerical_gradient": "def numerical_gradient(f, x, h=1e-5):\n"
                          "    grad = torch.zeros_like(x)\n"
                          "    for i in range(len(x)):\n"
                          "        plus, minus = x.clone(), x.clone()\n"
                          "        plus[i] += h\n"
                          "        minus[i] -= h\n"
                          "        grad[i] = (f(plus) - f(minus)) / (2 * h)\n"
                          "    return grad\n",
    "gradient_descent": "def gradient_descent(grad_f, x0, lr, steps):\n"
                        "    path = torch.empty(steps + 1, x0.numel(), dtype=x0.dtype)\n"
                        "    path[0] = x0\n"
                        "    for t in range(steps):\n"
                        "        path[t + 1] = path[t].sub(grad_f(path[t].clone()), alpha=lr)\n"
                        "    return path\n",
    "steepest_ascent_direction": "def steepest_ascent_direction(g):\n"
                                 "    if not g.any():\n"
                                 "        return g.clone()\n"
                                 "    return g / g.pow(2).sum().sqrt()\n",
    "quadratic_form_grad": "def quadratic_form_grad(A, x):\n    return A @ x + x @ A\n",
    "least_squares_grad": "def least_squares_grad(Phi, y, theta):\n"
                          "    return 2 * (Phi.T @ Phi @ theta - Phi.T @ y)\n",
}


@pytest.mark.slow
def test_realistic_bugs_lose_points_on_their_question_only():
    assert_bugs_lose_exactly(ASSIGNMENT, BUGS)


@pytest.mark.slow
def test_correct_answers_written_differently_keep_full_marks():
    scores = grade_variants(ASSIGNMENT, {"alternatives": ALTERNATIVES})
    assert scores["alternatives"] == question_points(ASSIGNMENT)
