"""hw02_gradients: the reference against autograd, torch.optim, closed forms and the notes, the
numbers the prose claims, and the realistic bugs and other correct answers of
solutions/hw02_gradients/bugs.py, scored in process (the shared grading test grades them for real)."""

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course.build import assemble as build
from tests.strategies import float64_matrices, float64_vectors, seeds, sizes

ROOT = Path(__file__).resolve().parents[1]
SOURCE = build.sources(ROOT, ["hw02_gradients"])[0]
ref = SOURCE.module("reference")
questions = SOURCE.module("questions")
bugs = SOURCE.module("bugs")


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
@given(sizes, st.integers(0, 15), st.floats(0.01, 0.3), seeds)
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
@given(sizes, seeds)
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


@given(float64_matrices(rows=st.shared(sizes, key="n"), cols=st.shared(sizes, key="n")), seeds)
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
@given(st.integers(1, 8), sizes, seeds)
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


def test_the_parabola_case_is_an_exact_least_squares_stationary_point():
    Phi, y, theta, r = (questions.PARABOLA_PHI, questions.PARABOLA_Y, questions.PARABOLA_THETA,
                        questions.PARABOLA_RESIDUAL)
    assert torch.equal(Phi.T @ r, torch.zeros(3, dtype=torch.float64))  # integers: exact
    assert torch.equal(y - Phi @ theta, r)
    assert torch.equal(ref.least_squares_grad(Phi, y, theta), torch.zeros(3, dtype=torch.float64))
    # and it is the least-squares solution (lstsq here only checks the construction)
    solved = torch.linalg.lstsq(Phi, y.unsqueeze(1)).solution.squeeze(1)
    torch.testing.assert_close(solved, theta, rtol=0, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
def test_numerical_gradient_fixtures_are_black_boxes_to_autograd():
    # Whatever route a student takes to autograd, these functions give it no graph; their
    # values are those of the formulas in their docstrings.
    x = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
    for f in (questions.poly_xy, questions.bowl, questions.saddle, questions.sum_of_cubes,
              questions.smooth_energy, questions.rosenbrock):
        assert f(x).grad_fn is None and f(x).dtype == x.dtype, f.__name__
    v = x.detach()
    assert float(questions.smooth_energy(v)) == pytest.approx(
        float(torch.logsumexp(v, 0) + torch.sin(v[0] * v[-1]) + (v ** 4).sum() / 4), rel=1e-14)
    assert float(questions.rosenbrock(v)) == pytest.approx((1 - 0.3) ** 2 + 100 * (-1.2 - 0.09) ** 2, rel=1e-14)


# --- the numbers the prose claims ---------------------------------------------------------------

def test_prose_numbers():
    # "A layer as small as nn.Linear(10, 5) has 55 parameters"
    assert sum(p.numel() for p in torch.nn.Linear(10, 5).parameters()) == 55
    # x^2 + 3xy + y^2 at (2, 3): f = 31, gradient (13, 12); 2 A x with the non-symmetric A is (22, 6).
    assert float(questions.poly_xy(torch.tensor([2.0, 3.0], dtype=torch.float64))) == 31
    A = torch.tensor([[1.0, 3.0], [0.0, 1.0]], dtype=torch.float64)
    assert (2 * A @ torch.tensor([2.0, 3.0], dtype=torch.float64)).tolist() == [22.0, 6.0]
    # lr 2.0 multiplies the loss by 9 per step; lr 0.5 lands on the minimum in one step;
    # |1 - 2 lr| < 1 exactly for 0 < lr < 1.
    grad = questions.grad_shifted_square
    x0 = torch.zeros(1, dtype=torch.float64)
    path = ref.gradient_descent(grad, x0, 2.0, 4)[:, 0]
    assert ((path[1:] - 3) ** 2 / (path[:-1] - 3) ** 2).tolist() == [9.0] * 4
    assert ref.gradient_descent(grad, x0, 0.5, 1)[1].tolist() == [3.0]
    assert abs(float(ref.gradient_descent(grad, x0, 0.95, 400)[-1, 0]) - 3) < 1e-6
    assert abs(float(ref.gradient_descent(grad, x0, 1.05, 200)[-1, 0]) - 3) > 1e3
    # The notes' loop prints x after the update next to the loss before it: steps 0, 5, 10, 15 show
    # x_1, x_6, x_11, x_16 = 0.6000, 2.2136, 2.7423, 2.9156 with the losses of x_0, x_5, x_10, x_15 =
    # 9, 0.9664, 0.1038, 0.0111; the final x is 2.9654 (the notes print 2.3534/0.4182 and 2.8965).
    xs = ref.gradient_descent(grad, x0, 0.1, 20)[:, 0]
    assert [round(float(xs[t + 1]), 4) for t in (0, 5, 10, 15)] == [0.6, 2.2136, 2.7423, 2.9156]
    assert [round(float((xs[t] - 3) ** 2), 4) for t in (0, 5, 10, 15)] == [9.0, 0.9664, 0.1038, 0.0111]
    assert round(float(xs[-1]), 4) == 2.9654
    # Rosenbrock from (-1, 1), on the valley floor b = a^2, with loss 4.
    assert float(questions.rosenbrock(torch.tensor([-1.0, 1.0], dtype=torch.float64))) == 4.0
    # g / (|g| + 1e-8) for |g| = 1e-9 is off by a factor of 11.
    tiny = torch.tensor([6e-10, 8e-10], dtype=torch.float64)
    assert float((tiny / (tiny.norm() + 1e-8)).norm()) == pytest.approx(1 / 11, rel=1e-9)
    # The line fit of section 5: the stable learning rates stay below 1 / lambda_max(Phi^T Phi), about 0.039.
    x = torch.linspace(0, 1, 20, dtype=torch.float64)
    Phi = torch.stack([torch.ones(20, dtype=torch.float64), x], dim=1)
    assert 1 / float(torch.linalg.eigvalsh(Phi.T @ Phi).max()) == pytest.approx(0.039, abs=5e-4)
