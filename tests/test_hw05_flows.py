"""hw05_flows: the reference against autograd, slogdet and numerical integration, the exact inputs
of the plan, the numbers the prose claims, and the realistic bugs and other correct answers of
solutions/hw05_flows/bugs.py, scored in process (the shared grading test grades them for real)."""

import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course.build import assemble as build
from tests.strategies import float64_vectors, moderate_floats, seeds

ROOT = Path(__file__).resolve().parents[1]
SOURCE = build.sources(ROOT, ["hw05_flows"])[0]
ref = SOURCE.module("reference")
questions = SOURCE.module("questions")
bugs = SOURCE.module("bugs")


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
    # The naive answers are really broken here: this is what the hidden cases catch. (The
    # Jacobians are 1e-3 I and 1e3 I + diag(cos x).)
    assert torch.linalg.det(1e-3 * torch.eye(200, dtype=torch.float64)) == 0
    assert torch.isinf(torch.linalg.det(torch.diag(1e3 + torch.cos(x))))
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


# --- the plan's exact inputs and the numbers the prose claims ------------------------------------------

def test_the_grid_and_the_log_2_input_are_exact():
    grid = questions.GRID_1D[:, 0]
    assert grid.shape == (721,) and grid[0] == -4 and grid[-1] == 5 and grid[80] == -3
    torch.testing.assert_close(grid, torch.linspace(-4, 5, 721, dtype=torch.float64), rtol=0, atol=1e-15)
    assert questions.LOG_2 == math.log(2)


def test_the_large_scale_case_breaks_what_the_prompt_rules_out():
    # The prompt says: no product of the scales, no square of a scale. Both overflow at 1e200.
    scale = torch.tensor([1e200, -1e200, 1e200], dtype=torch.float64)
    x = torch.tensor([[1e200, -2e200, 0.5e200]], dtype=torch.float64)
    assert math.isinf(float(scale.prod().abs())) and math.isinf(float(scale[0] ** 2))
    assert torch.isnan(torch.distributions.Normal(torch.zeros(3, dtype=torch.float64), scale.abs()).log_prob(x)).any()
    assert torch.isfinite(ref.affine_flow_log_prob(x, scale, torch.zeros(3, dtype=torch.float64))).all()


def test_prose_numbers():
    # Section 2: det J = -3 for the notes' map; the polar determinant at r = 2 is 2.
    J = torch.autograd.functional.jacobian(questions.notes_linear_map, torch.zeros(2, dtype=torch.float64))
    assert float(torch.linalg.det(J)) == pytest.approx(-3)
    assert ref.polar_jacobian_det(2.0, math.pi / 4) == pytest.approx(2.0, rel=1e-15)
    # Section 3: det(1e-3 I_200) = 1e-600 underflows (the smallest positive float64 is about 5e-324,
    # the smallest normal one 2.2e-308) while 200 log 1e-3 = -1381.55.
    assert float(torch.linalg.det(1e-3 * torch.eye(200, dtype=torch.float64))) == 0.0
    assert 2.2e-308 < torch.finfo(torch.float64).tiny < 2.3e-308
    assert math.ulp(0.0) == pytest.approx(4.94e-324, rel=1e-2)  # "about 5e-324"
    assert round(200 * math.log(1e-3), 2) == -1381.55  # the reference's value: the test below
    # A 64 x 64 x 3 image has n = 12288.
    assert 64 * 64 * 3 == 12288
    # Section 4: scale [2, 3] gives log 6 = 1.7918; -log(12 pi) = -3.6296, one less at z = [1, 1].
    assert round(ref.affine_flow_log_det(torch.tensor([2.0, 3.0], dtype=torch.float64)), 4) == 1.7918
    log_p = ref.affine_flow_log_prob(torch.tensor([[1.0, -1.0], [3.0, 2.0]], dtype=torch.float64),
                                     torch.tensor([2.0, 3.0], dtype=torch.float64), torch.tensor([1.0, -1.0], dtype=torch.float64))
    assert [round(v, 4) for v in log_p.tolist()] == [-3.6296, -4.6296]
    # 40 standard deviations out: log-density about -800, density 0 in float64.
    far = float(ref.affine_flow_log_prob(torch.tensor([[40.0, 0.0]], dtype=torch.float64),
                                         torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)))
    assert far == pytest.approx(-800 - math.log(2 * math.pi)) and math.exp(far) == 0.0
    # 1e200 squared is beyond the largest float64, about 1.8e308.
    assert math.isinf(1e200 * 1e200) and round(torch.finfo(torch.float64).max / 1e308, 1) == 1.8
    # Section 5: x = [0, 2, 1, -1] with s = x1 / 2, t = x1 + 1: y = [0, 2, 2, 3 - e], log_det 1.
    y, log_det = ref.coupling_forward(torch.tensor([[0.0, 2.0, 1.0, -1.0]], dtype=torch.float64),
                                      questions.half, questions.plus_one)
    assert y.tolist() == [[0.0, 2.0, 2.0, 3 - math.e]] and log_det.tolist() == [1.0]
    # Section 6: tanh(log 2) = 0.6, so psi = 0.64 w and the log-det is log 1.64; u.w = -3.5 in the demo.
    assert math.tanh(math.log(2)) == pytest.approx(0.6) and 1 - 0.6 ** 2 == pytest.approx(0.64)
    assert (-3.0 * 1.0) + (-0.25 * 2.0) == -3.5
