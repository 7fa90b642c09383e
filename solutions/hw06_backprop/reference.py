"""Reference solutions for hw06_backprop: backpropagation by hand and gradients at scale.

Each function is a stub in the student notebook; its body here is the reference answer.
Shapes follow PyTorch's ``nn.Linear``: a weight matrix is ``(out_features, in_features)`` and a
batch of inputs is ``(N, in_features)``, one sample per row.
"""

from typing import Callable

import torch


def mlp_backward(X: torch.Tensor, y: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor,
                 W2: torch.Tensor, b2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Backward pass of a one-hidden-layer ReLU network with a mean squared error, by hand.

    The forward pass, for a batch $X \in \mathbb{R}^{N \times d}$ and targets
    $y \in \mathbb{R}^{N \times k}$, with $W_1 \in \mathbb{R}^{h \times d}$, $b_1 \in \mathbb{R}^h$,
    $W_2 \in \mathbb{R}^{k \times h}$, $b_2 \in \mathbb{R}^k$:
    $$Z = X W_1^\top + b_1, \qquad H = \mathrm{relu}(Z), \qquad \hat Y = H W_2^\top + b_2,
    \qquad L = \frac{1}{Nk} \sum_{i=1}^{N} \sum_{j=1}^{k} (\hat Y_{ij} - y_{ij})^2.$$

    Return ``(dW1, db1, dW2, db2)``, the gradients of $L$ with respect to $W_1, b_1, W_2, b_2$,
    each shaped like the parameter it belongs to and of the inputs' dtype. Go backwards
    through the forward lines, one vector-Jacobian product per line, and use PyTorch's
    convention $\mathrm{relu}'(0) = 0$. Autograd is not allowed here.
    """
    Z = X @ W1.T + b1
    H = torch.relu(Z)
    Y_hat = H @ W2.T + b2
    dY = 2 * (Y_hat - y) / Y_hat.numel()
    dW2 = dY.T @ H
    db2 = dY.sum(dim=0)
    dH = dY @ W2
    dZ = torch.where(Z > 0, dH, torch.zeros_like(dH))
    dW1 = dZ.T @ X
    db1 = dZ.sum(dim=0)
    return dW1, db1, dW2, db2


def dead_relu_fraction(pre_activations: torch.Tensor) -> float:
    r"""Fraction of dead ReLU units on a batch, as a Python float in $[0, 1]$.

    ``pre_activations`` is $Z \in \mathbb{R}^{N \times h}$: row $i$ is a sample, column $j$ a
    unit. Unit $j$ is dead on this batch when its input is never positive,
    $$Z_{ij} \le 0 \quad \text{for every sample } i,$$
    so that $\mathrm{relu}'(Z_{ij}) = 0$ for the whole batch (with $\mathrm{relu}'(0) = 0$, as in
    PyTorch). Return the number of dead units divided by $h$.
    """
    dead = (pre_activations <= 0).all(dim=0)
    return dead.sum().item() / pre_activations.shape[1]


def weight_jacobian(x: torch.Tensor, m: int) -> torch.Tensor:
    r"""The Jacobian of $y = W x$ with respect to the matrix $W$, as a 3-index tensor.

    For $W \in \mathbb{R}^{m \times n}$ and $x \in \mathbb{R}^n$, return $J$ of shape $(m, m, n)$
    with
    $$J_{ikl} = \frac{\partial y_i}{\partial W_{kl}},$$
    in $x$'s dtype and on its device. Derive the entries from $y_i = \sum_l W_{il} x_l$; neither
    autograd nor torch's Jacobian helpers are allowed.
    """
    n = x.shape[0]
    J = torch.zeros(m, m, n, dtype=x.dtype, device=x.device)
    rows = torch.arange(m, device=x.device)
    J[rows, rows] = x
    return J


def layer_gradient_norms(x: torch.Tensor, y: torch.Tensor, weights: list[torch.Tensor],
                         biases: list[torch.Tensor], activation: str = "sigmoid") -> torch.Tensor:
    r"""Frobenius norm of the loss gradient with respect to each layer's weights.

    The network has $L$ layers (``len(weights)``), the activation applied after every one of
    them, the last included:
    $$h_0 = x, \qquad h_l = \sigma\big(h_{l-1} W_l^\top + b_l\big) \quad (l = 1, \dots, L), \qquad
    \mathcal{L} = \mathrm{mean}\big((h_L - y)^2\big),$$
    with $\sigma$ the sigmoid, ReLU or tanh (``activation`` is ``"sigmoid"``, ``"relu"`` or
    ``"tanh"``), ``weights[l]`` of shape $(d_l, d_{l-1})$, ``biases[l]`` of shape $(d_l,)$,
    $x$ of shape $(N, d_0)$ and $y$ of shape $(N, d_L)$.

    Return a tensor of shape $(L,)$ and $x$'s dtype holding
    $\big\| \partial \mathcal{L} / \partial W_l \big\|_F$, first layer first. Autograd is allowed;
    differentiate with respect to detached copies of the weights so that the caller's tensors
    are left as they were.
    """
    act = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}[activation]
    leaves = [W.detach().clone().requires_grad_(True) for W in weights]
    h = x
    for W, b in zip(leaves, biases):
        h = act(h @ W.T + b)
    loss = ((h - y) ** 2).mean()
    grads = torch.autograd.grad(loss, leaves)
    return torch.stack([torch.linalg.vector_norm(g) for g in grads])


def clip_grad_norm(grads: list[torch.Tensor], max_norm: float) -> tuple[list[torch.Tensor], float]:
    r"""Gradient clipping by the total 2-norm, as ``torch.nn.utils.clip_grad_norm_`` does.

    The total norm counts every entry of every tensor in ``grads``:
    $$\|g\| = \Big(\sum_t \sum_{\text{entries } e \text{ of } g_t} e^2\Big)^{1/2},$$
    and every tensor is multiplied by the same factor
    $$c = \min\Big(1, \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\Big).$$

    Return ``(clipped, total_norm)``: a new list of tensors (same shapes and dtypes) and
    $\|g\|$ as a Python float; an empty list gives ``([], 0.0)``. Leave the input tensors
    unchanged. ``torch.nn.utils``' clipping and norm helpers are not allowed here.
    """
    if len(grads) == 0:
        return [], 0.0
    norms = torch.stack([torch.linalg.vector_norm(g, 2) for g in grads])
    total = torch.linalg.vector_norm(norms, 2)
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return [g * factor for g in grads], total.item()


def cg_newton_step(f: Callable, x: torch.Tensor, iters: int = 100, tol: float = 1e-10) -> torch.Tensor:
    r"""A Hessian-free Newton step: conjugate gradient on $H p = -g$, with Hessian-vector products only.

    $g = \nabla f(x)$ and $H = \nabla^2 f(x)$ for a scalar $f$. Start from $p_0 = 0$,
    $r_0 = g$ (the residual $r = H p + g$), $d_0 = -r_0$, and repeat, for $j = 0, 1, \dots$
    (Nocedal & Wright, Algorithm 7.1):

    - if $d_j^\top H d_j \le 0$ (negative curvature), stop and return $p_j$, or $-g$ when $j = 0$;
    - $\alpha_j = \dfrac{r_j^\top r_j}{d_j^\top H d_j}$, $\; p_{j+1} = p_j + \alpha_j d_j$,
      $\; r_{j+1} = r_j + \alpha_j H d_j$;
    - stop and return $p_{j+1}$ if $\|r_{j+1}\| \le \mathrm{tol}\, \|g\|$ or after ``iters``
      iterations;
    - $\beta_{j+1} = \dfrac{r_{j+1}^\top r_{j+1}}{r_j^\top r_j}$, $\; d_{j+1} = -r_{j+1} + \beta_{j+1} d_j$.

    A zero gradient gives a zero step. Return $p$ with $x$'s shape and dtype. Never form $H$
    (no Jacobian or Hessian helpers, no dense solvers): one gradient, and one Hessian-vector
    product per iteration, each computed through the graph of that gradient.
    """
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)

    def hess_times(v):
        if not g.requires_grad:  # f is linear in x: H = 0
            return torch.zeros_like(v)
        (hv,) = torch.autograd.grad(g, x, grad_outputs=v, retain_graph=True)
        return hv

    g0 = g.detach()
    p = torch.zeros_like(g0)
    r = g0.clone()
    d = -r
    stop = tol * torch.linalg.vector_norm(g0)
    if torch.linalg.vector_norm(r) <= stop:
        return p
    rr = torch.sum(r * r)
    for j in range(iters):
        Hd = hess_times(d)
        curvature = torch.sum(d * Hd)
        if curvature <= 0:
            return -g0 if j == 0 else p
        alpha = rr / curvature
        p = p + alpha * d
        r = r + alpha * Hd
        if torch.linalg.vector_norm(r) <= stop:
            break
        rr_next = torch.sum(r * r)
        d = -r + (rr_next / rr) * d
        rr = rr_next
    return p
