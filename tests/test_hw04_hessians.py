"""hw04_hessians: the reference against autograd, torch.optim and closed forms, and realistic
bugs graded for real."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.grading import Bug, assert_bugs_lose_exactly, source_of

ASSIGNMENT = "hw04_hessians"
ref = source_of(ASSIGNMENT).module("reference")
questions = source_of(ASSIGNMENT).module("questions")

seeds = st.integers(0, 2**31 - 1)


def generator(seed):
    return torch.Generator().manual_seed(seed)


def symmetric_with(eigenvalues, seed):
    q, _ = torch.linalg.qr(torch.randn(len(eigenvalues), len(eigenvalues), generator=generator(seed)))
    a = q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T
    return (a + a.T) / 2


def autograd_hessian(f, x):
    return torch.autograd.functional.hessian(f, x)


@pytest.fixture(autouse=True)
def float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


# ---------------------------------------------------------------- the lecture notes' examples

def test_notes_examples():
    H = ref.numerical_hessian(questions.notes_quadratic, torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(H, torch.tensor([[2.0, 3.0], [3.0, 4.0]]), rtol=0, atol=1e-9)
    eigenvalues = torch.linalg.eigvalsh(H)
    torch.testing.assert_close(eigenvalues, torch.tensor([3 - math.sqrt(10), 3 + math.sqrt(10)]),
                               rtol=1e-8, atol=1e-8)
    assert ref.classify_critical_point(H) == "saddle"
    assert ref.hessian_condition(H) == pytest.approx(37.97, abs=5e-3)
    assert ref.hessian_condition(H) > 0  # the signed ratio would be -37.97
    saddle = autograd_hessian(lambda x: x[0] ** 2 - x[1] ** 2, torch.zeros(2))
    torch.testing.assert_close(saddle, torch.tensor([[2.0, 0.0], [0.0, -2.0]]))
    assert ref.classify_critical_point(saddle) == "saddle"
    steep = autograd_hessian(lambda x: 100 * x[0] ** 2 + x[1] ** 2, torch.ones(2))
    assert ref.hessian_condition(steep) == pytest.approx(100.0, rel=1e-12)
    assert ref.taylor_second_order(questions.bowl, torch.tensor([1.0, 1.0]), torch.tensor([0.1, 0.2])) \
        == pytest.approx(float(questions.bowl(torch.tensor([1.1, 1.2]))), rel=1e-14)


def run_optimizer(kind, lr, steps=100):
    params = torch.tensor([1.0, 1.0], requires_grad=True)
    optimizer = torch.optim.SGD([params], lr=lr) if kind == "SGD" else torch.optim.Adam([params], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        (100 * params[0] ** 2 + params[1] ** 2).backward()
        optimizer.step()
    return float(100 * params[0] ** 2 + params[1] ** 2)


def test_notes_sgd_and_adam_losses():
    assert run_optimizer("SGD", 0.005) == pytest.approx(0.13398, abs=1e-5)
    assert run_optimizer("Adam", 0.1) == pytest.approx(0.00087, abs=1e-5)


# ---------------------------------------------------------------- against autograd

@settings(max_examples=20)
@given(st.integers(1, 6), seeds)
def test_numerical_hessian_matches_autograd(n, seed):
    x = torch.randn(n, generator=generator(seed))
    H = ref.numerical_hessian(questions.wavy, x)
    torch.testing.assert_close(H, autograd_hessian(questions.wavy, x), rtol=1e-6, atol=1e-7)
    assert torch.equal(H, H.T)


def test_numerical_hessian_error_is_second_order():
    # Halving h quarters the error of central differences.
    x = torch.tensor([0.3, -0.8, 1.2, 0.5])
    exact = autograd_hessian(questions.wavy, x)
    errors = [(ref.numerical_hessian(questions.wavy, x, h) - exact).abs().max() for h in (2e-2, 1e-2)]
    assert float(errors[0] / errors[1]) == pytest.approx(4, rel=0.05)


@settings(max_examples=25)
@given(st.integers(1, 6), seeds)
def test_taylor_matches_the_expansion_with_autograd(n, seed):
    g = generator(seed)
    x0, dx = torch.randn(n, generator=g), torch.randn(n, generator=g)
    f = questions.wavy
    leaf = x0.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(leaf), leaf)
    expected = float(f(x0) + grad @ dx + 0.5 * dx @ autograd_hessian(f, x0) @ dx)
    assert ref.taylor_second_order(f, x0, dx) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_taylor_error_is_third_order():
    f, x0, direction = questions.saddle_and_sine, torch.tensor([0.5, 0.2, -0.4]), torch.tensor([1.0, -2.0, 3.0])
    errors = [abs(ref.taylor_second_order(f, x0, s * direction) - float(f(x0 + s * direction)))
              for s in (1e-2, 5e-3)]
    assert errors[0] / errors[1] == pytest.approx(8, rel=0.05)


@settings(max_examples=25)
@given(st.integers(1, 30), seeds)
def test_hvp_matches_the_full_hessian(n, seed):
    g = generator(seed)
    x, v = torch.randn(n, generator=g), torch.randn(n, generator=g)
    for f in (questions.ring_energy, questions.wavy):
        torch.testing.assert_close(ref.hvp(f, x, v), autograd_hessian(f, x) @ v)


def test_hvp_is_linear_in_v_and_leaves_x_alone():
    x = torch.randn(8, generator=generator(1))
    v, w = torch.randn(8, generator=generator(2)), torch.randn(8, generator=generator(3))
    f = questions.ring_energy
    torch.testing.assert_close(ref.hvp(f, x, 2 * v - w), 2 * ref.hvp(f, x, v) - ref.hvp(f, x, w))
    assert not x.requires_grad


def test_hvp_cost_fixture_is_linear_time():
    # The n x n Hessian of the cost case would hold 300_000^2 float64s: 720 GB.
    assert 300_000 ** 2 * 8 / 1e9 == pytest.approx(720)
    x = torch.randn(300_000, generator=generator(0))
    assert ref.hvp(questions.ring_energy, x, x).shape == (300_000,)


# ---------------------------------------------------------------- eigenvalues

@settings(max_examples=40)
@given(st.lists(st.sampled_from([-3.0, -1.0, -0.2, 0.0, 0.5, 2.0, 7.0]), min_size=1, max_size=6), seeds)
def test_classification_follows_the_eigenvalue_signs(eigenvalues, seed):
    H = symmetric_with(eigenvalues, seed)
    signs = {(e > 0) - (e < 0) for e in eigenvalues}
    expected = ("saddle" if {1, -1} <= signs else "degenerate" if 0 in signs
                else "minimum" if signs == {1} else "maximum")
    assert ref.classify_critical_point(H) == expected


def test_classification_uses_tol():
    H = torch.diag(torch.tensor([1.0, 1e-6]))
    assert ref.classify_critical_point(H) == "minimum"
    assert ref.classify_critical_point(H, tol=1e-5) == "degenerate"
    assert ref.classify_critical_point(torch.diag(torch.tensor([1.0, 0.0, -1e-6])), tol=1e-5) == "degenerate"


@settings(max_examples=40)
@given(st.integers(1, 6), seeds)
def test_condition_number_matches_numpy(n, seed):
    a = torch.randn(n, n, generator=generator(seed))
    H = (a + a.T) / 2
    expected = float(torch.linalg.cond(H))  # 2-norm condition: singular values = |eigenvalues|
    assert ref.hessian_condition(H) == pytest.approx(expected, rel=1e-8)


def test_condition_number_of_singular_matrices_is_inf():
    for H in (torch.tensor([[1.0, 2.0], [2.0, 4.0]]), torch.diag(torch.tensor([3.0, 0.0, -1.0])),
              torch.zeros(2, 2)):
        value = ref.hessian_condition(H)
        assert isinstance(value, float) and value == math.inf


# ---------------------------------------------------------------- Newton and Adam

@settings(max_examples=30)
@given(st.integers(1, 8), seeds)
def test_newton_step_solves_the_system(n, seed):
    g = torch.randn(n, generator=generator(seed))
    H = symmetric_with(torch.linspace(-2.0, 3.0, n).add(0.37).tolist(), seed)
    step = ref.newton_step(g, H)
    torch.testing.assert_close(H @ step, -g)


def test_newton_step_minimises_a_quadratic_in_one_step():
    H = symmetric_with([0.1, 1.0, 10.0], 4)
    b = torch.tensor([1.0, -2.0, 0.5])
    x = torch.tensor([3.0, 3.0, 3.0])
    x = x + ref.newton_step(H @ x - b, H)  # gradient of x^T H x / 2 - b^T x
    torch.testing.assert_close(x, torch.linalg.solve(H, b))


@pytest.mark.parametrize("lr, betas, eps", [(0.1, (0.9, 0.999), 1e-8), (0.01, (0.8, 0.99), 1e-3)])
def test_adam_step_matches_torch_optim_for_100_steps(lr, betas, eps):
    def loss(p):
        return 100 * p[0] ** 2 + p[1] ** 2

    params = torch.tensor([1.0, 1.0], requires_grad=True)
    optimizer = torch.optim.Adam([params], lr=lr, betas=betas, eps=eps)
    theta, m, v = torch.tensor([1.0, 1.0]), torch.zeros(2), torch.zeros(2)
    for step in range(1, 101):
        optimizer.zero_grad()
        loss(params).backward()
        optimizer.step()
        leaf = theta.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(leaf), leaf)
        theta, m, v = ref.adam_step(theta, grad, m, v, step, lr=lr, betas=betas, eps=eps)
        torch.testing.assert_close(theta, params.detach(), rtol=1e-12, atol=1e-14)
        state = optimizer.state[params]
        torch.testing.assert_close(m, state["exp_avg"])
        torch.testing.assert_close(v, state["exp_avg_sq"])


def test_adam_step_leaves_its_inputs_alone():
    theta, grad, m, v = (torch.randn(4, generator=generator(i)) for i in range(4))
    v = v.abs()
    copies = [a.clone() for a in (theta, grad, m, v)]
    ref.adam_step(theta, grad, m, v, 3)
    for a, b in zip((theta, grad, m, v), copies):
        assert torch.equal(a, b)


# ---------------------------------------------------------------- realistic bugs

BUGS = [
    Bug("numerical Hessian not symmetrised", "numerical_hessian",
        "def numerical_hessian(f, x, h=1e-4):\n"
        "    x = x.detach()\n"
        "    def gradient(p):\n"
        "        p = p.clone().requires_grad_(True)\n"
        "        return torch.autograd.grad(f(p), p)[0]\n"
        "    columns = []\n"
        "    for j in range(x.numel()):\n"
        "        e = torch.zeros_like(x)\n"
        "        e[j] = h\n"
        "        columns.append((gradient(x + e) - gradient(x - e)) / (2 * h))\n"
        "    return torch.stack(columns, dim=1)\n", {"q1": 3}),
    Bug("numerical Hessian by forward differences", "numerical_hessian",
        "def numerical_hessian(f, x, h=1e-4):\n"
        "    x = x.detach()\n"
        "    def gradient(p):\n"
        "        p = p.clone().requires_grad_(True)\n"
        "        return torch.autograd.grad(f(p), p)[0]\n"
        "    g0 = gradient(x)\n"
        "    columns = []\n"
        "    for j in range(x.numel()):\n"
        "        e = torch.zeros_like(x)\n"
        "        e[j] = h\n"
        "        columns.append((gradient(x + e) - g0) / h)\n"
        "    a = torch.stack(columns, dim=1)\n"
        "    return (a + a.T) / 2\n", {"q1": 1}),
    Bug("Taylor model without the factor one half", "taylor_second_order",
        "def taylor_second_order(f, x0, dx):\n"
        "    H = torch.autograd.functional.hessian(f, x0)\n"
        "    x = x0.clone().requires_grad_(True)\n"
        "    value = f(x)\n"
        "    (g,) = torch.autograd.grad(value, x)\n"
        "    return float(value + g @ dx + dx @ H @ dx)\n", {"q2": 1}),
    Bug("classification by the signs of the diagonal", "classify_critical_point",
        "def classify_critical_point(H, tol=1e-8):\n"
        "    d = torch.diagonal(H)\n"
        "    if (d > tol).any() and (d < -tol).any():\n"
        "        return 'saddle'\n"
        "    if (d.abs() <= tol).any():\n"
        "        return 'degenerate'\n"
        "    return 'minimum' if (d > tol).all() else 'maximum'\n", {"q3": 7}),
    Bug("classification without the degenerate case", "classify_critical_point",
        "def classify_critical_point(H, tol=1e-8):\n"
        "    e = torch.linalg.eigvalsh(H)\n"
        "    if (e > 0).all():\n"
        "        return 'minimum'\n"
        "    if (e < 0).all():\n"
        "        return 'maximum'\n"
        "    return 'saddle'\n", {"q3": 8}),
    Bug("condition number as a signed ratio", "hessian_condition",
        "def hessian_condition(H):\n"
        "    e = torch.linalg.eigvalsh(H)\n"
        "    return float(e.max() / e.min())\n", {"q4": 4}),
    Bug("Newton step through the inverse", "newton_step",
        "def newton_step(g, H):\n"
        "    return -torch.linalg.inv(H) @ g\n", {"q5": 0}),
    Bug("Newton step with the wrong sign", "newton_step",
        "def newton_step(g, H):\n"
        "    return torch.linalg.solve(H, g)\n", {"q5": 1}),
    Bug("HVP by finite differences of the gradient", "hvp",
        "def hvp(f, x, v, eps=1e-3):\n"
        "    def gradient(p):\n"
        "        p = p.detach().requires_grad_(True)\n"
        "        return torch.autograd.grad(f(p), p)[0]\n"
        "    return (gradient(x + eps * v) - gradient(x - eps * v)) / (2 * eps)\n", {"q6": 1}),
    Bug("Adam without bias correction", "adam_step",
        "def adam_step(theta, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
        "    m = betas[0] * m + (1 - betas[0]) * grad\n"
        "    v = betas[1] * v + (1 - betas[1]) * grad ** 2\n"
        "    return theta - lr * m / (torch.sqrt(v) + eps), m, v\n", {"q7": 0}),
    Bug("Adam with eps inside the square root", "adam_step",
        "def adam_step(theta, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
        "    m = betas[0] * m + (1 - betas[0]) * grad\n"
        "    v = betas[1] * v + (1 - betas[1]) * grad ** 2\n"
        "    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)\n"
        "    return theta - lr * m_hat / torch.sqrt(v_hat + eps), m, v\n", {"q7": 4}),
    # Building the full Hessian loses exactly the n = 300,000 case, which forbids it.
    Bug("HVP through torch.autograd.functional.hessian", "hvp",
        "def hvp(f, x, v):\n    return torch.autograd.functional.hessian(f, x) @ v\n", {"q6": 4}),
    Bug("HVP through torch.func.hessian", "hvp",
        "def hvp(f, x, v):\n    return torch.func.hessian(f)(x) @ v\n", {"q6": 4}),
]


@pytest.mark.slow
def test_realistic_bugs_lose_points_on_their_question_only():
    assert_bugs_lose_exactly(ASSIGNMENT, BUGS)
