"""Reference solutions for hw02_gradients: the gradient, gradient descent and matrix calculus.

Each function is a stub in the student notebook; its body here is the reference answer.
"""

from typing import Callable

import torch


def numerical_gradient(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    r"""Central-difference gradient of a scalar function $f: \mathbb{R}^n \to \mathbb{R}$ at $x$.

    Entry $i$ nudges only coordinate $i$, by $\pm h$ along the unit vector $e_i$:
    $$\frac{\partial f}{\partial x_i}(x) \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}.$$
    Returns a tensor of shape `(n,)` and `x`'s dtype; `x` itself is left unchanged.
    """
    grad = torch.empty_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def gradient_descent(grad_f: Callable, x0: torch.Tensor, lr: float, steps: int) -> torch.Tensor:
    r"""Run `steps` updates $x_{t+1} = x_t - \eta \, \nabla f(x_t)$ from $x_0$, with $\eta$ = `lr`.

    `grad_f(x)` returns $\nabla f(x)$. Returns the whole trajectory, shape `(steps + 1, n)`:
    row 0 is $x_0$ and row $t$ is $x_t$. `x0` itself is left unchanged.
    """
    xs = [x0.clone()]
    for _ in range(steps):
        xs.append(xs[-1] - lr * grad_f(xs[-1]))
    return torch.stack(xs)


def steepest_ascent_direction(g: torch.Tensor) -> torch.Tensor:
    r"""The unit vector $g / \lVert g \rVert_2$ along the gradient $g$: the direction in which $f$
    grows fastest. The zero vector (a stationary point) has no direction: return zeros, not NaN.
    """
    norm = torch.linalg.vector_norm(g)
    if norm == 0:
        return torch.zeros_like(g)
    return g / norm


def quadratic_form_grad(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Gradient of the quadratic form $f(x) = x^\top A x$ for any square $A$ (symmetric or not):
    $$\nabla f(x) = (A + A^\top)\, x.$$
    """
    return (A + A.T) @ x


def least_squares_grad(Phi: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    r"""Gradient of the least-squares loss $L(\theta) = \lVert y - \Phi \theta \rVert^2$ with respect
    to $\theta$, for $\Phi \in \mathbb{R}^{N \times D}$, $y \in \mathbb{R}^N$, $\theta \in \mathbb{R}^D$.

    With the error $e = y - \Phi\theta$, the chain rule gives $\partial L / \partial e = 2 e^\top$ and
    $\partial e / \partial \theta = -\Phi$, so
    $$\nabla_\theta L = -2\, \Phi^\top (y - \Phi \theta) \in \mathbb{R}^D.$$
    """
    return -2 * Phi.T @ (y - Phi @ theta)
