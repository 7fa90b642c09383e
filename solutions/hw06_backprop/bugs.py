"""hw06_backprop: realistic wrong answers, each naming the plan's cases it fails (its expected
score is derived: full marks minus those cases' points), and other correct answers that keep full
marks.  Each is a function (or class) written as a student writes it in the notebook: what the
student hands in is its source, without the decorator, under the name it replaces
(``course.build.samples.bug``).  The type checker reads them as code."""

from typing import Callable

import math
import torch

from course.build.samples import alternative, bug


# ---- mlp_backward (q1)
@bug("backward pass without the ReLU mask", replaces="mlp_backward",
     fails=("q1/one_sample_the_third_hidden_unit_exactly_at_0_dw1_0_0_10_20_",
           "q1/a_batch_of_2_with_2_outputs_the_mean_is_over_all_4_entries_b",
           "q1/random_batch_of_5_d_3_h_4_k_2",
           "q1/random_batch_of_6_the_hidden_layer_s_gradients_dw1_db1_only",
           "q1/integer_data_with_exact_zeros_among_the_pre_activations",
           "q1/two_units_dead_on_the_whole_batch", "q1/one_sample_and_one_output_n_k_1",
           "q1/a_larger_batch_n_64_d_10_h_32_k_3", "q1/float32_inputs_give_float32_gradients"))
def backward_pass_without_the_relu_mask(
        X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
        b2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    Z = X @ W1.T + b1
    H = torch.relu(Z)
    dY = 2 * (H @ W2.T + b2 - y) / y.numel()
    dZ = dY @ W2
    return dZ.T @ X, dZ.sum(0), dY.T @ H, dY.sum(0)


@bug("ReLU mask Z >= 0 (slope 1 at 0)", replaces="mlp_backward",
     fails=("q1/one_sample_the_third_hidden_unit_exactly_at_0_dw1_0_0_10_20_",
           "q1/a_batch_of_2_with_2_outputs_the_mean_is_over_all_4_entries_b",
           "q1/integer_data_with_exact_zeros_among_the_pre_activations"))
def relu_mask_z_0_slope_1_at_0(
        X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
        b2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    Z = X @ W1.T + b1
    H = torch.relu(Z)
    dY = 2 * (H @ W2.T + b2 - y) / y.numel()
    dZ = (dY @ W2) * (Z >= 0)
    return dZ.T @ X, dZ.sum(0), dY.T @ H, dY.sum(0)


@bug("mean over the samples only (1/N instead of 1/(N k))", replaces="mlp_backward",
     fails=("q1/a_batch_of_2_with_2_outputs_the_mean_is_over_all_4_entries_b",
           "q1/random_batch_of_5_d_3_h_4_k_2",
           "q1/random_batch_of_6_the_output_layer_s_gradients_dw2_db2_only",
           "q1/random_batch_of_6_the_hidden_layer_s_gradients_dw1_db1_only",
           "q1/integer_data_with_exact_zeros_among_the_pre_activations",
           "q1/two_units_dead_on_the_whole_batch", "q1/a_larger_batch_n_64_d_10_h_32_k_3",
           "q1/float32_inputs_give_float32_gradients"))
def mean_over_the_samples_only_1_n(
        X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
        b2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    Z = X @ W1.T + b1
    H = torch.relu(Z)
    dY = 2 * (H @ W2.T + b2 - y) / X.shape[0]
    dZ = (dY @ W2) * (Z > 0)
    return dZ.T @ X, dZ.sum(0), dY.T @ H, dY.sum(0)


@bug("gradient of the sum of squares (no 1/(N k))", replaces="mlp_backward",
     fails=("q1/a_batch_of_2_with_2_outputs_the_mean_is_over_all_4_entries_b",
           "q1/random_batch_of_5_d_3_h_4_k_2",
           "q1/random_batch_of_6_the_output_layer_s_gradients_dw2_db2_only",
           "q1/random_batch_of_6_the_hidden_layer_s_gradients_dw1_db1_only",
           "q1/integer_data_with_exact_zeros_among_the_pre_activations",
           "q1/two_units_dead_on_the_whole_batch", "q1/a_larger_batch_n_64_d_10_h_32_k_3",
           "q1/float32_inputs_give_float32_gradients"))
def gradient_of_the_sum_of_squares_no_1(
        X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
        b2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    Z = X @ W1.T + b1
    H = torch.relu(Z)
    dY = 2 * (H @ W2.T + b2 - y)
    dZ = (dY @ W2) * (Z > 0)
    return dZ.T @ X, dZ.sum(0), dY.T @ H, dY.sum(0)


@bug("weight gradients as X^T dZ (the transpose, for Z = X W)", replaces="mlp_backward",
     fails=("q1",))
def weight_gradients_as_x_t_dz_the(
        X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
        b2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    Z = X @ W1.T + b1
    H = torch.relu(Z)
    dY = 2 * (H @ W2.T + b2 - y) / y.numel()
    dZ = (dY @ W2) * (Z > 0)
    return X.T @ dZ, dZ.sum(0), H.T @ dY, dY.sum(0)


@bug("bias gradients averaged over the batch instead of summed", replaces="mlp_backward",
     fails=("q1/a_batch_of_2_with_2_outputs_the_mean_is_over_all_4_entries_b",
           "q1/random_batch_of_5_d_3_h_4_k_2",
           "q1/random_batch_of_6_the_output_layer_s_gradients_dw2_db2_only",
           "q1/random_batch_of_6_the_hidden_layer_s_gradients_dw1_db1_only",
           "q1/integer_data_with_exact_zeros_among_the_pre_activations",
           "q1/two_units_dead_on_the_whole_batch", "q1/a_larger_batch_n_64_d_10_h_32_k_3",
           "q1/float32_inputs_give_float32_gradients"))
def bias_gradients_averaged_over_the(
        X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
        b2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    Z = X @ W1.T + b1
    H = torch.relu(Z)
    dY = 2 * (H @ W2.T + b2 - y) / y.numel()
    dZ = (dY @ W2) * (Z > 0)
    return dZ.T @ X, dZ.mean(0), dY.T @ H, dY.mean(0)


# ---- dead_relu_fraction (q2)
@bug("dead fraction over entries instead of units", replaces="dead_relu_fraction",
     fails=("q2/the_notes_3_x_4_pre_activations_units_0_and_2_are_dead_0_5",
           "q2/the_two_sample_batch_of_question_1_its_first_unit_is_dead_1_",
           "q2/10_samples_8_units_some_never_positive", "q2/units_that_are_0_or_negative_on_every_sample",
           "q2/random_pre_activations_of_16_samples_and_6_units", "q2/float32_pre_activations"))
def dead_fraction_over_entries_instead(pre_activations: torch.Tensor) -> float:
    return (pre_activations <= 0).double().mean().item()


@bug("dead means Z < 0 (0 counted as alive)", replaces="dead_relu_fraction",
     fails=("q2/the_notes_3_x_4_pre_activations_units_0_and_2_are_dead_0_5",
           "q2/10_samples_8_units_some_never_positive", "q2/units_that_are_0_or_negative_on_every_sample",
           "q2/an_all_zero_batch", "q2/a_single_sample", "q2/float32_pre_activations"))
def dead_means_z_0_0_counted_as_alive(pre_activations: torch.Tensor) -> float:
    return (pre_activations < 0).all(dim=0).double().mean().item()


@bug("a unit counted dead if it is off on any sample", replaces="dead_relu_fraction",
     fails=("q2/the_notes_3_x_4_pre_activations_units_0_and_2_are_dead_0_5",
           "q2/the_two_sample_batch_of_question_1_its_first_unit_is_dead_1_",
           "q2/10_samples_8_units_some_never_positive", "q2/units_that_are_0_or_negative_on_every_sample",
           "q2/random_pre_activations_of_16_samples_and_6_units", "q2/float32_pre_activations"))
def a_unit_counted_dead_if_it_is_off_on(pre_activations: torch.Tensor) -> float:
    return (pre_activations <= 0).any(dim=0).double().mean().item()


# ---- weight_jacobian (q3)
@bug("weight Jacobian indexed as J[i, l, k] (shape (m, n, m))", replaces="weight_jacobian",
     fails=("q3",))
def weight_jacobian_indexed_as_j_i_l_k(x: torch.Tensor, m: int) -> torch.Tensor:
    n = x.shape[0]
    J = torch.zeros(m, n, m, dtype=x.dtype)
    for i in range(m):
        J[i, :, i] = x
    return J


@bug("weight Jacobian as the outer product ones x^T (shape (m, n))", replaces="weight_jacobian",
     fails=("q3",))
def weight_jacobian_as_the_outer_product(x: torch.Tensor, m: int) -> torch.Tensor:
    return torch.outer(torch.ones(m, dtype=x.dtype), x)


@bug("weight Jacobian without the Kronecker delta (x in every slice)", replaces="weight_jacobian",
     fails=("q3/x_1_2_3_m_2_1_2_3_0_0_0_0_0_0_1_2_3",
           "q3/x_1_2_3_m_2_flattened_row_major_1_2_3_0_0_0_0_0_0_1_2_3", "q3/random_x_of_length_5_m_4",
           "q3/a_single_input_n_1_m_3", "q3/contracted_with_an_upstream_gradient_v_it_gives_outer_v_x",
           "q3/equals_autograd_s_jacobian_of_w_w_x", "q3/float32_x_gives_a_float32_jacobian"))
def weight_jacobian_without_the(x: torch.Tensor, m: int) -> torch.Tensor:
    return x.expand(m, m, x.shape[0]).clone()


# ---- layer_gradient_norms (q4)
@bug("layer norms listed last layer first", replaces="layer_gradient_norms",
     fails=("q4/four_1x1_sigmoid_layers_with_w_2_0_0030284_0_0127028_0_04919",
           "q4/the_notes_ten_sigmoid_layers_of_width_64_nn_linear_s_init_af",
           "q4/a_random_network_5_4_3_2_on_a_batch_of_6_tanh",
           "q4/a_random_network_5_4_3_2_on_a_batch_of_6_relu",
           "q4/six_random_layers_of_width_8_the_default_activation",
           "q4/float32_inputs_give_a_float32_result"))
def layer_norms_listed_last_layer_first(
        x: torch.Tensor, y: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor],
        activation: str = "sigmoid") -> torch.Tensor:
    act = {'sigmoid': torch.sigmoid, 'relu': torch.relu, 'tanh': torch.tanh}[activation]
    Ws = [W.detach().clone().requires_grad_(True) for W in weights]
    h = x
    for W, b in zip(Ws, biases):
        h = act(h @ W.T + b)
    ((h - y) ** 2).mean().backward()
    return torch.stack([W.grad.norm() for W in reversed(Ws)])  # type: ignore[union-attr]


@bug("norms of the bias gradients instead of the weight gradients", replaces="layer_gradient_norms",
     fails=("q4",))
def norms_of_the_bias_gradients_instead(
        x: torch.Tensor, y: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor],
        activation: str = "sigmoid") -> torch.Tensor:
    act = {'sigmoid': torch.sigmoid, 'relu': torch.relu, 'tanh': torch.tanh}[activation]
    bs = [b.detach().clone().requires_grad_(True) for b in biases]
    h = x
    for W, b in zip(weights, bs):
        h = act(h @ W.T + b)
    ((h - y) ** 2).mean().backward()
    return torch.stack([b.grad.norm() for b in bs])  # type: ignore[union-attr]


# ---- clip_grad_norm (q5)
@bug("each tensor clipped by its own norm", replaces="clip_grad_norm",
     fails=("q5/3_4_12_with_max_norm_1_total_13_every_entry_times_1_13_1e_6",
           "q5/3_4_12_with_max_norm_13_still_shrunk_by_13_13_1e_6_11_999999",
           "q5/three_random_tensors_of_different_shapes_clipped",
           "q5/the_clipped_gradients_norm_is_min_total_max_norm_total_total",
           "q5/a_0_d_tensor_among_the_gradients", "q5/float32_gradients_stay_float32"))
def each_tensor_clipped_by_its_own_norm(
        grads: list[torch.Tensor], max_norm: float) -> tuple[list[torch.Tensor], float]:
    if not grads:
        return [], 0.0
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))  # type: ignore[arg-type]
    clipped = [g * min(1.0, max_norm / (g.norm().item() + 1e-6)) for g in grads]
    return clipped, total.item()


@bug("always scaled to max_norm (no min(1, ...))", replaces="clip_grad_norm",
     fails=("q5/3_4_12_with_max_norm_20_unchanged", "q5/three_random_tensors_of_different_shapes_not_clipped"))
def always_scaled_to_max_norm_no_min_1(
        grads: list[torch.Tensor], max_norm: float) -> tuple[list[torch.Tensor], float]:
    if not grads:
        return [], 0.0
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))  # type: ignore[arg-type]
    return [g * (max_norm / (total + 1e-6)) for g in grads], total.item()


@bug("clipping factor max_norm / total (without the 1e-6)", replaces="clip_grad_norm",
     fails=("q5/3_4_12_with_max_norm_1_total_13_every_entry_times_1_13_1e_6",
           "q5/3_4_12_with_max_norm_13_still_shrunk_by_13_13_1e_6_11_999999",
           "q5/3e_4_4e_4_with_max_norm_1e_4_total_5e_4_5_9880239520958076e_",
           "q5/three_random_tensors_of_different_shapes_clipped",
           "q5/the_clipped_gradients_norm_is_min_total_max_norm_total_total",
           "q5/a_0_d_tensor_among_the_gradients"))
def clipping_factor_max_norm_total(grads: list[torch.Tensor], max_norm: float) -> tuple[list[torch.Tensor], float]:
    if not grads:
        return [], 0.0
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))  # type: ignore[arg-type]
    factor = torch.clamp(max_norm / total, max=1.0)
    return [g * factor for g in grads], total.item()


@bug("clipping the input gradients in place", replaces="clip_grad_norm",
     fails=("q5/3_4_12_with_max_norm_1_total_13_every_entry_times_1_13_1e_6",
           "q5/3_4_12_with_max_norm_13_still_shrunk_by_13_13_1e_6_11_999999",
           "q5/3e_4_4e_4_with_max_norm_1e_4_total_5e_4_5_9880239520958076e_",
           "q5/three_random_tensors_of_different_shapes_clipped",
           "q5/the_clipped_gradients_norm_is_min_total_max_norm_total_total",
           "q5/a_0_d_tensor_among_the_gradients", "q5/float32_gradients_stay_float32"))
def clipping_the_input_gradients_in(grads: list[torch.Tensor], max_norm: float) -> tuple[list[torch.Tensor], float]:
    if not grads:
        return [], 0.0
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))  # type: ignore[arg-type]
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(factor)
    return grads, total.item()


# ---- cg_newton_step (q6)
@bug("steepest descent with exact line search instead of conjugate gradient", replaces="cg_newton_step",
     fails=("q6/the_notes_quadratic_from_2_1_iters_2_the_newton_step_21_11_4",
           "q6/two_iterations_on_a_3_variable_quadratic",
           "q6/after_3_iterations_p_minimises_the_quadratic_model_over_the_",
           "q6/after_n_6_iterations_tol_0_p_is_the_newton_step", "q6/uses_the_tol_it_is_given_tol_0_1",
           "q6/negative_curvature_on_a_later_iteration_5_variables",
           "q6/float32_input_gives_a_float32_step_3_iterations_3_variables"))
def steepest_descent_with_exact_line(
        f: Callable, x: torch.Tensor, iters: int = 100, tol: float = 1e-10) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    g0 = g.detach()
    p = torch.zeros_like(g0)
    r = g0.clone()
    if r.norm() <= tol * g0.norm():
        return p
    for j in range(iters):
        d = -r
        (Hd,) = torch.autograd.grad(g, x, grad_outputs=d, retain_graph=True)
        curvature = d @ Hd
        if curvature <= 0:
            return -g0 if j == 0 else p
        alpha = (r @ r) / curvature
        p = p + alpha * d
        r = r + alpha * Hd
        if r.norm() <= tol * g0.norm():
            break
    return p


@bug("conjugate gradient on the Hessian built by torch.func.hessian", replaces="cg_newton_step",
     fails=("q6",))
def conjugate_gradient_on_the_hessian(
        f: Callable, x: torch.Tensor, iters: int = 100, tol: float = 1e-10) -> torch.Tensor:
    H = torch.func.hessian(f)(x)
    xx = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xx), xx)
    p = torch.zeros_like(g)
    r = g.clone()
    d = -r
    if r.norm() <= tol * g.norm():
        return p
    for j in range(iters):
        Hd = H @ d
        if d @ Hd <= 0:
            return -g if j == 0 else p
        alpha = (r @ r) / (d @ Hd)
        p = p + alpha * d
        r_new = r + alpha * Hd
        if r_new.norm() <= tol * g.norm():
            break
        d = -r_new + (r_new @ r_new) / (r @ r) * d
        r = r_new
    return p


@bug("conjugate gradient that ignores negative curvature", replaces="cg_newton_step",
     fails=("q6/x_2_3y_2_at_1_1_negative_curvature_at_once_so_g_2_6",
           "q6/x_2_2_y_2_20_at_1_1_one_step_1_0110110_0_1011011_then_negati",
           "q6/negative_curvature_on_the_first_iteration_5_variables",
           "q6/negative_curvature_on_a_later_iteration_5_variables"))
def conjugate_gradient_that_ignores(
        f: Callable, x: torch.Tensor, iters: int = 100, tol: float = 1e-10) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    g0 = g.detach()
    p = torch.zeros_like(g0)
    r = g0.clone()
    d = -r
    if r.norm() <= tol * g0.norm():
        return p
    for j in range(iters):
        (Hd,) = torch.autograd.grad(g, x, grad_outputs=d, retain_graph=True)
        alpha = (r @ r) / (d @ Hd)
        p = p + alpha * d
        r_new = r + alpha * Hd
        if r_new.norm() <= tol * g0.norm():
            break
        d = -r_new + (r_new @ r_new) / (r @ r) * d
        r = r_new
    return p

# Correct answers written differently from the reference: they keep full marks.


@alternative("mlp_backward with einsum and a float mask", replaces="mlp_backward")
def mlp_backward_with_einsum_and_a_float(
        X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
        b2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    Z = torch.einsum('nd,hd->nh', X, W1) + b1
    H = Z.clamp(min=0)
    Y_hat = torch.einsum('nh,kh->nk', H, W2) + b2
    dY = 2.0 / Y_hat.numel() * (Y_hat - y)
    dH = torch.einsum('nk,kh->nh', dY, W2)
    dZ = dH * (Z > 0).to(dH.dtype)
    return (torch.einsum('nh,nd->hd', dZ, X), dZ.sum(dim=0),
            torch.einsum('nk,nh->kh', dY, H), dY.sum(dim=0))


@alternative("mlp_backward through the loss as a mean over the batch of per-sample means", replaces="mlp_backward")
def mlp_backward_through_the_loss_as_a(
        X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
        b2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    N, k = y.shape
    Z = torch.addmm(b1, X, W1.t())
    H = torch.nn.functional.relu(Z)
    dY = (H @ W2.t() + b2 - y) * (2 / k) / N
    dZ = torch.where(Z > 0, dY @ W2, 0.0)
    return dZ.t() @ X, dZ.sum(0), dY.t() @ H, dY.sum(0)


@alternative("dead_relu_fraction by counting columns", replaces="dead_relu_fraction")
def dead_relu_fraction_by_counting(pre_activations: torch.Tensor) -> float:
    N, h = pre_activations.shape
    dead = 0
    for j in range(h):
        if pre_activations[:, j].max() <= 0:
            dead += 1
    return dead / h


@alternative("weight_jacobian from the identity by einsum", replaces="weight_jacobian")
def weight_jacobian_from_the_identity_by(x: torch.Tensor, m: int) -> torch.Tensor:
    return torch.einsum('ik,l->ikl', torch.eye(m, dtype=x.dtype, device=x.device), x)


@alternative("weight_jacobian filled slice by slice", replaces="weight_jacobian")
def weight_jacobian_filled_slice_by(x: torch.Tensor, m: int) -> torch.Tensor:
    J = x.new_zeros((m, m, x.numel()))
    for i in range(m):
        J[i, i, :] = x
    return J


@alternative("layer_gradient_norms with .backward() and torch.nn.functional", replaces="layer_gradient_norms")
def layer_gradient_norms_with_backward(
        x: torch.Tensor, y: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor],
        activation: str = "sigmoid") -> torch.Tensor:
    F = torch.nn.functional
    act = {'sigmoid': torch.sigmoid, 'relu': F.relu, 'tanh': torch.tanh}[activation]
    Ws = [W.clone().detach().requires_grad_() for W in weights]
    h = x
    for W, b in zip(Ws, biases):
        h = act(F.linear(h, W, b))  # type: ignore[operator]
    F.mse_loss(h, y).backward()
    return torch.stack([torch.linalg.matrix_norm(W.grad) for W in Ws])


@alternative("clip_grad_norm through torch.cat of the flattened gradients", replaces="clip_grad_norm")
def clip_grad_norm_through_torch_cat_of(
        grads: list[torch.Tensor], max_norm: float) -> tuple[list[torch.Tensor], float]:
    if len(grads) == 0:
        return [], 0.0
    total = torch.cat([g.reshape(-1) for g in grads]).norm()
    factor = min(1.0, max_norm / (total.item() + 1e-6))
    return [g.clone() * factor for g in grads], total.item()


@alternative("clip_grad_norm with Python floats", replaces="clip_grad_norm")
def clip_grad_norm_with_python_floats(grads: list[torch.Tensor], max_norm: float) -> tuple[list[torch.Tensor], float]:
    total = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
    factor = max_norm / (total + 1e-6)
    if factor >= 1:
        return [g.clone() for g in grads], total
    return [g * factor for g in grads], total


@alternative("cg_newton_step with the residual b - A p and torch.autograd.functional.hvp", replaces="cg_newton_step")
def cg_newton_step_with_the_residual_b_a(
        f: Callable, x: torch.Tensor, iters: int = 100, tol: float = 1e-10) -> torch.Tensor:
    xx = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xx), xx)
    p = torch.zeros_like(g)
    r = -g
    d = r.clone()
    g_norm = torch.linalg.norm(g)
    if g_norm == 0:
        return p
    for j in range(iters):
        Hd = torch.autograd.functional.hvp(f, x.detach(), d)[1]
        dHd = torch.dot(d, Hd)
        if dHd <= 0:
            return -g if j == 0 else p
        alpha = torch.dot(r, r) / dHd
        p = p + alpha * d
        r_new = r - alpha * Hd
        if torch.linalg.norm(r_new) <= tol * g_norm:
            return p
        d = r_new + torch.dot(r_new, r_new) / torch.dot(r, r) * d
        r = r_new
    return p


@alternative("cg_newton_step with torch.func.grad and a double-backward HVP", replaces="cg_newton_step")
def cg_newton_step_with_torch_func_grad(
        f: Callable, x: torch.Tensor, iters: int = 100, tol: float = 1e-10) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    g = torch.func.grad(f)(x)
    g0 = g.detach()
    def hvp(v):
        return torch.autograd.grad(g, x, v, retain_graph=True)[0]
    p, r = torch.zeros_like(g0), g0
    d, rr = -r, r.dot(r)
    if rr == 0:
        return p
    for j in range(iters):
        Hd = hvp(d)
        kappa = d.dot(Hd)
        if kappa <= 0:
            return p if j > 0 else -g0
        alpha = rr / kappa
        p, r = p + alpha * d, r + alpha * Hd
        rr_new = r.dot(r)
        if rr_new.sqrt() <= tol * g0.norm():
            break
        d, rr = -r + rr_new / rr * d, rr_new
    return p
