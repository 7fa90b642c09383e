"""hw04_hessians: realistic wrong answers, each naming the plan's cases it fails (its expected
score is derived: full marks minus those cases' points), and other correct answers that keep full
marks.  Each is a function (or class) written as a student writes it in the notebook: what the
student hands in is its source, without the decorator, under the name it replaces
(``course.build.samples.bug``).  The type checker reads them as code."""

from typing import Callable

import math
import torch

from course.build.samples import alternative, bug


@bug("numerical Hessian not symmetrised", replaces="numerical_hessian",
     fails=("q1/high_frequency_waves_in_4_variables_where_h_1e_4_is_not_smal",
           "q1/uses_the_step_h_it_is_given_h_1e_2_on_a_non_quadratic_functi",
           "q1/uses_the_step_h_it_is_given_h_0_05_3_variables",
           "q1/uses_the_step_h_it_is_given_h_1e_3_high_frequency_waves_in_6"))
def numerical_hessian_not_symmetrised(f: Callable, x: torch.Tensor, h: float = 1e-4) -> torch.Tensor:
    x = x.detach()
    def gradient(p):
        p = p.clone().requires_grad_(True)
        return torch.autograd.grad(f(p), p)[0]
    columns = []
    for j in range(x.numel()):
        e = torch.zeros_like(x)
        e[j] = h
        columns.append((gradient(x + e) - gradient(x - e)) / (2 * h))
    return torch.stack(columns, dim=1)


@bug("numerical Hessian by forward differences", replaces="numerical_hessian",
     fails=("q1/a_non_quadratic_function_of_3_variables_at_a_random_point",
           "q1/high_frequency_waves_in_4_variables_where_h_1e_4_is_not_smal",
           "q1/uses_the_step_h_it_is_given_h_1e_2_on_a_non_quadratic_functi",
           "q1/uses_the_step_h_it_is_given_h_0_05_3_variables",
           "q1/uses_the_step_h_it_is_given_h_1e_3_high_frequency_waves_in_6"))
def numerical_hessian_by_forward(f: Callable, x: torch.Tensor, h: float = 1e-4) -> torch.Tensor:
    x = x.detach()
    def gradient(p):
        p = p.clone().requires_grad_(True)
        return torch.autograd.grad(f(p), p)[0]
    g0 = gradient(x)
    columns = []
    for j in range(x.numel()):
        e = torch.zeros_like(x)
        e[j] = h
        columns.append((gradient(x + e) - g0) / h)
    a = torch.stack(columns, dim=1)
    return (a + a.T) / 2


# The exact Hessian agrees with the finite differences only where they are accurate: it keeps
# the quadratic and the gentle default-h case, and loses every case at a large h or high frequency.
@bug("numerical Hessian that returns autograd's exact Hessian", replaces="numerical_hessian",
     fails=("q1/high_frequency_waves_in_4_variables_where_h_1e_4_is_not_smal",
           "q1/uses_the_step_h_it_is_given_h_1e_2_on_a_non_quadratic_functi",
           "q1/uses_the_step_h_it_is_given_h_0_05_3_variables",
           "q1/uses_the_step_h_it_is_given_h_1e_3_high_frequency_waves_in_6"))
def numerical_hessian_that_returns(f: Callable, x: torch.Tensor, h: float = 1e-4) -> torch.Tensor:
    return torch.autograd.functional.hessian(f, x)


@bug("Taylor model without the factor one half", replaces="taylor_second_order",
     fails=("q2/x_2_xy_y_2_at_1_1_with_dx_0_1_0_2_is_exactly_3_97",
           "q2/x_2_3xy_2y_2_at_1_1_with_dx_1_1_reaches_the_saddle_value_0",
           "q2/a_non_quadratic_function_of_4_variables_random_point_and_ste",
           "q2/a_non_quadratic_function_of_3_variables_small_step"))
def taylor_model_without_the_factor_one(f: Callable, x0: torch.Tensor, dx: torch.Tensor) -> float:
    H = torch.autograd.functional.hessian(f, x0)
    x = x0.clone().requires_grad_(True)
    value = f(x)
    (g,) = torch.autograd.grad(value, x)
    return float(value + g @ dx + dx @ H @ dx)


@bug("classification by the signs of the diagonal", replaces="classify_critical_point",
     fails=("q3/the_notes_hessian_2_3_3_4_is_a_saddle",
           "q3/rotated_symmetric_4x4_matrix_with_positive_diagonal_d",
           "q3/rotated_symmetric_4x4_matrix_with_a_zero_eigenvalue_e",
           "q3/rotated_symmetric_3x3_matrix_with_a_zero_eigenvalue_g"))
def classification_by_the_signs_of_the(H: torch.Tensor, tol: float = 1e-8) -> str:
    d = torch.diagonal(H)
    if (d > tol).any() and (d < -tol).any():
        return 'saddle'
    if (d.abs() <= tol).any():
        return 'degenerate'
    return 'minimum' if (d > tol).all() else 'maximum'


@bug("classification without the degenerate case", replaces="classify_critical_point",
     fails=("q3/rotated_symmetric_4x4_matrix_with_a_zero_eigenvalue_e",
           "q3/rotated_symmetric_3x3_matrix_with_a_zero_eigenvalue_g", "q3/the_zero_matrix",
           "q3/uses_the_tol_it_is_given"))
def classification_without_the(H: torch.Tensor, tol: float = 1e-8) -> str:
    e = torch.linalg.eigvalsh(H)
    if (e > 0).all():
        return 'minimum'
    if (e < 0).all():
        return 'maximum'
    return 'saddle'


@bug("condition number as a signed ratio", replaces="hessian_condition",
     fails=("q4/2_3_3_4_has_condition_number_37_97", "q4/rotated_symmetric_4x4_matrix_b",
           "q4/random_symmetric_5x5_matrix_c", "q4/a_singular_diagonal_matrix",
           "q4/a_singular_4x4_matrix_that_is_not_diagonal",
           "q4/an_eigenvalue_below_the_rounding_level_of_the_largest_counts",
           "q4/a_tiny_eigenvalue_far_above_the_rounding_level_does_not"))
def condition_number_as_a_signed_ratio(H: torch.Tensor) -> float:
    e = torch.linalg.eigvalsh(H)
    return float(e.max() / e.min())


# The reference of the previous version: an eigenvalue computed as 1.8e-16 instead of 0 is
# not "exactly 0", so a singular matrix gets a condition number of about 1e16.
@bug("singular only when the smallest eigenvalue is exactly 0", replaces="hessian_condition",
     fails=("q4/a_singular_4x4_matrix_that_is_not_diagonal",
           "q4/an_eigenvalue_below_the_rounding_level_of_the_largest_counts"))
def singular_only_when_the_smallest(H: torch.Tensor) -> float:
    e = torch.linalg.eigvalsh(H).abs()
    if e.min() == 0:
        return math.inf
    return float(e.max() / e.min())


@bug("Newton step through the inverse", replaces="newton_step",
     fails=("q5",))
def newton_step_through_the_inverse(g: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    return -torch.linalg.inv(H) @ g


@bug("Newton step with the wrong sign", replaces="newton_step",
     fails=("q5/100x_2_y_2_at_1_1_one_step_lands_on_the_minimum_1_1",
           "q5/x_2_3xy_2y_2_at_1_1_one_step_lands_on_the_saddle_1_1",
           "q5/symmetric_positive_definite_6x6_hessian", "q5/indefinite_5x5_hessian"))
def newton_step_with_the_wrong_sign(g: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    return torch.linalg.solve(H, g)


# Cholesky needs a positive definite H: it fails on the notes' saddle and the indefinite case.
@bug("Newton step with Cholesky, for every H", replaces="newton_step",
     fails=("q5/x_2_3xy_2y_2_at_1_1_one_step_lands_on_the_saddle_1_1", "q5/indefinite_5x5_hessian"))
def newton_step_with_cholesky_for_every(g: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    L = torch.linalg.cholesky(H)
    return -torch.cholesky_solve(g.unsqueeze(1), L).squeeze(1)


@bug("HVP by finite differences of the gradient", replaces="hvp",
     fails=("q6/a_non_quadratic_function_n_4", "q6/a_coupled_function_n_10",
           "q6/3_variables_v_along_the_second_axis",
           "q6/n_300_000_without_building_the_hessian_it_would_need_720_gb"))
def hvp_by_finite_differences_of_the(
        f: Callable, x: torch.Tensor, v: torch.Tensor, eps: float = 0.001) -> torch.Tensor:
    def gradient(p):
        p = p.detach().requires_grad_(True)
        return torch.autograd.grad(f(p), p)[0]
    return (gradient(x + eps * v) - gradient(x - eps * v)) / (2 * eps)


# The question forbids building the Hessian: every case is lost (at n = 300,000 it could not
# be built anyway).
@bug("HVP through torch.autograd.functional.hessian", replaces="hvp",
     fails=("q6",))
def hvp_through_torch_autograd(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.autograd.functional.hessian(f, x) @ v


@bug("HVP through torch.func.hessian", replaces="hvp",
     fails=("q6",))
def hvp_through_torch_func_hessian(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.func.hessian(f)(x) @ v


@bug("Adam without bias correction", replaces="adam_step",
     fails=("q7",))
def adam_without_bias_correction(
        theta: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int,
        lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m = betas[0] * m + (1 - betas[0]) * grad
    v = betas[1] * v + (1 - betas[1]) * grad ** 2
    return theta - lr * m / (torch.sqrt(v) + eps), m, v


@bug("Adam with eps inside the square root", replaces="adam_step",
     fails=("q7/step_t_40_with_lr_0_01_and_betas_0_8_0_99",
           "q7/step_t_4_with_gradients_of_order_1e_9_where_eps_matters",
           "q7/uses_the_eps_it_is_given_eps_0_1"))
def adam_with_eps_inside_the_square_root(
        theta: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int,
        lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m = betas[0] * m + (1 - betas[0]) * grad
    v = betas[1] * v + (1 - betas[1]) * grad ** 2
    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
    return theta - lr * m_hat / torch.sqrt(v_hat + eps), m, v


# Updating the moments in place, as torch.optim.Adam does to its own state, changes the
# caller's m and v: every case is lost.
@bug("Adam updating m and v in place", replaces="adam_step",
     fails=("q7",))
def adam_updating_m_and_v_in_place(
        theta: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int,
        lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m.mul_(betas[0]).add_(grad, alpha=1 - betas[0])
    v.mul_(betas[1]).addcmul_(grad, grad, value=1 - betas[1])
    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
    return theta - lr * m_hat / (v_hat.sqrt() + eps), m, v


# The textbook's exponential average (Andrew Ng's course): v = beta v + (1 - beta) g. A valid
# method, but not torch.optim.SGD's, whose lr then means something else (steps 1 - beta smaller).
@bug("momentum as an average, v = beta v + (1 - beta) g", replaces="momentum_step",
     fails=("q8",))
def momentum_as_an_average_v_beta_v_1(
        x: torch.Tensor, g: torch.Tensor, v: torch.Tensor, lr: float, beta: float,
        nesterov: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    v = beta * v + (1 - beta) * g
    return x - lr * (g + beta * v if nesterov else v), v


@bug("Nesterov looking ahead with the old velocity", replaces="momentum_step",
     fails=("q8/nesterov_first_step_gives_0_905_2_19", "q8/nesterov_second_step_gives_0_817_2_176",
           "q8/nesterov_from_a_random_velocity_6_parameters_as_torch_optim_",
           "q8/nesterov_with_beta_0_5_and_lr_0_3_8_parameters"))
def nesterov_looking_ahead_with_the_old(
        x: torch.Tensor, g: torch.Tensor, v: torch.Tensor, lr: float, beta: float,
        nesterov: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    v_new = beta * v + g
    return x - lr * (g + beta * v if nesterov else v_new), v_new


@bug("Nesterov flag ignored", replaces="momentum_step",
     fails=("q8/nesterov_first_step_gives_0_905_2_19", "q8/nesterov_second_step_gives_0_817_2_176",
           "q8/nesterov_from_a_random_velocity_6_parameters_as_torch_optim_",
           "q8/nesterov_with_beta_0_5_and_lr_0_3_8_parameters"))
def nesterov_flag_ignored(
        x: torch.Tensor, g: torch.Tensor, v: torch.Tensor, lr: float, beta: float,
        nesterov: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    v = beta * v + g
    return x - lr * v, v


# As torch.optim.SGD updates its momentum buffer: here the buffer is the caller's v.
@bug("momentum updating v in place", replaces="momentum_step",
     fails=("q8",))
def momentum_updating_v_in_place(
        x: torch.Tensor, g: torch.Tensor, v: torch.Tensor, lr: float, beta: float,
        nesterov: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    v.mul_(beta).add_(g)
    return x - lr * (g + beta * v if nesterov else v), v


@bug("RMSProp with eps inside the square root", replaces="rmsprop_step",
     fails=("q9/first_step_from_x_1_2_with_g_0_5_1_lr_0_01",
           "q9/second_step_with_g_0_25_0_5_gives_s_0_0031_0_0124",
           "q9/a_random_state_6_parameters_as_torch_optim_rmsprop", "q9/uses_the_eps_it_is_given_eps_0_1",
           "q9/gradients_of_order_1e_7_where_eps_matters"))
def rmsprop_with_eps_inside_the_square(
        x: torch.Tensor, g: torch.Tensor, s: torch.Tensor, lr: float, alpha: float = 0.99,
        eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    s = alpha * s + (1 - alpha) * g ** 2
    return x - lr * g / torch.sqrt(s + eps), s


@bug("RMSProp without the factor 1 - alpha", replaces="rmsprop_step",
     fails=("q9",))
def rmsprop_without_the_factor_1_alpha(
        x: torch.Tensor, g: torch.Tensor, s: torch.Tensor, lr: float, alpha: float = 0.99,
        eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    s = alpha * s + g ** 2
    return x - lr * g / (torch.sqrt(s) + eps), s


@bug("RMSProp updating x in place", replaces="rmsprop_step",
     fails=("q9",))
def rmsprop_updating_x_in_place(
        x: torch.Tensor, g: torch.Tensor, s: torch.Tensor, lr: float, alpha: float = 0.99,
        eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    s = alpha * s + (1 - alpha) * g ** 2
    x -= lr * g / (s.sqrt() + eps)
    return x, s


# Decaying the sum turns AdaGrad into RMSProp: right on the first step from s = 0, wrong after.
@bug("AdaGrad that decays its sum", replaces="adagrad_step",
     fails=("q10/second_step_with_g_0_25_0_5_gives_s_0_3125_1_25",
           "q10/a_random_sum_of_squares_6_parameters_as_torch_optim_adagrad",
           "q10/uses_the_eps_it_is_given_eps_0_1_lr_0_5", "q10/gradients_of_order_1e_9_where_eps_matters"))
def adagrad_that_decays_its_sum(
        x: torch.Tensor, g: torch.Tensor, s: torch.Tensor, lr: float,
        eps: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    s = 0.9 * s + g ** 2
    return x - lr * g / (torch.sqrt(s) + eps), s


@bug("AdaGrad adding to the caller's sum with +=", replaces="adagrad_step",
     fails=("q10",))
def adagrad_adding_to_the_caller_s_sum(
        x: torch.Tensor, g: torch.Tensor, s: torch.Tensor, lr: float,
        eps: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    s += g * g
    return x - lr * g / (torch.sqrt(s) + eps), s

# Correct answers written differently from the reference: they keep full marks.


@alternative("Taylor model with the full Hessian", replaces="taylor_second_order")
def taylor_model_with_the_full_hessian(f: Callable, x0: torch.Tensor, dx: torch.Tensor) -> float:
    H = torch.autograd.functional.hessian(f, x0)
    x = x0.detach().clone().requires_grad_(True)
    value = f(x)
    (g,) = torch.autograd.grad(value, x)
    return (value + g @ dx + 0.5 * dx @ H @ dx).item()


@alternative("classification with the general eigensolver's real parts", replaces="classify_critical_point")
def classification_with_the_general(H: torch.Tensor, tol: float = 1e-8) -> str:
    e = torch.linalg.eigvals(H).real
    pos, neg = bool((e > tol).any()), bool((e < -tol).any())
    if pos and neg:
        return 'saddle'
    if bool((e.abs() <= tol).any()):
        return 'degenerate'
    return 'minimum' if pos else 'maximum'


@alternative("condition number from the singular values", replaces="hessian_condition")
def condition_number_from_the_singular(H: torch.Tensor) -> float:
    s = torch.linalg.svdvals(H)
    if s.min() <= H.shape[0] * torch.finfo(H.dtype).eps * s.max():
        return math.inf
    return (s.max() / s.min()).item()


@alternative("condition number from torch.linalg.cond", replaces="hessian_condition")
def condition_number_from_torch_linalg(H: torch.Tensor) -> float:
    kappa = torch.linalg.cond(H).item()
    if not kappa < 1 / (H.shape[0] * torch.finfo(H.dtype).eps):
        return math.inf
    return kappa


@alternative("Newton step with an LU factorisation", replaces="newton_step")
def newton_step_with_an_lu_factorisation(g: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    LU, pivots = torch.linalg.lu_factor(H)
    return -torch.linalg.lu_solve(LU, pivots, g.unsqueeze(1)).squeeze(1)


@alternative("Newton step with torch.linalg.solve on a column", replaces="newton_step")
def newton_step_with_torch_linalg_solve(g: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    return torch.linalg.solve(H, -g.reshape(-1, 1)).reshape(g.shape)


@alternative("HVP with torch.autograd.functional.hvp", replaces="hvp")
def hvp_with_torch_autograd_functional(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.autograd.functional.hvp(f, x, v)[1]


@alternative("HVP forward-over-reverse with torch.func", replaces="hvp")
def hvp_forward_over_reverse_with_torch(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.func.jvp(torch.func.grad(f), (x,), (v,))[1]


@alternative("Adam with torch's own arrangement of the bias corrections", replaces="adam_step")
def adam_with_torch_s_own_arrangement_of(
        theta: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int,
        lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    b1, b2 = betas
    m = m * b1 + grad * (1 - b1)
    v = v * b2 + grad * grad * (1 - b2)
    step = lr / (1 - b1 ** t)
    denominator = v.sqrt() / math.sqrt(1 - b2 ** t) + eps
    return theta - step * m / denominator, m, v


@alternative("momentum with torch's in-place arithmetic on copies", replaces="momentum_step")
def momentum_with_torch_s_in_place(
        x: torch.Tensor, g: torch.Tensor, v: torch.Tensor, lr: float, beta: float,
        nesterov: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    buf = v.clone().mul_(beta).add_(g)
    direction = g.add(buf, alpha=beta) if nesterov else buf
    return x.clone().add_(direction, alpha=-lr), buf


@alternative("RMSProp as torch.optim.RMSprop arranges it", replaces="rmsprop_step")
def rmsprop_as_torch_optim_rmsprop(
        x: torch.Tensor, g: torch.Tensor, s: torch.Tensor, lr: float, alpha: float = 0.99,
        eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    s = s.clone().mul_(alpha).addcmul_(g, g, value=1 - alpha)
    return x.addcdiv(g, s.sqrt().add_(eps), value=-lr), s


@alternative("AdaGrad with the step size divided first", replaces="adagrad_step")
def adagrad_with_the_step_size_divided(
        x: torch.Tensor, g: torch.Tensor, s: torch.Tensor, lr: float,
        eps: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    s = s + g.square()
    return x - (lr / (s.sqrt() + eps)) * g, s
