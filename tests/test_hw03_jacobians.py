"""hw03_jacobians: the reference against autograd and the notes, the identities, and realistic
bugs graded for real."""

import re
import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course import checks, runtime
from tests.grading import Bug, assert_bugs_lose_exactly, source_of
from tests.strategies import float64_vectors

ASSIGNMENT = "hw03_jacobians"
ref = source_of(ASSIGNMENT).module("reference")
questions = source_of(ASSIGNMENT).module("questions")

sizes = st.integers(1, 6)
seeds = st.integers(0, 2**31 - 1)


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
    J = ref.numerical_jacobian(questions.notes_map, torch.tensor([2.0, 3.0], dtype=torch.float64))
    torch.testing.assert_close(J, torch.tensor([[4.0, 1.0], [3.0, 8.0]], dtype=torch.float64))
    J = ref.numerical_jacobian(questions.notes_linear_map, torch.tensor([1.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(J, torch.tensor([[-2.0, 1.0], [1.0, 1.0]], dtype=torch.float64))
    assert abs(torch.linalg.det(J).item()) == pytest.approx(3.0)


def test_numerical_jacobian_error_is_second_order_in_h():
    f, x = questions.wide_map, random_vector(3, 5)
    exact = autograd_jacobian(f, x)
    error = [(ref.numerical_jacobian(f, x, h) - exact).abs().max().item() for h in (1e-2, 5e-3)]
    assert error[0] / error[1] == pytest.approx(4, rel=0.05)


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

@settings(max_examples=25)
@given(sizes, sizes, sizes, seeds)
def test_composed_jacobian_is_the_jacobian_of_the_composition(n, m, k, seed):
    f, g, x = random_map(n, m, seed), random_map(m, k, seed + 1), random_vector(n, seed + 2)
    J = ref.composed_jacobian(f, g, x)
    assert J.shape == (k, n)
    torch.testing.assert_close(J, autograd_jacobian(lambda t: g(f(t)), x))


def test_composed_jacobian_matches_the_notes():
    J = ref.composed_jacobian(questions.notes_inner, questions.notes_outer,
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
    ref.vjp(questions.pair_map, x, random_vector(2, 1))
    ref.jvp(questions.pair_map, x, random_vector(4, 2))
    assert torch.equal(x, before) and not x.requires_grad


@pytest.mark.parametrize("fixture, m", [("tanh_times_shift", 0), ("prefix_sums_and_squares", 1000),
                                        ("neighbour_products", -1)])
def test_vjp_and_jvp_are_linear_cost_at_n_300_000(fixture, m):
    n = questions.N
    f, x = getattr(questions, fixture), random_vector(n, 0)
    with runtime.forbid(runtime.FULL_MATRIX_APIS, "must not build the Jacobian"):
        ref.vjp(f, x, random_vector(n + m, 1))  # warm up autograd
        start = time.perf_counter()
        g = ref.vjp(f, x, random_vector(n + m, 1))
        Ju = ref.jvp(f, x, random_vector(n, 2))
        elapsed = time.perf_counter() - start
    assert g.shape == (n,) and Ju.shape == (n + m,)
    assert elapsed < 2.0


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


# --- other correct answers get full marks ---------------------------------------------------

def _numerical_jacobian_batched(f, x, h=1e-5):
    steps = torch.eye(x.numel(), dtype=x.dtype) * h
    rows = [f(x + s) / (2 * h) - f(x - s) / (2 * h) for s in steps]
    return torch.stack(rows).T


def _softmax_jacobian_by_hand(z):
    e = torch.exp(z - z.max())
    p = e / e.sum()
    return -p[:, None] * p[None, :] + torch.diag(p)


def _composed_jacobian_numerically(f, g, x):
    return _numerical_jacobian_batched(g, f(x)) @ _numerical_jacobian_batched(f, x)


def _vjp_func(f, x, v):
    return torch.func.vjp(f, x)[1](v)[0]


def _jvp_func(f, x, u):
    return torch.func.jvp(f, (x,), (u,))[1]


def _jvp_forward_ad(f, x, u):
    import torch.autograd.forward_ad as fwAD
    with fwAD.dual_level():
        return fwAD.unpack_dual(f(fwAD.make_dual(x, u))).tangent


def _linear_layer_backward_broadcast(W, x, grad_y):
    return grad_y[:, None] * x[None, :], grad_y @ W


ALTERNATIVES = {
    "numerical_jacobian": _numerical_jacobian_batched,
    "softmax_jacobian": _softmax_jacobian_by_hand,
    "composed_jacobian": _composed_jacobian_numerically,
    "vjp": _vjp_func,
    "jvp": _jvp_func,
    "linear_layer_backward": _linear_layer_backward_broadcast,
}


@pytest.mark.parametrize("jvp", [_jvp_func, _jvp_forward_ad])
def test_other_correct_implementations_pass_every_case(jvp):
    plan = source_of(ASSIGNMENT).plan()
    fixtures = runtime.load_fixtures(plan["fixtures"])
    functions = {**ALTERNATIVES, "jvp": jvp}
    for question in plan["questions"]:
        for case in question["cases"]:
            outputs = [runtime.call(functions, spec, fixtures) for spec in case["calls"]]
            checks.judge(case, outputs, fixtures)


def test_hidden_labels_do_not_reveal_values():
    plan = source_of(ASSIGNMENT).plan()
    for question in plan["questions"]:
        for case in question["cases"]:
            if case["hidden"]:
                assert not re.search(r"\b(is|gives|equals)\s+[-\d(\[]", case["label"]), case["label"]


# --- the forbidden-API guard ----------------------------------------------------------------

def test_forbid_guard_holds_across_test_files():
    import inspect
    source = inspect.getsource(runtime)
    first, second = {"__name__": "q1_tests"}, {"__name__": "q4_tests"}
    exec(source, first)
    exec(source, second)
    first["install_guards"]()
    with pytest.raises(Exception, match="must not build the Jacobian"):
        with second["forbid"](runtime.FULL_MATRIX_APIS, "vjp must not build the Jacobian"):
            second["install_guards"]()
            torch.autograd.functional.jacobian(lambda t: t ** 2, torch.ones(2, dtype=torch.float64))


# --- realistic bugs -------------------------------------------------------------------------

BUGS = [
    Bug("numerical Jacobian stacked as rows (the transpose)", "numerical_jacobian",
        "def numerical_jacobian(f, x, h=1e-5):\n"
        "    rows = []\n"
        "    for j in range(x.numel()):\n"
        "        step = torch.zeros_like(x)\n"
        "        step[j] = h\n"
        "        rows.append((f(x + step) - f(x - step)) / (2 * h))\n"
        "    return torch.stack(rows)\n", {"q1": 1}),
    Bug("numerical Jacobian by forward differences", "numerical_jacobian",
        "def numerical_jacobian(f, x, h=1e-5):\n"
        "    columns = []\n"
        "    for j in range(x.numel()):\n"
        "        step = torch.zeros_like(x)\n"
        "        step[j] = h\n"
        "        columns.append((f(x + step) - f(x)) / h)\n"
        "    return torch.stack(columns, dim=1)\n", {"q1": 2}),
    Bug("softmax Jacobian as diag(p) only", "softmax_jacobian",
        "def softmax_jacobian(z):\n    return torch.diag(torch.softmax(z, dim=0))\n", {"q2": 0}),
    Bug("softmax Jacobian from a naive exp that overflows", "softmax_jacobian",
        "def softmax_jacobian(z):\n"
        "    p = torch.exp(z) / torch.exp(z).sum()\n"
        "    return torch.diag(p) - torch.outer(p, p)\n", {"q2": 4}),
    Bug("chain rule multiplied in the wrong order", "composed_jacobian",
        "def composed_jacobian(f, g, x):\n"
        "    J_f = torch.autograd.functional.jacobian(f, x)\n"
        "    J_g = torch.autograd.functional.jacobian(g, f(x).detach())\n"
        "    return J_f @ J_g\n", {"q3": 0}),
    # Building the Jacobian loses exactly the two n = 300,000 cases, which forbid it.
    Bug("vjp through torch.autograd.functional.jacobian", "vjp",
        "def vjp(f, x, v):\n"
        "    return v @ torch.autograd.functional.jacobian(f, x)\n", {"q4": 5}),
    Bug("vjp that builds the full Jacobian", "vjp",
        "def vjp(f, x, v):\n"
        "    J = torch.autograd.functional.jacobian(f, x, vectorize=True)\n"
        "    return v @ J\n", {"q4": 5}),
    Bug("vjp that ignores v (backward of the sum)", "vjp",
        "def vjp(f, x, v):\n"
        "    x = x.detach().requires_grad_(True)\n"
        "    (g,) = torch.autograd.grad(f(x).sum(), x)\n"
        "    return g\n", {"q4": 1, "q6": 0}),
    Bug("jvp computing J^T u", "jvp",
        "def jvp(f, x, u):\n"
        "    x = x.detach().requires_grad_(True)\n"
        "    (g,) = torch.autograd.grad(f(x), x, grad_outputs=u)\n"
        "    return g\n", {"q5": 0, "q6": 0}),
    Bug("jvp that builds the full Jacobian", "jvp",
        "def jvp(f, x, u):\n"
        "    return torch.func.jacfwd(f)(x) @ u\n", {"q5": 4}),
    Bug("linear layer with grad_W = outer(x, grad_y)", "linear_layer_backward",
        "def linear_layer_backward(W, x, grad_y):\n"
        "    return torch.outer(x, grad_y), W.T @ grad_y\n", {"q7": 1}),
    Bug("linear layer with grad_x = W grad_y", "linear_layer_backward",
        "def linear_layer_backward(W, x, grad_y):\n"
        "    return torch.outer(grad_y, x), W @ grad_y\n", {"q7": 0}),
]


@pytest.mark.slow
def test_realistic_bugs_lose_points_on_their_question_only():
    assert_bugs_lose_exactly(ASSIGNMENT, BUGS)
