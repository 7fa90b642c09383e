"""hw02_gradients: realistic wrong answers, each naming the plan's cases it fails (its expected
score is derived: full marks minus those cases' points), and other correct answers that keep full
marks.  Each is a function (or class) written as a student writes it in the notebook: what the
student hands in is its source, without the decorator, under the name it replaces
(``course.build.samples.bug``).  The type checker reads them as code."""

from typing import Callable

import torch

from course.build.samples import alternative, bug


@bug("forward difference in numerical_gradient", replaces="numerical_gradient",
     fails=("q1",))
def forward_difference_in_numerical(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    grad = torch.empty_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x)) / h
    return grad


@bug("central difference divided by h instead of 2h", replaces="numerical_gradient",
     fails=("q1/x_2_3xy_y_2_at_2_3_is_13_12", "q1/x_2_y_2_at_2_1_is_4_2",
           "q1/smooth_function_of_6_variables_at_a_random_point",
           "q1/uses_the_step_h_it_is_given_error_h_2_on_a_cubic", "q1/rosenbrock_function_at_a_random_point",
           "q1/float32_point_gives_a_float32_gradient"))
def central_difference_divided_by_h(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    grad = torch.empty_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / h
    return grad


# Nudging x in place and forgetting to put it back changes the caller's tensor (and moves
# the point for the next coordinates): every case is lost.
@bug("numerical gradient that nudges x in place and never restores it", replaces="numerical_gradient",
     fails=("q1",))
def numerical_gradient_that_nudges_x_in(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    grad = torch.empty_like(x)
    for i in range(x.numel()):
        x[i] += h
        plus = f(x)
        x[i] -= 2 * h
        minus = f(x)
        grad[i] = (plus - minus) / (2 * h)
    return grad


# Adding h back after subtracting 2h gives x back bit for bit only for some values: the
# cases where it does not (half of the points) are lost, with a message about the input.
@bug("numerical gradient that nudges x in place and adds h back", replaces="numerical_gradient",
     fails=("q1/smooth_function_of_6_variables_at_a_random_point",
           "q1/uses_the_step_h_it_is_given_error_h_2_on_a_cubic", "q1/rosenbrock_function_at_a_random_point"))
def numerical_gradient_that_nudges_x_in_(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    grad = torch.empty_like(x)
    for i in range(x.numel()):
        x[i] += h
        plus = f(x)
        x[i] -= 2 * h
        minus = f(x)
        x[i] += h
        grad[i] = (plus - minus) / (2 * h)
    return grad


@bug("gradient by autograd (the question is finite differences)", replaces="numerical_gradient",
     fails=("q1",))
def gradient_by_autograd_the_question_is(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    leaf = x.detach().clone().requires_grad_(True)
    f(leaf).backward()
    return leaf.grad  # type: ignore[return-value]


@bug("gradient ascent instead of descent", replaces="gradient_descent",
     fails=("q2/x_3_2_from_0_with_lr_0_1_the_first_6_updates_follow_3_1_0_8_",
           "q2/x_3_2_from_0_with_lr_0_1_21_rows_x_is_about_2_9654_after_20_",
           "q2/x_3_2_from_0_with_lr_2_0_overshoots_and_diverges_12_24_84_24",
           "q2/x_3_2_from_0_with_lr_0_001_is_slow_x_is_about_0_5443_after_1",
           "q2/rosenbrock_from_1_1_with_lr_0_001_about_0_93983_0_88302_afte",
           "q2/stretched_5_dimensional_bowl_from_a_random_start_every_row",
           "q2/float32_start_gives_a_float32_trajectory"))
def gradient_ascent_instead_of_descent(grad_f: Callable, x0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    xs = [x0.clone()]
    for _ in range(steps):
        xs.append(xs[-1] + lr * grad_f(xs[-1]))
    return torch.stack(xs)


@bug("steps rows: the start x0 is not recorded", replaces="gradient_descent",
     fails=("q2",))
def steps_rows_the_start_x0_is_not(grad_f: Callable, x0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    x, xs = x0.clone(), []
    for _ in range(steps):
        x = x - lr * grad_f(x)
        xs.append(x)
    return torch.stack(xs)


@bug("in-place update of a stored row: every row is the same tensor", replaces="gradient_descent",
     fails=("q2/x_3_2_from_0_with_lr_0_1_the_first_6_updates_follow_3_1_0_8_",
           "q2/x_3_2_from_0_with_lr_0_1_21_rows_x_is_about_2_9654_after_20_",
           "q2/x_3_2_from_0_with_lr_2_0_overshoots_and_diverges_12_24_84_24",
           "q2/x_3_2_from_0_with_lr_0_001_is_slow_x_is_about_0_5443_after_1",
           "q2/rosenbrock_from_1_1_with_lr_0_001_about_0_93983_0_88302_afte",
           "q2/stretched_5_dimensional_bowl_from_a_random_start_every_row",
           "q2/float32_start_gives_a_float32_trajectory"))
def in_place_update_of_a_stored_row(grad_f: Callable, x0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    x = x0.clone()
    xs = [x]
    for _ in range(steps):
        x -= lr * grad_f(x)
        xs.append(x)
    return torch.stack(xs)


# x -= ... on x0 itself changes the caller's tensor: every case that takes a step is lost.
@bug("in-place update of x0 itself", replaces="gradient_descent",
     fails=("q2/x_3_2_from_0_with_lr_0_1_the_first_6_updates_follow_3_1_0_8_",
           "q2/x_3_2_from_0_with_lr_0_1_21_rows_x_is_about_2_9654_after_20_",
           "q2/x_3_2_from_0_with_lr_2_0_overshoots_and_diverges_12_24_84_24",
           "q2/x_3_2_from_0_with_lr_0_001_is_slow_x_is_about_0_5443_after_1",
           "q2/rosenbrock_from_1_1_with_lr_0_001_about_0_93983_0_88302_afte",
           "q2/stretched_5_dimensional_bowl_from_a_random_start_every_row",
           "q2/float32_start_gives_a_float32_trajectory"))
def in_place_update_of_x0_itself(grad_f: Callable, x0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    x = x0
    xs = [x.clone()]
    for _ in range(steps):
        x -= lr * grad_f(x)
        xs.append(x.clone())
    return torch.stack(xs)


@bug("NaN for the zero vector", replaces="steepest_ascent_direction",
     fails=("q3/saddle_point_the_zero_gradient_gives_the_zero_vector_not_nan",
           "q3/zero_float32_gradient_in_5_dimensions_stays_zero_and_float32"))
def nan_for_the_zero_vector(g: torch.Tensor) -> torch.Tensor:
    return g / torch.linalg.vector_norm(g)


@bug("epsilon in the denominator shortens the direction", replaces="steepest_ascent_direction",
     fails=("q3/x_2_y_2_at_2_1_the_gradient_4_2_points_along_2_1_sqrt_5", "q3/random_7_dimensional_gradient",
           "q3/a_tiny_but_nonzero_gradient_still_gets_unit_length",
           "q3/one_dimensional_gradient_keeps_its_sign"))
def epsilon_in_the_denominator_shortens(g: torch.Tensor) -> torch.Tensor:
    return g / (torch.linalg.vector_norm(g) + 1e-8)


@bug("A x instead of (A + A^T) x", replaces="quadratic_form_grad",
     fails=("q4",))
def a_x_instead_of_a_a_t_x(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return A @ x


@bug("2 A x: right only for a symmetric A", replaces="quadratic_form_grad",
     fails=("q4/x_2_3xy_y_2_x_t_a_x_with_a_1_3_0_1_at_2_3_is_13_12",
           "q4/x_2_3xy_2y_2_x_t_a_x_with_a_1_3_0_2_at_1_1_is_5_7", "q4/random_non_symmetric_5x5_matrix",
           "q4/float32_inputs_give_a_float32_gradient"))
def answer_2_a_x_right_only_for_a_symmetric_a(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return 2 * A @ x


@bug("quadratic form gradient by autograd (the question is to derive it)", replaces="quadratic_form_grad",
     fails=("q4",))
def quadratic_form_gradient_by_autograd(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    leaf = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(leaf @ A @ leaf, leaf)
    return g


@bug("least-squares gradient without the factor 2", replaces="least_squares_grad",
     fails=("q5/phi_1_0_0_1_1_1_y_1_2_3_theta_0_gives_2_phi_t_y_8_10",
           "q5/random_tall_system_n_8_observations_d_3_parameters",
           "q5/more_parameters_than_observations_n_2_d_5", "q5/a_single_parameter_d_1",
           "q5/float32_inputs_give_a_float32_gradient"))
def least_squares_gradient_without_the(Phi: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    return -Phi.T @ (y - Phi @ theta)


@bug("least-squares gradient with the wrong sign", replaces="least_squares_grad",
     fails=("q5/phi_1_0_0_1_1_1_y_1_2_3_theta_0_gives_2_phi_t_y_8_10",
           "q5/random_tall_system_n_8_observations_d_3_parameters",
           "q5/more_parameters_than_observations_n_2_d_5", "q5/a_single_parameter_d_1",
           "q5/float32_inputs_give_a_float32_gradient"))
def least_squares_gradient_with_the(Phi: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    return 2 * Phi.T @ (y - Phi @ theta)

# Correct answers written differently from the reference: they keep full marks.


@alternative("numerical gradient on two copies of x", replaces="numerical_gradient")
def numerical_gradient_on_two_copies_of(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    grad = torch.zeros_like(x)
    for i in range(len(x)):
        plus, minus = x.clone(), x.clone()
        plus[i] += h
        minus[i] -= h
        grad[i] = (f(plus) - f(minus)) / (2 * h)
    return grad


@alternative("numerical gradient with the rows of h times the identity", replaces="numerical_gradient")
def numerical_gradient_with_the_rows_of(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    steps = h * torch.eye(len(x), dtype=x.dtype)
    return torch.stack([(f(x + e) - f(x - e)) / (2 * h) for e in steps]).to(x.dtype)


@alternative("gradient descent into a preallocated tensor", replaces="gradient_descent")
def gradient_descent_into_a_preallocated(grad_f: Callable, x0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    path = torch.empty(steps + 1, x0.numel(), dtype=x0.dtype)
    path[0] = x0
    for t in range(steps):
        path[t + 1] = path[t].sub(grad_f(path[t].clone()), alpha=lr)
    return path


@alternative("steepest ascent testing for zero with any()", replaces="steepest_ascent_direction")
def steepest_ascent_testing_for_zero(g: torch.Tensor) -> torch.Tensor:
    if not g.any():
        return g.clone()
    return g / g.pow(2).sum().sqrt()


@alternative("quadratic form gradient as A x + x A", replaces="quadratic_form_grad")
def quadratic_form_gradient_as_a_x_x_a(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return A @ x + x @ A


@alternative("least-squares gradient from the normal equations", replaces="least_squares_grad")
def least_squares_gradient_from_the(Phi: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    return 2 * (Phi.T @ Phi @ theta - Phi.T @ y)
