"""hw04_hessians: questions, points and test cases (public ones are the lecture notes' examples)."""

import math

import torch

from course.fixtures import sketch
from course.runtime import FULL_MATRIX_APIS
from course.spec import Call, Case, Question, randn

INVERSE_APIS = ("torch.linalg.inv", "torch.linalg.inv_ex", "torch.inverse", "torch.Tensor.inverse",
                "torch.linalg.pinv")


# Fixtures: inputs that are functions. Module-level, torch and math only: their source is shipped.
def notes_quadratic(x):
    """x^2 + 3xy + 2y^2: Hessian [[2, 3], [3, 4]] everywhere."""
    return x[0] ** 2 + 3 * x[0] * x[1] + 2 * x[1] ** 2


def bowl(x):
    """x^2 + xy + y^2: its second-order Taylor model is exact."""
    return x[0] ** 2 + x[0] * x[1] + x[1] ** 2


def wavy(x):
    """Not quadratic, and its mixed fourth derivatives are not symmetric in (i, j)."""
    return (torch.cos(x) * torch.roll(x, 1)).sum() + torch.logsumexp(2 * x, 0) + (x ** 4).sum() / 12


def saddle_and_sine(x):
    return torch.sin(x[0]) * torch.exp(x[1]) - x[0] * x[1] ** 3 + x[2] ** 2 * x[0]


def ring_energy(x):
    """O(n): softplus on each coordinate plus couplings with the cyclic neighbour."""
    neighbour = torch.roll(x, 1)
    return (torch.nn.functional.softplus(x).sum() + 0.5 * (x * neighbour).sum()
            + 0.1 * ((x - neighbour) ** 4).sum())


def t(*values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


def symmetric(seed, eigenvalues):
    """Q diag(eigenvalues) Q^T with a seeded random orthogonal Q, symmetrised exactly."""
    generator = torch.Generator().manual_seed(seed)
    n = len(eigenvalues)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    a = q @ torch.diag(t(*eigenvalues)) @ q.T
    return (a + a.T) / 2


def random_symmetric(seed, n):
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    return (a + a.T) / 2


def adam_state(seed, n, steps, lr=1e-3, betas=(0.9, 0.999), scale=1.0):
    """(theta, grad, m, v) just before torch.optim.Adam's step number steps + 1, on ring_energy.

    The state (exp_avg, exp_avg_sq) comes from torch's own optimizer, not from the reference.
    """
    generator = torch.Generator().manual_seed(seed)
    theta = torch.randn(n, generator=generator, dtype=torch.float64).requires_grad_(True)
    optimizer = torch.optim.Adam([theta], lr=lr, betas=betas)

    def grad_at(p):
        (g,) = torch.autograd.grad(scale * ring_energy(p), p)
        return g

    for _ in range(steps):
        optimizer.zero_grad()
        theta.grad = grad_at(theta)
        optimizer.step()
    state = optimizer.state[theta]
    if steps == 0:
        m, v = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    else:
        m, v = state["exp_avg"].clone(), state["exp_avg_sq"].clone()
    return theta.detach().clone(), grad_at(theta), m, v


NOTES_H = t(2, 3, 3, 4).reshape(2, 2)
SADDLE_H = t(2, 0, 0, -2).reshape(2, 2)
STEEP_H = t(200, 0, 0, 2).reshape(2, 2)
ZEROS2 = torch.zeros(2, dtype=torch.float64)

ADAM_T2 = adam_state(50, 6, 1)
ADAM_T3 = adam_state(51, 6, 2)
ADAM_T40 = adam_state(57, 8, 39, lr=0.01, betas=(0.8, 0.99))
ADAM_TINY = adam_state(53, 5, 3, scale=1e-9)

QUESTIONS = [
    Question("q1", "Numerical Hessian", points=6, cases=[
        Case("x^2 + 3xy + 2y^2 at (1, 1) is [[2, 3], [3, 4]]",
             Call("numerical_hessian", notes_quadratic, t(1.0, 1.0)),
             public=True, tol="numerical", expected=NOTES_H),
        Case("a non-quadratic function of 4 variables at a random point",
             Call("numerical_hessian", wavy, randn(1, 4)), tol="numerical"),
        Case("a non-quadratic function of 3 variables at a random point",
             Call("numerical_hessian", saddle_and_sine, randn(2, 3)), tol="numerical"),
        Case("uses the step h it is given (h = 1e-2), on a non-quadratic function",
             Call("numerical_hessian", wavy, randn(3, 5), h=1e-2), tol="numerical", weight=2),
        Case("uses the step h it is given (h = 0.05), 3 variables",
             Call("numerical_hessian", saddle_and_sine, t(0.3, -0.7, 1.1), h=0.05), tol="numerical"),
    ]),
    Question("q2", "Second-order Taylor expansion", points=5, cases=[
        Case("x^2 + xy + y^2 at (1, 1) with dx = (0.1, 0.2) is exactly 3.97",
             Call("taylor_second_order", bowl, t(1.0, 1.0), t(0.1, 0.2)),
             public=True, expected=3.97),
        Case("x^2 + 3xy + 2y^2 at (1, 1) with dx = (-1, -1) reaches the saddle value 0",
             Call("taylor_second_order", notes_quadratic, t(1.0, 1.0), t(-1.0, -1.0)),
             public=True, expected=0.0),
        Case("a non-quadratic function of 4 variables, random point and step",
             Call("taylor_second_order", wavy, randn(4, 4), randn(5, 4))),
        Case("a non-quadratic function of 3 variables, small step",
             Call("taylor_second_order", saddle_and_sine, t(0.5, 0.2, -0.4), t(0.01, -0.02, 0.03))),
        Case("a zero step gives f(x0)",
             Call("taylor_second_order", saddle_and_sine, t(0.5, 0.2, -0.4), torch.zeros(3, dtype=torch.float64))),
    ]),
    Question("q3", "Classifying critical points", points=12, cases=[
        Case("the notes' Hessian [[2, 3], [3, 4]] is a saddle",
             Call("classify_critical_point", NOTES_H), public=True, expected="saddle"),
        Case("x^2 - y^2 at 0: [[2, 0], [0, -2]] is a saddle",
             Call("classify_critical_point", SADDLE_H), public=True, expected="saddle"),
        Case("100x^2 + y^2: [[200, 0], [0, 2]] is a minimum",
             Call("classify_critical_point", STEEP_H), public=True, expected="minimum"),
        Case("random symmetric 3x3 matrix (A)", Call("classify_critical_point", symmetric(10, [0.5, 2.0, 7.0]))),
        Case("random symmetric 5x5 matrix (B)",
             Call("classify_critical_point", symmetric(11, [-0.3, -1.0, -2.0, -4.0, -9.0]))),
        Case("random symmetric 6x6 matrix (C)", Call("classify_critical_point", random_symmetric(12, 6))),
        Case("random symmetric 4x4 matrix with positive diagonal (D)",
             Call("classify_critical_point", symmetric(13, [0.2, 1.0, 3.0, -0.05]))),
        Case("random symmetric 4x4 matrix with a zero eigenvalue (E)",
             Call("classify_critical_point", symmetric(14, [3.0, 1.0, 0.0, 2.0]))),
        Case("random symmetric 3x3 matrix with a zero eigenvalue (F)",
             Call("classify_critical_point", symmetric(15, [3.0, 0.0, -1.0]))),
        Case("random symmetric 3x3 matrix with a zero eigenvalue (G)",
             Call("classify_critical_point", symmetric(16, [-2.0, 0.0, -1.0]))),
        Case("the zero matrix", Call("classify_critical_point", torch.zeros(3, 3, dtype=torch.float64))),
        Case("uses the tol it is given", Call("classify_critical_point", t(1.0, 0, 0, 1e-6).reshape(2, 2), tol=1e-5)),
    ]),
    Question("q4", "Condition number", points=8, cases=[
        Case("[[2, 3], [3, 4]] has condition number 37.97",
             Call("hessian_condition", NOTES_H), public=True, expected=19 + 6 * math.sqrt(10)),
        Case("100x^2 + y^2 has condition number 100",
             Call("hessian_condition", STEEP_H), public=True, expected=100.0),
        Case("the identity", Call("hessian_condition", torch.eye(4, dtype=torch.float64)), expected=1.0),
        Case("random symmetric 4x4 matrix (A)", Call("hessian_condition", symmetric(20, [0.5, 2.0, 7.0, 3.0]))),
        Case("random symmetric 4x4 matrix (B)", Call("hessian_condition", symmetric(21, [-0.5, -2.0, -7.0, -3.0]))),
        Case("random symmetric 5x5 matrix (C)", Call("hessian_condition", random_symmetric(22, 5))),
        Case("a singular matrix, [[1, 2], [2, 4]]", Call("hessian_condition", t(1, 2, 2, 4).reshape(2, 2))),
        Case("a singular diagonal matrix", Call("hessian_condition", torch.diag(t(3.0, 0.0, -1.0)))),
    ]),
    Question("q5", "Newton step", points=5, forbid=INVERSE_APIS, because="invert the Hessian (solve the linear system instead)", cases=[
        Case("100x^2 + y^2 at (1, 1): one step lands on the minimum, (-1, -1)",
             Call("newton_step", t(200.0, 2.0), STEEP_H),
             public=True, expected=t(-1.0, -1.0)),
        Case("x^2 + 3xy + 2y^2 at (1, 1): one step lands on the saddle, (-1, -1)",
             Call("newton_step", t(5.0, 7.0), NOTES_H),
             public=True, expected=t(-1.0, -1.0)),
        Case("random symmetric positive definite 6x6 Hessian",
             Call("newton_step", randn(30, 6), symmetric(31, [0.1, 0.5, 1.0, 2.0, 5.0, 10.0]))),
        Case("random indefinite 5x5 Hessian",
             Call("newton_step", randn(32, 5), symmetric(33, [-3.0, -0.5, 0.7, 1.5, 4.0]))),
        Case("a zero gradient gives a zero step",
             Call("newton_step", torch.zeros(3, dtype=torch.float64), symmetric(34, [1.0, 2.0, 3.0]))),
    ]),
    Question("q6", "Hessian-vector product", points=6, forbid=FULL_MATRIX_APIS, because="build the Hessian", cases=[
        Case("[[2, 3], [3, 4]] times (1, 0) is (2, 3)",
             Call("hvp", notes_quadratic, t(1.0, 1.0), t(1.0, 0.0)), public=True, expected=t(2.0, 3.0)),
        Case("a non-quadratic function, n = 4",
             Call("hvp", wavy, randn(40, 4), randn(41, 4))),
        Case("a coupled function, n = 10",
             Call("hvp", ring_energy, randn(42, 10), randn(43, 10))),
        Case("3 variables, v along the second axis",
             Call("hvp", saddle_and_sine, t(0.3, -0.7, 1.1), t(0.0, 1.0, 0.0))),
        Case("n = 300,000 in well under a second (the n x n Hessian would need 720 GB)",
             Call("hvp", ring_energy, randn(44, 300_000), randn(45, 300_000)),
             post=sketch, weight=2),
    ]),
    Question("q7", "Adam step", points=7, cases=[
        Case("first step on 100x^2 + y^2 from (1, 1), lr = 0.1: each coordinate moves by 0.1",
             Call("adam_step", t(1.0, 1.0), t(200.0, 2.0), ZEROS2, ZEROS2, 1, lr=0.1),
             public=True, expected=(t(0.9, 0.9), t(20.0, 0.2), t(40.0, 0.004))),
        Case("step t = 1 from zero moments, 6 parameters",
             Call("adam_step", *adam_state(54, 6, 0), 1)),
        Case("step t = 2 continuing torch.optim.Adam's first step",
             Call("adam_step", *ADAM_T2, 2)),
        Case("step t = 3 continuing torch.optim.Adam's second step",
             Call("adam_step", *ADAM_T3, 3)),
        Case("step t = 40 with lr = 0.01 and betas = (0.8, 0.99)",
             Call("adam_step", *ADAM_T40, 40, lr=0.01, betas=(0.8, 0.99))),
        Case("step t = 4 with gradients of order 1e-9 (where eps matters)",
             Call("adam_step", *ADAM_TINY, 4)),
        Case("uses the eps it is given (eps = 0.1)",
             Call("adam_step", *ADAM_T3, 3, eps=0.1)),
    ]),
]
