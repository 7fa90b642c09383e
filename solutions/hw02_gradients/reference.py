"""Reference solutions for hw02_gradients: the gradient, gradient descent and matrix calculus.

Each function is a stub in the student notebook; its body here is the reference answer.
"""

from typing import Callable

import torch


def numerical_gradient(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    r"""The central-difference gradient of a scalar function $f: \mathbb{R}^n \to \mathbb{R}$ at the
    1-D tensor $x$: entry $i$ nudges only coordinate $i$, by $\pm h$ along the unit vector $e_i$,
    $$\frac{\partial f}{\partial x_i}(x) \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}.$$

    Return a tensor of shape `(n,)` and `x`'s dtype. Leave `x` unchanged.
    """
    grad = torch.empty_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def gradient_descent(grad_f: Callable, x0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    r"""Run `steps` updates $x_{t+1} = x_t - \eta \, \nabla f(x_t)$ from $x_0$, with $\eta$ = `lr`.

    `grad_f(x)` returns $\nabla f(x)$. Return the whole trajectory, a tensor of shape
    `(steps + 1, n)`: row 0 is $x_0$ and row $t$ is $x_t$. Leave `x0` unchanged.
    """
    xs = [x0.clone()]
    for _ in range(steps):
        xs.append(xs[-1] - lr * grad_f(xs[-1]))
    return torch.stack(xs)


def steepest_ascent_direction(g: torch.Tensor) -> torch.Tensor:
    r"""The unit vector $g / \lVert g \rVert_2$ along the gradient $g$ (a 1-D tensor).

    The zero vector has no direction: return zeros of `g`'s shape and dtype, not NaN.
    """
    norm = torch.linalg.vector_norm(g)
    if norm == 0:
        return torch.zeros_like(g)
    return g / norm


def quadratic_form_grad(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The gradient $\nabla f(x)$ of the quadratic form $f(x) = x^\top A x$, for any square $A$
    (symmetric or not) and a 1-D tensor $x$. Return a tensor of `x`'s shape.
    """
    return (A + A.T) @ x


def least_squares_grad(Phi: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    r"""The gradient $\nabla_\theta L$ of the least-squares loss $L(\theta) = \lVert y - \Phi \theta \rVert^2$,
    for $\Phi \in \mathbb{R}^{N \times D}$, $y \in \mathbb{R}^N$ and $\theta \in \mathbb{R}^D$.

    Return a tensor of shape `(D,)`.
    """
    return -2 * Phi.T @ (y - Phi @ theta)
