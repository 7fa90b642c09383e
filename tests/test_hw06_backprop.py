"""hw06_backprop: the reference against autograd, torch.nn.utils.clip_grad_norm_ and dense solves,
the notes' true values, the identities of the syllabus, the numbers the prose claims, and the
realistic bugs and other correct answers of solutions/hw06_backprop/bugs.py, scored in process
(the shared grading test grades them for real)."""

import math
import re
from functools import lru_cache
from pathlib import Path
from unittest import mock

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from calc4ml_runtime import guards
from calc4ml_runtime.calls import CallFailed, load_fixtures, run_case
from calc4ml_runtime import checks
from course.build import assemble as build, samples
from tests.strategies import seeds, sizes

ROOT = Path(__file__).resolve().parents[1]
SOURCE = build.sources(ROOT, ["hw06_backprop"])[0]
ref = SOURCE.module("reference")
questions = SOURCE.module("questions")
BUGS, ALTERNATIVES = samples.variants(SOURCE.module("bugs"))
t = questions.t
CLIP_APIS = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_norm",
             "torch.nn.utils.clip_grads_with_norm_", "torch.nn.utils.get_total_norm")


@lru_cache(maxsize=None)
def plan():
    return SOURCE.plan()


def randn(seed, *shape, dtype=torch.float64):
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- mlp_backward ---------------------------------------------------------------------------

def autograd_mlp(X, y, W1, b1, W2, b2):
    params = [p.clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
    W1_, b1_, W2_, b2_ = params
    Y_hat = torch.relu(X @ W1_.T + b1_) @ W2_.T + b2_
    return torch.autograd.grad(((Y_hat - y) ** 2).mean(), params)


def test_mlp_backward_matches_the_notes_and_autograd_exactly():
    X, y, W1, b1, W2, b2 = questions.MLP_ONE
    Z = X @ W1.T + b1
    Y_hat = torch.relu(Z) @ W2.T + b2
    assert Z.tolist() == [[-0.5, 1.5, 0.0]] and Y_hat.item() == 3.5 and ((Y_hat - y) ** 2).mean().item() == 6.25
    expected = (t(0, 0, 10, 20, 0, 0).reshape(3, 2), t(0, 10, 0), t(0, 7.5, 0).reshape(1, 3), t(5.0))
    for got, want, autograd in zip(ref.mlp_backward(*questions.MLP_ONE), expected, autograd_mlp(*questions.MLP_ONE)):
        assert torch.equal(got, want) and torch.equal(got, autograd)
    # slope 1 at 0 would give the third row [15, 30] and db1[2] = 15
    dZ = 2 * (Y_hat - y) * W2 * (Z >= 0)
    assert (dZ.T @ X)[2].tolist() == [15.0, 30.0] and dZ[0, 2].item() == 15.0

    expected = (t(0, 0, 2.5, 5, -12.5, 6.25).reshape(3, 2), t(0, 2.5, 12.5),
                t(0, 1.875, 10, 0, -0.375, 1.25).reshape(2, 3), t(5.25, 0.25))
    got = ref.mlp_backward(*questions.MLP_BATCH)
    for g, want, autograd in zip(got, expected, autograd_mlp(*questions.MLP_BATCH)):
        assert torch.equal(g, want)
        torch.testing.assert_close(g, autograd, rtol=0, atol=1e-15)
    X, _, W1, b1, _, _ = questions.MLP_BATCH
    assert torch.equal(X @ W1.T + b1, questions.NOTES_Z)
    assert got[0][0].tolist() == [0.0, 0.0] and got[1][0].item() == 0.0  # the dead first unit


@given(sizes, sizes, sizes, sizes, seeds)
def test_mlp_backward_matches_autograd_on_random_batches(N, d, h, k, seed):
    g = torch.Generator().manual_seed(seed)
    shapes = ((N, d), (N, k), (h, d), (h,), (k, h), (k,))
    args = [torch.randn(*s, generator=g, dtype=torch.float64) for s in shapes]
    got = ref.mlp_backward(*args)
    for g_, autograd, param in zip(got, autograd_mlp(*args), args[2:]):
        assert g_.shape == param.shape
        torch.testing.assert_close(g_, autograd, rtol=1e-12, atol=1e-14)


@given(st.integers(2, 8), st.integers(1, 4), st.integers(2, 6), st.integers(1, 3), seeds)
def test_mlp_backward_matches_autograd_on_integer_data_with_exact_zeros(N, d, h, k, seed):
    g = torch.Generator().manual_seed(seed)
    shapes = ((N, d), (N, k), (h, d), (h,), (k, h), (k,))
    args = [torch.randint(-2, 3, s, generator=g).to(torch.float64) for s in shapes]
    for g_, autograd in zip(ref.mlp_backward(*args), autograd_mlp(*args)):
        torch.testing.assert_close(g_, autograd, rtol=1e-14, atol=1e-14)


def test_the_integer_and_dead_cases_hold_what_their_labels_say():
    X, y, W1, b1, W2, b2 = questions.MLP_INTEGER
    Z = X @ W1.T + b1
    assert int((Z == 0).sum()) == 10  # exact zeros, where the mask Z > 0 matters
    for got, autograd in zip(ref.mlp_backward(*questions.MLP_INTEGER), autograd_mlp(*questions.MLP_INTEGER)):
        torch.testing.assert_close(got, autograd, rtol=1e-14, atol=1e-14)
    X, y, W1, b1, W2, b2 = questions.MLP_DEAD
    dead = (X @ W1.T + b1 <= 0).all(dim=0)
    assert dead.tolist() == [False, True, False, True, False]
    dW1, db1, _, _ = ref.mlp_backward(*questions.MLP_DEAD)
    assert (dW1[dead] == 0).all() and (db1[dead] == 0).all() and (dW1[~dead] != 0).all()


def test_mlp_backward_runs_with_autograd_forbidden_and_keeps_float32():
    guards.install_guards(guards.AUTOGRAD_APIS)
    with guards.forbid(guards.AUTOGRAD_APIS, "mlp_backward must not use autograd"):
        got = ref.mlp_backward(*questions.MLP_FLOAT32)
        with pytest.raises(guards.ForbiddenAPIError):
            torch.autograd.grad(torch.ones(1, requires_grad=True).sum(), [])
    assert all(g.dtype == torch.float32 for g in got)
    for g_, autograd in zip(got, autograd_mlp(*(a.double() for a in questions.MLP_FLOAT32))):
        torch.testing.assert_close(g_.double(), autograd, rtol=1e-5, atol=1e-6)


# --- dead_relu_fraction ---------------------------------------------------------------------

def test_dead_relu_fraction_on_the_notes_and_the_classic_mistakes():
    Z = t(-1, 2, 0, 3, -0.5, -1, 0, 1, -2, 1, -3, -1).reshape(3, 4)
    assert ref.dead_relu_fraction(Z) == 0.5
    assert ref.dead_relu_fraction(questions.NOTES_Z) == 1 / 3
    assert (Z <= 0).double().mean().item() == 8 / 12  # entries, not units
    assert (Z < 0).all(dim=0).double().mean().item() == 0.25  # 0 counted as alive
    assert (Z <= 0).any(dim=0).double().mean().item() == 1.0  # dead on any sample
    assert ref.dead_relu_fraction(questions.DEAD_Z) == 3 / 8
    assert ref.dead_relu_fraction(questions.ZERO_AND_NEGATIVE_Z) == 0.75
    assert isinstance(ref.dead_relu_fraction(questions.DEAD_Z.float()), float)


@given(st.integers(1, 6), st.integers(1, 8), seeds)
def test_dead_units_have_zero_rows_in_dW1(N, h, seed):
    g = torch.Generator().manual_seed(seed)
    X, y = torch.randn(N, 3, generator=g, dtype=torch.float64), torch.randn(N, 2, generator=g, dtype=torch.float64)
    W1, W2 = torch.randn(h, 3, generator=g, dtype=torch.float64), torch.randn(2, h, generator=g, dtype=torch.float64)
    b1 = torch.randn(h, generator=g, dtype=torch.float64) - 2 * torch.randint(0, 2, (h,), generator=g)
    b2 = torch.randn(2, generator=g, dtype=torch.float64)
    Z = X @ W1.T + b1
    dead = [all(Z[i, j] <= 0 for i in range(N)) for j in range(h)]
    assert ref.dead_relu_fraction(Z) == sum(dead) / h
    dW1, db1, _, _ = ref.mlp_backward(X, y, W1, b1, W2, b2)
    for j in range(h):
        if dead[j]:
            assert (dW1[j] == 0).all() and db1[j] == 0


# --- weight_jacobian ------------------------------------------------------------------------

def test_weight_jacobian_matches_the_notes():
    J = ref.weight_jacobian(t(1, 2, 3), 2)
    assert torch.equal(J, t(1, 2, 3, 0, 0, 0, 0, 0, 0, 1, 2, 3).reshape(2, 2, 3))
    assert J.reshape(2, 6).tolist() == [[1, 2, 3, 0, 0, 0], [0, 0, 0, 1, 2, 3]]


@given(sizes, sizes, seeds)
def test_weight_jacobian_is_autograds_and_contracts_to_the_outer_product(m, n, seed):
    x, W, v = randn(seed, n), randn(seed + 1, m, n), randn(seed + 2, m)
    J = ref.weight_jacobian(x, m)
    assert J.shape == (m, m, n) and J.dtype == x.dtype
    assert torch.equal(J, torch.autograd.functional.jacobian(lambda V: V @ x, W))
    assert torch.equal(J.reshape(m, m * n), torch.kron(torch.eye(m, dtype=x.dtype), x[None, :]))
    torch.testing.assert_close(torch.einsum("i,ikl->kl", v, J), torch.outer(v, x), rtol=0, atol=0)
    assert ref.weight_jacobian(x.float(), m).dtype == torch.float32


def test_weight_jacobian_memory_figures():
    # "8 GB for one 1000 x 1000 layer in float64", and the gradient v x^T 8 MB
    assert 1000 * 1000 * 1000 * 8 / 1e9 == 8.0 and 1000 * 1000 * 8 / 1e9 == 0.008


# --- layer_gradient_norms -------------------------------------------------------------------

ACTIVATIONS = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}
NOTES_NORMS = {
    "sigmoid": [1.6624e-08, 5.4232e-08, 3.6096e-07, 2.5286e-06, 1.6115e-05, 1.0971e-04, 8.0156e-04, 5.7484e-03,
                3.9437e-02, 2.7158e-01],
    "relu": [5.8575e-04, 4.3165e-04, 6.0276e-04, 7.8432e-04, 9.4597e-04, 2.1087e-03, 4.9890e-03, 1.2119e-02,
             2.9005e-02, 8.7045e-02],
}


def notes_experiment(activation):
    """The notes' code: seed 0, ten (nn.Linear(64, 64), activation), x and y; in float64, by autograd."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Linear(64, 64, dtype=torch.float32),
                                                          ACTIVATIONS[activation]()) for _ in range(10)])
        x, y = torch.randn(1, 64, dtype=torch.float32), torch.randn(1, 64, dtype=torch.float32)
    model, x, y = model.double(), x.double(), y.double()
    ((model(x) - y) ** 2).mean().backward()
    return model, x, y, torch.stack([block[0].weight.grad.norm() for block in model])


def test_the_plan_holds_the_notes_network_bit_for_bit(float64_default):
    model, x, y, _ = notes_experiment("sigmoid")
    weights, biases = questions.notes_layers()  # whatever the default dtype (the notebook's is float64)
    for block, W, b, W_now, b_now in zip(model, questions.NOTES_W, questions.NOTES_B, weights, biases):
        assert torch.equal(block[0].weight.detach(), W) and torch.equal(block[0].bias.detach(), b)
        assert torch.equal(W_now, W) and torch.equal(b_now, b)
    # torch.randn in float32 differs in the last bits between CPU kernels (AVX2, AVX512, default)
    torch.testing.assert_close(questions.NOTES_X, x, rtol=0, atol=2e-6)
    torch.testing.assert_close(questions.NOTES_Y, y, rtol=0, atol=2e-6)


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
def test_layer_gradient_norms_reproduce_the_notes_experiment(activation):
    *_, expected = notes_experiment(activation)
    got = ref.layer_gradient_norms(questions.NOTES_X, questions.NOTES_Y, questions.NOTES_W, questions.NOTES_B,
                                   activation)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=0)  # x, y may differ by a float32 ulp
    if activation in NOTES_NORMS:
        torch.testing.assert_close(got, t(*NOTES_NORMS[activation]), rtol=1e-4, atol=0)
    else:  # tanh: 1.2809e-02 ... 1.7276e-01
        assert got[0].item() == pytest.approx(1.2809e-02, rel=1e-4) and got[-1].item() == pytest.approx(1.7276e-01, rel=1e-4)
    ratio = (got[-1] / got[0]).item()
    # the prose: sigmoid loses more than seven orders of magnitude (1.6e7), ReLU a factor of about 150
    assert {"sigmoid": 1.5e7 < ratio < 1.7e7, "relu": 145 < ratio < 155, "tanh": 10 < ratio < 20}[activation]


def test_layer_gradient_norms_on_the_hand_chain():
    x, y = t(1.0).reshape(1, 1), t(0.0).reshape(1, 1)
    sigmoid = ref.layer_gradient_norms(x, y, *questions.CHAIN, "sigmoid")
    torch.testing.assert_close(sigmoid, t(0.0030284, 0.0127028, 0.0491912, 0.1876610), rtol=2e-5, atol=0)  # the notes print 5 digits
    assert ref.layer_gradient_norms(x, y, *questions.CHAIN, "relu").tolist() == [256.0] * 4


@settings(max_examples=25)
@given(st.lists(st.integers(1, 5), min_size=2, max_size=5), st.integers(1, 4),
       st.sampled_from(["sigmoid", "relu", "tanh"]), seeds)
def test_layer_gradient_norms_match_an_nn_model(widths, N, activation, seed):
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(o, i, generator=g, dtype=torch.float64) for i, o in zip(widths[:-1], widths[1:])]
    biases = [torch.randn(o, generator=g, dtype=torch.float64) for o in widths[1:]]
    x = torch.randn(N, widths[0], generator=g, dtype=torch.float64)
    y = torch.randn(N, widths[-1], generator=g, dtype=torch.float64)
    before = [w.clone() for w in weights]
    model = torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Linear(i, o, dtype=torch.float64), ACTIVATIONS[activation]())
                                  for i, o in zip(widths[:-1], widths[1:])])
    with torch.no_grad():
        for block, W, b in zip(model, weights, biases):
            block[0].weight.copy_(W)
            block[0].bias.copy_(b)
    torch.nn.functional.mse_loss(model(x), y).backward()
    got = ref.layer_gradient_norms(x, y, weights, biases, activation)
    torch.testing.assert_close(got, torch.stack([block[0].weight.grad.norm() for block in model]),
                               rtol=1e-12, atol=1e-15)
    assert all(torch.equal(w, b) and not w.requires_grad and w.grad is None for w, b in zip(weights, before))


def test_sigmoid_slope_is_at_most_a_quarter_and_default_init_variance():
    z = torch.arange(-800, 801, dtype=torch.float64) / 100
    s = torch.sigmoid(z)
    assert (s * (1 - s)).max().item() == 0.25
    # nn.Linear(64, 64): weights uniform on (-1/8, 1/8), variance 1/(3*64); He's is 2/64
    assert questions.notes_layers(depth=1)[0][0].abs().max().item() < 1 / 8
    assert (1 / 8) ** 2 / 3 == pytest.approx(1 / (3 * 64))


# --- clip_grad_norm -------------------------------------------------------------------------

def torch_clip(grads, max_norm):
    """What torch.nn.utils.clip_grad_norm_ leaves in .grad, and the total norm it returns."""
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params], total.item()


def test_clip_grad_norm_matches_the_notes_bit_for_bit():
    cases = [([t(3, 4), t(12)], 1.0, [[0.23076921301775288, 0.3076922840236705], [0.9230768520710115]]),
             ([t(3, 4), t(12)], 20.0, [[3.0, 4.0], [12.0]]),
             ([t(3, 4), t(12)], 13.0, [[2.9999997692307874, 3.9999996923077163], [11.99999907692315]]),
             ([t(3e-4, 4e-4)], 1e-4, [[5.9880239520958076e-05, 7.984031936127745e-05]])]
    for grads, max_norm, expected in cases:
        clipped, total = ref.clip_grad_norm(grads, max_norm)
        torch_clipped, torch_total = torch_clip(grads, max_norm)
        assert [c.tolist() for c in clipped] == expected == [c.tolist() for c in torch_clipped]
        assert total == torch_total and isinstance(total, float)
    assert ref.clip_grad_norm([t(3, 4), t(12)], 1.0)[1] == 13.0
    assert ref.clip_grad_norm([t(3e-4, 4e-4)], 1e-4)[1] == pytest.approx(5e-4, rel=1e-15)
    assert ref.clip_grad_norm([], 1.0) == ([], 0.0)


shapes = st.lists(st.lists(st.integers(1, 4), min_size=0, max_size=3), min_size=1, max_size=4)


@given(shapes, st.floats(1e-3, 30.0), st.floats(0.01, 5.0), seeds, st.sampled_from([torch.float64, torch.float32]))
def test_clip_grad_norm_is_torchs_bit_for_bit(shape_list, max_norm, scale, seed, dtype):
    grads = [scale * randn(seed + i, *shape, dtype=dtype) for i, shape in enumerate(shape_list)]
    before = [g.clone() for g in grads]
    clipped, total = ref.clip_grad_norm(grads, max_norm)
    expected, expected_total = torch_clip(grads, max_norm)
    assert total == expected_total
    assert all(torch.equal(c, e) and c.dtype == dtype for c, e in zip(clipped, expected))
    assert all(torch.equal(g, b) for g, b in zip(grads, before))  # inputs unchanged
    # the clipped norm is min(total, max_norm * total / (total + 1e-6)), along the same direction
    norm = torch.cat([c.double().reshape(-1) for c in clipped]).norm().item()
    assert norm == pytest.approx(min(total, max_norm * total / (total + 1e-6)), rel=1e-5 if dtype == torch.float32 else 1e-12)
    flat, flat_clipped = torch.cat([g.double().reshape(-1) for g in grads]), torch.cat([c.double().reshape(-1) for c in clipped])
    assert (flat @ flat_clipped).item() == pytest.approx(flat.norm().item() * norm, rel=1e-5)


def test_clip_grad_norm_keeps_zero_gradients_and_runs_without_torchs_helpers():
    guards.install_guards(CLIP_APIS)
    with guards.forbid(CLIP_APIS, "clip_grad_norm must not call torch's helpers"):
        clipped, total = ref.clip_grad_norm([torch.zeros(3, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)], 1.0)
        with pytest.raises(guards.ForbiddenAPIError):
            torch_clip([t(1.0)], 1.0)
    assert total == 0.0 and all(torch.equal(c, torch.zeros_like(c)) for c in clipped)


# --- cg_newton_step -------------------------------------------------------------------------

def gradient_and_hessian(f, x):
    point = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(point), point)
    return g, torch.autograd.functional.hessian(f, x)


def test_cg_newton_step_matches_the_notes():
    x = t(2, 1)
    g, H = gradient_and_hessian(questions.notes_quadratic, x)
    assert g.tolist() == [8.0, 3.0] and H.tolist() == [[4.0, 1.0], [1.0, 3.0]]
    one = ref.cg_newton_step(questions.notes_quadratic, x, iters=1)
    torch.testing.assert_close(one, -(g @ g) / (g @ H @ g) * g, rtol=1e-15, atol=0)  # exact line search along -g
    torch.testing.assert_close(one, t(-1.7643505, -0.6616314), rtol=1e-7, atol=0)
    torch.testing.assert_close(x + one, t(0.2356495, 0.3383686), rtol=1e-6, atol=0)
    two = ref.cg_newton_step(questions.notes_quadratic, x, iters=2)
    torch.testing.assert_close(two, t(-21 / 11, -4 / 11), rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(two, torch.linalg.solve(H, -g), rtol=1e-14, atol=0)  # hw04's newton_step
    torch.testing.assert_close(x + two, t(1 / 11, 7 / 11), rtol=1e-14, atol=1e-15)
    assert ref.cg_newton_step(questions.notes_saddle, t(1, 1)).tolist() == [-2.0, 6.0]
    torch.testing.assert_close(ref.cg_newton_step(questions.notes_shallow_saddle, t(1, -1)),
                               t(-1.0110110, -0.1011011), rtol=1e-7, atol=0)
    # the next direction of that run has negative curvature: CG stops with the first step
    assert torch.equal(ref.cg_newton_step(questions.notes_shallow_saddle, t(1, -1), iters=1),
                       ref.cg_newton_step(questions.notes_shallow_saddle, t(1, -1)))
    assert ref.cg_newton_step(questions.notes_quadratic, t(1 / 11, 7 / 11)).abs().max().item() < 1e-15


def spd(seed, n, kappa):
    """A symmetric positive definite matrix with eigenvalues spread over [1, kappa]."""
    q, _ = torch.linalg.qr(randn(seed, n, n))
    eigenvalues = 1 + (kappa - 1) * torch.arange(n, dtype=torch.float64) / max(n - 1, 1)
    a = q @ torch.diag(eigenvalues) @ q.T
    return (a + a.T) / 2


@given(st.integers(2, 7), seeds, st.floats(1.0, 50.0))
def test_cg_after_n_steps_is_the_newton_step(n, seed, kappa):
    A, b, x = spd(seed, n, kappa), randn(seed + 1, n), randn(seed + 2, n)
    p = ref.cg_newton_step(lambda z: z @ A @ z / 2 - b @ z, x, iters=n, tol=0.0)
    torch.testing.assert_close(p, torch.linalg.solve(A, -(A @ x - b)), rtol=1e-9, atol=1e-10)


@given(st.integers(3, 8), seeds, st.floats(2.0, 50.0), st.data())
def test_cg_minimises_the_model_over_the_krylov_space(n, seed, kappa, data):
    k = data.draw(st.integers(1, n - 1))
    A, g = spd(seed, n, kappa), randn(seed + 1, n)
    p = ref.cg_newton_step(lambda z: z @ A @ z / 2 + g @ z, torch.zeros(n, dtype=torch.float64), iters=k, tol=0.0)
    K = torch.stack([torch.linalg.matrix_power(A, j) @ g for j in range(k)], dim=1)
    Q, _ = torch.linalg.qr(K)
    best = Q @ torch.linalg.solve(Q.T @ A @ Q, -Q.T @ g)  # argmin of g^T p + p^T A p / 2 over span(K)
    torch.testing.assert_close(p, best, rtol=1e-7, atol=1e-9)
    if k == 1:  # the exact-line-search gradient step
        torch.testing.assert_close(p, -(g @ g) / (g @ A @ g) * g)


def test_two_cg_iterations_differ_from_two_steepest_descent_steps():
    f, x = questions.spd_quadratic_3, randn(190, 3)
    g, H = gradient_and_hessian(f, x)
    p, r = torch.zeros(3, dtype=torch.float64), g.clone()
    for _ in range(2):
        p = p - (r @ r) / (r @ H @ r) * r
        r = H @ p + g
    assert (ref.cg_newton_step(f, x, iters=2) - p).abs().max().item() > 1e-3


def test_negative_curvature_cases_stop_where_their_labels_say():
    first, later = t(0.1, -0.2, 0.3, 0.05, -0.15), t(1.4, -0.1, 1.2, 0.05, -1.3)
    g, H = gradient_and_hessian(questions.double_well, first)
    assert g @ H @ g < 0 and torch.equal(ref.cg_newton_step(questions.double_well, first), -g)
    g, H = gradient_and_hessian(questions.double_well, later)
    assert g @ H @ g > 0 and torch.linalg.eigvalsh(H).min() < 0
    p = ref.cg_newton_step(questions.double_well, later)
    assert not torch.allclose(p, -g) and not torch.allclose(p, torch.linalg.solve(H, -g))
    assert torch.equal(p, ref.cg_newton_step(questions.double_well, later, iters=100, tol=0.0))


def test_cg_zero_gradient_float32_and_tol():
    p = ref.cg_newton_step(questions.pure_quadratic, torch.zeros(3, dtype=torch.float64))
    assert torch.equal(p, torch.zeros(3, dtype=torch.float64))
    p32 = ref.cg_newton_step(questions.spd_quadratic_3, t(0.5, -1.0, 2.0, dtype=torch.float32), iters=3)
    g, H = gradient_and_hessian(questions.spd_quadratic_3, t(0.5, -1.0, 2.0))
    assert p32.dtype == torch.float32
    torch.testing.assert_close(p32.double(), torch.linalg.solve(H, -g), rtol=1e-5, atol=1e-6)
    x = randn(194, 8)
    g, H = gradient_and_hessian(questions.spd_quadratic_8, x)
    loose = ref.cg_newton_step(questions.spd_quadratic_8, x, tol=0.1)
    assert (H @ loose + g).norm() <= 0.1 * g.norm() and not torch.allclose(loose, torch.linalg.solve(H, -g), rtol=1e-3)


def test_the_cost_function_has_the_documented_hessian():
    n = 12
    x = randn(0, n)
    _, H = gradient_and_hessian(questions.ring_softplus, x)
    s = torch.sigmoid(x)
    ring = 2 * torch.eye(n, dtype=torch.float64) - torch.roll(torch.eye(n, dtype=torch.float64), 1, 0) \
        - torch.roll(torch.eye(n, dtype=torch.float64), -1, 0)
    torch.testing.assert_close(H, torch.diag(s * (1 - s)) + torch.eye(n, dtype=torch.float64) + ring / 2)
    eigenvalues = torch.linalg.eigvalsh(H)
    assert 1 < eigenvalues.min() and eigenvalues.max() <= 3.25  # condition number below 4


def test_cg_at_n_300_000_uses_one_gradient_and_17_hessian_vector_products():
    guards.install_guards(guards.FULL_MATRIX_APIS + guards.DENSE_SOLVERS)
    x = randn(195, questions.N)
    with mock.patch.object(torch.autograd, "grad", wraps=torch.autograd.grad) as grad, build.reproducible():
        with guards.forbid(guards.FULL_MATRIX_APIS + guards.DENSE_SOLVERS, "must not build the Hessian"):
            p = ref.cg_newton_step(questions.ring_softplus, x)
    assert grad.call_count == 18
    point = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(questions.ring_softplus(point), point, create_graph=True)
    (Hp,) = torch.autograd.grad(g, point, grad_outputs=p)
    assert (Hp + g).norm() <= 1e-10 * g.norm()
    # the prose: the Hessian would need 720 GB, one vector 2.4 MB
    assert questions.N ** 2 * 8 / 1e9 == 720 and questions.N * 8 / 1e6 == 2.4


# --- the plan, the bugs and the other correct answers ---------------------------------------

def test_plan_points_and_labels():
    questions_ = plan()["questions"]
    assert {q["name"]: q["points"] for q in questions_} == {"q1": 12, "q2": 3, "q3": 4, "q4": 5, "q5": 6, "q6": 10}
    for question in questions_:
        assert any(not c["hidden"] for c in question["cases"])
        for case in question["cases"]:
            if case["hidden"]:
                assert not re.search(r"\b(is|gives|equals)\s+[-\d(\[]", case["label"]), case["label"]


def test_clip_helpers_named_in_the_forbid_list_exist():
    for api in CLIP_APIS:
        owner, attr = api.rsplit(".", 1)
        assert hasattr(torch.nn.utils, attr), api


def functions_with(source: str | None) -> dict:
    """The reference's functions, one replaced by a student's source, as the notebook defines
    them (torch and math imported)."""
    functions = samples.functions_with(ref, {})
    functions["math"] = math
    if source:
        exec(source, functions)
    return functions


def test_a_hessian_built_by_torch_func_is_reported_as_forbidden(float64_default):
    the_plan = plan()
    guards.install_guards(guards.FULL_MATRIX_APIS + guards.DENSE_SOLVERS)
    bug = next(b for b in BUGS if "torch.func.hessian" in b.name)
    functions = functions_with(bug.source)
    fixtures = load_fixtures(the_plan["fixtures"])
    q6 = next(q for q in the_plan["questions"] if q["name"] == "q6")
    cost = next(c for c in q6["cases"] if c["label"].startswith("n = 300,000"))
    with pytest.raises(CallFailed, match=r"cg_newton_step must not build the Hessian .*torch\.func\.hessian"):
        run_case(functions, cost["calls"], fixtures)
    outputs = run_case(samples.functions_with(ref, {}), cost["calls"], fixtures)
    checks.judge(cost, outputs, fixtures)
