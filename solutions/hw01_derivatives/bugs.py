"""hw01_derivatives: realistic wrong answers, each naming the plan's cases it fails (its expected
score is derived: full marks minus those cases' points), and other correct answers that keep full
marks.  Each is a function (or class) written as a student writes it in the notebook: what the
student hands in is its source, without the decorator, under the name it replaces
(``course.build.samples.bug``).  The type checker reads them as code."""

from typing import Callable

import torch

from course.build.samples import alternative, bug


@bug("central difference in numerical_derivative", replaces="numerical_derivative",
     fails=("q1",))
def central_difference_in_numerical(f: Callable, x: float, h: float = 1e-5) -> float:
    return float((f(x + h) - f(x - h)) / (2 * h))


@bug("step h ignored", replaces="numerical_derivative",
     fails=("q1/uses_the_step_h_it_is_given", "q1/exp_x_2_at_x_1_3_with_h_1e_4"))
def step_h_ignored(f: Callable, x: float, h: float = 1e-5) -> float:
    return float((f(x + 1e-5) - f(x)) / 1e-5)


@bug("forward difference in central_difference", replaces="central_difference",
     fails=("q2",))
def forward_difference_in_central(f: Callable, x: float, h: float = 1e-5) -> float:
    return float((f(x + h) - f(x)) / h)


@bug("central difference divided by h instead of 2h", replaces="central_difference",
     fails=("q2",))
def central_difference_divided_by_h(f: Callable, x: float, h: float = 1e-5) -> float:
    return float((f(x + h) - f(x - h)) / h)


@bug("ReLU' of 1 at zero", replaces="relu_grad",
     fails=("q3/relu_at_2_1_0_1_2", "q3/0_at_exactly_x_0_also_for_0_0",
           "q3/float32_input_gives_float32_output"))
def relu_of_1_at_zero(x: torch.Tensor) -> torch.Tensor:
    return (x >= 0).to(x.dtype)


@bug("ReLU' by autograd (the question is to derive it)", replaces="relu_grad",
     fails=("q3",))
def relu_by_autograd_the_question_is_to(x: torch.Tensor) -> torch.Tensor:
    leaf = x.detach().clone().requires_grad_(True)
    torch.relu(leaf).sum().backward()
    return leaf.grad  # type: ignore[return-value]


@bug("sigmoid' as s * (1 - s)", replaces="sigmoid_grad",
     fails=("q4/no_nan_and_full_relative_accuracy_for_large_x",))
def sigmoid_as_s_1_s(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s * (1 - s)


@bug("MSE gradient without the mean", replaces="mse_grad",
     fails=("q5/vectors_of_length_7_the_mean_divides_by_7", "q5/2x3_batch_the_mean_is_over_all_6_entries"))
def mse_gradient_without_the_mean(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    return 2 * (y_pred - y_true)


@bug("MSE gradient divided by the number of rows, not of entries", replaces="mse_grad",
     fails=("q5/2x3_batch_the_mean_is_over_all_6_entries",))
def mse_gradient_divided_by_the_number(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    return 2 * (y_pred - y_true) / len(y_pred)


@bug("chain rule without the factor 2", replaces="linear_model_grads",
     fails=("q6",))
def chain_rule_without_the_factor_2(w: float, b: float, x: float, y: float) -> tuple[float, float]:
    r = w * x + b - y
    return float(r * x), float(r)


@bug("cross-entropy gradient not divided by the batch", replaces="softmax_cross_entropy_grad",
     fails=("q7/batch_of_4_over_5_classes_divides_by_the_batch_size",
           "q7/float32_logits_give_a_float32_gradient"))
def cross_entropy_gradient_not_divided(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    onehot = torch.nn.functional.one_hot(target, logits.shape[1]).to(logits.dtype)
    return torch.softmax(logits, dim=1) - onehot


@bug("cross-entropy gradient from a naive softmax that overflows", replaces="softmax_cross_entropy_grad",
     fails=("q7/large_logits_1000_1001_1002_give_no_nan",))
def cross_entropy_gradient_from_a_naive(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    e = torch.exp(logits)
    p = e / e.sum(dim=1, keepdim=True)
    onehot = torch.nn.functional.one_hot(target, logits.shape[1]).to(logits.dtype)
    return (p - onehot) / logits.shape[0]


@bug("gradient check that always answers 0", replaces="gradient_check",
     fails=("q8",))
def gradient_check_that_always_answers_0(f: Callable, x: torch.Tensor, h: float = 1e-6) -> float:
    return 0.0


@bug("absolute instead of relative error", replaces="gradient_check",
     fails=("q8",))
def absolute_instead_of_relative_error(f: Callable, x: torch.Tensor, h: float = 1e-6) -> float:
    leaf = x.detach().clone().requires_grad_(True)
    (a,) = torch.autograd.grad(f(leaf), leaf)
    n = torch.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in torch.eye(len(x), dtype=x.dtype)])
    return float((a - n).abs().max())


@bug("relative error divided by the numerical gradient only", replaces="gradient_check",
     fails=("q8/a_random_point_in_6_dimensions_a_correct_backward_passes_and",
           "q8/the_error_of_a_wrong_backward_at_a_random_point_in_5_dimensi",
           "q8/a_coordinate_that_f_ignores_counts_as_0_no_nan_and_a_wrong_b"))
def relative_error_divided_by_the(f: Callable, x: torch.Tensor, h: float = 1e-6) -> float:
    leaf = x.detach().clone().requires_grad_(True)
    (a,) = torch.autograd.grad(f(leaf), leaf)
    n = torch.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in torch.eye(len(x), dtype=x.dtype)])
    return float(((a - n).abs() / n.abs().clamp_min(1e-12)).max())


# Perturbing x in place and adding h back does not give x back bit for bit: the caller's
# tensor is changed, and every case of the question is lost.
@bug("gradient check that nudges x in place and restores it by adding h back", replaces="gradient_check",
     fails=("q8",))
def gradient_check_that_nudges_x_in(f: Callable, x: torch.Tensor, h: float = 1e-6) -> float:
    leaf = x.detach().clone().requires_grad_(True)
    (a,) = torch.autograd.grad(f(leaf), leaf)
    n = torch.zeros_like(x)
    for i in range(len(x)):
        x[i] += h
        plus = f(x)
        x[i] -= 2 * h
        minus = f(x)
        x[i] += h
        n[i] = (plus - minus) / (2 * h)
    return float(((a - n).abs() / torch.maximum(a.abs(), n.abs()).clamp_min(1e-12)).max())

# Correct answers written differently from the reference: they keep full marks.


@alternative("forward difference of the values as floats", replaces="numerical_derivative")
def forward_difference_of_the_values_as(f: Callable, x: float, h: float = 1e-5) -> float:
    here, ahead = float(f(x)), float(f(x + h))
    return (ahead - here) / h


@alternative("sigmoid' from exp(-|x|)", replaces="sigmoid_grad")
def sigmoid_from_exp_x(x: torch.Tensor) -> torch.Tensor:
    e = torch.exp(-x.abs())
    return e / (1 + e) ** 2


@alternative("softmax cross-entropy gradient through log_softmax", replaces="softmax_cross_entropy_grad")
def softmax_cross_entropy_gradient(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p = torch.log_softmax(logits, dim=1).exp()
    p[torch.arange(len(target)), target] -= 1
    return p / len(target)


@alternative("gradient check with copies of x and a stacked floor", replaces="gradient_check")
def gradient_check_with_copies_of_x_and(f: Callable, x: torch.Tensor, h: float = 1e-6) -> float:
    leaf = x.detach().clone().requires_grad_(True)
    f(leaf).backward()
    a = leaf.grad
    n = torch.empty_like(x)
    for i in range(x.numel()):
        plus, minus = x.clone(), x.clone()
        plus[i] += h
        minus[i] -= h
        n[i] = (f(plus) - f(minus)) / (2 * h)
    scale = torch.stack([a.abs(), n.abs(), torch.full_like(a, 1e-12)]).max(dim=0).values  # type: ignore[union-attr, arg-type]
    return ((a - n).abs() / scale).max().item()  # type: ignore[operator]
