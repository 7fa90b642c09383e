"""hw05_flows: the reference against autograd, slogdet and numerical integration, and realistic
bugs graded for real."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.grading import Bug, assert_bugs_lose_exactly, source_of
from tests.strategies import float64_vectors, moderate_floats

ASSIGNMENT = "hw05_flows"
ref = source_of(ASSIGNMENT).module("reference")
questions = source_of(ASSIGNMENT).module("questions")

seeds = st.integers(0, 2**31 - 1)


def random(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def autograd_log_abs_det(f, x):
    return float(torch.linalg.slogdet(torch.autograd.functional.jacobian(f, x)).logabsdet)


# --- polar coordinates -------------------------------------------------------------------------

@given(moderate_floats, st.floats(-10, 10))
def test_polar_det_is_r_and_matches_autograd(r, theta):
    assert ref.polar_jacobian_det(r, theta) == pytest.approx(r, rel=1e-12, abs=1e-12)
    p = torch.tensor([r, theta], dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(questions.polar_to_cartesian, p)
    assert ref.polar_jacobian_det(r, theta) == pytest.approx(float(torch.linalg.det(jacobian)), abs=1e-12)


def test_polar_area_element_integrates_the_disk():
    # The area of the unit disk as a Riemann sum of det J = r over the (r, theta) rectangle.
    n = 400
    dr, dtheta = 1 / n, 2 * math.pi / n
    area = sum(ref.polar_jacobian_det((i + 0.5) * dr, (j + 0.5) * dtheta) for i in range(n) for j in range(0, n, 40))
    assert area * dr * dtheta * 40 == pytest.approx(math.pi, rel=1e-6)


# --- log |det J| --------------------------------------------------------------------------------

def test_log_abs_det_jacobian_on_the_notes_examples():
    assert ref.log_abs_det_jacobian(questions.notes_linear_map, torch.tensor([0.5, -1.0], dtype=torch.float64)) \
        == pytest.approx(math.log(3), rel=1e-14)
    p = torch.tensor([2.0, math.pi / 4], dtype=torch.float64)
    assert ref.log_abs_det_jacobian(questions.polar_to_cartesian, p) == pytest.approx(math.log(2), rel=1e-14)


@settings(max_examples=25)
@given(st.integers(1, 6), seeds)
def test_log_abs_det_jacobian_of_a_linear_map_is_slogdet_of_its_matrix(n, seed):
    A = random(seed, n, n)
    expected = float(torch.linalg.slogdet(A).logabsdet)
    assert ref.log_abs_det_jacobian(lambda x: A @ x, random(seed + 1, n)) == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_log_abs_det_jacobian_survives_underflow_overflow_and_negative_determinants():
    x = random(0, 200)
    # The naive answers are really broken here: this is what the hidden cases catch.
    assert torch.linalg.det(torch.autograd.functional.jacobian(questions.shrink_by_1000, x)) == 0
    assert torch.isinf(torch.linalg.det(torch.autograd.functional.jacobian(questions.stretch_and_bend, x)))
    assert ref.log_abs_det_jacobian(questions.shrink_by_1000, x) == pytest.approx(200 * math.log(1e-3), rel=1e-12)
    expected = sum(math.log(1e3 + math.cos(v)) for v in x.tolist())
    assert ref.log_abs_det_jacobian(questions.stretch_and_bend, x) == pytest.approx(expected, rel=1e-12)
    swap = questions.swap_and_bend
    x3 = random(1, 3)
    assert torch.linalg.det(torch.autograd.functional.jacobian(swap, x3)) < 0
    assert math.isfinite(ref.log_abs_det_jacobian(swap, x3))


# --- affine flow ---------------------------------------------------------------------------------

@given(float64_vectors(bound=50.0).filter(lambda s: bool((s.abs() > 1e-6).all())))
def test_affine_log_det_matches_autograd(scale):
    shift = torch.linspace(-1, 1, scale.numel(), dtype=torch.float64)
    expected = autograd_log_abs_det(lambda x: scale * x + shift, torch.zeros_like(scale))
    assert ref.affine_flow_log_det(scale) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_affine_log_det_of_the_notes_and_of_huge_products():
    assert ref.affine_flow_log_det(torch.tensor([2.0, 3.0], dtype=torch.float64)) == pytest.approx(math.log(6))
    huge = torch.full((60,), -1e10, dtype=torch.float64)
    assert math.isinf(float(torch.log(huge.prod().abs())))
    assert ref.affine_flow_log_det(huge) == pytest.approx(60 * math.log(1e10), rel=1e-14)


@settings(max_examples=25)
@given(st.integers(1, 4), seeds)
def test_affine_log_prob_matches_torch_distributions(d, seed):
    scale, shift, x = random(seed, d) * 2, random(seed + 1, d), random(seed + 2, 9, d) * 3
    # x = s z + t with z ~ N(0, I) is N(t, diag(s^2)): a product of 1-D normals with std |s|.
    expected = torch.distributions.Normal(shift, scale.abs()).log_prob(x).sum(dim=-1)
    torch.testing.assert_close(ref.affine_flow_log_prob(x, scale, shift), expected, rtol=1e-12, atol=1e-12)


def test_affine_log_prob_integrates_to_one():
    # Riemann sum in 2-D on a box that holds all but a negligible part of the mass.
    scale, shift = torch.tensor([0.8, -0.5], dtype=torch.float64), torch.tensor([0.2, -0.3], dtype=torch.float64)
    a = torch.linspace(-6, 6, 241, dtype=torch.float64)
    grid = torch.cartesian_prod(a, a)
    density = torch.exp(ref.affine_flow_log_prob(grid, scale, shift))
    assert float(density.sum()) * (12 / 240) ** 2 == pytest.approx(1, abs=1e-9)
    # Monte Carlo with a uniform proposal on the same box: 1 within a few standard errors.
    u = (torch.rand(200_000, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) - 0.5) * 12
    values = torch.exp(ref.affine_flow_log_prob(u, scale, shift)) * 144
    assert float(values.mean()) == pytest.approx(1, abs=5 * float(values.std()) / math.sqrt(len(values)))
    # And the hidden cases' post-processing says the same of the reference.
    grid_1d = questions.GRID_1D
    value = questions.riemann_sum_of_density([ref.affine_flow_log_prob(grid_1d, torch.tensor([-0.6]).double(),
                                                                       torch.tensor([0.4]).double())], [[grid_1d]])
    assert value == pytest.approx(1, abs=1e-9)


def test_affine_log_prob_is_stable_and_keeps_float32():
    far = ref.affine_flow_log_prob(torch.tensor([[40.0, 0.0]], dtype=torch.float64),
                                   torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))
    assert float(far) == pytest.approx(-800 - math.log(2 * math.pi), rel=1e-14)
    big = torch.tensor([1e200, -1e200], dtype=torch.float64)
    assert torch.isfinite(ref.affine_flow_log_prob(torch.tensor([[1e200, 0.0]], dtype=torch.float64), big,
                                                   torch.zeros(2, dtype=torch.float64))).all()
    x32 = torch.tensor([[0.5, -1.0]])
    assert ref.affine_flow_log_prob(x32, torch.ones(2), torch.zeros(2)).dtype == torch.float32


# --- coupling layer ---------------------------------------------------------------------------------

def test_coupling_on_the_hand_worked_example():
    y, log_det = ref.coupling_forward(torch.tensor([[0.0, 2.0, 1.0, -1.0]], dtype=torch.float64),
                                      questions.half, questions.plus_one)
    torch.testing.assert_close(y, torch.tensor([[0.0, 2.0, 2.0, 3 - math.e]], dtype=torch.float64))
    torch.testing.assert_close(log_det, torch.tensor([1.0], dtype=torch.float64))


@settings(max_examples=20)
@given(st.integers(1, 4), st.sampled_from([2, 4, 6, 3, 5, 7]), seeds)
def test_coupling_log_det_is_slogdet_of_the_autograd_jacobian(n, d, seed):
    s, t = (questions.scale_net, questions.shift_net) if d % 2 == 0 else (questions.scale_net_odd,
                                                                          questions.shift_net_odd)
    x = random(seed, n, d) * 2
    y, log_det = ref.coupling_forward(x, s, t)
    assert y.shape == (n, d) and log_det.shape == (n,)
    k = d // 2
    torch.testing.assert_close(y[:, :k], x[:, :k], rtol=0, atol=0)
    for i in range(n):
        expected = autograd_log_abs_det(lambda row: ref.coupling_forward(row[None], s, t)[0][0], x[i])
        assert float(log_det[i]) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert questions.coupling_log_det_matches_slogdet([(y, log_det)], [[x, s, t]])


def test_coupling_is_invertible():
    x = random(4, 6, 6)
    y, _ = ref.coupling_forward(x, questions.scale_net, questions.shift_net)
    x1, y2 = y[:, :3], y[:, 3:]
    x2 = (y2 - questions.shift_net(x1)) * torch.exp(-questions.scale_net(x1))
    torch.testing.assert_close(torch.cat([x1, x2], dim=1), x)


# --- planar flow ---------------------------------------------------------------------------------------

@settings(max_examples=30)
@given(st.integers(1, 5), seeds, st.floats(-2, 2))
def test_planar_log_det_matches_the_autograd_jacobian(d, seed, b):
    z, u, w = random(seed, 6, d) * 2, random(seed + 1, d), random(seed + 2, d)
    planar = lambda row: row + u * torch.tanh(row @ w + b)
    got = ref.planar_flow_log_det(z, u, w, b)
    assert got.shape == (6,)
    for i in range(6):
        jacobian = torch.autograd.functional.jacobian(planar, z[i])
        sign, expected = torch.linalg.slogdet(jacobian)
        if sign != 0 and abs(float(expected)) < 20:  # skip rows where 1 + u.psi is (almost) exactly 0
            assert float(got[i]) == pytest.approx(float(expected), rel=1e-9, abs=1e-9)


def test_planar_hidden_cases_cover_both_signs_and_stay_away_from_zero():
    z, u, w = questions.PLANAR_SIGN_POINTS, torch.tensor([-3.0, -1.5]).double(), torch.tensor([1.0, 0.5]).double()
    value = 1 + (1 - torch.tanh(z @ w) ** 2) * (u @ w)
    assert (value < -0.5).any() and (value > 0.3).any()
    for seed, n, u, b in [(541, 6, [0.4, 0.9, -0.2], 0.3), (542, 5, [-0.5, 0.3, 1.2], -0.4)]:
        z = random(seed, n, 3)
        value = 1 + (1 - torch.tanh(z @ questions.W_PLANAR + b) ** 2) * (torch.tensor(u).double() @ questions.W_PLANAR)
        assert (value.abs() > 0.5).all()


# --- realistic bugs, graded for real -------------------------------------------------------------------

BUGS = [
    Bug("polar determinant as r^2", "polar_jacobian_det",
        "def polar_jacobian_det(r, theta):\n    return float(r ** 2)\n", {"q1": 1}),
    Bug("polar determinant forgets the radius", "polar_jacobian_det",
        "def polar_jacobian_det(r, theta):\n    return 1.0\n", {"q1": 0}),
    Bug("polar determinant as abs(r)", "polar_jacobian_det",
        "def polar_jacobian_det(r, theta):\n    return float(abs(r))\n", {"q1": 4}),
    Bug("log(det J) without the absolute value", "log_abs_det_jacobian",
        "def log_abs_det_jacobian(f, x):\n"
        "    J = torch.autograd.functional.jacobian(f, x)\n"
        "    return float(torch.log(torch.linalg.det(J)))\n", {"q2": 3}),
    Bug("log(abs(det J)) instead of slogdet", "log_abs_det_jacobian",
        "def log_abs_det_jacobian(f, x):\n"
        "    J = torch.autograd.functional.jacobian(f, x)\n"
        "    return float(torch.log(torch.linalg.det(J).abs()))\n", {"q2": 5}),
    Bug("affine log-det without abs", "affine_flow_log_det",
        "def affine_flow_log_det(scale):\n    return float(torch.log(scale).sum())\n", {"q3": 2}),
    Bug("affine log-det as the log of a product", "affine_flow_log_det",
        "def affine_flow_log_det(scale):\n    return float(torch.log(scale.prod().abs()))\n", {"q3": 4}),
    Bug("affine log-prob adds the log-det", "affine_flow_log_prob",
        "def affine_flow_log_prob(x, scale, shift):\n"
        "    z = (x - shift) / scale\n"
        "    log_base = -0.5 * (z ** 2).sum(dim=-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)\n"
        "    return log_base + torch.log(scale.abs()).sum()\n", {"q4": 1}),
    Bug("affine log-prob through the product of the scales", "affine_flow_log_prob",
        "def affine_flow_log_prob(x, scale, shift):\n"
        "    z = (x - shift) / scale\n"
        "    log_base = -0.5 * (z ** 2).sum(dim=-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)\n"
        "    return log_base - torch.log(scale.prod().abs())\n", {"q4": 6}),
    Bug("coupling layer without the exp", "coupling_forward",
        "def coupling_forward(x, s, t):\n"
        "    k = x.shape[-1] // 2\n"
        "    x1, x2 = x[..., :k], x[..., k:]\n"
        "    return torch.cat([x1, x2 * s(x1) + t(x1)], dim=-1), s(x1).sum(dim=-1)\n", {"q5": 1}),
    Bug("coupling log_det as sum(exp(s))", "coupling_forward",
        "def coupling_forward(x, s, t):\n"
        "    k = x.shape[-1] // 2\n"
        "    x1, x2 = x[..., :k], x[..., k:]\n"
        "    scale = torch.exp(s(x1))\n"
        "    return torch.cat([x1, x2 * scale + t(x1)], dim=-1), scale.sum(dim=-1)\n", {"q5": 0}),
    Bug("coupling split with chunk (first half larger for odd d)", "coupling_forward",
        "def coupling_forward(x, s, t):\n"
        "    x1, x2 = x.chunk(2, dim=-1)\n"
        "    return torch.cat([x1, x2 * torch.exp(s(x1)) + t(x1)], dim=-1), s(x1).sum(dim=-1)\n", {"q5": 4}),
    Bug("planar log-det without abs", "planar_flow_log_det",
        "def planar_flow_log_det(z, u, w, b):\n"
        "    psi = (1 - torch.tanh(z @ w + b) ** 2)[:, None] * w\n"
        "    return torch.log(1 + psi @ u)\n", {"q6": 4}),
    Bug("planar psi without the (1 - tanh^2) factor", "planar_flow_log_det",
        "def planar_flow_log_det(z, u, w, b):\n"
        "    psi = torch.ones_like(z[:, :1]) * w\n"
        "    return torch.log(torch.abs(1 + psi @ u))\n", {"q6": 0}),
]


@pytest.mark.slow
def test_realistic_bugs_lose_points_on_their_question_only():
    assert_bugs_lose_exactly(ASSIGNMENT, BUGS)
