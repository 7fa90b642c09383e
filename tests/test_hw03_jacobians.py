"""hw03_jacobians: the reference against autograd and the notes, the identities, the numbers
the prose claims, and the realistic bugs and other correct answers of
solutions/hw03_jacobians/bugs.py, scored in process (the shared grading test grades them for real)."""

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course.build import assemble as build
from tests.strategies import float64_vectors, seeds, sizes

ROOT = Path(__file__).resolve().parents[1]
SOURCE = build.sources(ROOT, ["hw03_jacobians"])[0]
ref = SOURCE.module("reference")
questions = SOURCE.module("questions")
bugs = SOURCE.module("bugs")


def random_map(n, m, seed):
    """A nonlinear map R^n -> R^m that mixes every input into every output."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(m, n, generator=g, dtype=torch.float64)
    b = torch.randn(m, generator=g, dtype=torch.float64)
    return lambda x: torch.tanh(A @ x + b) * (1 + (A @ x) ** 2) + x.sum() ** 2


def random_vector(size, seed):
    return torch.randn(size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def autograd_jacobian(f, x):
    return torch.autograd.functional.jacobian(f, x)


# --- numerical_jacobian ---------------------------------------------------------------------

@given(sizes, sizes, seeds)
def test_numerical_jacobian_matches_autograd_in_numerator_layout(n, m, seed):
    f, x = random_map(n, m, seed), random_vector(n, seed + 1)
    J = ref.numerical_jacobian(f, x)
    assert J.shape == (m, n)
    torch.testing.assert_close(J, autograd_jacobian(f, x), rtol=1e-6, atol=1e-6)


def test_numerical_jacobian_matches_the_notes():
    J = ref.numerical_jacobian(questions.notes_map_black_box, torch.tensor([2.0, 3.0], dtype=torch.float64))
    torch.testing.assert_close(J, torch.tensor([[4.0, 1.0], [3.0, 8.0]], dtype=torch.float64))
    J = ref.numerical_jacobian(questions.notes_weight_map_black_box, torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))
    torch.testing.assert_close(J, torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64))
    J = ref.numerical_jacobian(questions.notes_linear_map_black_box, torch.tensor([1.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(J, torch.tensor([[-2.0, 1.0], [1.0, 1.0]], dtype=torch.float64))
    assert abs(torch.linalg.det(J).item()) == pytest.approx(3.0)


def test_numerical_jacobian_error_is_second_order_in_h():
    f, x = questions.wide_map, random_vector(3, 5)
    exact = autograd_jacobian(f, x)
    error = [(ref.numerical_jacobian(f, x, h) - exact).abs().max().item() for h in (1e-2, 5e-3)]
    assert error[0] / error[1] == pytest.approx(4, rel=0.05)


@pytest.mark.parametrize("black_box, twin", [("notes_map_black_box", "notes_map"),
                                              ("notes_map_xy_black_box", "notes_map_xy"),
                                              ("wide_map_black_box", "wide_map"),
                                              ("mixing_map_black_box", "mixing_map")])
def test_black_boxes_compute_their_twin_map_and_hide_it_from_autograd(black_box, twin):
    black_box, twin = getattr(questions, black_box), getattr(questions, twin)
    n = {"wide_map": 3, "mixing_map": 7}.get(twin.__name__, 2)
    x = random_vector(n, 11)
    torch.testing.assert_close(black_box(x), twin(x), rtol=1e-14, atol=1e-14)
    assert black_box(x.clone().requires_grad_(True)).grad_fn is None


def test_black_box_linear_maps_are_the_notes_matrices():
    x = random_vector(3, 12)
    W = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)
    torch.testing.assert_close(questions.notes_weight_map_black_box(x), W @ x)
    torch.testing.assert_close(questions.notes_linear_map_black_box(x[:2]),
                               torch.tensor([[-2.0, 1.0], [1.0, 1.0]], dtype=torch.float64) @ x[:2])


# --- softmax_jacobian -----------------------------------------------------------------------

@given(float64_vectors(min_size=1, max_size=8, bound=30.0))
def test_softmax_jacobian_matches_autograd(z):
    expected = autograd_jacobian(lambda t: torch.softmax(t, dim=0), z)
    torch.testing.assert_close(ref.softmax_jacobian(z), expected, rtol=1e-12, atol=1e-15)


@given(float64_vectors(min_size=2, max_size=8, bound=1000.0))
def test_softmax_jacobian_is_finite_symmetric_and_rows_sum_to_zero(z):
    J = ref.softmax_jacobian(z)
    assert torch.isfinite(J).all()
    torch.testing.assert_close(J, J.T)
    torch.testing.assert_close(J.sum(dim=1), torch.zeros_like(z), rtol=0, atol=1e-15)


def test_softmax_jacobian_large_logits_and_float32():
    J = ref.softmax_jacobian(torch.tensor([1000.0, 1001.0, 1002.0], dtype=torch.float64))
    small = ref.softmax_jacobian(torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64))
    torch.testing.assert_close(J, small)
    assert ref.softmax_jacobian(torch.tensor([0.5, -1.0], dtype=torch.float32)).dtype == torch.float32


# --- composed_jacobian ----------------------------------------------------------------------

def layer_of(fn):
    """A map turned into a layer as composed_jacobian receives it: detached value and Jacobian."""
    return lambda x: (fn(x).detach(), autograd_jacobian(fn, x.detach()))


@settings(max_examples=25)
@given(sizes, sizes, sizes, seeds)
def test_composed_jacobian_is_the_jacobian_of_the_composition(n, m, k, seed):
    f, g, x = random_map(n, m, seed), random_map(m, k, seed + 1), random_vector(n, seed + 2)
    J = ref.composed_jacobian(layer_of(f), layer_of(g), x)
    assert J.shape == (k, n)
    torch.testing.assert_close(J, autograd_jacobian(lambda t: g(f(t)), x))


_generator = torch.Generator().manual_seed(9)
WAVE_A = torch.randn(5, 3, generator=_generator, dtype=torch.float64)
WAVE_C = torch.randn(5, generator=_generator, dtype=torch.float64)

# Each hidden layer, as the map its value computes: its Jacobian must be that map's exact Jacobian.
TWINS = {
    "notes_inner_layer": (lambda x: torch.stack([x[0] * x[1], x[0] + x[1] ** 2]), 2),
    "notes_outer_layer": (lambda y: torch.stack([y[0] + y[1], y[0] * y[1]]), 2),
    "squash_layer_5_to_2": (lambda y: torch.stack([y[0] * y[1] + y[2], torch.sin(30 * y[3]) - y[4] ** 2]), 5),
    "pair_layer_4_to_2": (lambda x: torch.stack([torch.sin(30 * x[0]) * x[3] + x[1], torch.cos(30 * x[2]) + x[1] ** 3]), 4),
    "lift_layer_2_to_3": (lambda y: torch.stack([y[0] * y[1], y[0] - y[1], torch.tanh(y[0])]), 2),
    "rotation_layer_3": (lambda x: torch.stack([torch.sin(30 * x[0]) * x[1], torch.sin(30 * (x[1] + x[2])),
                                                x[2] ** 2 - x[0]]), 3),
    "cubic_layer_3": (lambda y: torch.stack([y[0] ** 3, y[0] * y[2], y[1] + y[2] ** 2]), 3),
    "wave_layer_3_to_5": (lambda x: torch.sin(30 * (WAVE_A @ x + WAVE_C)), 3),
}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_layers_return_their_value_and_exact_jacobian_without_a_graph(name):
    layer, (twin, n) = getattr(questions, name), TWINS[name]
    x = random_vector(n, 13).requires_grad_(True)
    value, J = layer(x)
    torch.testing.assert_close(value, twin(x.detach()), rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(J, autograd_jacobian(twin, x.detach()), rtol=1e-13, atol=1e-13)
    assert value.grad_fn is None and J.grad_fn is None


def test_linear_layers_are_their_matrices():
    x, y = random_vector(4, 14), random_vector(6, 15)
    A = torch.randn(6, 4, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    value, J = questions.wave_layer_4_to_6(x)
    torch.testing.assert_close(value, torch.sin(30 * A @ x))
    torch.testing.assert_close(J, autograd_jacobian(lambda t: torch.sin(30 * A @ t), x))
    value, B = questions.linear_layer_6_to_3(y)
    torch.testing.assert_close(value, B @ y)
    assert B.shape == (3, 6)


def test_composed_jacobian_matches_the_notes():
    J = ref.composed_jacobian(questions.notes_inner_layer, questions.notes_outer_layer,
                              torch.tensor([1.0, 2.0], dtype=torch.float64))
    torch.testing.assert_close(J, torch.tensor([[3.0, 5.0], [12.0, 13.0]], dtype=torch.float64))


# --- vjp and jvp ----------------------------------------------------------------------------

@given(sizes, sizes, seeds)
def test_vjp_and_jvp_match_the_full_jacobian(n, m, seed):
    f, x = random_map(n, m, seed), random_vector(n, seed + 1)
    u, v = random_vector(n, seed + 2), random_vector(m, seed + 3)
    J = autograd_jacobian(f, x)
    torch.testing.assert_close(ref.vjp(f, x, v), v @ J)
    torch.testing.assert_close(ref.jvp(f, x, u), J @ u)


@given(sizes, sizes, seeds)
def test_adjoint_identity(n, m, seed):
    f, x = random_map(n, m, seed), random_vector(n, seed + 1)
    u, v = random_vector(n, seed + 2), random_vector(m, seed + 3)
    left = torch.dot(v, ref.jvp(f, x, u))
    right = torch.dot(ref.vjp(f, x, v), u)
    torch.testing.assert_close(left, right)


@given(st.integers(2, 6), st.integers(2, 6), seeds)
def test_one_hot_vectors_recover_rows_and_columns(n, m, seed):
    f, x = random_map(n, m, seed), random_vector(n, seed + 1)
    J = autograd_jacobian(f, x)
    eye_n, eye_m = torch.eye(n, dtype=torch.float64), torch.eye(m, dtype=torch.float64)
    for i in range(m):
        torch.testing.assert_close(ref.vjp(f, x, eye_m[i]), J[i])
    for j in range(n):
        torch.testing.assert_close(ref.jvp(f, x, eye_n[j]), J[:, j])


def test_vjp_of_a_sum_is_the_gradient_from_the_notes():
    g = ref.vjp(questions.notes_map_xy, torch.tensor([1.0, 2.0], dtype=torch.float64),
                torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(g, torch.tensor([4.0, 2.0], dtype=torch.float64))


def test_vjp_and_jvp_do_not_modify_or_track_the_input():
    x = random_vector(4, 0)
    before = x.clone()
    ref.vjp(questions.wide_map, x[:3], random_vector(5, 1))
    ref.jvp(questions.wide_map, x[:3], random_vector(3, 2))
    assert torch.equal(x, before) and not x.requires_grad


def test_vjp_and_jvp_at_n_300_000_match_their_closed_forms():
    # f_i = tanh(x_i) x_{i-1} (indices mod n): J has tanh'(x_i) x_{i-1} on the diagonal and tanh(x_i)
    # at (i, i - 1). The cost cases compare with these values (through a sketch).
    n = questions.N
    x, u, v = random_vector(n, 0), random_vector(n, 1), random_vector(n, 2)
    diagonal, below = (1 - torch.tanh(x) ** 2) * torch.roll(x, 1), torch.tanh(x)
    torch.testing.assert_close(ref.jvp(questions.tanh_times_shift, x, u), diagonal * u + below * torch.roll(u, 1))
    torch.testing.assert_close(ref.vjp(questions.tanh_times_shift, x, v),
                               diagonal * v + torch.roll(below * v, -1))


def test_vjp_and_jvp_keep_float32():
    x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float32)
    assert ref.vjp(questions.tanh_times_shift, x, torch.ones(3, dtype=torch.float32)).dtype == torch.float32
    assert ref.jvp(questions.tanh_times_shift, x, torch.ones(3, dtype=torch.float32)).dtype == torch.float32


# --- linear_layer_backward ------------------------------------------------------------------

@given(sizes, sizes, seeds)
def test_linear_layer_backward_matches_autograd(m, n, seed):
    g = torch.Generator().manual_seed(seed)
    W, x, grad_y = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((m, n), (n,), (m,)))
    W_leaf, x_leaf = W.clone().requires_grad_(True), x.clone().requires_grad_(True)
    (W_leaf @ x_leaf).backward(grad_y)
    grad_W, grad_x = ref.linear_layer_backward(W, x, grad_y)
    torch.testing.assert_close(grad_W, W_leaf.grad)
    torch.testing.assert_close(grad_x, x_leaf.grad)


# --- the numbers the prose claims ---------------------------------------------------------------

def test_prose_numbers():
    # Section 1 and 2: J(2, 3) of the notes' maps, det J = -3 for the linear map.
    J = ref.numerical_jacobian(questions.notes_linear_map_black_box, torch.zeros(2, dtype=torch.float64))
    assert float(torch.linalg.det(J)) == pytest.approx(-3.0, rel=1e-9)
    # Section 3: the diagonal of the softmax Jacobian at [2, 1, 0.1] is [0.22472, 0.18366, 0.08885],
    # and every row sums to 0.
    J = ref.softmax_jacobian(torch.tensor([2.0, 1.0, 0.1], dtype=torch.float64))
    torch.testing.assert_close(torch.diagonal(J), torch.tensor([0.22472, 0.18366, 0.08885], dtype=torch.float64),
                               rtol=0, atol=5e-6)
    # Section 4: f(1, 2) = (2, 5), J_f = [[2, 1], [1, 4]], J_g(2, 5) = [[1, 1], [5, 2]].
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    y, J_f = questions.notes_inner_layer(x)
    assert y.tolist() == [2.0, 5.0] and J_f.tolist() == [[2.0, 1.0], [1.0, 4.0]]
    assert questions.notes_outer_layer(y)[1].tolist() == [[1.0, 1.0], [5.0, 2.0]]
    # Section 5: n = m = 300,000 gives 9e10 float64 entries, 720 GB; one vector is 2.4 MB.
    n = questions.N
    assert n * n == 9e10 and n * n * 8 / 1e9 == 720 and n * 8 / 1e6 == 2.4
    # Section 8: the notes' layer gives grad_x = (5, 7, 9).
    W = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64)
    _, grad_x = ref.linear_layer_backward(W, torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64),
                                          torch.ones(2, dtype=torch.float64))
    assert grad_x.tolist() == [5.0, 7.0, 9.0]
