"""Reference solutions for hw05_flows: change of variables and normalizing flows.

Each function is a stub in the student notebook; its body here is the reference answer.
"""

import math
from typing import Callable

import torch


def polar_jacobian_det(r: float, theta: float) -> float:
    r"""Determinant of the Jacobian of $(r, \theta) \mapsto (r\cos\theta,\ r\sin\theta)$.

    $$J = \begin{bmatrix} \cos\theta & -r\sin\theta \\ \sin\theta & r\cos\theta \end{bmatrix},
    \qquad \det J = r\cos^2\theta + r\sin^2\theta = r.$$

    This is the *signed* determinant (no absolute value): for $r < 0$ it is negative.
    Return a Python float.
    """
    a, b = math.cos(theta), -r * math.sin(theta)
    c, d = math.sin(theta), r * math.cos(theta)
    return float(a * d - b * c)


def log_abs_det_jacobian(f: Callable, x: torch.Tensor) -> float:
    r"""$\log\lvert\det J_f(x)\rvert$ for $f: \mathbb{R}^n \to \mathbb{R}^n$, as a Python float.

    Build the $(n, n)$ Jacobian with autograd (`torch.autograd.functional.jacobian`) and take
    its log-determinant with `torch.linalg.slogdet`, which never forms $\det J$ itself: in 200
    dimensions $\det(10^{-3} I) = 10^{-600}$ underflows to 0 and $\det(10^3 I)$ overflows to
    inf, while $\log\lvert\det\rvert$ is an ordinary number. Negative determinants are fine.
    """
    jacobian = torch.autograd.functional.jacobian(f, x)
    return float(torch.linalg.slogdet(jacobian).logabsdet)


def affine_flow_log_det(scale: torch.Tensor) -> float:
    r"""$\log\lvert\det J\rvert = \sum_i \log\lvert s_i\rvert$ for the elementwise affine map
    $y = s \odot x + t$ (its Jacobian is $\mathrm{diag}(s)$), as a Python float.

    `scale` has shape `(d,)` and may have negative entries. Sum logarithms rather than take
    the logarithm of a product: $\prod_i s_i$ overflows or underflows long before the sum does.
    """
    return float(torch.log(scale.abs()).sum())


def affine_flow_log_prob(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    r"""Log-density of $x$ under the flow $x = s \odot z + t$ with base $z \sim \mathcal{N}(0, I_d)$:

    $$\log p_X(x) = \log \mathcal{N}(z; 0, I) - \sum_i \log\lvert s_i\rvert,
    \qquad z = (x - t) / s,
    \qquad \log \mathcal{N}(z; 0, I) = -\tfrac12 \lVert z\rVert^2 - \tfrac d2 \log(2\pi).$$

    `x` is a batch of $N$ points, shape `(N, d)`; `scale` and `shift` have shape `(d,)`.
    Return a tensor of shape `(N,)` with `x`'s dtype: one log-density per point. Work with
    logarithms throughout (never `exp` then `log`), so points far in the tail stay finite.
    """
    z = (x - shift) / scale
    d = x.shape[-1]
    log_base = -0.5 * (z ** 2).sum(dim=-1) - 0.5 * d * math.log(2 * math.pi)
    return log_base - torch.log(scale.abs()).sum()


def coupling_forward(x: torch.Tensor, s: Callable, t: Callable) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Affine coupling layer (RealNVP) on a batch `x` of shape `(N, d)`.

    Split each row at $k = \lfloor d/2 \rfloor$ (`k = d // 2`): $x_1$ = the first $k$ columns,
    $x_2$ = the other $d - k$. Then

    $$y_1 = x_1, \qquad y_2 = x_2 \odot \exp(s(x_1)) + t(x_1), \qquad
    \log\lvert\det J\rvert = \textstyle\sum_j s(x_1)_j .$$

    `s` and `t` map a batch of shape `(N, k)` to shape `(N, d - k)`. Return `(y, log_det)`:
    `y` of shape `(N, d)` (the columns $[y_1, y_2]$) and `log_det` of shape `(N,)`, one per row.
    """
    k = x.shape[-1] // 2
    x1, x2 = x[..., :k], x[..., k:]
    log_scale = s(x1)
    y2 = x2 * torch.exp(log_scale) + t(x1)
    return torch.cat([x1, y2], dim=-1), log_scale.sum(dim=-1)


def planar_flow_log_det(z: torch.Tensor, u: torch.Tensor, w: torch.Tensor, b: float) -> torch.Tensor:
    r"""$\log\lvert\det J\rvert$ of the planar flow $f(z) = z + u \tanh(w^\top z + b)$.

    Its Jacobian is $I + u\,\psi(z)^\top$ with $\psi(z) = (1 - \tanh^2(w^\top z + b))\,w$, and by
    the matrix determinant lemma $\det(I + u\psi^\top) = 1 + u^\top\psi(z)$, so

    $$\log\lvert\det J\rvert = \log\lvert 1 + u^\top \psi(z)\rvert .$$

    `z` is a batch of shape `(N, d)`, `u` and `w` have shape `(d,)`, `b` is a float. Return a
    tensor of shape `(N,)` with `z`'s dtype. $1 + u^\top\psi$ can be negative: keep the absolute value.
    """
    a = z @ w + b
    psi = (1 - torch.tanh(a) ** 2)[..., None] * w
    return torch.log(torch.abs(1 + psi @ u))
