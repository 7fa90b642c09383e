"""Reference solutions for hw05_flows: change of variables and normalizing flows.

Each function is a stub in the student notebook; its body here is the reference answer.
"""

import math
from typing import Callable

import torch


def polar_jacobian_det(r: float, theta: float) -> float:
    r"""The determinant of the $2 \times 2$ Jacobian of the polar map
    $(r, \theta) \mapsto (r\cos\theta,\ r\sin\theta)$ at $(r, \theta)$, with
    $J_{ij} = \partial(\text{output } i) / \partial(\text{input } j)$, written down by hand.

    Return the *signed* determinant $ad - bc$ of $J = \begin{bmatrix} a & b \\ c & d \end{bmatrix}$
    (no absolute value; $r$ may be negative) as a Python float.
    """
    a, b = math.cos(theta), -r * math.sin(theta)
    c, d = math.sin(theta), r * math.cos(theta)
    return float(a * d - b * c)


def log_abs_det_jacobian(f: Callable, x: torch.Tensor) -> float:
    r"""$\log\lvert\det J_f(x)\rvert$ for a map $f: \mathbb{R}^n \to \mathbb{R}^n$ at $x$, as a Python float.

    The Jacobian may come from `torch.autograd.functional.jacobian`. Compute the logarithm
    stably: $\det J_f(x)$ itself may underflow to 0 or overflow to inf in float64 when
    $\log\lvert\det J_f(x)\rvert$ is an ordinary number, and it may be negative.
    """
    jacobian = torch.autograd.functional.jacobian(f, x)
    return float(torch.linalg.slogdet(jacobian).logabsdet)


def affine_flow_log_det(scale: torch.Tensor) -> float:
    r"""$\log\lvert\det J\rvert$ of the elementwise affine map $y = s \odot x + t$, as a Python float.

    `scale` ($s$) has shape `(d,)` and may have negative entries; the result must stay finite
    when $\prod_i s_i$ overflows or underflows float64.
    """
    return float(torch.log(scale.abs()).sum())


def affine_flow_log_prob(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    r"""The log-density $\log p_X(x)$ of each point $x$ under the flow $x = s \odot z + t$ with a
    standard normal base $z \sim \mathcal{N}(0, I_d)$, by the change of variables.

    `x` is a batch of $N$ points, shape `(N, d)`; `scale` ($s$) and `shift` ($t$) have shape
    `(d,)`, and the scales may be negative, tiny or huge (up to $10^{200}$). Return a tensor of
    shape `(N,)` with `x`'s dtype. Stay in logarithms throughout and never form a product of
    scales or a square of a scale (both overflow), so that every result is finite.
    """
    z = (x - shift) / scale
    d = x.shape[-1]
    log_base = -0.5 * (z ** 2).sum(dim=-1) - 0.5 * d * math.log(2 * math.pi)
    return log_base - torch.log(scale.abs()).sum()


def coupling_forward(x: torch.Tensor, s: Callable, t: Callable) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The affine coupling layer (RealNVP) on a batch `x` of shape `(N, d)`, and its
    log-determinant.

    Split each row at $k = \lfloor d/2 \rfloor$ (`k = d // 2`): $x_1$ = the first $k$ columns,
    $x_2$ = the other $d - k$. The layer is

    $$y_1 = x_1, \qquad y_2 = x_2 \odot \exp(s(x_1)) + t(x_1),$$

    where `s` and `t` map a batch of shape `(N, k)` to shape `(N, d - k)`. Return `(y, log_det)`:
    `y` of shape `(N, d)` (the columns $[y_1, y_2]$) and `log_det` of shape `(N,)`, the
    $\log\lvert\det J\rvert$ of the layer at each row. Leave `x` unchanged.
    """
    k = x.shape[-1] // 2
    x1, x2 = x[..., :k], x[..., k:]
    log_scale = s(x1)
    y2 = x2 * torch.exp(log_scale) + t(x1)
    return torch.cat([x1, y2], dim=-1), log_scale.sum(dim=-1)


def planar_flow_log_det(z: torch.Tensor, u: torch.Tensor, w: torch.Tensor, b: float) -> torch.Tensor:
    r"""$\log\lvert\det J_f(z)\rvert$ of the planar flow $f(z) = z + u \tanh(w^\top z + b)$ at each
    row $z$ of a batch, in $O(d)$ per row (without forming the $d \times d$ Jacobian).

    `z` has shape `(N, d)`, `u` and `w` shape `(d,)`, `b` is a float. Return a tensor of shape
    `(N,)` with `z`'s dtype; the determinant can be negative.
    """
    a = z @ w + b
    psi = (1 - torch.tanh(a) ** 2)[..., None] * w
    return torch.log(torch.abs(1 + psi @ u))
