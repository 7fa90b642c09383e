"""hw03_jacobians: realistic wrong answers, each naming the plan's cases it fails (its expected
score is derived: full marks minus those cases' points), and other correct answers that keep full
marks.  Each is a function (or class) written as a student writes it in the notebook: what the
student hands in is its source, without the decorator, under the name it replaces
(``course.build.samples.bug``).  The type checker reads them as code."""

from typing import Callable

import torch

from course.build.samples import alternative, bug


@bug("numerical Jacobian stacked as rows (the transpose)", replaces="numerical_jacobian",
     fails=("q1/x1_2_x2_x1_x2_x2_2_at_2_3_is_4_1_3_8", "q1/x_2_y_x_y_at_2_3_is_4_1_3_2",
           "q1/the_jacobian_of_x_w_x_is_w_2_x_3", "q1/a_map_r_3_r_5_at_a_random_point_has_shape_5_3",
           "q1/a_map_r_7_r_3_at_a_random_point", "q1/uses_the_step_h_it_is_given_h_0_1_on_a_map_r_3_r_5"))
def numerical_jacobian_stacked_as_rows(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    rows = []
    for j in range(x.numel()):
        step = torch.zeros_like(x)
        step[j] = h
        rows.append((f(x + step) - f(x - step)) / (2 * h))
    return torch.stack(rows)


@bug("numerical Jacobian by forward differences", replaces="numerical_jacobian",
     fails=("q1/x1_2_x2_x1_x2_x2_2_at_2_3_is_4_1_3_8", "q1/x_2_y_x_y_at_2_3_is_4_1_3_2",
           "q1/a_map_r_3_r_5_at_a_random_point_has_shape_5_3", "q1/a_map_r_7_r_3_at_a_random_point",
           "q1/uses_the_step_h_it_is_given_h_0_1_on_a_map_r_3_r_5"))
def numerical_jacobian_by_forward(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    columns = []
    for j in range(x.numel()):
        step = torch.zeros_like(x)
        step[j] = h
        columns.append((f(x + step) - f(x)) / h)
    return torch.stack(columns, dim=1)


# Nudging x in place and forgetting to put it back changes the caller's tensor: every case
# is lost, with a message that says so.
@bug("numerical Jacobian that nudges x in place and never restores it", replaces="numerical_jacobian",
     fails=("q1",))
def numerical_jacobian_that_nudges_x_in(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    columns = []
    for j in range(x.numel()):
        x[j] += h
        plus = f(x)
        x[j] -= 2 * h
        columns.append((plus - f(x)) / (2 * h))
    return torch.stack(columns, dim=1)


@bug("numerical Jacobian row by row with autograd (the maps are black boxes)", replaces="numerical_jacobian",
     fails=("q1",))
def numerical_jacobian_row_by_row_with(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    y = f(x)
    rows = [torch.autograd.grad(y[i], x, retain_graph=True)[0] for i in range(len(y))]
    return torch.stack(rows)


@bug("numerical Jacobian through torch.autograd.functional.jacobian", replaces="numerical_jacobian",
     fails=("q1",))
def numerical_jacobian_through_torch(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    return torch.autograd.functional.jacobian(f, x)


@bug("softmax Jacobian as diag(p) only", replaces="softmax_jacobian",
     fails=("q2",))
def softmax_jacobian_as_diag_p_only(z: torch.Tensor) -> torch.Tensor:
    return torch.diag(torch.softmax(z, dim=0))


@bug("softmax Jacobian from a naive exp that overflows", replaces="softmax_jacobian",
     fails=("q2/large_logits_1000_1001_1002_give_no_nan",))
def softmax_jacobian_from_a_naive_exp(z: torch.Tensor) -> torch.Tensor:
    p = torch.exp(z) / torch.exp(z).sum()
    return torch.diag(p) - torch.outer(p, p)


@bug("softmax Jacobian by autograd (the question is to derive it)", replaces="softmax_jacobian",
     fails=("q2",))
def softmax_jacobian_by_autograd_the(z: torch.Tensor) -> torch.Tensor:
    z = z.detach().requires_grad_(True)
    p = torch.softmax(z, dim=0)
    return torch.stack([torch.autograd.grad(p[i], z, retain_graph=True)[0] for i in range(len(p))])


@bug("chain rule multiplied in the wrong order", replaces="composed_jacobian",
     fails=("q3",))
def chain_rule_multiplied_in_the_wrong(f: Callable, g: Callable, x: torch.Tensor) -> torch.Tensor:
    y, J_f = f(x)
    _, J_g = g(y)
    return J_f @ J_g


@bug("chain rule with J_g evaluated at x instead of f(x)", replaces="composed_jacobian",
     fails=("q3",))
def chain_rule_with_j_g_evaluated_at_x(f: Callable, g: Callable, x: torch.Tensor) -> torch.Tensor:
    _, J_f = f(x)
    _, J_g = g(x)
    return J_g @ J_f


# The ways around the chain rule: the layers' values carry no graph, so autograd through the
# composition sees constants (zeros); central differences of the composed values are off by
# far more than rounding on the hidden layers' high frequencies (they pass only the notes'
# polynomial example).
@bug("composition differentiated as one by autograd", replaces="composed_jacobian",
     fails=("q3",))
def composition_differentiated_as_one_by(f: Callable, g: Callable, x: torch.Tensor) -> torch.Tensor:
    return torch.autograd.functional.jacobian(lambda z: g(f(z)[0])[0], x)


@bug("composition differentiated as one by central differences", replaces="composed_jacobian",
     fails=("q3/r_3_r_5_r_2_at_a_random_point_shape_2_3", "q3/r_4_r_2_r_3_at_a_random_point_shape_3_4",
           "q3/a_linear_layer_b_after_a_layer_r_4_r_6_b_j_f_shape_3_4",
           "q3/square_maps_r_3_r_3_r_3_where_the_wrong_order_multiplies_wit"))
def composition_differentiated_as_one_by_(
        f: Callable, g: Callable, x: torch.Tensor, h: float = 1e-05) -> torch.Tensor:
    steps = torch.eye(x.numel(), dtype=x.dtype) * h
    return torch.stack([(g(f(x + s)[0])[0] - g(f(x - s)[0])[0]) / (2 * h) for s in steps], dim=1)


# The question forbids building the Jacobian (and the n = 300,000 cases could not): the whole
# question is lost.
@bug("vjp through torch.autograd.functional.jacobian", replaces="vjp",
     fails=("q4",))
def vjp_through_torch_autograd(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return v @ torch.autograd.functional.jacobian(f, x)


@bug("vjp that builds the full Jacobian", replaces="vjp",
     fails=("q4",))
def vjp_that_builds_the_full_jacobian(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    J = torch.autograd.functional.jacobian(f, x, vectorize=True)
    return v @ J


@bug("vjp that ignores v (backward of the sum)", replaces="vjp",
     fails=("q4/v_1_0_picks_the_first_row_of_4_1_3_8",
           "q4/a_one_hot_v_picks_a_row_of_the_jacobian_of_a_map_r_3_r_5", "q4/random_v_on_a_map_r_3_r_5",
           "q4/random_v_on_a_map_r_50_r_50_with_a_jacobian_that_is_not_symm",
           "q4/float32_input_gives_float32_output", "q4/n_300_000_without_building_the_jacobian_r_n_r_n",
           "q4/n_300_000_without_building_the_jacobian_r_n_r_n_1000"))
def vjp_that_ignores_v_backward_of_the(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x).sum(), x)
    return g


@bug("jvp computing J^T u", replaces="jvp",
     fails=("q5",))
def jvp_computing_j_t_u(f: Callable, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x), x, grad_outputs=u)
    return g


@bug("jvp that builds the full Jacobian", replaces="jvp",
     fails=("q5",))
def jvp_that_builds_the_full_jacobian(f: Callable, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    return torch.func.jacfwd(f)(x) @ u


@bug("linear layer with grad_W = outer(x, grad_y)", replaces="linear_layer_backward",
     fails=("q6/the_notes_w_1_2_3_4_5_6_x_1_0_1_grad_y_1_1", "q6/grad_w_of_a_random_4_x_7_layer",
           "q6/both_gradients_of_a_random_5_x_2_layer"))
def linear_layer_with_grad_w_outer_x(
        W: torch.Tensor, x: torch.Tensor, grad_y: torch.Tensor) -> tuple[torch.Tensor,
        torch.Tensor]:
    return torch.outer(x, grad_y), W.T @ grad_y


@bug("linear layer with grad_x = W grad_y", replaces="linear_layer_backward",
     fails=("q6",))
def linear_layer_with_grad_x_w_grad_y(
        W: torch.Tensor, x: torch.Tensor, grad_y: torch.Tensor) -> tuple[torch.Tensor,
        torch.Tensor]:
    return torch.outer(grad_y, x), W @ grad_y


@bug("linear layer backward by autograd (the question is to write it)", replaces="linear_layer_backward",
     fails=("q6",))
def linear_layer_backward_by_autograd(
        W: torch.Tensor, x: torch.Tensor, grad_y: torch.Tensor) -> tuple[torch.Tensor,
        torch.Tensor]:
    W, x = W.detach().requires_grad_(True), x.detach().requires_grad_(True)
    (W @ x).backward(grad_y)
    return W.grad, x.grad  # type: ignore[return-value]

# Correct answers written differently from the reference: they keep full marks.


@alternative("numerical Jacobian from the rows of h times the identity", replaces="numerical_jacobian")
def numerical_jacobian_from_the_rows_of(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    steps = torch.eye(x.numel(), dtype=x.dtype) * h
    rows = [f(x + s) / (2 * h) - f(x - s) / (2 * h) for s in steps]
    return torch.stack(rows).T


@alternative("softmax Jacobian by hand from a shifted exp", replaces="softmax_jacobian")
def softmax_jacobian_by_hand_from_a(z: torch.Tensor) -> torch.Tensor:
    e = torch.exp(z - z.max())
    p = e / e.sum()
    return -p[:, None] * p[None, :] + torch.diag(p)


@alternative("chain rule with einsum", replaces="composed_jacobian")
def chain_rule_with_einsum(f: Callable, g: Callable, x: torch.Tensor) -> torch.Tensor:
    y, J_f = f(x)
    return torch.einsum('km,mn->kn', g(y)[1], J_f)


@alternative("vjp with torch.func.vjp", replaces="vjp")
def vjp_with_torch_func_vjp(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.func.vjp(f, x)[1](v)[0]


@alternative("vjp with backward() on a fresh leaf", replaces="vjp")
def vjp_with_backward_on_a_fresh_leaf(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    leaf = x.detach().clone().requires_grad_(True)
    f(leaf).backward(v)
    return leaf.grad  # type: ignore[return-value]


@alternative("jvp with torch.func.jvp", replaces="jvp")
def jvp_with_torch_func_jvp(f: Callable, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    return torch.func.jvp(f, (x,), (u,))[1]


@alternative("jvp with forward-mode dual numbers", replaces="jvp")
def jvp_with_forward_mode_dual_numbers(f: Callable, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    import torch.autograd.forward_ad as fwAD
    with fwAD.dual_level():
        return fwAD.unpack_dual(f(fwAD.make_dual(x, u))).tangent


@alternative("linear layer backward by broadcasting", replaces="linear_layer_backward")
def linear_layer_backward_by(
        W: torch.Tensor, x: torch.Tensor, grad_y: torch.Tensor) -> tuple[torch.Tensor,
        torch.Tensor]:
    return grad_y[:, None] * x[None, :], grad_y @ W
