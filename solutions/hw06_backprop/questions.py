"""hw06_backprop: questions, points and test cases (public ones are the lecture notes' examples)."""

import math

import torch

from course.build.fixtures import sketch
from calc4ml_runtime.guards import AUTOGRAD_APIS, DENSE_SOLVERS, FULL_MATRIX_APIS
from course.build.spec import Call, Case, Question, randn


# ---------------------------------------------------------------- fixtures
# Inputs that are functions, and post-processing of outputs. Module-level defs using only torch
# and math: their source is shipped to the graders.

def notes_quadratic(x):
    """x^T A x / 2 - b^T x with A = [[4, 1], [1, 3]], b = [1, 2]: minimiser (1/11, 7/11)."""
    A = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=x.dtype)
    b = torch.tensor([1.0, 2.0], dtype=x.dtype)
    return x @ (A @ x) / 2 - b @ x


def notes_saddle(x):
    """x^2 - 3 y^2: at (1, 1) the first CG direction, -g = (-2, 6), has negative curvature."""
    return x[0] ** 2 - 3 * x[1] ** 2


def notes_shallow_saddle(x):
    """x^2 / 2 - y^2 / 20: from (1, -1) one CG step, then negative curvature."""
    return x[0] ** 2 / 2 - x[1] ** 2 / 20


def spd_quadratic_3(x):
    """A 3-variable quadratic with an integer SPD Hessian (condition number about 4.8)."""
    A = torch.tensor([[6.0, 2.0, 1.0], [2.0, 5.0, 2.0], [1.0, 2.0, 3.0]], dtype=x.dtype)
    b = torch.tensor([1.0, -2.0, 0.5], dtype=x.dtype)
    return x @ (A @ x) / 2 - b @ x


def spd_quadratic_6(x):
    """A 6-variable quadratic, Hessian diag(1, 2, 3, 5, 8, 13) + u u^T with an integer u."""
    u = torch.tensor([1.0, -1.0, 2.0, 0.0, 1.0, -2.0], dtype=x.dtype)
    d = torch.tensor([1.0, 2.0, 3.0, 5.0, 8.0, 13.0], dtype=x.dtype)
    b = torch.tensor([1.0, 0.0, -1.0, 2.0, 0.5, -3.0], dtype=x.dtype)
    return (d * x * x).sum() / 2 + (u @ x) ** 2 / 2 - b @ x


def spd_quadratic_8(x):
    """An 8-variable quadratic, Hessian diag(1, 2, 4, ..., 128)/2 + 1 1^T / 4 (condition about 100)."""
    d = 2.0 ** torch.arange(8, dtype=x.dtype) / 2
    b = torch.arange(8, dtype=x.dtype) - 3
    return (d * x * x).sum() / 2 + x.sum() ** 2 / 8 - b @ x


def pure_quadratic(x):
    """x^T A x / 2 with no linear term: its gradient at 0 is exactly 0."""
    A = torch.tensor([[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]], dtype=x.dtype)
    return x @ (A @ x) / 2


def ring_softplus(x):
    """O(n): Hessian diag(sigmoid'(x)) + I + (ring Laplacian)/2, condition number below 4."""
    return (torch.nn.functional.softplus(x).sum() + (x * x).sum() / 2
            + ((x - torch.roll(x, 1)) ** 2).sum() / 4)


def double_well(x):
    """Sum of (x_i^2 - 1)^2 / 4 with a ring coupling: negative curvature near 0, positive far out."""
    return ((x * x - 1) ** 2).sum() / 4 + 0.3 * (x * torch.roll(x, 1)).sum()


def newton_gap(outputs, inputs):
    """p minus the exact Newton step -H^{-1} g (H and g by autograd, solved densely): about 0."""
    f, x = inputs[0][0], inputs[0][1]
    point = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(point), point)
    H = torch.autograd.functional.hessian(f, x.detach())
    return outputs[0] - torch.linalg.solve(H, -g)


def krylov_optimality(outputs, inputs):
    """After k = inputs' third argument steps: the model's gradient H p + g projected on
    span{g, Hg, ..., H^{k-1} g}, and the part of p outside that span, both scaled by 1/norm(g)."""
    f, x, k = inputs[0][0], inputs[0][1], inputs[0][2]
    point = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(point), point)
    H = torch.autograd.functional.hessian(f, x.detach())
    basis = [g]
    for _ in range(k - 1):
        basis.append(H @ basis[-1])
    Q, _ = torch.linalg.qr(torch.stack(basis, dim=1))
    p = outputs[0]
    return torch.cat([Q.T @ (H @ p + g), p - Q @ (Q.T @ p)]) / torch.linalg.vector_norm(g)


def hidden_layer_part(outputs, inputs):
    """(dW1, db1) of mlp_backward's result."""
    return tuple(outputs[0][:2])


def output_layer_part(outputs, inputs):
    """(dW2, db2) of mlp_backward's result."""
    return tuple(outputs[0][2:])


def flattened_rows(outputs, inputs):
    """The (m, m, n) Jacobian flattened row-major to (m, m n)."""
    J = outputs[0]
    return J.reshape(J.shape[0], -1)


def contracted_with_v(outputs, inputs):
    """sum_i v_i J[i] for a fixed random upstream gradient v."""
    J = outputs[0]
    v = torch.randn(J.shape[0], generator=torch.Generator().manual_seed(7), dtype=torch.float64).to(J.dtype)
    return torch.einsum("i,ikl->kl", v, J)


def minus_autograd_jacobian(outputs, inputs):
    """The Jacobian minus autograd's Jacobian of W -> W x (at a random W): about 0."""
    x, m = inputs[0][0], inputs[0][1]
    W = torch.randn(m, x.shape[0], generator=torch.Generator().manual_seed(8), dtype=x.dtype)
    return outputs[0] - torch.autograd.functional.jacobian(lambda V: V @ x, W)


def clipped_norm(outputs, inputs):
    """The 2-norm of all the clipped gradients together."""
    clipped = outputs[0][0]
    return torch.linalg.vector_norm(torch.cat([c.reshape(-1) for c in clipped]))


# ---------------------------------------------------------------- inputs built exactly

def t(*values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


def seeded(seed, *shape):
    """float64 standard normal numbers from a seed (torch's RNG is the same on every CPU in float64)."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def integers(seed, low, high, *shape):
    """Integer-valued float64 entries: every sum and product below is exact, whatever the order."""
    return torch.randint(low, high, shape, generator=torch.Generator().manual_seed(seed)).to(torch.float64)


# The notes' network: torch.manual_seed(0), ten (nn.Linear(64, 64), nn.Sigmoid()), then
# x = torch.randn(1, 64), y = torch.randn(1, 64), all cast to float64. nn.Linear's default init
# draws W and then b uniformly from (-bound, bound), bound = sqrt(3) gain / sqrt(fan_in) for W
# (kaiming_uniform_ with a = sqrt(5)) and 1 / sqrt(fan_in) for b; uniform_ is the same on every
# CPU, so it is reproduced here from a generator (tests/test_hw06_backprop.py checks the bits
# against nn.Linear). torch.randn in float32 is not (its default, AVX2 and AVX512 kernels differ
# in the last bits), so x and y are written out: the values torch.randn gives after that init.
NOTES_X = t(
    1.047951579093933, -0.2964320480823517, 1.1783403158187866, 2.8939285278320312, 0.09391183406114578, -2.1692514419555664,
    0.1848781704902649, 0.33732202649116516, 1.1264283657073975, -0.8639175891876221, -0.7862858176231384, 0.0010111823212355375,
    1.374433159828186, 1.1261447668075562, -0.6358588337898254, 1.4137202501296997, 0.3968750834465027, -0.18929630517959595,
    1.1291553974151611, -0.738476037979126, 1.2979429960250854, 1.2893824577331543, 0.6561464667320251, -0.38874414563179016,
    0.6451999545097351, 0.7214902639389038, 0.4140280783176422, 0.9618811011314392, -0.4924558103084564, -0.5926936864852905,
    0.39516565203666687, -0.8430594801902771, -0.20078687369823456, -2.3725016117095947, 1.7473632097244263, 0.6836870312690735,
    -0.5857181549072266, -0.8488311171531677, 0.28739142417907715, 1.27679443359375, -0.11073881387710571, -1.736539363861084,
    0.5755993723869324, 0.7625920176506042, 0.6035216450691223, -1.1805270910263062, -0.5484283566474915, -1.9155199527740479,
    -0.35558491945266724, -1.1743340492248535, -1.1669256687164307, 0.36557263135910034, -1.357546091079712, -0.3964521884918213,
    -0.618441641330719, -0.39045658707618713, 2.3253846168518066, -0.5316559076309204, -0.9903820753097534, 1.686578631401062,
    0.6044260859489441, -0.32070308923721313, -1.3966963291168213, -1.324144721031189).reshape(1, 64)
NOTES_Y = t(
    0.6604984998703003, -2.590897560119629, 0.4602946937084198, 0.26714545488357544, 1.3080847263336182, -0.7238343358039856,
    0.05327750742435455, 1.3538867235183716, -0.09558618068695068, 0.2254234403371811, -0.9627423286437988, 0.6292287111282349,
    -0.00042391681927256286, -1.760614037513733, -0.018798355013132095, -0.021894698962569237, 0.06954746693372726, -0.20870760083198547,
    0.43029457330703735, -0.1431642472743988, -0.7400418519973755, -1.6612892150878906, 0.7245442867279053, -0.7297114729881287,
    0.9873249530792236, 0.4546378254890442, -1.2399334907531738, 0.33693718910217285, -0.5418888330459595, -0.481635183095932,
    0.4422745406627655, 0.4379537105560303, -2.324232816696167, -1.0279490947723389, -0.9770104885101318, -0.658953845500946,
    1.224151849746704, 1.0002409219741821, 0.7354902625083923, 0.4183180630207062, 1.9319803714752197, -1.5214669704437256,
    0.539999783039093, -1.618114948272705, 2.0550403594970703, -0.554896354675293, 0.6357567310333252, -1.5106779336929321,
    0.40728771686553955, 2.3279733657836914, -0.10430055856704712, -0.9022314548492432, 0.7503560781478882, 0.8432143330574036,
    0.6156017780303955, -0.40898147225379944, 1.1556588411331177, -0.7881367802619934, -0.4360979497432709, 2.0602922439575195,
    0.27853336930274963, 0.33428841829299927, 0.17194829881191254, -0.21727655827999115).reshape(1, 64)


def notes_layers(width=64, depth=10, seed=0):
    """The weights and biases nn.Linear(width, width) draws, depth times, after torch.manual_seed(seed)."""
    generator = torch.Generator().manual_seed(seed)
    gain = math.sqrt(2.0 / (1 + math.sqrt(5) ** 2))
    weight_bound = math.sqrt(3.0) * gain / math.sqrt(width)
    bias_bound = 1 / math.sqrt(width)
    weights, biases = [], []
    for _ in range(depth):
        # float32, as nn.Linear's default: uniform_ draws 32 random bits per float32 entry, 64 per float64 one
        weight = torch.empty(width, width, dtype=torch.float32)
        bias = torch.empty(width, dtype=torch.float32)
        weights.append(weight.uniform_(-weight_bound, weight_bound, generator=generator).double())
        biases.append(bias.uniform_(-bias_bound, bias_bound, generator=generator).double())
    return weights, biases


NOTES_W, NOTES_B = notes_layers()
CHAIN = ([t(2.0).reshape(1, 1)] * 4, [t(0.0)] * 4)  # four 1x1 layers, W = [[2]], b = [0]

# mlp_backward: the notes' two examples
MLP_W1, MLP_B1 = t(1, -1, 0.5, 0.5, -2, 1).reshape(3, 2), t(0.5, 0, 0)
MLP_ONE = (t(1, 2).reshape(1, 2), t(1.0).reshape(1, 1), MLP_W1, MLP_B1, t(1, 2, 3).reshape(1, 3), t(0.5))
MLP_BATCH = (t(1, 2, -1, 0.5).reshape(2, 2), t(1, 0, 0, 1).reshape(2, 2), MLP_W1, MLP_B1,
             t(1, 2, 3, -1, 0, 1).reshape(2, 3), t(0.5, -0.5))
NOTES_Z = t(-0.5, 1.5, 0, -1, -0.25, 2.5).reshape(2, 3)  # MLP_BATCH's pre-activations


def random_mlp(seed, N, d, h, k):
    return (randn(seed, N, d), randn(seed + 1, N, k), randn(seed + 2, h, d), randn(seed + 3, h),
            randn(seed + 4, k, h), randn(seed + 5, k))


# Integer data: 10 of the 30 pre-activations are exactly 0 (tests check it).
MLP_INTEGER = (integers(10, -2, 3, 6, 3), integers(11, -2, 3, 6, 2), integers(12, -1, 2, 5, 3),
               integers(13, -1, 2, 5), integers(14, -2, 3, 2, 5), integers(15, -1, 2, 2))
# Units 1 and 3 dead on the whole batch (bias -50): their rows of dW1 and their db1 are 0.
MLP_DEAD = (seeded(20, 8, 4), seeded(21, 8, 3), seeded(22, 5, 4),
            seeded(23, 5) - 50 * t(0, 1, 0, 1, 0), seeded(24, 3, 5), seeded(25, 3))
MLP_FLOAT32 = tuple(a.to(torch.float32) for a in
                    (seeded(30, 7, 4), seeded(31, 7, 3), seeded(32, 6, 4), seeded(33, 6), seeded(34, 3, 6), seeded(35, 3)))

# dead_relu_fraction: columns 1, 4 and 6 are never positive (column 6 holds an exact 0),
# column 2 is positive on one sample only.
_z = seeded(40, 10, 8)
_never = torch.zeros(8, dtype=torch.bool)
_never[[1, 4, 6]] = True
DEAD_Z = torch.where(_never, -_z.abs(), _z.abs())
DEAD_Z[3, 6] = 0.0
DEAD_Z[:, 2] = -DEAD_Z[:, 2]
DEAD_Z[5, 2] = 0.75
# units 0, 1 and 3 are 0 or negative on every sample (dead: 0 counts as dead), unit 2 is positive twice
ZERO_AND_NEGATIVE_Z = t(0, -1, 2, 0, 0, -3, 1, 0, -0.5, 0, -0.25, 0).reshape(3, 4)

# layer_gradient_norms: a random network 5 -> 4 -> 3 -> 2 on a batch of 6
RANDOM_NET = ([randn(56, 4, 5), randn(57, 3, 4), randn(58, 2, 3)], [randn(59, 4), randn(60, 3), randn(61, 2)])
DEEP_WEIGHTS = [seeded(200 + i, 8, 8) / math.sqrt(8) for i in range(6)]
DEEP_BIASES = [seeded(210 + i, 8) / 10 for i in range(6)]
FLOAT32_NET = ([w.to(torch.float32) for w in DEEP_WEIGHTS[:3]], [b.to(torch.float32) for b in DEEP_BIASES[:3]])

N = 300_000  # the n x n Hessian would need 720 GB in float64

BY_HAND = "use autograd (write the backward pass by hand)"
DERIVE = "use autograd or torch's Jacobian helpers (derive the entries by hand)"
OWN_CLIPPING = "call torch.nn.utils' clipping or norm helpers (compute the total norm yourself)"
NO_H = "build the Hessian or call a dense solver (use Hessian-vector products)"

QUESTIONS = [
    Question("q1", "Backward pass of a two-layer ReLU network", points=12, forbid=AUTOGRAD_APIS, because=BY_HAND,
             outputs=("dW1", "db1", "dW2", "db2"), cases=[
        Case("one sample, the third hidden unit exactly at 0: dW1 = [[0, 0], [10, 20], [0, 0]], db2 = [5]",
             Call("mlp_backward", *MLP_ONE), public=True, weight=3,
             expected=(t(0, 0, 10, 20, 0, 0).reshape(3, 2), t(0, 10, 0), t(0, 7.5, 0).reshape(1, 3), t(5.0))),
        Case("a batch of 2 with 2 outputs: the mean is over all 4 entries, biases summed over the batch",
             Call("mlp_backward", *MLP_BATCH), public=True, weight=3,
             expected=(t(0, 0, 2.5, 5, -12.5, 6.25).reshape(3, 2), t(0, 2.5, 12.5),
                       t(0, 1.875, 10, 0, -0.375, 1.25).reshape(2, 3), t(5.25, 0.25))),
        Case("random batch of 5 (d = 3, h = 4, k = 2)", Call("mlp_backward", *random_mlp(100, 5, 3, 4, 2)), weight=2),
        Case("random batch of 6: the output layer's gradients (dW2, db2) only",
             Call("mlp_backward", *random_mlp(110, 6, 4, 5, 3)), post=output_layer_part, weight=2),
        Case("random batch of 6: the hidden layer's gradients (dW1, db1) only",
             Call("mlp_backward", *random_mlp(110, 6, 4, 5, 3)), post=hidden_layer_part, weight=2),
        Case("integer data with exact zeros among the pre-activations", Call("mlp_backward", *MLP_INTEGER), weight=4),
        Case("two units dead on the whole batch", Call("mlp_backward", *MLP_DEAD), weight=2),
        Case("one sample and one output (N = k = 1)", Call("mlp_backward", *random_mlp(123, 1, 4, 3, 1)), weight=2),
        Case("a larger batch (N = 64, d = 10, h = 32, k = 3)", Call("mlp_backward", *random_mlp(130, 64, 10, 32, 3)),
             weight=2),
        Case("float32 inputs give float32 gradients", Call("mlp_backward", *MLP_FLOAT32), tol="single", weight=2),
    ]),
    Question("q2", "Dead ReLU units", points=3, cases=[
        Case("the notes' 3 x 4 pre-activations: units 0 and 2 are dead, 0.5",
             Call("dead_relu_fraction", t(-1, 2, 0, 3, -0.5, -1, 0, 1, -2, 1, -3, -1).reshape(3, 4)),
             public=True, expected=0.5, weight=2),
        Case("the two-sample batch of Question 1: its first unit is dead, 1/3",
             Call("dead_relu_fraction", NOTES_Z), public=True, expected=1 / 3, weight=2),
        Case("10 samples, 8 units, some never positive", Call("dead_relu_fraction", DEAD_Z), weight=2),
        Case("units that are 0 or negative on every sample", Call("dead_relu_fraction", ZERO_AND_NEGATIVE_Z), weight=2),
        Case("an all-zero batch", Call("dead_relu_fraction", torch.zeros(4, 3, dtype=torch.float64))),
        Case("a single sample", Call("dead_relu_fraction", t(0.5, -0.2, 0.0, 1.5, -3.0).reshape(1, 5))),
        Case("random pre-activations of 16 samples and 6 units", Call("dead_relu_fraction", randn(140, 16, 6))),
        Case("float32 pre-activations", Call("dead_relu_fraction", DEAD_Z.to(torch.float32))),
    ]),
    Question("q3", "The Jacobian of W x with respect to W", points=4, forbid=AUTOGRAD_APIS, because=DERIVE, cases=[
        Case("x = [1, 2, 3], m = 2: [[[1, 2, 3], [0, 0, 0]], [[0, 0, 0], [1, 2, 3]]]",
             Call("weight_jacobian", t(1, 2, 3), 2), public=True,
             expected=t(1, 2, 3, 0, 0, 0, 0, 0, 0, 1, 2, 3).reshape(2, 2, 3)),
        Case("x = [1, 2, 3], m = 2, flattened row-major: [[1, 2, 3, 0, 0, 0], [0, 0, 0, 1, 2, 3]]",
             Call("weight_jacobian", t(1, 2, 3), 2), public=True, post=flattened_rows,
             expected=t(1, 2, 3, 0, 0, 0, 0, 0, 0, 1, 2, 3).reshape(2, 6)),
        Case("random x of length 5, m = 4", Call("weight_jacobian", randn(150, 5), 4)),
        Case("a single output (m = 1)", Call("weight_jacobian", randn(151, 3), 1)),
        Case("a single input (n = 1), m = 3", Call("weight_jacobian", t(2.5), 3)),
        Case("contracted with an upstream gradient v it gives outer(v, x)",
             Call("weight_jacobian", randn(152, 6), 4), post=contracted_with_v),
        Case("equals autograd's Jacobian of W -> W x",
             Call("weight_jacobian", randn(153, 3), 5), post=minus_autograd_jacobian),
        Case("float32 x gives a float32 Jacobian", Call("weight_jacobian", t(0.5, -1, 2, dtype=torch.float32), 2)),
    ]),
    Question("q4", "Vanishing gradients, layer by layer", points=5, cases=[
        Case("four 1x1 sigmoid layers with W = [[2]]: [0.0030284, 0.0127028, 0.0491912, 0.1876610]",
             Call("layer_gradient_norms", t(1.0).reshape(1, 1), t(0.0).reshape(1, 1), *CHAIN, "sigmoid"),
             public=True, weight=2, expected=t(0.0030284, 0.0127028, 0.0491912, 0.1876610)),
        Case("four 1x1 ReLU layers with W = [[2]]: [256, 256, 256, 256]",
             Call("layer_gradient_norms", t(1.0).reshape(1, 1), t(0.0).reshape(1, 1), *CHAIN, "relu"),
             public=True, weight=2, expected=t(256.0, 256.0, 256.0, 256.0)),
        # The notes' experiment is hidden only because its 41,600 weights would make the public
        # test file megabytes long; the notebook's plot cell prints its values for the students.
        Case("the notes' ten sigmoid layers of width 64 (nn.Linear's init after torch.manual_seed(0))",
             Call("layer_gradient_norms", NOTES_X, NOTES_Y, NOTES_W, NOTES_B, "sigmoid"), weight=4,
             expected=t(1.6624e-08, 5.4232e-08, 3.6096e-07, 2.5286e-06, 1.6115e-05, 1.0971e-04, 8.0156e-04,
                        5.7484e-03, 3.9437e-02, 2.7158e-01)),
        Case("a random network 5 -> 4 -> 3 -> 2 on a batch of 6, tanh",
             Call("layer_gradient_norms", randn(160, 6, 5), randn(161, 6, 2), *RANDOM_NET, "tanh"), weight=3),
        Case("a random network 5 -> 4 -> 3 -> 2 on a batch of 6, ReLU",
             Call("layer_gradient_norms", randn(162, 6, 5), randn(163, 6, 2), *RANDOM_NET, "relu"), weight=3),
        Case("six random layers of width 8, the default activation",
             Call("layer_gradient_norms", randn(164, 3, 8), randn(165, 3, 8), DEEP_WEIGHTS, DEEP_BIASES), weight=3),
        Case("float32 inputs give a float32 result",
             Call("layer_gradient_norms", seeded(166, 2, 8).to(torch.float32), seeded(167, 2, 8).to(torch.float32),
                  *FLOAT32_NET, "sigmoid"), tol="single", weight=3),
    ]),
    Question("q5", "Clipping by the total norm", points=6, forbid=(
        "torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_norm",
        "torch.nn.utils.clip_grads_with_norm_", "torch.nn.utils.get_total_norm"),
             because=OWN_CLIPPING, outputs=("clipped", "total_norm"), cases=[
        Case("[[3, 4], [12]] with max_norm = 1: total 13, every entry times 1 / (13 + 1e-6)",
             Call("clip_grad_norm", [t(3, 4), t(12)], 1.0), public=True,
             expected=([t(0.23076921301775288, 0.3076922840236705), t(0.9230768520710115)], 13.0)),
        Case("[[3, 4], [12]] with max_norm = 20: unchanged",
             Call("clip_grad_norm", [t(3, 4), t(12)], 20.0), public=True, expected=([t(3, 4), t(12)], 13.0)),
        Case("[[3, 4], [12]] with max_norm = 13: still shrunk by 13 / (13 + 1e-6), 11.99999907692315 for the 12",
             Call("clip_grad_norm", [t(3, 4), t(12)], 13.0), public=True,
             expected=([t(2.9999997692307874, 3.9999996923077163), t(11.99999907692315)], 13.0)),
        Case("[[3e-4, 4e-4]] with max_norm = 1e-4: total 5e-4, [5.9880239520958076e-05, 7.984031936127745e-05]",
             Call("clip_grad_norm", [t(3e-4, 4e-4)], 1e-4), public=True,
             expected=([t(5.9880239520958076e-05, 7.984031936127745e-05)], 5e-4)),
        Case("an empty list", Call("clip_grad_norm", [], 1.0)),
        Case("three random tensors of different shapes, clipped",
             Call("clip_grad_norm", [randn(170, 3, 4), randn(171, 5), randn(172, 2, 2, 2)], 1.0), weight=2),
        Case("three random tensors of different shapes, not clipped",
             Call("clip_grad_norm", [randn(173, 3, 4), randn(174, 5), randn(175, 2, 2, 2)], 50.0)),
        Case("the clipped gradients' norm is min(total, max_norm * total / (total + 1e-6))",
             Call("clip_grad_norm", [randn(176, 4, 4), randn(177, 4)], 2.5), post=clipped_norm),
        Case("all-zero gradients stay zero (no NaN)",
             Call("clip_grad_norm", [torch.zeros(3, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)], 1.0)),
        Case("a 0-d tensor among the gradients", Call("clip_grad_norm", [t(5.0).reshape(()), randn(178, 3)], 0.5)),
        Case("float32 gradients stay float32",
             Call("clip_grad_norm", [seeded(179, 3, 3).to(torch.float32), seeded(180, 4).to(torch.float32)], 0.1),
             tol="single"),
    ]),
    Question("q6", "Hessian-free Newton: conjugate gradient", points=10, forbid=FULL_MATRIX_APIS + DENSE_SOLVERS,
             because=NO_H, cases=[
        Case("the notes' quadratic from (2, 1), iters = 1: (-1.7643505, -0.6616314)",
             Call("cg_newton_step", notes_quadratic, t(2, 1), 1), public=True, expected=t(-1.7643505, -0.6616314)),
        Case("the notes' quadratic from (2, 1), iters = 2: the Newton step (-21/11, -4/11)",
             Call("cg_newton_step", notes_quadratic, t(2, 1), 2), public=True, expected=t(-21 / 11, -4 / 11)),
        Case("x^2 - 3y^2 at (1, 1): negative curvature at once, so -g = (-2, 6)",
             Call("cg_newton_step", notes_saddle, t(1, 1)), public=True, expected=t(-2, 6)),
        Case("x^2/2 - y^2/20 at (1, -1): one step (-1.0110110, -0.1011011), then negative curvature",
             Call("cg_newton_step", notes_shallow_saddle, t(1, -1)), public=True, expected=t(-1.0110110, -0.1011011)),
        Case("the notes' quadratic at its minimiser (1/11, 7/11): (0, 0)",
             Call("cg_newton_step", notes_quadratic, t(1 / 11, 7 / 11)), public=True, expected=t(0, 0)),
        Case("two iterations on a 3-variable quadratic", Call("cg_newton_step", spd_quadratic_3, randn(190, 3), 2),
             weight=2),
        Case("after 3 iterations p minimises the quadratic model over the Krylov space",
             Call("cg_newton_step", spd_quadratic_8, randn(191, 8), 3), post=krylov_optimality, weight=2),
        Case("after n = 6 iterations (tol = 0) p is the Newton step",
             Call("cg_newton_step", spd_quadratic_6, randn(192, 6), 6, 0.0), post=newton_gap, weight=2),
        Case("a non-quadratic function of 10 variables, default iters and tol",
             Call("cg_newton_step", ring_softplus, randn(193, 10))),
        Case("uses the tol it is given (tol = 0.1)", Call("cg_newton_step", spd_quadratic_8, randn(194, 8), 100, 0.1)),
        Case("negative curvature on the first iteration (5 variables)",
             Call("cg_newton_step", double_well, t(0.1, -0.2, 0.3, 0.05, -0.15))),
        Case("negative curvature on a later iteration (5 variables)",
             Call("cg_newton_step", double_well, t(1.4, -0.1, 1.2, 0.05, -1.3))),
        Case("a zero gradient gives a zero step (no NaN)",
             Call("cg_newton_step", pure_quadratic, torch.zeros(3, dtype=torch.float64))),
        Case("float32 input gives a float32 step (3 iterations, 3 variables)",
             Call("cg_newton_step", spd_quadratic_3, t(0.5, -1.0, 2.0, dtype=torch.float32), 3), tol="single"),
        Case("n = 300,000 with Hessian-vector products only (the Hessian would need 720 GB)",
             Call("cg_newton_step", ring_softplus, randn(195, N)), post=sketch, tol="iterative", weight=3),
    ]),
]
