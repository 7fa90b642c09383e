"""Reference solutions for hw04_hessians: curvature and second-order methods.

Each function is a stub in the student notebook; its body here is the reference answer.
"""

import math
from typing import Callable

import torch


def numerical_hessian(f: Callable, x: torch.Tensor, h: float = 1e-4) -> torch.Tensor:
    r"""Hessian of a scalar $f$ at $x$ (shape $(n,)$) by central differences of its gradient.

    Column $j$ is $\dfrac{\nabla f(x + h e_j) - \nabla f(x - h e_j)}{2h}$, with each gradient
    $\nabla f$ computed by autograd; the result $A$ is then symmetrised, $H = (A + A^\top)/2$,
    since a true Hessian is symmetric (Schwarz) and the two halves of $A$ carry different
    truncation errors. Returns an $(n, n)$ tensor of $x$'s dtype.
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
    r"""Second-order Taylor model of $f$ around $x_0$, evaluated at the step $\Delta x$:

    $$f(x_0) + \nabla f(x_0)^\top \Delta x + \tfrac{1}{2}\,\Delta x^\top H(x_0)\, \Delta x,$$

    with the gradient and the Hessian from autograd (exact, no finite differences).
    Returns a Python float.
    """
    x = x0.detach().clone().requires_grad_(True)
    value = f(x)
    (g,) = torch.autograd.grad(value, x, create_graph=True)
    (h_dx,) = torch.autograd.grad(g @ dx, x)  # H dx, without forming H
    return float(value.detach() + g.detach() @ dx + 0.5 * dx @ h_dx)


def classify_critical_point(H: torch.Tensor, tol: float = 1e-8) -> str:
    r"""Classify a critical point from its (symmetric) Hessian $H$ by the signs of its eigenvalues.

    - ``"saddle"``: some $\lambda_i > \mathrm{tol}$ and some $\lambda_j < -\mathrm{tol}$
      (a sign conflict is a saddle even if another eigenvalue is 0);
    - ``"degenerate"``: otherwise, if some $|\lambda_i| \le \mathrm{tol}$ (the second-order
      test is inconclusive);
    - ``"minimum"`` if every $\lambda_i > \mathrm{tol}$, ``"maximum"`` if every $\lambda_i < -\mathrm{tol}$.

    Uses the symmetric eigensolver ``torch.linalg.eigvalsh`` (real eigenvalues, in order).
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
    r"""Condition number $\kappa = \dfrac{\max_i |\lambda_i|}{\min_i |\lambda_i|}$ of a symmetric $H$.

    Absolute values: the ratio of the largest to the smallest curvature, whatever their signs,
    so $\kappa \ge 1$. Returns ``math.inf`` when the smallest $|\lambda_i|$ is exactly 0
    (singular $H$). Returns a Python float.
    """
    magnitudes = torch.linalg.eigvalsh(H).abs()
    smallest, largest = float(magnitudes.min()), float(magnitudes.max())
    if smallest == 0.0:
        return math.inf
    return largest / smallest


def newton_step(g: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    r"""Newton step $\Delta x = -H^{-1} g$, computed by solving $H\,\Delta x = -g$.

    Never forms $H^{-1}$: solving is cheaper ($n^3/3$ flops for an LU factorisation against
    $n^3$ for the inverse) and more accurate. Returns a tensor of $g$'s shape.
    """
    return torch.linalg.solve(H, -g)


def hvp(f: Callable, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""Hessian-vector product $H(x)\,v = \nabla_x\big(\nabla f(x)^\top v\big)$ of a scalar $f$.

    Two backward passes (the second through the graph of the first, ``create_graph=True``):
    $O(n)$ time and memory when $f$ costs $O(n)$, never the $n \times n$ Hessian.
    Returns a tensor of $x$'s shape.
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

    Returns new tensors ``(theta, m, v)``; the inputs are left unchanged.
    """
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return theta - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v
