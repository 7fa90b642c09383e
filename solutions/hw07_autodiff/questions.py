"""hw07_autodiff: questions, points and test cases (public ones are the lecture notes' examples).

The engine (the ``Node`` class) is graded through ``grad``: each question's expressions use the
operations it is about and only those whose VJPs the other questions grade separately, so a
mistake in one VJP costs points on its own question. Questions 4 to 6 use tree-shaped
expressions (every input and intermediate used once), where neither the order of the backward
pass nor accumulation matters; question 3 grades exactly those on graphs with shared nodes.
A question's cases call only what the notebook defines before its ``grader.check`` cell: otter
grades a question there, so q1 and q2 (before the engine) call only unbroadcast and log_softmax,
and the engine's broadcasting and its stable losses are graded in q4 and q6.

Every ``grad`` case's documented value is torch.autograd's, computed here at build time on the
same expression (``by_autograd``): the build fails if the reference engine disagrees, and the
tests compare them tightly. Autograd is forbidden while the students' functions run (grad mode
is off then, so a tensor that requires grad records nothing).
"""

import math

import torch

from calc4ml_runtime.guards import AUTOGRAD_APIS
from course.build.spec import Call, Case, Question, randn


# ---------------------------------------------------------------- fixtures
# Functions passed to grad, and post-processing of outputs. Module-level defs using only torch and
# math: their source is shipped to the graders. Each takes Nodes (tensors, for by_autograd).

def notes_cubic(x):
    """x^3 + 2x^2 + x (seed 002's gradient check): x is used three times."""
    return x ** 3 + 2 * x ** 2 + x


def notes_linear_model(w, b):
    """(w x + b - y)^2 with x = 3, y = 10 (seed 002's linear model)."""
    return (w * 3 + b - 10) ** 2


def used_twice(x):
    return x * x + x


def square_diamond(x):
    """u = x^2 computed once, feeding two nodes."""
    u = x ** 2
    return u + 3 * u


def exp_sigmoid_diamond(x, y):
    u = x * y
    return u.exp() + u.sigmoid()


def notes_mean_of_squares(x):
    return (x ** 2).mean()


def deep_chain(x):
    """x multiplied by 1.00001 100,000 times: a graph 100,000 nodes deep."""
    for _ in range(100_000):
        x = x * 1.00001
    return x


def notes_mlp(W1, b1, W2, b2):
    """hw06's network and squared error on X = [[1, 2]], y = [[1]]: the third unit sits at 0."""
    X = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    y = torch.tensor([[1.0]], dtype=torch.float64)
    return (((X @ W1.T + b1).relu() @ W2.T + b2 - y) ** 2).mean()


def cross_entropy_label_0(z):
    return z.cross_entropy(torch.tensor([0]))


def cross_entropy_labels_0_2(z):
    return z.cross_entropy(torch.tensor([0, 2]))


def cross_entropy_six_rows(z):
    return z.cross_entropy(torch.tensor([3, 0, 1, 1, 2, 0]))


# q4: broadcasting along leading axes (+, *, / and exp only)
def bias_add(A, b):
    return ((A + b) ** 2).sum()


def scalar_times_vector(s, x):
    return (s * x).exp().sum()


def vector_times_matrix(v, A):
    return (v * A).exp().sum()


def divide_by_row(A, r):
    return (A / r).exp().sum()


# q6: the stable log-softmax through the engine
def weighted_log_softmax(z):
    W = torch.arange(z.shape[0] * z.shape[1], dtype=torch.float64).reshape(z.shape[0], z.shape[1]) / 7
    return (z.log_softmax() * W).sum()


def cross_entropy_of_large_logits(z):
    return z.cross_entropy(torch.tensor([0, 2, 1, 2]))


# q3: graphs with shared nodes (+, *, **, exp, sigmoid only)
def shared_product(x, y):
    u = x * y
    v = u.exp() + u * y
    return (v * u).sigmoid().sum()


def ladder(x):
    """12 rungs, each using the previous node twice: 4096 paths from the output to x."""
    for _ in range(12):
        x = x * 0.5 + x.sigmoid()
    return x.sum()


def one_input_ten_times(x):
    total = x
    for k in range(2, 11):
        total = total + k * x
    return total.sum()


def unused_input(x, y):
    return (x ** 2).sum()


def two_branches_of_matrices(A, B):
    C = A * B
    D = C.exp() * A + C
    return (D * D).sum()


def diamond_chain(x):
    """8 diamonds in a row: each node feeds two that meet again (256 paths)."""
    for _ in range(8):
        u = x * 0.999
        x = u * 0.5 + u.sigmoid() * 0.5
    return x.sum()


# q4: + - * / ** and unary minus, on same-shaped operands, every leaf used once
def product_over_quotient(x, y, z):
    return ((x * y) / z).sum()


def numbers_on_both_sides(x, y, z):
    return (-x + 2.5 * y - 4 / z).sum()


def powers(x, y, z):
    return (x ** 3 + y ** 0.5 + z ** -2).sum()


def difference_of_matrices(A, B, C):
    return ((A * B - C) / 2).sum()


def scalars_mixed(a, b, c):
    return (3 - a) * b / (c + 2) - 1


def quotient_of_vectors(x, y):
    return (x / y).sum()


# q5: @, .T, sum and mean
def matmul_sum(A, B):
    return (A @ B).sum()


def transpose_product(A, B):
    return (A.T @ B).exp().sum()


def three_matrices(A, B, C):
    return (A @ B @ C).sum()


def mean_of_matrix(A, B):
    return (A * B).mean()


def mean_of_product(A, B):
    return (A @ B.T).mean()


def matrix_loss(W, V):
    return ((W @ V).exp() / 10).mean()


def gradient_check(outputs, inputs):
    """Central differences (h = 1e-6) of f at each matrix input, one entry at a time, against
    the returned gradients: True when the largest relative error is below 1e-6."""
    f, xs = inputs[0][0], [x.to(torch.float64) for x in inputs[0][1:]]
    grads = outputs[0][1]
    worst = 0.0
    for i, x in enumerate(xs):
        for j in range(x.numel()):
            step = torch.zeros_like(x).reshape(-1)
            step[j] = 1e-6
            step = step.reshape(x.shape)
            up = [x + step if k == i else other for k, other in enumerate(xs)]
            down = [x - step if k == i else other for k, other in enumerate(xs)]
            numerical = (float(f(*up)) - float(f(*down))) / 2e-6
            got = float(grads[i].reshape(-1)[j])
            worst = max(worst, abs(got - numerical) / max(abs(numerical), 1e-3))
    return worst < 1e-6


# q6: exp, log, relu, sigmoid, tanh and the cross-entropy
def log_weighted(x):
    w = torch.arange(1, x.shape[0] + 1, dtype=torch.float64)
    return (x.log() * w).sum()


def relu_weighted(x):
    w = torch.arange(1, x.shape[0] + 1, dtype=torch.float64)
    return (x.relu() * w).sum()


def sigmoid_of_matrix(A):
    return (A.sigmoid() * 3).sum()


def tanh_weighted(x):
    w = torch.arange(1, x.shape[0] + 1, dtype=torch.float64) / 4
    return (x.tanh() * w).sum()


def activations_stacked(x):
    return ((x.tanh() + 1).log().exp().sigmoid()).sum()


def two_layer_tanh(X, W):
    """Integer data and weights: the ReLU sees exact zeros."""
    return (X @ W).relu().tanh().sum()


# q7: train_mlp
def final_loss_below_threshold(outputs, inputs):
    """The spiral: the last loss is below 0.3 (the reference reaches 0.19; ln 3 = 1.10 at chance)."""
    return outputs[0][-1] < 0.3


def number_of_losses(outputs, inputs):
    return len(outputs[0])


# ---------------------------------------------------------------- inputs built exactly

def t(*values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


def seeded(seed, *shape):
    """float64 standard normal numbers from a seed (torch's RNG is the same on every CPU in float64)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def integers(seed, low, high, *shape):
    """Integer-valued float64 entries (exact zeros among them where low <= 0 < high)."""
    return torch.randint(low, high, shape, generator=torch.Generator().manual_seed(seed)).to(torch.float64)


def positive(seed, *shape):
    return seeded(seed, *shape).abs() + 0.5


def spiral(points_per_class: int, classes: int = 3, seed: int = 0):
    """The course's three-arm spiral (cs231n's toy set), on a grid of 2^-20 so that sin and cos
    rounding differently on another CPU never changes an input: (X (N, 2), y (N,) int64)."""
    noise = seeded(seed, classes * points_per_class, 2)
    rows, labels = [], []
    for c in range(classes):
        for i in range(points_per_class):
            r = i / (points_per_class - 1)
            angle = 4 * c + 4 * r
            rows.append([r * math.sin(angle), r * math.cos(angle)])
            labels.append(c)
    X = torch.tensor(rows, dtype=torch.float64) + 0.1 * noise
    return torch.round(X * 2 ** 20) / 2 ** 20, torch.tensor(labels)


SPIRAL_X, SPIRAL_Y = spiral(40)
HIDDEN = 32
SPIRAL_PARAMS = (seeded(51, HIDDEN, 2) * 3, torch.zeros(HIDDEN, dtype=torch.float64),
                 seeded(52, 3, HIDDEN) / 4, torch.zeros(3, dtype=torch.float64))
SPIRAL_RUN = (SPIRAL_X, SPIRAL_Y, *SPIRAL_PARAMS, 1.0, 600)

# A public run small enough to follow by hand: 4 points, 2 classes, 3 hidden units.
TINY_X = t(1, 2, -1, 0.5, 0.5, -1.5, -2, -1).reshape(4, 2)
TINY_Y = torch.tensor([0, 1, 1, 0])
TINY_PARAMS = (t(1, -1, 0.5, 0.5, -2, 1).reshape(3, 2), t(0.5, 0.125, -0.25), t(1, 2, 3, -1, 0, 1).reshape(2, 3),
               t(0.5, -0.5))  # no pre-activation at 0: the run does not depend on relu'(0)
TINY_RUN = (TINY_X, TINY_Y, *TINY_PARAMS, 0.1, 5)

MLP_W1, MLP_B1 = t(1, -1, 0.5, 0.5, -2, 1).reshape(3, 2), t(0.5, 0, 0)
MLP_W2, MLP_B2 = t(1, 2, 3).reshape(1, 3), t(0.5)
ARANGE_24 = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)
LARGE_LOGITS = 1000 + seeded(60, 4, 3)


# ---------------------------------------------------------------- the true values, by torch.autograd

class _Traced(torch.Tensor):
    """A tensor with Node's two methods that torch.Tensor lacks, so that a fixture runs on autograd."""

    def log_softmax(self, dim: int = -1, dtype: torch.dtype | None = None) -> torch.Tensor:  # Node's takes no dim
        return torch.log_softmax(self.as_subclass(torch.Tensor), dim=dim, dtype=dtype)

    def cross_entropy(self, y):
        return torch.nn.functional.cross_entropy(self.as_subclass(torch.Tensor), y)


def by_autograd(f, *xs):
    """(value, grads) of f at xs by torch.autograd: what grad must return."""
    leaves = [torch.as_tensor(x, dtype=torch.float64).clone().requires_grad_(True) for x in xs]
    with torch.enable_grad():
        out = f(*[leaf.as_subclass(_Traced) for leaf in leaves])
        grads = torch.autograd.grad(out.as_subclass(torch.Tensor), leaves, allow_unused=True)
    return out.item(), [torch.zeros_like(x) if g is None else g for x, g in zip(leaves, grads)]


def autograd_descent(X, y, W1, b1, W2, b2, lr, steps):
    """train_mlp's losses, with torch.autograd and torch.nn.functional.cross_entropy."""
    params = [p.clone() for p in (W1, b1, W2, b2)]
    losses = []
    with torch.enable_grad():
        for _ in range(steps):
            leaves = [p.requires_grad_(True) for p in params]
            A, a, B, c = leaves
            loss = torch.nn.functional.cross_entropy(torch.relu(X @ A.T + a) @ B.T + c, y)
            grads = torch.autograd.grad(loss, leaves)
            losses.append(loss.item())
            params = [(p - lr * g).detach() for p, g in zip(leaves, grads)]
    return losses


def engine_case(label, f, *xs, weight=1, public=False, expected=None, post=None):
    """A case of grad(f, *xs), its documented value torch.autograd's unless given."""
    if expected is None and post is None:
        expected = by_autograd(f, *xs)
    return Case(label, Call("grad", f, *xs), weight=weight, public=public, expected=expected, post=post)


BY_HAND = "use autograd (write the backward pass by hand)"
CHAIN = math.prod([1.00001] * 100_000)  # 2.718268237192295: one rounding per factor, as the engine's chain

QUESTIONS = [
    Question("q1", "unbroadcast: the VJP of broadcasting", points=3, forbid=AUTOGRAD_APIS, because=BY_HAND, cases=[
        Case("arange(24) as (2, 3, 4) to shape (3, 1): [[60], [92], [124]]",
             Call("unbroadcast", ARANGE_24, (3, 1)), public=True, weight=2, expected=t(60, 92, 124).reshape(3, 1)),
        Case("arange(24) as (2, 3, 4) to shape (): 276",
             Call("unbroadcast", ARANGE_24, ()), public=True, weight=2, expected=t(276.0).reshape(())),
        Case("arange(24) as (2, 3, 4) to shape (3, 4): the sum over the first axis",
             Call("unbroadcast", ARANGE_24, (3, 4)), public=True, weight=2, expected=ARANGE_24.sum(dim=0)),
        Case("leading axes only: (4, 5, 3) to (3,)", Call("unbroadcast", randn(100, 4, 5, 3), (3,))),
        Case("a leading axis and a stretched one: (4, 5, 3) to (5, 1)", Call("unbroadcast", randn(101, 4, 5, 3), (5, 1)), weight=2),
        Case("stretched axes only: (2, 3) to (1, 3)", Call("unbroadcast", randn(102, 2, 3), (1, 3))),
        Case("every axis stretched: (3, 4) to (1, 1)", Call("unbroadcast", randn(103, 3, 4), (1, 1))),
        Case("the same shape: unchanged", Call("unbroadcast", randn(104, 2, 3), (2, 3))),
    ]),
    Question("q2", "A stable log_softmax", points=3, forbid=AUTOGRAD_APIS, because=BY_HAND, cases=[
        Case("[[1000, 1001, 1002]]: [[-2.4076059644443806, -1.4076059644443804, -0.4076059644443804]], no inf or nan",
             Call("log_softmax", t(1000, 1001, 1002).reshape(1, 3)), public=True, weight=2,
             expected=t(-2.4076059644443806, -1.4076059644443804, -0.4076059644443804).reshape(1, 3)),
        Case("[[2, 1, 0.1]]: [[-0.41703, -1.41703, -2.31703]]", Call("log_softmax", t(2, 1, 0.1).reshape(1, 3)),
             public=True, weight=2, expected=t(-0.41703001627783354, -1.4170300162778335, -2.3170300162778336).reshape(1, 3)),
        Case("random logits, 5 rows of 4", Call("log_softmax", randn(130, 5, 4)), weight=2),
        Case("rows spread from -1000 to 1000", Call("log_softmax", t(-1000, 0, 1000, 1000, 1000, -1000).reshape(2, 3)),
             weight=2),
        Case("very negative logits", Call("log_softmax", t(-1000, -1001, -1002, -750, -760, -770).reshape(2, 3)),
             weight=2),
        Case("a single class: all zeros", Call("log_softmax", t(5, -3, 1e4).reshape(3, 1)), weight=2),
    ]),
    Question("q3", "The engine: backward and grad", points=12, forbid=AUTOGRAD_APIS, because=BY_HAND,
             outputs=("value", "grads"), cases=[
        engine_case("x^3 + 2x^2 + x at 2: (18, [21])", notes_cubic, 2.0, public=True, weight=2,
                    expected=(18.0, [t(21.0).reshape(())])),
        engine_case("a node used twice, x*x + x at 3: (12, [7])", used_twice, 3.0, public=True, weight=2,
                    expected=(12.0, [t(7.0).reshape(())])),
        engine_case("a diamond, u = x**2 and u + 3*u at 2: (16, [16])", square_diamond, 2.0, public=True, weight=2,
                    expected=(16.0, [t(16.0).reshape(())])),
        engine_case("a diamond, u = x*y and u.exp() + u.sigmoid() at (1, 0.5)", exp_sigmoid_diamond, 1.0, 0.5,
                    public=True, weight=2, expected=(2.2711806019019827, [t(0.9418624914508613).reshape(()),
                                                                t(1.8837249829017226).reshape(())])),
        engine_case("a product feeding three nodes (vectors)", shared_product, seeded(140, 5) / 2, seeded(141, 5) / 2,
                    weight=2),
        engine_case("a ladder of 12 rungs, each node used twice", ladder, seeded(142, 4), weight=3),
        engine_case("one input used ten times", one_input_ten_times, seeded(143, 3, 2), weight=2),
        engine_case("an input f does not use gets a zero gradient of its shape", unused_input, seeded(144, 3),
                    seeded(145, 2, 2)),
        engine_case("matrices used in several branches", two_branches_of_matrices, seeded(146, 3, 4) / 2,
                    seeded(147, 3, 4) / 2, weight=2),
        engine_case("8 diamonds in a row", diamond_chain, seeded(148, 6), weight=2),
        # last of every grad case (see ORDER): an engine too slow for it, or one that recurses
        # until it crashes, is not called again, and loses nothing else
        engine_case("x times 1.00001, 100,000 times, at 1: value and gradient 2.718268237192295", deep_chain, 1.0,
                    public=True, weight=4, expected=(CHAIN, [t(CHAIN).reshape(())])),
    ]),
    Question("q4", "VJPs of + - * / ** and negation", points=6, forbid=AUTOGRAD_APIS, because=BY_HAND,
             outputs=("value", "grads"), cases=[
        engine_case("(3w + b - 10)^2 at w = 2, b = 1: (9, [-18, -6])", notes_linear_model, 2.0, 1.0, public=True, weight=2,
                    expected=(9.0, [t(-18.0).reshape(()), t(-6.0).reshape(())])),
        engine_case("x * y / z on vectors", product_over_quotient, seeded(150, 5), seeded(151, 5), positive(152, 5)),
        engine_case("Python numbers on both sides: -x + 2.5 y - 4 / z", numbers_on_both_sides, seeded(153, 4),
                    seeded(154, 4), positive(155, 4)),
        engine_case("powers 3, 0.5 and -2", powers, seeded(156, 4), positive(157, 4), positive(158, 4)),
        engine_case("(A * B - C) / 2 on matrices", difference_of_matrices, seeded(159, 2, 3), seeded(160, 2, 3),
                    seeded(161, 2, 3)),
        engine_case("scalars: (3 - a) * b / (c + 2) - 1", scalars_mixed, 0.5, -1.5, 0.75),
        engine_case("x / y: the denominator's gradient carries a minus sign", quotient_of_vectors, seeded(162, 5),
                    positive(163, 5)),
        engine_case("broadcasting: a bias (3,) added to every row of a (4, 3) matrix", bias_add, seeded(110, 4, 3),
                    seeded(111, 3)),
        engine_case("broadcasting: a 0-d node times a vector", scalar_times_vector, seeded(114, 1).reshape(()) / 2,
                    seeded(115, 5) / 2),
        engine_case("broadcasting: a vector (3,) times a (4, 3) matrix", vector_times_matrix, seeded(116, 3) / 2,
                    seeded(117, 4, 3) / 2),
        engine_case("broadcasting: a (4, 3) matrix divided by a vector (3,)", divide_by_row, seeded(118, 4, 3) / 2,
                    positive(119, 3)),
    ]),
    Question("q5", "Matrix product, transpose, sum and mean", points=6, forbid=AUTOGRAD_APIS, because=BY_HAND,
             outputs=("value", "grads"), cases=[
        engine_case("mean of x^2 at [1, 2, 3]: (14/3, [[2/3, 4/3, 2]])", notes_mean_of_squares, t(1, 2, 3),
                    public=True, weight=2, expected=(14 / 3, [t(2 / 3, 4 / 3, 2)])),
        engine_case("the sum of A @ B", matmul_sum, seeded(170, 3, 4), seeded(171, 4, 2)),
        engine_case("A.T @ B", transpose_product, seeded(172, 4, 3) / 2, seeded(173, 4, 2) / 2),
        engine_case("a product of three matrices", three_matrices, seeded(174, 2, 3), seeded(175, 3, 4),
                    seeded(176, 4, 2)),
        engine_case("the mean of a 3 x 5 matrix divides by all 15 entries", mean_of_matrix, seeded(177, 3, 5),
                    seeded(178, 3, 5)),
        engine_case("the mean of A @ B.T", mean_of_product, seeded(179, 4, 3), seeded(180, 2, 3)),
        engine_case("central differences agree with the gradients of matrix parameters", matrix_loss,
                    seeded(181, 4, 3) / 2, seeded(182, 3, 5) / 2, post=gradient_check),
    ]),
    Question("q6", "Activations and the cross-entropy", points=7, forbid=AUTOGRAD_APIS, because=BY_HAND,
             outputs=("value", "grads"), cases=[
        engine_case("hw06's network and squared error: (6.25, dW1 [[0, 0], [10, 20], [0, 0]], db1 [0, 10, 0], "
                    "dW2 [[0, 7.5, 0]], db2 [5])", notes_mlp, MLP_W1, MLP_B1, MLP_W2, MLP_B2, public=True,
                    expected=(6.25, [t(0, 0, 10, 20, 0, 0).reshape(3, 2), t(0, 10, 0), t(0, 7.5, 0).reshape(1, 3),
                                     t(5.0)])),
        engine_case("cross-entropy of [[2, 1, 0.1]] with label 0: 0.41703001627783354", cross_entropy_label_0,
                    t(2, 1, 0.1).reshape(1, 3), public=True,
                    expected=(0.41703001627783354, [t(-0.3409988611140321, 0.2424329707047139,
                                                      0.0985658904093182).reshape(1, 3)])),
        engine_case("cross-entropy of two rows, labels 0 and 2: 0.2563521728461079 (the mean is over rows)",
                    cross_entropy_labels_0_2, t(2, 1, 0.1, 0.5, -1, 3).reshape(2, 3), public=True,
                    expected=(0.2563521728461079, [t(-0.17049943055701605, 0.12121648535235695, 0.0492829452046591,
                                                     0.03729777856610721, 0.008322259304636172,
                                                     -0.04562003787074337).reshape(2, 3)])),
        engine_case("log of positive entries", log_weighted, positive(190, 6)),
        engine_case("relu at integers, zeros among them (slope 0 at 0)", relu_weighted, integers(191, -2, 3, 8), weight=2),
        engine_case("sigmoid of a matrix", sigmoid_of_matrix, seeded(192, 3, 4)),
        engine_case("tanh", tanh_weighted, seeded(193, 5)),
        engine_case("tanh, log, exp and sigmoid stacked", activations_stacked, seeded(194, 5)),
        engine_case("relu then tanh after an integer product with exact zeros", two_layer_tanh,
                    integers(195, -2, 3, 4, 3), integers(196, -1, 2, 3, 5), weight=2),
        engine_case("cross-entropy of random logits, 6 rows of 4 classes", cross_entropy_six_rows,
                    seeded(197, 6, 4)),
        engine_case(".log_softmax() of logits near 1000", weighted_log_softmax, LARGE_LOGITS),
        engine_case(".cross_entropy(y) of logits near 1000", cross_entropy_of_large_logits, LARGE_LOGITS),
    ]),
    Question("q7", "Training a network with your engine", points=8, forbid=AUTOGRAD_APIS, because=BY_HAND, cases=[
        Case("4 points, 2 classes, 5 steps of lr 0.1: the losses, each before its update", Call("train_mlp", *TINY_RUN),
             public=True, tol="iterative", expected=autograd_descent(*TINY_RUN)),
        Case("the spiral, 600 steps: the losses of the same descent driven by autograd", Call("train_mlp", *SPIRAL_RUN),
             tol="iterative", weight=2, expected=autograd_descent(*SPIRAL_RUN)),
        Case("the spiral, 600 steps: the last loss is low enough", Call("train_mlp", *SPIRAL_RUN),
             post=final_loss_below_threshold, weight=2),
        Case("one step: one loss", Call("train_mlp", *TINY_RUN[:-1], 1), tol="iterative"),
        Case("a list of steps losses", Call("train_mlp", *SPIRAL_RUN[:-1], 7), post=number_of_losses),
        Case("random data, 10 samples, 5 features, 4 classes, 20 steps",
             Call("train_mlp", seeded(200, 10, 5), torch.randint(4, (10,), generator=torch.Generator().manual_seed(201)),
                  seeded(202, 6, 5) / 2, seeded(203, 6) / 4, seeded(204, 4, 6) / 2, seeded(205, 4) / 4, 0.3, 20),
             tol="iterative"),
    ]),
]

# ORDER: the grader puts the cases to a notebook in this order, and never calls a function again
# once it timed out or crashed. q3 ends with the 100,000-deep chain, the one case where a slow
# (quadratic) or recursing engine can time out or crash: it comes after every other question that
# calls grad, so that such an engine loses the chain's points and no others.
QUESTIONS = [QUESTIONS[i] for i in (0, 1, 3, 4, 5, 2, 6)]
