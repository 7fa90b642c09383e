"""Reference solutions for hw04_hessians: curvature and second-order methods.

Each function is a stub in the student notebook; its body here is the reference answer.
"""

import math
from typing import Callable

import torch


def numerical_hessian(f: Callable, x: torch.Tensor, h: float = 1e-4) -> torch.Tensor:
    r"""The Hessian of a scalar $f$ at the 1-D tensor $x$ by central differences of its gradient:
    the matrix $A$ whose column $j$ is
    $$A_{:, j} = \frac{\nabla f(x + h e_j) - \nabla f(x - h e_j)}{2h},$$
    with each gradient $\nabla f$ computed by autograd, then symmetrised: $H = (A + A^\top)/2$.

    Return an $(n, n)$ tensor of `x`'s dtype. Leave `x` unchanged.
    """
    x = x.detach()

    def gradient(point):
        point = point.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(point), point)
        return g

    columns = []
    for j in range(x.numel()):
        step = torch.zeros_like(x)
        step[j] = h
        columns.append((gradient(x + step) - gradient(x - step)) / (2 * h))
    a = torch.stack(columns, dim=1)
    return (a + a.T) / 2


def taylor_second_order(f: Callable, x0: torch.Tensor, dx: torch.Tensor) -> float:
    r"""The second-order Taylor model of $f$ around $x_0$, evaluated at the step $\Delta x$:

    $$f(x_0) + \nabla f(x_0)^\top \Delta x + \tfrac{1}{2}\,\Delta x^\top H(x_0)\, \Delta x,$$

    with the gradient and the Hessian (or $H \Delta x$) from autograd, not finite differences.
    Return a Python float.
    """
    x = x0.detach().clone().requires_grad_(True)
    value = f(x)
    (g,) = torch.autograd.grad(value, x, create_graph=True)
    (h_dx,) = torch.autograd.grad(g @ dx, x)  # H dx, without forming H
    return float(value.detach() + g.detach() @ dx + 0.5 * dx @ h_dx)


def classify_critical_point(H: torch.Tensor, tol: float = 1e-8) -> str:
    r"""Classify a critical point from its symmetric Hessian $H$ by the signs of its eigenvalues
    $\lambda_i$, counting $\lambda_i > \mathrm{tol}$ as positive, $\lambda_i < -\mathrm{tol}$ as
    negative and the others as zero. Return one of the strings:

    - ``"saddle"`` if some eigenvalue is positive and some negative (even if another is zero);
    - otherwise ``"degenerate"`` if some eigenvalue is zero (the second-order test cannot tell);
    - otherwise ``"minimum"`` (all positive) or ``"maximum"`` (all negative).
    """
    eigenvalues = torch.linalg.eigvalsh(H)
    positive = bool((eigenvalues > tol).any())
    negative = bool((eigenvalues < -tol).any())
    if positive and negative:
        return "saddle"
    if bool((eigenvalues.abs() <= tol).any()):
        return "degenerate"
    return "minimum" if positive else "maximum"


def hessian_condition(H: torch.Tensor) -> float:
    r"""The condition number $\kappa = \dfrac{\max_i |\lambda_i|}{\min_i |\lambda_i|}$ of a symmetric
    $n \times n$ matrix $H$ with eigenvalues $\lambda_i$, as a Python float.

    Return ``math.inf`` when $H$ is singular. In floating point an eigenvalue is rarely exactly 0,
    so "singular" means: $\min_i |\lambda_i| \le n\,\varepsilon \max_i |\lambda_i|$, with
    $\varepsilon$ = `torch.finfo(H.dtype).eps` (the tolerance of `torch.linalg.matrix_rank`).
    The zero matrix is singular.
    """
    magnitudes = torch.linalg.eigvalsh(H).abs()
    smallest, largest = float(magnitudes.min()), float(magnitudes.max())
    if smallest <= H.shape[0] * torch.finfo(H.dtype).eps * largest:
        return math.inf
    return largest / smallest


def newton_step(g: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    r"""The Newton step $\Delta x = -H^{-1} g$ for a gradient $g$ and an invertible symmetric Hessian
    $H$ (positive definite or indefinite), computed by solving the linear system $H\,\Delta x = -g$,
    never by forming $H^{-1}$.

    Return a tensor of `g`'s shape.
    """
    return torch.linalg.solve(H, -g)


def hvp(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""The Hessian-vector product $H(x)\,v$ of a scalar $f$ at $x$, without forming the
    $n \times n$ Hessian: $O(n)$ time and memory when $f$ costs $O(n)$.

    Return a tensor of `x`'s shape. Leave `x` unchanged.
    """
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    (hv,) = torch.autograd.grad(g @ v, x)
    return hv


def adam_step(theta: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int,
              lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
              eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""One Adam update at step $t \ge 1$ (as ``torch.optim.Adam``, no weight decay):

    $$m_t = \beta_1 m_{t-1} + (1-\beta_1)\, g, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g^2,$$
    $$\hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad
    \theta_t = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$

    Return new tensors `(theta, m, v)`, matching `torch.optim.Adam`; leave the inputs unchanged.
    """
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return theta - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v


def momentum_step(x: torch.Tensor, g: torch.Tensor, v: torch.Tensor, lr: float, beta: float,
                  nesterov: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One step of gradient descent with momentum (as ``torch.optim.SGD`` with ``momentum=beta``,
    ``dampening=0``): the velocity sums the gradients, decayed by $\beta$ per step,

    $$v_{\text{new}} = \beta v + g, \qquad x_{\text{new}} = x - \eta\, v_{\text{new}},$$

    or, with ``nesterov=True``, the step looks ahead along the new velocity:
    $x_{\text{new}} = x - \eta\,(g + \beta\, v_{\text{new}})$. A zero $v$ is the first step.

    Return new tensors `(x_new, v_new)`; leave the inputs unchanged.
    """
    v_new = beta * v + g
    step = g + beta * v_new if nesterov else v_new
    return x - lr * step, v_new


def rmsprop_step(x: torch.Tensor, g: torch.Tensor, s: torch.Tensor, lr: float, alpha: float = 0.99,
                 eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One RMSProp step (as ``torch.optim.RMSprop``, no momentum, not centered): a moving average
    of the squared gradients sets each coordinate's scale,

    $$s_{\text{new}} = \alpha s + (1 - \alpha)\, g^2, \qquad
    x_{\text{new}} = x - \eta\, \frac{g}{\sqrt{s_{\text{new}}} + \epsilon}.$$

    Return new tensors `(x_new, s_new)`; leave the inputs unchanged.
    """
    s_new = alpha * s + (1 - alpha) * g * g
    return x - lr * g / (torch.sqrt(s_new) + eps), s_new


def adagrad_step(x: torch.Tensor, g: torch.Tensor, s: torch.Tensor, lr: float,
                 eps: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One AdaGrad step (as ``torch.optim.Adagrad``, no decay of any kind): the sum of all squared
    gradients so far sets each coordinate's scale, so steps only ever shrink,

    $$s_{\text{new}} = s + g^2, \qquad x_{\text{new}} = x - \eta\, \frac{g}{\sqrt{s_{\text{new}}} + \epsilon}.$$

    Return new tensors `(x_new, s_new)`; leave the inputs unchanged.
    """
    s_new = s + g * g
    return x - lr * g / (torch.sqrt(s_new) + eps), s_new
