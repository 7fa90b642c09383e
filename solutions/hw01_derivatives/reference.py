"""Reference solutions for hw01_derivatives: derivative basics.

Each function is a stub in the student notebook; its body here is the reference answer.
"""

from typing import Callable

import torch


def numerical_derivative(f: Callable, x: float, h: float = 1e-5) -> float:
    r"""Forward difference $f'(x) \approx \dfrac{f(x+h) - f(x)}{h}$, error $O(h)$."""
    return float((f(x + h) - f(x)) / h)


def central_difference(f: Callable, x: float, h: float = 1e-5) -> float:
    r"""Central difference $f'(x) \approx \dfrac{f(x+h) - f(x-h)}{2h}$, error $O(h^2)$."""
    return float((f(x + h) - f(x - h)) / (2 * h))


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    r"""Elementwise $\mathrm{ReLU}'(x) = 1$ if $x > 0$ else $0$ (0 at $x = 0$, as PyTorch)."""
    return (x > 0).to(x.dtype)


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    r"""Elementwise $\sigma'(x) = \sigma(x)(1 - \sigma(x)) = \sigma(x)\,\sigma(-x)$.

    The second form never subtracts two numbers close to 1, so it keeps full relative
    accuracy for large $|x|$ where $1 - \sigma(x)$ rounds to 0.
    """
    return torch.sigmoid(x) * torch.sigmoid(-x)


def mse_grad(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    r"""Gradient of $L = \frac{1}{n}\sum_i (\hat y_i - y_i)^2$: $\frac{2}{n}(\hat y - y)$."""
    return 2 * (y_pred - y_true) / y_pred.numel()


def linear_model_grads(w: float, b: float, x: float, y: float) -> tuple[float, float]:
    r"""For $L = (wx + b - y)^2$: $\partial L/\partial w = 2(wx+b-y)\,x$, $\partial L/\partial b = 2(wx+b-y)$."""
    residual = w * x + b - y
    return float(2 * residual * x), float(2 * residual)


def softmax_cross_entropy_grad(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Gradient of the mean cross-entropy over a batch: $(\mathrm{softmax}(z) - \mathrm{onehot}(t)) / N$."""
    n, c = logits.shape
    onehot = torch.nn.functional.one_hot(target, c).to(logits.dtype)
    return (torch.softmax(logits, dim=1) - onehot) / n


def gradient_check(f: Callable, x: torch.Tensor, h: float = 1e-6) -> float:
    r"""Largest relative error $\max_i |a_i - n_i| / \max(|a_i|, |n_i|)$ between autograd's
    gradient $a$ and the central-difference gradient $n$ of a scalar $f$ at $x$.

    Entries where both are 0 count as 0 (the denominator is floored at 1e-12).
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
