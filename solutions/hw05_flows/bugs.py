"""hw05_flows: realistic wrong answers, each naming the plan's cases it fails (its expected
score is derived: full marks minus those cases' points), and other correct answers that keep full
marks.  Each is a function (or class) written as a student writes it in the notebook: what the
student hands in is its source, without the decorator, under the name it replaces
(``course.build.samples.bug``).  The type checker reads them as code."""

from typing import Callable

import math
import torch

from course.build.samples import alternative, bug


@bug("polar determinant as r^2", replaces="polar_jacobian_det",
     fails=("q1/r_2_theta_pi_4_gives_2", "q1/r_0_5_theta_2_5", "q1/another_angle_r_3_7_at_theta_10",
           "q1/negative_r_gives_the_signed_determinant"))
def polar_determinant_as_r_2(r: float, theta: float) -> float:
    return float(r ** 2)


@bug("polar determinant forgets the radius", replaces="polar_jacobian_det",
     fails=("q1",))
def polar_determinant_forgets_the_radius(r: float, theta: float) -> float:
    return 1.0


@bug("polar determinant as abs(r)", replaces="polar_jacobian_det",
     fails=("q1/negative_r_gives_the_signed_determinant",))
def polar_determinant_as_abs_r(r: float, theta: float) -> float:
    return float(abs(r))


@bug("polar determinant through autograd (the question is to write J down)", replaces="polar_jacobian_det",
     fails=("q1",))
def polar_determinant_through_autograd(r: float, theta: float) -> float:
    def polar(p):
        return torch.stack([p[0] * torch.cos(p[1]), p[0] * torch.sin(p[1])])
    J = torch.autograd.functional.jacobian(polar, torch.tensor([r, theta], dtype=torch.float64))
    return float(torch.linalg.det(J))


@bug("log(det J) without the absolute value", replaces="log_abs_det_jacobian",
     fails=("q2/the_notes_map_y1_2x1_x2_y2_x1_x2_scales_area_by_3", "q2/a_map_with_a_negative_determinant",
           "q2/200_dimensions_determinant_far_below_the_smallest_float64",
           "q2/200_dimensions_determinant_far_above_the_largest_float64",
           "q2/201_dimensions_tiny_and_negative_determinant"))
def log_det_j_without_the_absolute_value(f: Callable, x: torch.Tensor) -> float:
    J = torch.autograd.functional.jacobian(f, x)
    return float(torch.log(torch.linalg.det(J)))


@bug("log(abs(det J)) instead of slogdet", replaces="log_abs_det_jacobian",
     fails=("q2/200_dimensions_determinant_far_below_the_smallest_float64",
           "q2/200_dimensions_determinant_far_above_the_largest_float64",
           "q2/201_dimensions_tiny_and_negative_determinant"))
def log_abs_det_j_instead_of_slogdet(f: Callable, x: torch.Tensor) -> float:
    J = torch.autograd.functional.jacobian(f, x)
    return float(torch.log(torch.linalg.det(J).abs()))


@bug("affine log-det without abs", replaces="affine_flow_log_det",
     fails=("q3/random_scales_some_negative", "q3/all_scales_negative",
           "q3/60_scales_of_1e_10_the_product_underflows_float64", "q3/float32_scales"))
def affine_log_det_without_abs(scale: torch.Tensor) -> float:
    return float(torch.log(scale).sum())


@bug("affine log-det as the log of a product", replaces="affine_flow_log_det",
     fails=("q3/60_scales_of_1e10_the_product_overflows_float64",
           "q3/60_scales_of_1e_10_the_product_underflows_float64"))
def affine_log_det_as_the_log_of_a(scale: torch.Tensor) -> float:
    return float(torch.log(scale.prod().abs()))


@bug("affine log-prob adds the log-det", replaces="affine_flow_log_prob",
     fails=("q4/scale_2_3_shift_1_1_at_x_1_1_and_3_2",
           "q4/a_random_batch_of_7_points_in_3_dimensions_some_scales_negat",
           "q4/riemann_sum_of_the_density_over_a_fine_1_d_grid",
           "q4/monte_carlo_integral_of_the_density_over_r_2_20000_points",
           "q4/scales_of_1e200_in_3_dimensions_no_overflow", "q4/float32_input_keeps_float32"))
def affine_log_prob_adds_the_log_det(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    z = (x - shift) / scale
    log_base = -0.5 * (z ** 2).sum(dim=-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)
    return log_base + torch.log(scale.abs()).sum()


@bug("affine log-prob through the product of the scales", replaces="affine_flow_log_prob",
     fails=("q4/scales_of_1e200_in_3_dimensions_no_overflow",))
def affine_log_prob_through_the_product(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    z = (x - shift) / scale
    log_base = -0.5 * (z ** 2).sum(dim=-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)
    return log_base - torch.log(scale.prod().abs())


# The flow's distribution is N(shift, diag(scale^2)), and torch.distributions squares the
# scale: right everywhere except at the scale 1e200, whose square overflows (NaN).
@bug("affine log-prob with torch.distributions.Normal(shift, |scale|)", replaces="affine_flow_log_prob",
     fails=("q4/scales_of_1e200_in_3_dimensions_no_overflow",))
def affine_log_prob_with_torch(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    return torch.distributions.Normal(shift, scale.abs()).log_prob(x).sum(dim=-1)


@bug("coupling layer without the exp", replaces="coupling_forward",
     fails=("q5/x_0_2_1_1_with_s_x1_x1_2_t_x1_x1_1", "q5/a_random_batch_of_5_points_in_6_dimensions",
           "q5/odd_dimension_d_5_the_first_d_2_2_columns_are_copied", "q5/float32_input_keeps_float32"))
def coupling_layer_without_the_exp(x: torch.Tensor, s: Callable, t: Callable) -> tuple[torch.Tensor, torch.Tensor]:
    k = x.shape[-1] // 2
    x1, x2 = x[..., :k], x[..., k:]
    return torch.cat([x1, x2 * s(x1) + t(x1)], dim=-1), s(x1).sum(dim=-1)


@bug("coupling log_det as sum(exp(s))", replaces="coupling_forward",
     fails=("q5",))
def coupling_log_det_as_sum_exp_s(x: torch.Tensor, s: Callable, t: Callable) -> tuple[torch.Tensor, torch.Tensor]:
    k = x.shape[-1] // 2
    x1, x2 = x[..., :k], x[..., k:]
    scale = torch.exp(s(x1))
    return torch.cat([x1, x2 * scale + t(x1)], dim=-1), scale.sum(dim=-1)


@bug("coupling split with chunk (first half larger for odd d)", replaces="coupling_forward",
     fails=("q5/odd_dimension_d_5_the_first_d_2_2_columns_are_copied",))
def coupling_split_with_chunk_first_half(
        x: torch.Tensor, s: Callable, t: Callable) -> tuple[torch.Tensor, torch.Tensor]:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1, x2 * torch.exp(s(x1)) + t(x1)], dim=-1), s(x1).sum(dim=-1)


# Writing y2 into x's own columns (to save memory) changes the caller's x: every case is lost.
@bug("coupling layer that writes y2 into x in place", replaces="coupling_forward",
     fails=("q5",))
def coupling_layer_that_writes_y2_into_x(
        x: torch.Tensor, s: Callable, t: Callable) -> tuple[torch.Tensor, torch.Tensor]:
    k = x.shape[-1] // 2
    x1 = x[..., :k]
    log_scale = s(x1)
    x[..., k:] = x[..., k:] * torch.exp(log_scale) + t(x1)
    return x, log_scale.sum(dim=-1)


@bug("planar log-det without abs", replaces="planar_flow_log_det",
     fails=("q6/1_u_psi_is_negative_near_the_hyperplane_w_z_b_0",))
def planar_log_det_without_abs(z: torch.Tensor, u: torch.Tensor, w: torch.Tensor, b: float) -> torch.Tensor:
    psi = (1 - torch.tanh(z @ w + b) ** 2)[:, None] * w
    return torch.log(1 + psi @ u)


@bug("planar psi without the (1 - tanh^2) factor", replaces="planar_flow_log_det",
     fails=("q6",))
def planar_psi_without_the_1_tanh_2(z: torch.Tensor, u: torch.Tensor, w: torch.Tensor, b: float) -> torch.Tensor:
    psi = torch.ones_like(z[:, :1]) * w
    return torch.log(torch.abs(1 + psi @ u))


@bug("planar log-det through autograd Jacobians (the question is the O(d) lemma)", replaces="planar_flow_log_det",
     fails=("q6",))
def planar_log_det_through_autograd(z: torch.Tensor, u: torch.Tensor, w: torch.Tensor, b: float) -> torch.Tensor:
    def planar(row):
        return row + u * torch.tanh(row @ w + b)
    return torch.stack([torch.linalg.slogdet(torch.autograd.functional.jacobian(planar, row)).logabsdet
                        for row in z])

# Correct answers written differently from the reference: they keep full marks.


@alternative("polar determinant from cos^2 + sin^2", replaces="polar_jacobian_det")
def polar_determinant_from_cos_2_sin_2(r: float, theta: float) -> float:
    return r * math.cos(theta) ** 2 + r * math.sin(theta) ** 2


@alternative("log-det from an LU factorisation", replaces="log_abs_det_jacobian")
def log_det_from_an_lu_factorisation(f: Callable, x: torch.Tensor) -> float:
    J = torch.autograd.functional.jacobian(f, x)
    LU, pivots = torch.linalg.lu_factor(J)
    return torch.log(torch.diagonal(LU).abs()).sum().item()


@alternative("log-det with torch.func.jacrev and slogdet", replaces="log_abs_det_jacobian")
def log_det_with_torch_func_jacrev_and(f: Callable, x: torch.Tensor) -> float:
    sign, logabsdet = torch.linalg.slogdet(torch.func.jacrev(f)(x))
    return logabsdet.item()


@alternative("affine log-det with abs then log, summed", replaces="affine_flow_log_det")
def affine_log_det_with_abs_then_log(scale: torch.Tensor) -> float:
    return torch.abs(scale).log().sum().item()


@alternative("affine log-prob with a standard normal of z", replaces="affine_flow_log_prob")
def affine_log_prob_with_a_standard(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    z = (x - shift) / scale
    base = torch.distributions.Normal(torch.zeros_like(z), torch.ones_like(z))
    return base.log_prob(z).sum(dim=-1) - scale.abs().log().sum()


@alternative("coupling layer with torch.split", replaces="coupling_forward")
def coupling_layer_with_torch_split(x: torch.Tensor, s: Callable, t: Callable) -> tuple[torch.Tensor, torch.Tensor]:
    k = x.shape[1] // 2
    x1, x2 = torch.split(x, [k, x.shape[1] - k], dim=1)
    log_scale = s(x1)
    return torch.cat([x1, torch.exp(log_scale) * x2 + t(x1)], dim=1), log_scale.sum(dim=1)


@alternative("planar log-det with the derivative of tanh written out", replaces="planar_flow_log_det")
def planar_log_det_with_the_derivative(z: torch.Tensor, u: torch.Tensor, w: torch.Tensor, b: float) -> torch.Tensor:
    a = z @ w + b
    slope = 1 / torch.cosh(a) ** 2
    return torch.log(torch.abs(1 + slope * (u @ w)))
