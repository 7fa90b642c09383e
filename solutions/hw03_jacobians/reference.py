"""Reference solutions for hw03_jacobians: Jacobians, the chain rule, VJP and JVP.

Each function is a stub in the student notebook; its body here is the reference answer.
Every Jacobian is in numerator layout: ``J[i, j] = d f_i / d x_j``, shape ``(m, n)`` for
``f: R^n -> R^m``.
"""

from typing import Callable

import torch


def numerical_jacobian(f: Callable, x: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    r"""Central-difference Jacobian of $f: \mathbb{R}^n \to \mathbb{R}^m$ at the 1-D tensor $x$.

    Column $j$ is how every output moves when only $x_j$ moves:
    $$J_{:, j} \approx \frac{f(x + h e_j) - f(x - h e_j)}{2h},$$
    so the result has shape $(m, n)$ with $J_{ij} = \partial f_i / \partial x_j$.
    """
    x = x.detach()
    columns = []
    for j in range(x.numel()):
        step = torch.zeros_like(x)
        step[j] = h
        columns.append(((f(x + step) - f(x - step)) / (2 * h)).reshape(-1))
    return torch.stack(columns, dim=1)


def softmax_jacobian(z: torch.Tensor) -> torch.Tensor:
    r"""Jacobian of $p = \mathrm{softmax}(z)$ for a 1-D tensor of logits $z$:
    $$\frac{\partial p_i}{\partial z_j} = p_i(\delta_{ij} - p_j),
    \qquad J = \mathrm{diag}(p) - p\,p^\top.$$

    Computed from a stable softmax, so logits like $[1000, 1001, 1002]$ give no NaN.
    """
    p = torch.softmax(z, dim=0)
    return torch.diag(p) - torch.outer(p, p)


def composed_jacobian(f: Callable, g: Callable, x: torch.Tensor) -> torch.Tensor:
    r"""Jacobian of $g \circ f$ at $x$ by the chain rule, for $f: \mathbb{R}^n \to \mathbb{R}^m$
    and $g: \mathbb{R}^m \to \mathbb{R}^k$:
    $$J_{g \circ f}(x) = J_g\big(f(x)\big)\, J_f(x) \in \mathbb{R}^{k \times n}.$$
    """
    y = f(x).detach()
    J_f = torch.autograd.functional.jacobian(f, x)
    J_g = torch.autograd.functional.jacobian(g, y)
    return J_g @ J_f


def vjp(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""Vector-Jacobian product $v^\top J_f(x)$, shape $(n,)$, for $v \in \mathbb{R}^m$.

    One backward pass: autograd's ``grad`` with ``grad_outputs=v`` computes $J^\top v$ directly,
    in about the cost of evaluating $f$, never forming the $m \times n$ matrix $J$.
    """
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x), x, grad_outputs=v)
    return g


def jvp(f: Callable, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    r"""Jacobian-vector product $J_f(x)\,u$, shape $(m,)$, for $u \in \mathbb{R}^n$.

    The double-VJP trick: $w \mapsto J^\top w$ is linear in $w$, so its own VJP with $u$ is
    $(J^\top)^\top u = J u$. Two backward passes, never forming $J$.
    """
    x = x.detach().requires_grad_(True)
    y = f(x)
    w = torch.zeros_like(y, requires_grad=True)
    (g,) = torch.autograd.grad(y, x, grad_outputs=w, create_graph=True)
    (Ju,) = torch.autograd.grad(g, w, grad_outputs=u)
    return Ju


def linear_layer_backward(W: torch.Tensor, x: torch.Tensor,
                          grad_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Backward pass of $y = W x$ with $W \in \mathbb{R}^{m \times n}$, given
    $\partial L / \partial y \in \mathbb{R}^m$:
    $$\frac{\partial L}{\partial W} = \frac{\partial L}{\partial y}\, x^\top \in \mathbb{R}^{m \times n},
    \qquad \frac{\partial L}{\partial x} = W^\top \frac{\partial L}{\partial y} \in \mathbb{R}^n.$$
    Returns ``(grad_W, grad_x)``.
    """
    return torch.outer(grad_y, x), W.T @ grad_y
