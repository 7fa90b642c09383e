"""Reference solutions for hw01_derivatives: derivative basics.

Each function is a stub in the student notebook; its body here is the reference answer.
"""

from typing import Callable

import torch


def numerical_derivative(f: Callable, x: float, h: float = 1e-5) -> float:
    r"""Approximate $f'(x)$ by the forward difference $\dfrac{f(x+h) - f(x)}{h}$ with the given $h$.

    `f` takes a float and returns a float or a one-element tensor; return a Python float.
    """
    return float((f(x + h) - f(x)) / h)


def central_difference(f: Callable, x: float, h: float = 1e-5) -> float:
    r"""Approximate $f'(x)$ by the central difference $\dfrac{f(x+h) - f(x-h)}{2h}$ with the given $h$.

    `f` takes a float and returns a float or a one-element tensor; return a Python float.
    """
    return float((f(x + h) - f(x - h)) / (2 * h))


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    r"""The derivative of $\mathrm{ReLU}(x) = \max(0, x)$, elementwise, with the value $0$ at $x = 0$
    (PyTorch's convention). Return a tensor of `x`'s shape and dtype.
    """
    return (x > 0).to(x.dtype)


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    r"""The derivative $\sigma'(x)$ of the sigmoid $\sigma(x) = 1 / (1 + e^{-x})$, elementwise.

    Return a tensor of `x`'s shape and dtype, accurate in *relative* terms for large $|x|$
    (where $\sigma'(x)$ is tiny but not 0) and never NaN.
    """
    return torch.sigmoid(x) * torch.sigmoid(-x)


def mse_grad(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    r"""The gradient $\partial L / \partial \hat y$ of the mean squared error
    $L = \frac{1}{n}\sum_i (\hat y_i - y_i)^2$, the mean over all $n$ entries of `y_pred`.

    Return a tensor of `y_pred`'s shape.
    """
    return 2 * (y_pred - y_true) / y_pred.numel()


def linear_model_grads(w: float, b: float, x: float, y: float) -> tuple[float, float]:
    r"""The gradients $(\partial L/\partial w,\ \partial L/\partial b)$ of the squared error
    $L = (wx + b - y)^2$ of the model $\hat y = wx + b$, as two Python floats.
    """
    residual = w * x + b - y
    return float(2 * residual * x), float(2 * residual)


def softmax_cross_entropy_grad(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""The gradient with respect to the logits of the mean cross-entropy over a batch,
    $L = -\frac{1}{N}\sum_{n=1}^{N} \log \mathrm{softmax}(z_n)_{t_n}$.

    `logits` has shape `(N, C)`, `target` holds the classes $t_n$ (int64, shape `(N,)`).
    Return a tensor of `logits`' shape; no overflow for logits such as $[1000, 1001, 1002]$.
    """
    n, c = logits.shape
    onehot = torch.nn.functional.one_hot(target, c).to(logits.dtype)
    return (torch.softmax(logits, dim=1) - onehot) / n


def gradient_check(f: Callable, x: torch.Tensor, h: float = 1e-6) -> float:
    r"""The largest relative error $\max_i |a_i - n_i| / \max(|a_i|, |n_i|, 10^{-12})$ between
    autograd's gradient $a$ of the scalar function $f$ at $x$ and its central-difference
    gradient $n$ with step $h$, as a Python float.

    The floor $10^{-12}$ makes an entry where both are 0 count as 0. Leave `x` unchanged.
    """
    x = x.detach()
    leaf = x.clone().requires_grad_(True)
    (autograd,) = torch.autograd.grad(f(leaf), leaf)
    numeric = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step.view(-1)[i] = h
        numeric.view(-1)[i] = (f(x + step) - f(x - step)) / (2 * h)
    scale = torch.maximum(autograd.abs(), numeric.abs()).clamp_min(1e-12)
    return float(((autograd - numeric).abs() / scale).max())
