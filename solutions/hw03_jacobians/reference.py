"""Reference solutions for hw03_jacobians: Jacobians, the chain rule, VJP and JVP.

Each function is a stub in the student notebook; its body here is the reference answer.
Every Jacobian is in numerator layout: ``J[i, j] = d f_i / d x_j``, shape ``(m, n)`` for
``f: R^n -> R^m``.
"""

from typing import Callable

import torch


def numerical_jacobian(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    r"""The central-difference Jacobian of $f: \mathbb{R}^n \to \mathbb{R}^m$ at the 1-D tensor $x$,
    column by column:
    $$J_{:, j} \approx \frac{f(x + h e_j) - f(x - h e_j)}{2h}.$$

    Return a tensor of shape $(m, n)$ with $J_{ij} \approx \partial f_i / \partial x_j$ (numerator
    layout). `f` is a black box: only its values are available. Leave `x` unchanged.
    """
    x = x.detach()
    columns = []
    for j in range(x.numel()):
        step = torch.zeros_like(x)
        step[j] = h
        columns.append(((f(x + step) - f(x - step)) / (2 * h)).reshape(-1))
    return torch.stack(columns, dim=1)


def softmax_jacobian(z: torch.Tensor) -> torch.Tensor:
    r"""The exact Jacobian $J_{ij} = \partial p_i / \partial z_j$ of $p = \mathrm{softmax}(z)$, for a
    1-D tensor of logits $z$ of length $C$.

    Return a $(C, C)$ tensor of `z`'s dtype, with no NaN for logits like $[1000, 1001, 1002]$.
    """
    p = torch.softmax(z, dim=0)
    return torch.diag(p) - torch.outer(p, p)


def composed_jacobian(f: Callable, g: Callable, x: torch.Tensor) -> torch.Tensor:
    r"""The Jacobian of $g \circ f$ at $x$, for $f: \mathbb{R}^n \to \mathbb{R}^m$ and
    $g: \mathbb{R}^m \to \mathbb{R}^k$, by the chain rule: the product of the two Jacobians, each
    at the right point and in the right order.

    `f` and `g` are layers that know their own Jacobian, as in a framework without autograd:
    `f(x)` returns the pair `(f(x), J_f(x))` with `J_f(x)` of shape $(m, n)$, and `g(y)` the pair
    `(g(y), J_g(y))` with `J_g(y)` of shape $(k, m)$. Their values carry no autograd graph, so the
    chain rule is the only way to combine them.

    Return a tensor of shape $(k, n)$.
    """
    y, J_f = f(x)
    _, J_g = g(y)
    return J_g @ J_f


def vjp(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""The vector-Jacobian product $v^\top J_f(x)$ for $f: \mathbb{R}^n \to \mathbb{R}^m$ and
    $v \in \mathbb{R}^m$, without forming the $m \times n$ matrix $J_f(x)$.

    Return a tensor of shape $(n,)$ and `x`'s dtype. Leave `x` unchanged.
    """
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x), x, grad_outputs=v)
    return g


def jvp(f: Callable, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    r"""The Jacobian-vector product $J_f(x)\,u$ for $f: \mathbb{R}^n \to \mathbb{R}^m$ and
    $u \in \mathbb{R}^n$, without forming the $m \times n$ matrix $J_f(x)$.

    Return a tensor of shape $(m,)$ and `x`'s dtype. Leave `x` unchanged.
    """
    x = x.detach().requires_grad_(True)
    y = f(x)
    w = torch.zeros_like(y, requires_grad=True)
    (g,) = torch.autograd.grad(y, x, grad_outputs=w, create_graph=True)
    (Ju,) = torch.autograd.grad(g, w, grad_outputs=u)
    return Ju


def linear_layer_backward(W: torch.Tensor, x: torch.Tensor,
                          grad_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The backward pass of the layer $y = W x$, $W \in \mathbb{R}^{m \times n}$: given the gradient
    $\partial L / \partial y \in \mathbb{R}^m$ of a scalar loss $L$, the gradients $\partial L / \partial W$
    (shaped like $W$) and $\partial L / \partial x$ (shaped like $x$).

    Return the pair `(grad_W, grad_x)`.
    """
    return torch.outer(grad_y, x), W.T @ grad_y
