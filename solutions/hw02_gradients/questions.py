"""hw02_gradients: questions, points and test cases (public ones are the lecture notes' examples)."""

import math

import torch

from calc4ml_runtime.guards import AUTOGRAD_APIS
from course.build.spec import Call, Case, Question, randn


# Fixtures: inputs that are functions. Module-level, torch and math only: their source is shipped.
# The functions given to numerical_gradient are black boxes: they compute through Python floats,
# so that autograd, by any route, gets nothing from them (finite differences only need values).
def poly_xy(v):
    """x^2 + 3xy + y^2, the notes' first example."""
    x, y = v.tolist()
    return torch.tensor(x ** 2 + 3 * x * y + y ** 2, dtype=v.dtype)


def bowl(v):
    return torch.tensor(sum(c ** 2 for c in v.tolist()), dtype=v.dtype)


def saddle(v):
    x, y = v.tolist()
    return torch.tensor(x ** 2 - y ** 2, dtype=v.dtype)


def sum_of_cubes(v):
    return torch.tensor(sum(c ** 3 for c in v.tolist()), dtype=v.dtype)


def smooth_energy(v):
    c = v.tolist()
    top = max(c)
    value = top + math.log(sum(math.exp(a - top) for a in c)) + math.sin(c[0] * c[-1]) + sum(a ** 4 for a in c) / 4
    return torch.tensor(value, dtype=v.dtype)


def rosenbrock(v):
    a, b = v.tolist()
    return torch.tensor((1 - a) ** 2 + 100 * (b - a ** 2) ** 2, dtype=v.dtype)


def grad_shifted_square(x):
    """Gradient of (x - 3)^2, entry by entry."""
    return 2 * (x - 3)


def grad_rosenbrock(x):
    """Gradient of (1 - a)^2 + 100 (b - a^2)^2 at x = (a, b), in plain floats (fast for long runs)."""
    a, b = x.tolist()
    return torch.tensor([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], dtype=x.dtype)


def grad_stretched_bowl(x):
    """Gradient of sum_i (i/2) x_i^2 - x_i: curvatures 1, 2, ..., n, minimum at x_i = 1/i."""
    return torch.arange(1, x.numel() + 1, dtype=x.dtype) * x - 1


def rows_first_and_last(outputs, inputs):
    """A long trajectory, summarised: its number of rows, its first row and its last row."""
    path = outputs[0]
    return (path.shape[0], path[0], path[-1])


def t(*values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


def m(*rows, dtype=torch.float64):
    return torch.tensor(rows, dtype=dtype)


def column(values):
    """A trajectory of a one-dimensional problem: one row per step."""
    return torch.tensor(values, dtype=torch.float64).reshape(-1, 1)


_generator = torch.Generator().manual_seed(7)
_half = torch.randn(4, 4, generator=_generator, dtype=torch.float64)
SYMMETRIC = _half + _half.T  # exact: each entry is one rounded sum, the same on every machine

# A least-squares stationary point constructed exactly, not solved for: fit a parabola
# theta_0 + theta_1 s + theta_2 s^2 to 7 points s = -3, ..., 3. The residual r is the discrete
# cubic (-1, 1, 1, 0, -1, -1, 1), orthogonal to 1, s and s^2, so Phi^T r = 0 and theta* is the
# least-squares solution of y = Phi theta* + r. Every number is a small integer or a quarter.
_S = torch.arange(-3, 4, dtype=torch.float64)
PARABOLA_PHI = torch.stack([torch.ones(7, dtype=torch.float64), _S, _S ** 2], dim=1)
PARABOLA_RESIDUAL = t(-1, 1, 1, 0, -1, -1, 1)
PARABOLA_THETA = t(1.5, -2.0, 0.25)
PARABOLA_Y = 1.5 - 2.0 * _S + 0.25 * _S ** 2 + PARABOLA_RESIDUAL  # Phi theta* + r, exactly

FINITE_DIFFERENCES = "use autograd (the question is to approximate the gradient from values of f)"
BY_HAND = "use autograd (derive the gradient by hand)"

QUESTIONS = [
    Question("q1", "Numerical gradient", points=4, forbid=AUTOGRAD_APIS, because=FINITE_DIFFERENCES, cases=[
        Case("x^2 + 3xy + y^2 at (2, 3) is (13, 12)", Call("numerical_gradient", poly_xy, t(2, 3)),
             public=True, tol="numerical", expected=t(13, 12)),
        Case("x^2 + y^2 at (2, 1) is (4, 2)", Call("numerical_gradient", bowl, t(2, 1)),
             public=True, tol="numerical", expected=t(4, 2)),
        Case("the saddle x^2 - y^2 has zero gradient at the origin", Call("numerical_gradient", saddle, t(0, 0)),
             public=True, tol="numerical", expected=t(0, 0)),
        Case("smooth function of 6 variables at a random point",
             Call("numerical_gradient", smooth_energy, randn(31, 6)), weight=2, tol="numerical"),
        Case("uses the step h it is given (error h^2 on a cubic)",
             Call("numerical_gradient", sum_of_cubes, t(1, -2, 0.5), h=0.1), tol="numerical"),
        Case("Rosenbrock function at a random point", Call("numerical_gradient", rosenbrock, randn(32, 2)),
             tol="numerical"),
        Case("float32 point gives a float32 gradient",
             Call("numerical_gradient", bowl, t(1.5, -2.0, 0.25, dtype=torch.float32), h=0.5), tol="single"),
    ]),
    Question("q2", "Gradient descent", points=4, cases=[
        Case("(x-3)^2 from 0 with lr 0.1: the first 6 updates follow 3(1 - 0.8^t)",
             Call("gradient_descent", grad_shifted_square, t(0.0), 0.1, 6), public=True,
             expected=column([3 * (1 - 0.8 ** k) for k in range(7)])),
        Case("(x-3)^2 from 0 with lr 0.1: 21 rows, x is about 2.9654 after 20 updates",
             Call("gradient_descent", grad_shifted_square, t(0.0), 0.1, 20), public=True,
             post=rows_first_and_last, expected=(21, t(0.0), t(2.9654))),
        Case("(x-3)^2 from 0 with lr 2.0 overshoots and diverges: 12, -24, 84, -240",
             Call("gradient_descent", grad_shifted_square, t(0.0), 2.0, 4), public=True,
             expected=column([0, 12, -24, 84, -240])),
        Case("(x-3)^2 from 0 with lr 0.001 is slow: x is about 0.5443 after 100 updates",
             Call("gradient_descent", grad_shifted_square, t(0.0), 0.001, 100), public=True,
             tol="iterative", post=rows_first_and_last, expected=(101, t(0.0), t(0.5443))),
        Case("Rosenbrock from (-1, 1) with lr 0.001: about (0.93983, 0.88302) after 5000 updates",
             Call("gradient_descent", grad_rosenbrock, t(-1, 1), 0.001, 5000), public=True,
             tol="iterative", post=rows_first_and_last, expected=(5001, t(-1, 1), t(0.93983, 0.88302))),
        Case("stretched 5-dimensional bowl from a random start, every row",
             Call("gradient_descent", grad_stretched_bowl, randn(21, 5), 0.3, 30)),
        Case("zero steps: the trajectory is the start alone, as one row",
             Call("gradient_descent", grad_stretched_bowl, randn(22, 3), 0.1, 0)),
        Case("float32 start gives a float32 trajectory",
             Call("gradient_descent", grad_shifted_square, t(0.0, 1.0, 5.0, dtype=torch.float32), 0.1, 10),
             tol="single"),
    ]),
    Question("q3", "Direction of steepest ascent", points=4, cases=[
        Case("x^2 + y^2 at (2, 1): the gradient (4, 2) points along (2, 1)/sqrt(5)",
             Call("steepest_ascent_direction", t(4, 2)), weight=2, public=True,
             expected=t(2 / math.sqrt(5), 1 / math.sqrt(5))),
        Case("saddle point: the zero gradient gives the zero vector, not NaN",
             Call("steepest_ascent_direction", t(0, 0)), weight=3, public=True, expected=t(0, 0)),
        Case("random 7-dimensional gradient", Call("steepest_ascent_direction", randn(41, 7)), weight=2),
        Case("a tiny but nonzero gradient still gets unit length",
             Call("steepest_ascent_direction", t(3e-10, -4e-10)), weight=3),
        Case("one-dimensional gradient keeps its sign", Call("steepest_ascent_direction", t(-2.5)), weight=2),
        Case("float32 gradient gives a float32 direction",
             Call("steepest_ascent_direction", t(1, 2, 2, dtype=torch.float32)), weight=2, tol="single"),
        Case("zero float32 gradient in 5 dimensions stays zero and float32",
             Call("steepest_ascent_direction", torch.zeros(5, dtype=torch.float32)), weight=2, tol="single"),
    ]),
    Question("q4", "Gradient of a quadratic form", points=5, forbid=AUTOGRAD_APIS, because=BY_HAND, cases=[
        Case("x^2 + 3xy + y^2 = x^T A x with A = [[1, 3], [0, 1]] at (2, 3) is (13, 12)",
             Call("quadratic_form_grad", m([1, 3], [0, 1]), t(2, 3)), weight=3, public=True, expected=t(13, 12)),
        Case("the same function with the symmetric A = [[1, 1.5], [1.5, 1]] is also (13, 12)",
             Call("quadratic_form_grad", m([1, 1.5], [1.5, 1]), t(2, 3)), weight=3, public=True,
             expected=t(13, 12)),
        Case("x^2 + 3xy + 2y^2 = x^T A x with A = [[1, 3], [0, 2]] at (1, 1) is (5, 7)",
             Call("quadratic_form_grad", m([1, 3], [0, 2]), t(1, 1)), weight=3, public=True, expected=t(5, 7)),
        Case("random non-symmetric 5x5 matrix", Call("quadratic_form_grad", randn(51, 5, 5), randn(52, 5)),
             weight=4),
        Case("random symmetric 4x4 matrix", Call("quadratic_form_grad", SYMMETRIC, randn(53, 4)), weight=3),
        Case("the identity matrix", Call("quadratic_form_grad", torch.eye(3, dtype=torch.float64), randn(54, 3)),
             weight=2),
        Case("float32 inputs give a float32 gradient",
             Call("quadratic_form_grad", m([1, 2], [3, 4], dtype=torch.float32), t(1, -1, dtype=torch.float32)),
             weight=2, tol="single"),
    ]),
    Question("q5", "Least-squares gradient", points=7, forbid=AUTOGRAD_APIS, because=BY_HAND, cases=[
        Case("Phi = [[1, 0], [0, 1], [1, 1]], y = (1, 2, 3), theta = 0 gives -2 Phi^T y = (-8, -10)",
             Call("least_squares_grad", m([1, 0], [0, 1], [1, 1]), t(1, 2, 3), t(0, 0)), public=True,
             expected=t(-8, -10)),
        Case("a perfect fit, theta = (1, 2) with Phi theta = y, has zero gradient",
             Call("least_squares_grad", m([1, 0], [0, 1], [1, 1]), t(1, 2, 3), t(1, 2)), public=True,
             expected=t(0, 0)),
        Case("random tall system, N = 8 observations, D = 3 parameters",
             Call("least_squares_grad", randn(61, 8, 3), randn(62, 8), randn(63, 3))),
        Case("more parameters than observations, N = 2, D = 5",
             Call("least_squares_grad", randn(64, 2, 5), randn(65, 2), randn(66, 5))),
        Case("a single parameter, D = 1", Call("least_squares_grad", randn(67, 6, 1), randn(68, 6), randn(69, 1))),
        Case("the least-squares fit of a parabola to 7 points is a stationary point",
             Call("least_squares_grad", PARABOLA_PHI, PARABOLA_Y, PARABOLA_THETA)),
        Case("float32 inputs give a float32 gradient",
             Call("least_squares_grad", m([1, 2], [3, 4], [5, 6], dtype=torch.float32),
                  t(1, 0, -1, dtype=torch.float32), t(0.5, -0.25, dtype=torch.float32)), tol="single"),
    ]),
]
