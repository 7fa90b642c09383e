"""hw05_flows: questions, points and test cases (public ones are the lecture notes' examples)."""

import math

import torch

from calc4ml_runtime.guards import AUTOGRAD_APIS
from course.build.spec import Call, Case, Question, randn


# Fixtures: inputs that are functions. Module-level, torch and math only: their source is shipped.
def notes_linear_map(x):
    """y1 = -2 x1 + x2, y2 = x1 + x2: Jacobian [[-2, 1], [1, 1]], determinant -3."""
    return torch.stack([-2 * x[0] + x[1], x[0] + x[1]])


def polar_to_cartesian(p):
    r, theta = p[0], p[1]
    return torch.stack([r * torch.cos(theta), r * torch.sin(theta)])


def warped_map(x):
    """x + 0.5 tanh(W x) with a fixed random W: a nonlinear map of R^n onto itself."""
    g = torch.Generator().manual_seed(7)
    W = torch.randn(x.shape[0], x.shape[0], generator=g, dtype=torch.float64).to(x.dtype)
    return x + 0.5 * torch.tanh(W @ x)


def swap_and_bend(x):
    """Swaps the first two coordinates and bends a little: its determinant is negative."""
    return torch.stack([x[1], x[0], x[2]]) + 0.3 * torch.sin(x)


def shrink_by_1000(x):
    return 1e-3 * x


def stretch_and_bend(x):
    return 1e3 * x + torch.sin(x)


def shrink_and_flip(x):
    return -1e-3 * x + 1e-5 * torch.tanh(x)


def half(x1):
    return 0.5 * x1


def plus_one(x1):
    return x1 + 1


def scale_net(x1):
    """A small fixed network R^k -> R^(d - k) with d - k = k (even d)."""
    g = torch.Generator().manual_seed(11)
    W = torch.randn(x1.shape[-1], x1.shape[-1], generator=g, dtype=torch.float64).to(x1.dtype)
    return torch.tanh(x1 @ W)


def shift_net(x1):
    g = torch.Generator().manual_seed(12)
    W = torch.randn(x1.shape[-1], x1.shape[-1], generator=g, dtype=torch.float64).to(x1.dtype)
    return torch.sin(x1 @ W) + 0.5


def scale_net_odd(x1):
    """R^k -> R^(k + 1): for an odd dimension d = 2k + 1."""
    g = torch.Generator().manual_seed(13)
    W = torch.randn(x1.shape[-1], x1.shape[-1] + 1, generator=g, dtype=torch.float64).to(x1.dtype)
    return 0.8 * torch.tanh(x1 @ W)


def shift_net_odd(x1):
    g = torch.Generator().manual_seed(14)
    W = torch.randn(x1.shape[-1], x1.shape[-1] + 1, generator=g, dtype=torch.float64).to(x1.dtype)
    return x1 @ W


def riemann_sum_of_density(outputs, inputs):
    """exp(log p) summed over a regular grid, times the volume of one grid cell."""
    log_p, grid = outputs[0], inputs[0][0]
    cell = 1.0
    for j in range(grid.shape[1]):
        column = grid[:, j]
        n = torch.unique(column).numel()
        cell *= float(column.max() - column.min()) / (n - 1)
    return float(torch.exp(log_p.to(torch.float64)).sum()) * cell


def importance_sampling_integral(outputs, inputs):
    """Monte Carlo estimate of the integral of p over R^d, with the points x ~ N(0, I) as proposal:
    the mean of p(x) / N(x; 0, I)."""
    log_p, x = outputs[0], inputs[0][0]
    log_q = -0.5 * (x ** 2).sum(dim=-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)
    return float(torch.exp(log_p.to(torch.float64) - log_q).mean())


def coupling_log_det_matches_slogdet(outputs, inputs):
    """True when every row's log_det equals slogdet of the autograd Jacobian of that row's map."""
    log_det = outputs[0][1]
    x, s, t = inputs[0]
    k = x.shape[-1] // 2

    def layer(row):
        x1, x2 = row[:k], row[k:]
        return torch.cat([x1, x2 * torch.exp(s(x1[None])[0]) + t(x1[None])[0]])

    for i in range(x.shape[0]):
        jacobian = torch.autograd.functional.jacobian(layer, x[i])
        if not abs(float(log_det[i]) - float(torch.linalg.slogdet(jacobian).logabsdet)) < 1e-9:
            return False
    return True


def planar_log_det_matches_slogdet(outputs, inputs):
    """True when every row's log-det equals slogdet of the autograd Jacobian of z + u tanh(w.z + b)."""
    log_det = outputs[0]
    z, u, w, b = inputs[0]

    def planar(row):
        return row + u * torch.tanh(row @ w + b)

    for i in range(z.shape[0]):
        jacobian = torch.autograd.functional.jacobian(planar, z[i])
        if not abs(float(log_det[i]) - float(torch.linalg.slogdet(jacobian).logabsdet)) < 1e-9:
            return False
    return True


def t(*values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


def m(*rows, dtype=torch.float64):
    return torch.tensor(rows, dtype=dtype)


LOG_12_PI = math.log(12 * math.pi)
# -4, -4 + 1/80, ..., 5: one correctly rounded division per point, the same bits on every machine.
GRID_1D = (torch.arange(721, dtype=torch.float64) / 80 - 4).reshape(-1, 1)
LOG_2 = 0.6931471805599453  # math.log(2), written out: the plan's inputs do not depend on the C library
W_PLANAR = t(0.8, -0.6, 0.5)
# w.z + b = 0, 0.3, -0.5 (where 1 + u.psi < 0) and 1.5, -2.5, 3 (where it is > 0), for u = [-3, -1.5], w = [1, 0.5].
PLANAR_SIGN_POINTS = m([0.0, 0.0], [0.1, 0.4], [-0.5, 0.0], [1.0, 1.0], [-2.0, -1.0], [2.0, 2.0])

BY_HAND = "use autograd (write the Jacobian down by hand)"
LEMMA = "use autograd (use the matrix determinant lemma: O(d) per row, no Jacobian)"

QUESTIONS = [
    Question("q1", "Jacobian determinant of polar coordinates", points=3, forbid=AUTOGRAD_APIS, because=BY_HAND,
             cases=[
        Case("r = 2, theta = pi/4 gives 2", Call("polar_jacobian_det", 2.0, math.pi / 4),
             weight=2, public=True, expected=2.0),
        Case("r = 0.5, theta = 2.5", Call("polar_jacobian_det", 0.5, 2.5), weight=2),
        Case("another angle: r = 3.7 at theta = -10", Call("polar_jacobian_det", 3.7, -10.0), weight=3),
        Case("negative r gives the signed determinant", Call("polar_jacobian_det", -1.5, 0.3), weight=3),
        Case("r = 0 squashes a whole circle of angles to one point", Call("polar_jacobian_det", 0.0, 1.0), weight=2),
    ]),
    Question("q2", "Stable log-determinant of a Jacobian", points=5, cases=[
        Case("the notes' map y1 = -2x1 + x2, y2 = x1 + x2 scales area by 3",
             Call("log_abs_det_jacobian", notes_linear_map, t(0.5, -1.0)),
             weight=2, public=True, expected=math.log(3)),
        Case("polar coordinates at r = 2, theta = pi/4: log 2",
             Call("log_abs_det_jacobian", polar_to_cartesian, t(2.0, math.pi / 4)),
             weight=2, public=True, expected=math.log(2)),
        Case("a nonlinear map of R^4 at a random point", Call("log_abs_det_jacobian", warped_map, randn(501, 4)),
             weight=2),
        Case("a nonlinear map of R^6 at another random point",
             Call("log_abs_det_jacobian", warped_map, randn(502, 6)), weight=2),
        Case("a map with a negative determinant", Call("log_abs_det_jacobian", swap_and_bend, randn(503, 3)),
             weight=3),
        Case("200 dimensions, determinant far below the smallest float64",
             Call("log_abs_det_jacobian", shrink_by_1000, randn(504, 200)), weight=3),
        Case("200 dimensions, determinant far above the largest float64",
             Call("log_abs_det_jacobian", stretch_and_bend, randn(505, 200)), weight=3),
        Case("201 dimensions, tiny and negative determinant",
             Call("log_abs_det_jacobian", shrink_and_flip, randn(506, 201)), weight=3),
    ]),
    Question("q3", "Log-determinant of an affine flow", points=3, cases=[
        Case("scale [2, 3] gives log 6", Call("affine_flow_log_det", t(2.0, 3.0)),
             public=True, expected=math.log(6)),
        Case("random scales, some negative", Call("affine_flow_log_det", randn(511, 6))),
        Case("all scales negative", Call("affine_flow_log_det", t(-0.5, -2.0, -4.0, -0.1))),
        Case("60 scales of 1e10: the product overflows float64",
             Call("affine_flow_log_det", torch.full((60,), 1e10, dtype=torch.float64))),
        Case("60 scales of -1e-10: the product underflows float64",
             Call("affine_flow_log_det", torch.full((60,), -1e-10, dtype=torch.float64))),
        Case("float32 scales", Call("affine_flow_log_det", t(1.5, -0.25, 3.0, dtype=torch.float32)), tol="single"),
    ]),
    Question("q4", "Log-density under an affine flow", points=6, cases=[
        Case("scale [2, 3], shift [1, -1] at x = [1, -1] and [3, 2]",
             Call("affine_flow_log_prob", m([1.0, -1.0], [3.0, 2.0]), t(2.0, 3.0), t(1.0, -1.0)),
             weight=2, public=True, expected=t(-LOG_12_PI, -1 - LOG_12_PI)),
        Case("a random batch of 7 points in 3 dimensions, some scales negative",
             Call("affine_flow_log_prob", randn(521, 7, 3), t(0.7, -1.8, 2.5), t(0.3, -1.0, 0.2))),
        Case("Riemann sum of the density over a fine 1-D grid",
             Call("affine_flow_log_prob", GRID_1D, t(-0.6), t(0.4)), post=riemann_sum_of_density),
        Case("Monte Carlo integral of the density over R^2 (20000 points)",
             Call("affine_flow_log_prob", randn(522, 20000, 2), t(0.9, -0.7), t(0.3, -0.2)),
             post=importance_sampling_integral),
        Case("a point 40 standard deviations away has a finite log-density",
             Call("affine_flow_log_prob", m([40.0, 0.0], [0.0, -40.0]), t(1.0, 1.0), t(0.0, 0.0))),
        Case("scales of 1e200 in 3 dimensions: no overflow",
             Call("affine_flow_log_prob", m([1e200, -2e200, 0.5e200], [-0.3e200, 0.0, 2.2e200]),
                  t(1e200, -1e200, 1e200), t(0.0, 0.0, 0.0))),
        Case("float32 input keeps float32",
             Call("affine_flow_log_prob", m([0.5, -1.0], [2.0, 0.25], dtype=torch.float32),
                  t(1.5, -0.5, dtype=torch.float32), t(0.1, 0.2, dtype=torch.float32)), tol="single"),
    ]),
    Question("q5", "Affine coupling layer", points=7, outputs=("y", "log_det"), cases=[
        Case("x = [0, 2, 1, -1] with s(x1) = x1 / 2, t(x1) = x1 + 1",
             Call("coupling_forward", m([0.0, 2.0, 1.0, -1.0]), half, plus_one),
             weight=4, public=True, expected=(m([0.0, 2.0, 2.0, 3 - math.e]), t(1.0))),
        Case("a random batch of 5 points in 6 dimensions",
             Call("coupling_forward", randn(531, 5, 6), scale_net, shift_net), weight=6),
        Case("log_det agrees with slogdet of the autograd Jacobian, row by row",
             Call("coupling_forward", randn(532, 4, 8), scale_net, shift_net),
             weight=6, post=coupling_log_det_matches_slogdet, expected=True),
        Case("odd dimension d = 5: the first d // 2 = 2 columns are copied",
             Call("coupling_forward", randn(533, 3, 5), scale_net_odd, shift_net_odd), weight=6),
        Case("float32 input keeps float32",
             Call("coupling_forward", m([0.5, -1.0, 2.0, 0.25], [1.0, 0.0, -0.5, 3.0], dtype=torch.float32),
                  scale_net, shift_net), weight=6, tol="single"),
    ]),
    Question("q6", "Log-determinant of a planar flow", points=6, forbid=AUTOGRAD_APIS, because=LEMMA, cases=[
        Case("u = [0.5, 0.5], w = [1, 1], b = 0, at z = [0, 0] and [log 2, 0]",
             Call("planar_flow_log_det", m([0.0, 0.0], [LOG_2, 0.0]), t(0.5, 0.5), t(1.0, 1.0), 0.0),
             weight=2, public=True, expected=t(math.log(2), math.log(1.64))),
        Case("a random batch of 6 points in 3 dimensions",
             Call("planar_flow_log_det", randn(541, 6, 3), t(0.4, 0.9, -0.2), W_PLANAR, 0.3)),
        Case("log-det agrees with slogdet of the autograd Jacobian, row by row",
             Call("planar_flow_log_det", randn(542, 5, 3), t(-0.5, 0.3, 1.2), W_PLANAR, -0.4),
             weight=2, post=planar_log_det_matches_slogdet, expected=True),
        Case("1 + u.psi is negative near the hyperplane w.z + b = 0",
             Call("planar_flow_log_det", PLANAR_SIGN_POINTS, t(-3.0, -1.5), t(1.0, 0.5), 0.0), weight=2),
        Case("float32 input keeps float32",
             Call("planar_flow_log_det", m([0.3, -0.2, 1.0], [-1.0, 0.5, 0.0], dtype=torch.float32),
                  t(0.4, 0.9, -0.2, dtype=torch.float32), t(0.8, -0.6, 0.5, dtype=torch.float32), 0.3),
             tol="single"),
    ]),
]
