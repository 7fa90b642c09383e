"""hw01_derivatives: questions, points and test cases (public ones are the lecture notes' examples)."""

import math

import torch

from calc4ml_runtime.guards import AUTOGRAD_APIS
from course.build.spec import Call, Case, Question, randint, randn


# Fixtures: inputs that are functions. Module-level, torch and math only: their source is shipped.
# The functions given to the finite-difference questions are black boxes: they compute through
# Python floats, so that autograd, by any route, gets nothing from them.
def square(x):
    return float(x) ** 2


def cubic(x):
    x = float(x)
    return x ** 3 + 2 * x ** 2 + x


def sine(x):
    """Returns a one-element tensor (not a float)."""
    return torch.tensor(math.sin(float(x)), dtype=torch.float64)


def exp_minus_square(x):
    return torch.tensor(math.exp(-float(x) ** 2), dtype=torch.float64)


def sum_of_cubes(x):
    return (x ** 3).sum()


def cube_with_wrong_backward(x):
    """sum(x^3), but its backward claims the derivative is 2x: gradient_check must notice."""

    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t ** 3

        @staticmethod
        def backward(ctx, grad):
            (t,) = ctx.saved_tensors
            return grad * 2 * t

    return Cube.apply(x).sum()


def softplus_energy(x):
    return torch.nn.functional.softplus(x).sum() + (x[0] * x[-1]) ** 2


def softplus_with_drifting_backward(x):
    """sum(softplus(x)), whose backward multiplies the true derivative by 1 + x^2 / 10: the
    relative error differs from entry to entry (so the max, and its denominator, matter)."""

    class Softplus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return torch.nn.functional.softplus(t)

        @staticmethod
        def backward(ctx, grad):
            (t,) = ctx.saved_tensors
            return grad * torch.sigmoid(t) * (1 + t ** 2 / 10)

    return Softplus.apply(x).sum()


def cubes_without_the_second_coordinate(x):
    """x0^3 + x2^3: the second coordinate does not matter, so both gradients are exactly 0 there."""
    return x[0] ** 3 + x[2] ** 3


def verdicts(outputs, inputs):
    """What a gradient check is for: (the correct backward passes, the error it finds in the wrong one).

    The first call checks a correct gradient, the second a wrong one: a check that always
    answers 0 passes the first half and fails the second.
    """
    correct, wrong = outputs
    passes = isinstance(correct, float) and 0 <= correct < 1e-6
    return (passes, wrong)


def t(*values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


FINITE_DIFFERENCES = "use autograd (the question is to approximate the derivative from values of f)"
BY_HAND = "use autograd (derive the derivative by hand)"
CHECKED_POINT = t(1.5, -2.0, 0.5)

QUESTIONS = [
    Question("q1", "Forward difference", points=3, forbid=AUTOGRAD_APIS, because=FINITE_DIFFERENCES, cases=[
        Case("x^2 at x = 3 is about 6.00001", Call("numerical_derivative", square, 3.0),
             weight=2, public=True, tol="numerical", expected=6.00001),
        Case("x^3 + 2x^2 + x at x = 2 is about 21", Call("numerical_derivative", cubic, 2.0),
             weight=2, public=True, tol="numerical"),
        Case("uses the step h it is given", Call("numerical_derivative", square, 3.0, h=0.5),
             weight=3, tol="numerical", expected=6.5),
        Case("sin at x = 0.7 (f returns a one-element tensor)", Call("numerical_derivative", sine, 0.7),
             weight=2, tol="numerical"),
        Case("exp(-x^2) at x = -1.3 with h = 1e-4",
             Call("numerical_derivative", exp_minus_square, -1.3, h=1e-4), weight=3, tol="numerical"),
    ]),
    Question("q2", "Central difference", points=3, forbid=AUTOGRAD_APIS, because=FINITE_DIFFERENCES, cases=[
        Case("x^2 at x = 3 is 6", Call("central_difference", square, 3.0),
             weight=2, public=True, tol="numerical", expected=6.0),
        Case("x^3 + 2x^2 + x at x = 2 is 21", Call("central_difference", cubic, 2.0),
             weight=2, public=True, tol="numerical", expected=21.0),
        Case("uses the step h it is given (error h^2 = 0.01 on a cubic)",
             Call("central_difference", cubic, 2.0, h=0.1), weight=3, tol="numerical", expected=21.01),
        Case("sin at x = 0.7 (f returns a one-element tensor)", Call("central_difference", sine, 0.7),
             weight=2, tol="numerical"),
        Case("exp(-x^2) at x = -1.3", Call("central_difference", exp_minus_square, -1.3),
             weight=3, tol="numerical"),
    ]),
    Question("q3", "ReLU derivative", points=2, forbid=AUTOGRAD_APIS, because=BY_HAND, cases=[
        Case("ReLU' at [-2, -1, 0, 1, 2]", Call("relu_grad", t(-2, -1, 0, 1, 2)),
             public=True, expected=t(0, 0, 0, 1, 1)),
        Case("0 at exactly x = 0, also for -0.0", Call("relu_grad", t(0.0, -0.0, 1e-300, -1e-300))),
        Case("random 4x5 matrix keeps its shape", Call("relu_grad", randn(11, 4, 5))),
        Case("float32 input gives float32 output", Call("relu_grad", t(-1.5, 0.0, 2.5, dtype=torch.float32)),
             tol="single"),
    ]),
    Question("q4", "Sigmoid derivative", points=4, forbid=AUTOGRAD_APIS, because=BY_HAND, cases=[
        Case("sigmoid' at [-3, 0, 3]", Call("sigmoid_grad", t(-3, 0, 3)),
             public=True, expected=t(0.045176659730912, 0.25, 0.045176659730912)),
        Case("random 3x4 matrix", Call("sigmoid_grad", randn(12, 3, 4))),
        Case("no NaN and full relative accuracy for large |x|", Call("sigmoid_grad", t(-800, -40, 40, 800)),
             tol="relative"),
        Case("float32 input gives float32 output", Call("sigmoid_grad", t(-1.0, 0.5, dtype=torch.float32)),
             tol="single"),
    ]),
    Question("q5", "MSE gradient", points=3, forbid=AUTOGRAD_APIS, because=BY_HAND, cases=[
        Case("y_pred 2.5, y_true 3 gives -1", Call("mse_grad", t(2.5), t(3.0)),
             public=True, expected=t(-1.0)),
        Case("vectors of length 7 (the mean divides by 7)", Call("mse_grad", randn(13, 7), randn(14, 7))),
        Case("2x3 batch: the mean is over all 6 entries", Call("mse_grad", randn(15, 2, 3), randn(16, 2, 3))),
    ]),
    Question("q6", "Gradients of a linear model", points=3, forbid=AUTOGRAD_APIS, because=BY_HAND, cases=[
        Case("w=2, b=1, x=3, y=10 gives (-18, -6)", Call("linear_model_grads", 2.0, 1.0, 3.0, 10.0),
             public=True, expected=(-18.0, -6.0)),
        Case("prediction above the target", Call("linear_model_grads", 0.5, 2.0, -4.0, -3.0)),
        Case("a negative input x", Call("linear_model_grads", 1.5, -0.25, -2.0, 1.0)),
    ]),
    Question("q7", "Softmax cross-entropy gradient", points=6, forbid=AUTOGRAD_APIS, because=BY_HAND, cases=[
        Case("logits [2, 1, 0.1], target 0", Call("softmax_cross_entropy_grad", t(2, 1, 0.1).reshape(1, 3),
                                                  torch.tensor([0])),
             public=True, expected=t(-0.34099886, 0.24243297, 0.09856589).reshape(1, 3)),
        Case("batch of 4 over 5 classes divides by the batch size",
             Call("softmax_cross_entropy_grad", randn(17, 4, 5), randint(18, 5, 4))),
        Case("large logits [1000, 1001, 1002] give no NaN",
             Call("softmax_cross_entropy_grad", t(1000, 1001, 1002).reshape(1, 3), torch.tensor([2]))),
        Case("float32 logits give a float32 gradient",
             Call("softmax_cross_entropy_grad", t(0.5, -1.0, 2.0, 0.0, 1.5, -0.5, dtype=torch.float32).reshape(2, 3),
                  torch.tensor([2, 0])), tol="single"),
    ]),
    Question("q8", "Gradient check", points=6, cases=[
        Case("sum(x^3) at [1.5, -2, 0.5]: a correct backward passes (error below 1e-6), "
             "a backward claiming 2x is caught (error 4/3)",
             [Call("gradient_check", sum_of_cubes, CHECKED_POINT),
              Call("gradient_check", cube_with_wrong_backward, CHECKED_POINT)],
             post=verdicts, public=True, tol="numerical", expected=(True, 4 / 3)),
        Case("a random point in 6 dimensions: a correct backward passes, and the error of one whose "
             "mistake differs from entry to entry",
             [Call("gradient_check", softplus_energy, randn(19, 6)),
              Call("gradient_check", softplus_with_drifting_backward, randn(19, 6))],
             post=verdicts, tol="numerical"),
        Case("the error of a wrong backward at a random point in 5 dimensions",
             Call("gradient_check", cube_with_wrong_backward, randn(20, 5)), tol="numerical"),
        Case("a coordinate that f ignores counts as 0 (no NaN), and a wrong backward is still caught",
             [Call("gradient_check", cubes_without_the_second_coordinate, t(1.5, 2.0, -0.5)),
              Call("gradient_check", cube_with_wrong_backward, t(1.5, 2.0, -0.5))],
             post=verdicts, tol="numerical"),
    ]),
]
