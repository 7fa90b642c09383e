"""hw04_hessians: questions, points and test cases (public ones are the lecture notes' examples)."""

import math
from fractions import Fraction

import torch

from course.build.fixtures import sketch
from calc4ml_runtime.guards import FULL_MATRIX_APIS, INVERSE_APIS
from course.build.spec import Call, Case, Question, randn


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


def ripples(x):
    """High-frequency waves: at h = 1e-4 central differences are off by about (40 h)^2 / 6 = 3e-6
    relative, far above the comparison's 1e-7, so only finite differences at the given h match."""
    return (torch.sin(40 * x) * torch.cos(25 * torch.roll(x, 1))).sum() / 100


def ring_energy(x):
    """O(n): softplus on each coordinate plus couplings with the cyclic neighbour."""
    neighbour = torch.roll(x, 1)
    return (torch.nn.functional.softplus(x).sum() + 0.5 * (x * neighbour).sum()
            + 0.1 * ((x - neighbour) ** 4).sum())


def t(*values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


# Exact rotations: (cos, sin) pairs of Pythagorean triples.
_ROTATIONS = [(Fraction(3, 5), Fraction(4, 5)), (Fraction(5, 13), Fraction(12, 13)),
              (Fraction(8, 17), Fraction(15, 17)), (Fraction(7, 25), Fraction(24, 25))]


def symmetric(seed, eigenvalues):
    """Q diag(eigenvalues) Q^T, with Q a product of Givens rotations in every plane (i, j) whose
    cosines and sines are exact rationals (3/5, 4/5, ...), the seed choosing which.

    Computed exactly in rationals, then each entry rounded once to float64: the same bits on every
    machine (no LAPACK, no BLAS), exactly symmetric, and its eigenvalues are the given ones up to
    that one rounding. ``eigenvalues`` are strings or numbers ("0.1" is exactly 1/10).
    """
    n = len(eigenvalues)
    q = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
    planes = [(i, j) for i in range(n) for j in range(i + 1, n)]
    for k, (i, j) in enumerate(planes):
        c, s = _ROTATIONS[(seed + k) % len(_ROTATIONS)]
        if (seed + k) % 3 == 0:
            s = -s
        for row in q:  # q <- q G, with G the rotation by (c, s) in the plane (i, j)
            row[i], row[j] = c * row[i] + s * row[j], -s * row[i] + c * row[j]
    lam = [Fraction(str(e)) for e in eigenvalues]
    a = [[sum(q[i][k] * lam[k] * q[j][k] for k in range(n)) for j in range(n)] for i in range(n)]
    return torch.tensor([[float(entry) for entry in row] for row in a], dtype=torch.float64)


def random_symmetric(seed, n):
    """(A + A^T) / 2 for a seeded standard normal A: a sum and a halving, exact on every machine."""
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    return (a + a.T) / 2


def tiny(seed, n, scale):
    """Seeded standard normal values times scale: one multiplication per entry, exact on every machine."""
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale


def squares(seed, n, scale=1.0):
    """Nonnegative seeded values (r scale)^2, r standard normal: a second-moment estimate v for Adam.
    One multiplication per entry, exact on every machine."""
    r = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale
    return r * r



def normal(seed, n, scale=1.0):
    """Seeded standard normal values times scale (an optimizer's x, gradient or velocity)."""
    return torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale


# What torch.optim does with the same tensors: one step of the real optimizer, from the given state.
# The hidden cases' documented values come from here, so the build checks the reference against
# torch.optim itself (tests/test_hw04_hessians.py checks them bit for bit up to rounding).
def _torch_step(optimizer_class, x, g, state, **options):
    param = torch.nn.Parameter(x.clone())
    optimizer = optimizer_class([param], **options)
    param.grad = g.clone()
    optimizer.state[param].update({key: value.clone() for key, value in state.items()})
    optimizer.step()
    return param.detach(), optimizer.state[param]


def torch_momentum(x, g, v, lr, beta, nesterov=False):
    x_new, state = _torch_step(torch.optim.SGD, x, g, {"momentum_buffer": v}, lr=lr, momentum=beta,
                               nesterov=nesterov)
    return x_new, state["momentum_buffer"]


def torch_rmsprop(x, g, s, lr, alpha=0.99, eps=1e-8):
    x_new, state = _torch_step(torch.optim.RMSprop, x, g, {"step": torch.tensor(0.0), "square_avg": s},
                               lr=lr, alpha=alpha, eps=eps)
    return x_new, state["square_avg"]


def torch_adagrad(x, g, s, lr, eps=1e-10):
    x_new, state = _torch_step(torch.optim.Adagrad, x, g, {"sum": s}, lr=lr, eps=eps)
    return x_new, state["sum"]


NOTES_X, NOTES_G1, NOTES_G2 = t(1.0, 2.0), t(0.5, -1.0), t(0.25, 0.5)

NOTES_H = t(2, 3, 3, 4).reshape(2, 2)
SADDLE_H = t(2, 0, 0, -2).reshape(2, 2)
STEEP_H = t(200, 0, 0, 2).reshape(2, 2)
ZEROS2 = torch.zeros(2, dtype=torch.float64)


def reflected(v, eigenvalues):
    """Q diag(eigenvalues) Q^T with the Householder reflection Q = I - 2 v v^T / (v^T v) of an integer
    vector v, computed exactly in rationals and rounded once to float64."""
    n, norm2 = len(v), sum(c * c for c in v)
    q = [[Fraction(int(i == j)) - Fraction(2 * v[i] * v[j], norm2) for j in range(n)] for i in range(n)]
    lam = [Fraction(str(e)) for e in eigenvalues]
    a = [[sum(q[i][k] * lam[k] * q[j][k] for k in range(n)) for j in range(n)] for i in range(n)]
    return torch.tensor([[float(entry) for entry in row] for row in a], dtype=torch.float64)


# v = (1, 1, 1, 1): Q has entries +-1/2, so this matrix has entries in quarters and is exactly
# singular in float64.
SINGULAR_4 = reflected([1, 1, 1, 1], [3, 0, -1, 2])

INVERT = "invert the Hessian (solve the linear system instead)"

QUESTIONS = [
    Question("q1", "Numerical Hessian", points=5, cases=[
        Case("x^2 + 3xy + 2y^2 at (1, 1) is [[2, 3], [3, 4]]",
             Call("numerical_hessian", notes_quadratic, t(1.0, 1.0)),
             public=True, tol="numerical", expected=NOTES_H),
        Case("a non-quadratic function of 3 variables at a random point",
             Call("numerical_hessian", saddle_and_sine, randn(2, 3)), tol="numerical"),
        # Where the finite differences differ measurably from the exact Hessian: the exact one
        # (from autograd) fails these, as it should: the question is the finite differences.
        Case("high-frequency waves in 4 variables, where h = 1e-4 is not small",
             Call("numerical_hessian", ripples, randn(1, 4)), weight=2, tol="numerical"),
        Case("uses the step h it is given (h = 1e-2), on a non-quadratic function",
             Call("numerical_hessian", wavy, randn(3, 5), h=1e-2), weight=2, tol="numerical"),
        Case("uses the step h it is given (h = 0.05), 3 variables",
             Call("numerical_hessian", saddle_and_sine, t(0.3, -0.7, 1.1), h=0.05), weight=2, tol="numerical"),
        Case("uses the step h it is given (h = 1e-3), high-frequency waves in 6 variables",
             Call("numerical_hessian", ripples, randn(4, 6), h=1e-3), weight=2, tol="numerical"),
    ]),
    Question("q2", "Second-order Taylor expansion", points=4, cases=[
        Case("x^2 + xy + y^2 at (1, 1) with dx = (0.1, 0.2) is exactly 3.97",
             Call("taylor_second_order", bowl, t(1.0, 1.0), t(0.1, 0.2)),
             weight=4, public=True, expected=3.97),
        Case("x^2 + 3xy + 2y^2 at (1, 1) with dx = (-1, -1) reaches the saddle value 0",
             Call("taylor_second_order", notes_quadratic, t(1.0, 1.0), t(-1.0, -1.0)),
             weight=3, public=True, expected=0.0),
        Case("a non-quadratic function of 4 variables, random point and step",
             Call("taylor_second_order", wavy, randn(4, 4), randn(5, 4)), weight=3),
        Case("a non-quadratic function of 3 variables, small step",
             Call("taylor_second_order", saddle_and_sine, t(0.5, 0.2, -0.4), t(0.01, -0.02, 0.03)), weight=3),
        Case("a zero step gives f(x0)",
             Call("taylor_second_order", saddle_and_sine, t(0.5, 0.2, -0.4), torch.zeros(3, dtype=torch.float64)),
             weight=3),
    ]),
    Question("q3", "Classifying critical points", points=5, cases=[
        Case("the notes' Hessian [[2, 3], [3, 4]] is a saddle",
             Call("classify_critical_point", NOTES_H), public=True, expected="saddle"),
        Case("x^2 - y^2 at 0: [[2, 0], [0, -2]] is a saddle",
             Call("classify_critical_point", SADDLE_H), public=True, expected="saddle"),
        Case("100x^2 + y^2: [[200, 0], [0, 2]] is a minimum",
             Call("classify_critical_point", STEEP_H), public=True, expected="minimum"),
        Case("rotated symmetric 3x3 matrix (A)",
             Call("classify_critical_point", symmetric(10, ["0.5", 2, 7])), weight=2),
        Case("rotated symmetric 5x5 matrix (B)",
             Call("classify_critical_point", symmetric(11, ["-0.3", -1, -2, -4, -9])), weight=2),
        Case("random symmetric 6x6 matrix (C)", Call("classify_critical_point", random_symmetric(12, 6)), weight=2),
        Case("rotated symmetric 4x4 matrix with positive diagonal (D)",
             Call("classify_critical_point", symmetric(13, ["0.2", 1, 3, "-0.05"])), weight=2),
        Case("rotated symmetric 4x4 matrix with a zero eigenvalue (E)",
             Call("classify_critical_point", symmetric(14, [3, 1, 0, 2])), weight=2),
        Case("rotated symmetric 3x3 matrix with a zero eigenvalue (F)",
             Call("classify_critical_point", symmetric(15, [3, 0, -1])), weight=2),
        Case("rotated symmetric 3x3 matrix with a zero eigenvalue (G)",
             Call("classify_critical_point", symmetric(16, [-2, 0, -1])), weight=2),
        Case("the zero matrix", Call("classify_critical_point", torch.zeros(3, 3, dtype=torch.float64))),
        Case("uses the tol it is given",
             Call("classify_critical_point", t(1.0, 0, 0, 1e-6).reshape(2, 2), tol=1e-5), weight=2),
    ]),
    Question("q4", "Condition number", points=4, cases=[
        Case("[[2, 3], [3, 4]] has condition number 37.97",
             Call("hessian_condition", NOTES_H), weight=2, public=True, expected=19 + 6 * math.sqrt(10)),
        Case("100x^2 + y^2 has condition number 100",
             Call("hessian_condition", STEEP_H), weight=2, public=True, expected=100.0),
        Case("the identity", Call("hessian_condition", torch.eye(4, dtype=torch.float64))),
        Case("rotated symmetric 4x4 matrix (A)", Call("hessian_condition", symmetric(20, ["0.5", 2, 7, 3]))),
        Case("rotated symmetric 4x4 matrix (B)", Call("hessian_condition", symmetric(21, ["-0.5", -2, -7, -3]))),
        Case("random symmetric 5x5 matrix (C)", Call("hessian_condition", random_symmetric(22, 5))),
        Case("a singular matrix, [[1, 2], [2, 4]]", Call("hessian_condition", t(1, 2, 2, 4).reshape(2, 2))),
        Case("a singular diagonal matrix", Call("hessian_condition", torch.diag(t(3.0, 0.0, -1.0)))),
        Case("a singular 4x4 matrix that is not diagonal", Call("hessian_condition", SINGULAR_4), weight=2),
        Case("an eigenvalue below the rounding level of the largest counts as 0",
             Call("hessian_condition", torch.diag(t(1.0, 2.0 ** -60))), weight=2),
        Case("a tiny eigenvalue far above the rounding level does not",
             Call("hessian_condition", torch.diag(t(1.0, -1e-12, 0.5))), weight=2),
    ]),
    Question("q5", "Newton step", points=3, forbid=INVERSE_APIS, because=INVERT, cases=[
        Case("100x^2 + y^2 at (1, 1): one step lands on the minimum, (-1, -1)",
             Call("newton_step", t(200.0, 2.0), STEEP_H),
             public=True, expected=t(-1.0, -1.0)),
        Case("x^2 + 3xy + 2y^2 at (1, 1): one step lands on the saddle, (-1, -1)",
             Call("newton_step", t(5.0, 7.0), NOTES_H),
             public=True, expected=t(-1.0, -1.0)),
        Case("symmetric positive definite 6x6 Hessian",
             Call("newton_step", randn(30, 6), symmetric(31, ["0.1", "0.5", 1, 2, 5, 10]))),
        Case("indefinite 5x5 Hessian",
             Call("newton_step", randn(32, 5), symmetric(33, [-3, "-0.5", "0.7", "1.5", 4]))),
        Case("a zero gradient gives a zero step",
             Call("newton_step", torch.zeros(3, dtype=torch.float64), symmetric(34, [1, 2, 3])), weight=2),
    ]),
    Question("q6", "Hessian-vector product", points=5, forbid=FULL_MATRIX_APIS, because="build the Hessian", cases=[
        Case("[[2, 3], [3, 4]] times (1, 0) is (2, 3)",
             Call("hvp", notes_quadratic, t(1.0, 1.0), t(1.0, 0.0)), public=True, expected=t(2.0, 3.0)),
        Case("a non-quadratic function, n = 4",
             Call("hvp", wavy, randn(40, 4), randn(41, 4))),
        Case("a coupled function, n = 10",
             Call("hvp", ring_energy, randn(42, 10), randn(43, 10))),
        Case("3 variables, v along the second axis",
             Call("hvp", saddle_and_sine, t(0.3, -0.7, 1.1), t(0.0, 1.0, 0.0))),
        Case("n = 300,000 without building the Hessian (it would need 720 GB)",
             Call("hvp", ring_energy, randn(44, 300_000), randn(45, 300_000)),
             post=sketch),
    ]),
    Question("q7", "Adam step", points=6, outputs=("theta", "m", "v"), cases=[
        Case("first step on 100x^2 + y^2 from (1, 1), lr = 0.1: each coordinate moves by 0.1",
             Call("adam_step", t(1.0, 1.0), t(200.0, 2.0), ZEROS2, ZEROS2, 1, lr=0.1),
             public=True, expected=(t(0.9, 0.9), t(20.0, 0.2), t(40.0, 0.004))),
        Case("step t = 1 from zero moments, 6 parameters",
             Call("adam_step", randn(54, 6), randn(55, 6), torch.zeros(6, dtype=torch.float64),
                  torch.zeros(6, dtype=torch.float64), 1)),
        Case("step t = 2, 6 parameters",
             Call("adam_step", randn(50, 6), randn(51, 6), randn(52, 6), squares(53, 6), 2)),
        Case("step t = 3, 6 parameters",
             Call("adam_step", randn(56, 6), randn(57, 6), randn(58, 6), squares(59, 6), 3)),
        Case("step t = 40 with lr = 0.01 and betas = (0.8, 0.99)",
             Call("adam_step", randn(60, 8), randn(61, 8), randn(62, 8), squares(63, 8), 40,
                  lr=0.01, betas=(0.8, 0.99)), weight=2),
        Case("step t = 4 with gradients of order 1e-9 (where eps matters)",
             Call("adam_step", randn(64, 5), tiny(65, 5, 1e-9), tiny(66, 5, 1e-9), squares(67, 5, 1e-9), 4)),
        Case("uses the eps it is given (eps = 0.1)",
             Call("adam_step", randn(56, 6), randn(57, 6), randn(58, 6), squares(59, 6), 3, eps=0.1)),
    ]),
    Question("q8", "Momentum and Nesterov", points=5, outputs=("x_new", "v_new"), cases=[
        Case("momentum, first step from x = [1, 2] with g = [0.5, -1] gives [0.95, 2.1]",
             Call("momentum_step", NOTES_X, NOTES_G1, ZEROS2, 0.1, 0.9),
             public=True, expected=(t(0.95, 2.1), NOTES_G1)),
        Case("momentum, second step with g = [0.25, 0.5] gives [0.88, 2.14] and v = [0.7, -0.4]",
             Call("momentum_step", t(0.95, 2.1), NOTES_G2, NOTES_G1, 0.1, 0.9),
             public=True, expected=(t(0.88, 2.14), t(0.7, -0.4))),
        Case("Nesterov, first step gives [0.905, 2.19]",
             Call("momentum_step", NOTES_X, NOTES_G1, ZEROS2, 0.1, 0.9, nesterov=True),
             public=True, expected=(t(0.905, 2.19), NOTES_G1)),
        Case("Nesterov, second step gives [0.817, 2.176]",
             Call("momentum_step", t(0.905, 2.19), NOTES_G2, NOTES_G1, 0.1, 0.9, nesterov=True),
             public=True, expected=(t(0.817, 2.176), t(0.7, -0.4))),
        Case("momentum from a random velocity, 6 parameters, as torch.optim.SGD",
             Call("momentum_step", normal(80, 6), normal(81, 6), normal(82, 6), 0.05, 0.9),
             weight=2, expected=torch_momentum(normal(80, 6), normal(81, 6), normal(82, 6), 0.05, 0.9)),
        Case("Nesterov from a random velocity, 6 parameters, as torch.optim.SGD",
             Call("momentum_step", normal(83, 6), normal(84, 6), normal(85, 6), 0.05, 0.9, nesterov=True),
             weight=2, expected=torch_momentum(normal(83, 6), normal(84, 6), normal(85, 6), 0.05, 0.9, True)),
        Case("Nesterov with beta = 0.5 and lr = 0.3, 8 parameters",
             Call("momentum_step", normal(86, 8), normal(87, 8), normal(88, 8), 0.3, 0.5, nesterov=True),
             expected=torch_momentum(normal(86, 8), normal(87, 8), normal(88, 8), 0.3, 0.5, True)),
        Case("momentum with beta = 0.99 from a zero velocity (the first step), 8 parameters",
             Call("momentum_step", normal(89, 8), normal(90, 8), torch.zeros(8, dtype=torch.float64), 0.01, 0.99),
             expected=torch_momentum(normal(89, 8), normal(90, 8), torch.zeros(8, dtype=torch.float64), 0.01, 0.99)),
    ]),
    Question("q9", "RMSProp step", points=4, outputs=("x_new", "s_new"), cases=[
        Case("first step from x = [1, 2] with g = [0.5, -1], lr = 0.01",
             Call("rmsprop_step", NOTES_X, NOTES_G1, ZEROS2, 0.01),
             public=True, expected=(t(0.900000019999996, 2.099999990000001), t(0.0025, 0.01))),
        Case("second step with g = [0.25, 0.5] gives s = [0.0031, 0.0124]",
             Call("rmsprop_step", t(0.900000019999996, 2.099999990000001), NOTES_G2, t(0.0025, 0.01), 0.01),
             public=True, expected=(t(0.855098702557817, 2.055098668525565), t(0.0031, 0.0124))),
        Case("a random state, 6 parameters, as torch.optim.RMSprop",
             Call("rmsprop_step", normal(91, 6), normal(92, 6), squares(93, 6), 0.01),
             weight=2, expected=torch_rmsprop(normal(91, 6), normal(92, 6), squares(93, 6), 0.01)),
        Case("uses the alpha it is given (alpha = 0.9, lr = 0.001)",
             Call("rmsprop_step", normal(94, 6), normal(95, 6), squares(96, 6), 0.001, alpha=0.9),
             expected=torch_rmsprop(normal(94, 6), normal(95, 6), squares(96, 6), 0.001, alpha=0.9)),
        Case("uses the eps it is given (eps = 0.1)",
             Call("rmsprop_step", normal(97, 6), normal(98, 6), squares(99, 6), 0.01, eps=0.1),
             expected=torch_rmsprop(normal(97, 6), normal(98, 6), squares(99, 6), 0.01, eps=0.1)),
        Case("gradients of order 1e-7 (where eps matters)",
             Call("rmsprop_step", normal(100, 5), normal(101, 5, 1e-7), squares(102, 5, 1e-7), 0.01),
             weight=2, expected=torch_rmsprop(normal(100, 5), normal(101, 5, 1e-7), squares(102, 5, 1e-7), 0.01)),
    ]),
    Question("q10", "AdaGrad step", points=3, outputs=("x_new", "s_new"), cases=[
        Case("first step from x = [1, 2] with g = [0.5, -1], lr = 0.1",
             Call("adagrad_step", NOTES_X, NOTES_G1, ZEROS2, 0.1),
             public=True, expected=(t(0.90000000002, 2.09999999999), t(0.25, 1.0))),
        Case("second step with g = [0.25, 0.5] gives s = [0.3125, 1.25]",
             Call("adagrad_step", t(0.90000000002, 2.09999999999), NOTES_G2, t(0.25, 1.0), 0.1),
             public=True, expected=(t(0.8552786404780043, 2.0552786404440044), t(0.3125, 1.25))),
        Case("a random sum of squares, 6 parameters, as torch.optim.Adagrad",
             Call("adagrad_step", normal(103, 6), normal(104, 6), squares(105, 6), 0.1),
             weight=2, expected=torch_adagrad(normal(103, 6), normal(104, 6), squares(105, 6), 0.1)),
        Case("uses the eps it is given (eps = 0.1, lr = 0.5)",
             Call("adagrad_step", normal(106, 6), normal(107, 6), squares(108, 6), 0.5, eps=0.1),
             expected=torch_adagrad(normal(106, 6), normal(107, 6), squares(108, 6), 0.5, eps=0.1)),
        Case("gradients of order 1e-9 (where eps matters)",
             Call("adagrad_step", normal(109, 5), normal(110, 5, 1e-9), squares(111, 5, 1e-9), 0.1),
             expected=torch_adagrad(normal(109, 5), normal(110, 5, 1e-9), squares(111, 5, 1e-9), 0.1)),
    ]),
]
