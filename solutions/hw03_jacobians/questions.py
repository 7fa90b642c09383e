"""hw03_jacobians: questions, points and test cases (public ones are the lecture notes' examples)."""

import math

import torch

from course.build.fixtures import sketch
from calc4ml_runtime.guards import AUTOGRAD_APIS, FULL_MATRIX_APIS
from course.build.spec import Call, Case, Question, randn


# Fixtures: inputs that are functions. Module-level, torch and math only: their source is shipped.
def notes_map(x):
    """[x1^2 + x2, x1 x2 + x2^2]: Jacobian [[2 x1, 1], [x2, x1 + 2 x2]]."""
    return torch.stack([x[0] ** 2 + x[1], x[0] * x[1] + x[1] ** 2])


def notes_map_xy(x):
    """[x^2 + y, x y]: Jacobian [[2x, 1], [y, x]]."""
    return torch.stack([x[0] ** 2 + x[1], x[0] * x[1]])


def wide_map(x):
    """R^3 -> R^5."""
    return torch.stack([x[0] * x[1], torch.sin(x[2]), x[0] ** 2 - x[2],
                        torch.exp(x[1] / 2), x[0] * x[1] * x[2]])


def mixing_map(x):
    """R^7 -> R^3: a nonlinear map that mixes every input into every output."""
    return torch.stack([torch.sin(x).sum(), (x ** 2 * torch.arange(7, dtype=x.dtype)).sum(),
                        torch.tanh(x[0] * x[6]) + x[3]])


# Layers for composed_jacobian: each returns its value and its Jacobian, as a layer of a framework
# without autograd would. The values go through Python floats or are detached: no autograd graph
# joins f to g, so the composition cannot be differentiated as one, only by the chain rule.
def notes_inner_layer(x):
    """f(x) = [x0 x1, x0 + x1^2], J_f = [[x1, x0], [1, 2 x1]]."""
    a, b = x.tolist()
    return torch.tensor([a * b, a + b * b], dtype=x.dtype), torch.tensor([[b, a], [1.0, 2 * b]], dtype=x.dtype)


def notes_outer_layer(y):
    """g(y) = [y0 + y1, y0 y1], J_g = [[1, 1], [y1, y0]]."""
    a, b = y.tolist()
    return torch.tensor([a + b, a * b], dtype=y.dtype), torch.tensor([[1.0, 1.0], [b, a]], dtype=y.dtype)


def wave_layer_3_to_5(x):
    """y = sin(30 (A x + c)) with a seeded A (5 x 3): J = diag(30 cos(30 (A x + c))) A. (High
    frequencies: central differences of the composed values are off by far more than rounding.)"""
    generator = torch.Generator().manual_seed(9)
    A = torch.randn(5, 3, generator=generator, dtype=x.dtype)
    c = torch.randn(5, generator=generator, dtype=x.dtype)
    z = 30 * (A @ x.detach() + c)
    return torch.sin(z), (30 * torch.cos(z))[:, None] * A


def squash_layer_5_to_2(y):
    """[y0 y1 + y2, sin(30 y3) - y4^2] and its Jacobian."""
    a, b, c, d, e = y.tolist()
    return (torch.tensor([a * b + c, math.sin(30 * d) - e * e], dtype=y.dtype),
            torch.tensor([[b, a, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 30 * math.cos(30 * d), -2 * e]], dtype=y.dtype))


def pair_layer_4_to_2(x):
    """[sin(30 x0) x3 + x1, cos(30 x2) + x1^3] and its Jacobian."""
    a, b, c, d = x.tolist()
    return (torch.tensor([math.sin(30 * a) * d + b, math.cos(30 * c) + b ** 3], dtype=x.dtype),
            torch.tensor([[30 * math.cos(30 * a) * d, 1.0, 0.0, math.sin(30 * a)],
                          [0.0, 3 * b * b, -30 * math.sin(30 * c), 0.0]], dtype=x.dtype))


def lift_layer_2_to_3(y):
    """[y0 y1, y0 - y1, tanh(y0)] and its Jacobian."""
    a, b = y.tolist()
    return (torch.tensor([a * b, a - b, math.tanh(a)], dtype=y.dtype),
            torch.tensor([[b, a], [1.0, -1.0], [1 - math.tanh(a) ** 2, 0.0]], dtype=y.dtype))


def wave_layer_4_to_6(x):
    """x -> sin(30 A x) with a seeded A (6 x 4): J = diag(30 cos(30 A x)) A."""
    A = torch.randn(6, 4, generator=torch.Generator().manual_seed(7), dtype=x.dtype)
    z = 30 * (A @ x.detach())
    return torch.sin(z), (30 * torch.cos(z))[:, None] * A


def linear_layer_6_to_3(y):
    """y -> B y with a seeded B (3 x 6): its Jacobian is B."""
    B = torch.randn(3, 6, generator=torch.Generator().manual_seed(8), dtype=y.dtype)
    return B @ y.detach(), B


def rotation_layer_3(x):
    """R^3 -> R^3, [sin(30 x0) x1, sin(30 (x1 + x2)), x2^2 - x0]: square, so the wrong order
    multiplies without an error."""
    a, b, c = x.tolist()
    s, w = math.sin(30 * (b + c)), 30 * math.cos(30 * (b + c))
    return (torch.tensor([math.sin(30 * a) * b, s, c * c - a], dtype=x.dtype),
            torch.tensor([[30 * math.cos(30 * a) * b, math.sin(30 * a), 0.0], [0.0, w, w], [-1.0, 0.0, 2 * c]],
                         dtype=x.dtype))


def cubic_layer_3(y):
    """R^3 -> R^3, [y0^3, y0 y2, y1 + y2^2]."""
    a, b, c = y.tolist()
    return (torch.tensor([a ** 3, a * c, b + c * c], dtype=y.dtype),
            torch.tensor([[3 * a * a, 0.0, 0.0], [c, 0.0, a], [0.0, 1.0, 2 * c]], dtype=y.dtype))


# Black boxes for numerical_jacobian: the same maps computed through Python floats, as a
# simulator or a library you cannot differentiate would be. Autograd, by any route, gets nothing.
def notes_map_black_box(x):
    """[x1^2 + x2, x1 x2 + x2^2] through floats."""
    a, b = x.tolist()
    return torch.tensor([a * a + b, a * b + b * b], dtype=x.dtype)


def notes_map_xy_black_box(x):
    """[x^2 + y, x y] through floats."""
    a, b = x.tolist()
    return torch.tensor([a * a + b, a * b], dtype=x.dtype)


def notes_linear_map_black_box(x):
    """y1 = -2 x1 + x2, y2 = x1 + x2 through floats."""
    a, b = x.tolist()
    return torch.tensor([-2 * a + b, a + b], dtype=x.dtype)


def notes_weight_map_black_box(x):
    """x -> W x with the notes' W = [[1, 2, 3], [4, 5, 6]], through floats."""
    a, b, c = x.tolist()
    return torch.tensor([a + 2 * b + 3 * c, 4 * a + 5 * b + 6 * c], dtype=x.dtype)


def wide_map_black_box(x):
    """R^3 -> R^5 through floats."""
    a, b, c = x.tolist()
    return torch.tensor([a * b, math.sin(c), a * a - c, math.exp(b / 2), a * b * c], dtype=x.dtype)


def mixing_map_black_box(x):
    """R^7 -> R^3 through floats: every input moves every output."""
    v = x.tolist()
    return torch.tensor([sum(math.sin(a) for a in v), sum(a * a * i for i, a in enumerate(v)),
                         math.tanh(v[0] * v[6]) + v[3]], dtype=x.dtype)


# O(n) maps for the cost checks (n = 300_000: a full n x n float64 Jacobian would need 720 GB).
def tanh_times_shift(x):
    """R^n -> R^n, f_i = tanh(x_i) x_{i-1}: J has a diagonal and a (cyclic) subdiagonal."""
    return torch.tanh(x) * torch.roll(x, 1)


def prefix_sums_and_squares(x):
    """R^n -> R^(n + 1000): J is lower triangular (n x n ones) above 1000 rows of 2 x_i e_i."""
    return torch.cat([torch.cumsum(x, 0), x[:1000] ** 2])


def neighbour_products(x):
    """R^n -> R^(n - 1), f_i = x_i x_{i+1}."""
    return x[1:] * x[:-1]


# Post-processing fixtures.
def weight_gradient(outputs, inputs):
    return outputs[0][0]


def input_gradient(outputs, inputs):
    return outputs[0][1]


def t(*values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


def onehot(i, n):
    e = torch.zeros(n, dtype=torch.float64)
    e[i] = 1.0
    return e


BY_HAND = "use autograd (derive it by hand)"
COLUMNS = "use autograd (the question is central differences: f is a black box)"
NO_J = "build the Jacobian"
N = 300_000

QUESTIONS = [
    Question("q1", "Numerical Jacobian", points=5, forbid=AUTOGRAD_APIS, because=COLUMNS, cases=[
        Case("[x1^2 + x2, x1 x2 + x2^2] at (2, 3) is [[4, 1], [3, 8]]",
             Call("numerical_jacobian", notes_map_black_box, t(2, 3)), weight=2, public=True, tol="numerical",
             expected=t(4, 1, 3, 8).reshape(2, 2)),
        Case("[x^2 + y, x y] at (2, 3) is [[4, 1], [3, 2]]",
             Call("numerical_jacobian", notes_map_xy_black_box, t(2, 3)), weight=2, public=True, tol="numerical",
             expected=t(4, 1, 3, 2).reshape(2, 2)),
        Case("the Jacobian of x -> W x is W (2 x 3)",
             Call("numerical_jacobian", notes_weight_map_black_box, t(0.5, -1, 2)), weight=2, public=True,
             tol="numerical", expected=t(1, 2, 3, 4, 5, 6).reshape(2, 3)),
        Case("y1 = -2 x1 + x2, y2 = x1 + x2 gives [[-2, 1], [1, 1]]",
             Call("numerical_jacobian", notes_linear_map_black_box, t(1, 1)), weight=2, public=True,
             tol="numerical", expected=t(-2, 1, 1, 1).reshape(2, 2)),
        Case("a map R^3 -> R^5 at a random point has shape (5, 3)",
             Call("numerical_jacobian", wide_map_black_box, randn(31, 3)), weight=4, tol="numerical"),
        Case("a map R^7 -> R^3 at a random point",
             Call("numerical_jacobian", mixing_map_black_box, randn(32, 7)), weight=4, tol="numerical"),
        Case("uses the step h it is given (h = 0.1 on a map R^3 -> R^5)",
             Call("numerical_jacobian", wide_map_black_box, randn(33, 3), h=0.1), weight=4, tol="numerical"),
    ]),
    Question("q2", "Softmax Jacobian", points=6, forbid=AUTOGRAD_APIS, because=BY_HAND, cases=[
        Case("logits [2, 1, 0.1]", Call("softmax_jacobian", t(2, 1, 0.1)), weight=2, public=True,
             expected=t(0.2247186378, -0.1597636038, -0.0649550340,
                        -0.1597636038, 0.1836592254, -0.0238956216,
                        -0.0649550340, -0.0238956216, 0.0888506557).reshape(3, 3)),
        Case("random logits in 6 classes", Call("softmax_jacobian", randn(34, 6))),
        Case("equal logits in 4 classes", Call("softmax_jacobian", t(0, 0, 0, 0))),
        Case("large logits [1000, 1001, 1002] give no NaN", Call("softmax_jacobian", t(1000, 1001, 1002))),
        Case("float32 input gives float32 output",
             Call("softmax_jacobian", t(0.5, -1.0, 2.0, 0.0, dtype=torch.float32)), tol="single"),
    ]),
    Question("q3", "Chain rule for Jacobians", points=5, cases=[
        Case("g(f(x)) for the notes' f and g at (1, 2) is [[3, 5], [12, 13]]",
             Call("composed_jacobian", notes_inner_layer, notes_outer_layer, t(1, 2)), public=True,
             expected=t(3, 5, 12, 13).reshape(2, 2)),
        Case("R^3 -> R^5 -> R^2 at a random point (shape (2, 3))",
             Call("composed_jacobian", wave_layer_3_to_5, squash_layer_5_to_2, randn(35, 3))),
        Case("R^4 -> R^2 -> R^3 at a random point (shape (3, 4))",
             Call("composed_jacobian", pair_layer_4_to_2, lift_layer_2_to_3, randn(36, 4))),
        Case("a linear layer B after a layer R^4 -> R^6: B J_f (shape (3, 4))",
             Call("composed_jacobian", wave_layer_4_to_6, linear_layer_6_to_3, randn(37, 4))),
        Case("square maps R^3 -> R^3 -> R^3, where the wrong order multiplies without an error",
             Call("composed_jacobian", rotation_layer_3, cubic_layer_3, randn(38, 3))),
    ]),
    Question("q4", "Vector-Jacobian product", points=5, forbid=FULL_MATRIX_APIS, because=NO_J, cases=[
        Case("gradient of sum([x0^2 + x1, x0 x1]) at (1, 2) is [4, 2] (v = [1, 1])",
             Call("vjp", notes_map_xy, t(1, 2), t(1, 1)), public=True, expected=t(4, 2)),
        Case("v = [1, 0] picks the first row of [[4, 1], [3, 8]]",
             Call("vjp", notes_map, t(2, 3), t(1, 0)), public=True, expected=t(4, 1)),
        Case("a one-hot v picks a row of the Jacobian of a map R^3 -> R^5",
             Call("vjp", wide_map, randn(38, 3), onehot(2, 5))),
        Case("random v on a map R^3 -> R^5", Call("vjp", wide_map, randn(39, 3), randn(40, 5))),
        # The dot-product test's map: its Jacobian is not symmetric, so a J u in place of J^T v fails.
        Case("random v on a map R^50 -> R^50 with a Jacobian that is not symmetric",
             Call("vjp", tanh_times_shift, randn(55, 50), randn(56, 50))),
        Case("float32 input gives float32 output",
             Call("vjp", tanh_times_shift, t(0.5, -1.0, 2.0, dtype=torch.float32),
                  t(1.0, 2.0, -1.0, dtype=torch.float32)), tol="single"),
        Case("n = 300,000 without building the Jacobian (R^n -> R^n)",
             Call("vjp", tanh_times_shift, randn(41, N), randn(42, N)), weight=2, post=sketch),
        Case("n = 300,000 without building the Jacobian (R^n -> R^(n + 1000))",
             Call("vjp", prefix_sums_and_squares, randn(43, N), randn(44, N + 1000)), weight=2, post=sketch),
    ]),
    Question("q5", "Jacobian-vector product", points=6, forbid=FULL_MATRIX_APIS, because=NO_J, cases=[
        Case("u = [1, 0] picks the first column of [[4, 1], [3, 8]]",
             Call("jvp", notes_map, t(2, 3), t(1, 0)), public=True, expected=t(4, 3)),
        Case("u = [0, 1] picks the second column of [[4, 1], [3, 2]]",
             Call("jvp", notes_map_xy, t(2, 3), t(0, 1)), public=True, expected=t(1, 2)),
        Case("a one-hot u picks a column of the Jacobian of a map R^3 -> R^5",
             Call("jvp", wide_map, randn(45, 3), onehot(1, 3)), weight=2),
        Case("random u on a map R^7 -> R^3", Call("jvp", mixing_map, randn(46, 7), randn(47, 7)), weight=2),
        Case("random u on a map R^50 -> R^50 with a Jacobian that is not symmetric",
             Call("jvp", tanh_times_shift, randn(55, 50), randn(57, 50)), weight=2),
        Case("n = 300,000 without building the Jacobian (R^n -> R^n)",
             Call("jvp", tanh_times_shift, randn(48, N), randn(49, N)), weight=2, post=sketch),
        Case("n = 300,000 without building the Jacobian (R^n -> R^(n - 1))",
             Call("jvp", neighbour_products, randn(50, N), randn(51, N)), weight=2, post=sketch),
    ]),
    Question("q6", "Backward pass of a linear layer", points=6, forbid=AUTOGRAD_APIS, because=BY_HAND,
             outputs=("grad_W", "grad_x"), cases=[
        Case("the notes' W = [[1, 2, 3], [4, 5, 6]], x = [1, 0, -1], grad_y = [1, 1]",
             Call("linear_layer_backward", t(1, 2, 3, 4, 5, 6).reshape(2, 3), t(1, 0, -1), t(1, 1)),
             weight=2, public=True, expected=(t(1, 0, -1, 1, 0, -1).reshape(2, 3), t(5, 7, 9))),
        Case("grad_W of a random 4 x 7 layer",
             Call("linear_layer_backward", randn(58, 4, 7), randn(59, 7), randn(60, 4)), post=weight_gradient),
        Case("grad_x of a random 4 x 7 layer",
             Call("linear_layer_backward", randn(58, 4, 7), randn(59, 7), randn(60, 4)), post=input_gradient),
        Case("both gradients of a random 5 x 2 layer",
             Call("linear_layer_backward", randn(61, 5, 2), randn(62, 2), randn(63, 5)), weight=2),
    ]),
]
