"""hw06_backprop: realistic wrong answers, each with the points it must score, and other correct
answers that must keep full marks.  Sources are written as a student would write them in the
notebook (torch and math are imported there)."""

from course.build.samples import Bug

BUGS = [
    # ---- mlp_backward (q1)
    Bug("backward pass without the ReLU mask", "mlp_backward",
        "def mlp_backward(X, y, W1, b1, W2, b2):\n"
        "    Z = X @ W1.T + b1\n"
        "    H = torch.relu(Z)\n"
        "    dY = 2 * (H @ W2.T + b2 - y) / y.numel()\n"
        "    dZ = dY @ W2\n"
        "    return dZ.T @ X, dZ.sum(0), dY.T @ H, dY.sum(0)\n", {"q1": 1.0}),
    Bug("ReLU mask Z >= 0 (slope 1 at 0)", "mlp_backward",
        "def mlp_backward(X, y, W1, b1, W2, b2):\n"
        "    Z = X @ W1.T + b1\n"
        "    H = torch.relu(Z)\n"
        "    dY = 2 * (H @ W2.T + b2 - y) / y.numel()\n"
        "    dZ = (dY @ W2) * (Z >= 0)\n"
        "    return dZ.T @ X, dZ.sum(0), dY.T @ H, dY.sum(0)\n", {"q1": 7}),
    Bug("mean over the samples only (1/N instead of 1/(N k))", "mlp_backward",
        "def mlp_backward(X, y, W1, b1, W2, b2):\n"
        "    Z = X @ W1.T + b1\n"
        "    H = torch.relu(Z)\n"
        "    dY = 2 * (H @ W2.T + b2 - y) / X.shape[0]\n"
        "    dZ = (dY @ W2) * (Z > 0)\n"
        "    return dZ.T @ X, dZ.sum(0), dY.T @ H, dY.sum(0)\n", {"q1": 2.5}),
    Bug("gradient of the sum of squares (no 1/(N k))", "mlp_backward",
        "def mlp_backward(X, y, W1, b1, W2, b2):\n"
        "    Z = X @ W1.T + b1\n"
        "    H = torch.relu(Z)\n"
        "    dY = 2 * (H @ W2.T + b2 - y)\n"
        "    dZ = (dY @ W2) * (Z > 0)\n"
        "    return dZ.T @ X, dZ.sum(0), dY.T @ H, dY.sum(0)\n", {"q1": 2.5}),
    Bug("weight gradients as X^T dZ (the transpose, for Z = X W)", "mlp_backward",
        "def mlp_backward(X, y, W1, b1, W2, b2):\n"
        "    Z = X @ W1.T + b1\n"
        "    H = torch.relu(Z)\n"
        "    dY = 2 * (H @ W2.T + b2 - y) / y.numel()\n"
        "    dZ = (dY @ W2) * (Z > 0)\n"
        "    return X.T @ dZ, dZ.sum(0), H.T @ dY, dY.sum(0)\n", {"q1": 0.0}),
    Bug("bias gradients averaged over the batch instead of summed", "mlp_backward",
        "def mlp_backward(X, y, W1, b1, W2, b2):\n"
        "    Z = X @ W1.T + b1\n"
        "    H = torch.relu(Z)\n"
        "    dY = 2 * (H @ W2.T + b2 - y) / y.numel()\n"
        "    dZ = (dY @ W2) * (Z > 0)\n"
        "    return dZ.T @ X, dZ.mean(0), dY.T @ H, dY.mean(0)\n", {"q1": 2.5}),
    # ---- dead_relu_fraction (q2)
    Bug("dead fraction over entries instead of units", "dead_relu_fraction",
        "def dead_relu_fraction(pre_activations):\n"
        "    return (pre_activations <= 0).double().mean().item()\n", {"q2": 0.5}),
    Bug("dead means Z < 0 (0 counted as alive)", "dead_relu_fraction",
        "def dead_relu_fraction(pre_activations):\n"
        "    return (pre_activations < 0).all(dim=0).double().mean().item()\n", {"q2": 0.75}),
    Bug("a unit counted dead if it is off on any sample", "dead_relu_fraction",
        "def dead_relu_fraction(pre_activations):\n"
        "    return (pre_activations <= 0).any(dim=0).double().mean().item()\n", {"q2": 0.5}),
    # ---- weight_jacobian (q3)
    Bug("weight Jacobian indexed as J[i, l, k] (shape (m, n, m))", "weight_jacobian",
        "def weight_jacobian(x, m):\n"
        "    n = x.shape[0]\n"
        "    J = torch.zeros(m, n, m, dtype=x.dtype)\n"
        "    for i in range(m):\n"
        "        J[i, :, i] = x\n"
        "    return J\n", {"q3": 0.0}),
    Bug("weight Jacobian as the outer product ones x^T (shape (m, n))", "weight_jacobian",
        "def weight_jacobian(x, m):\n"
        "    return torch.outer(torch.ones(m, dtype=x.dtype), x)\n", {"q3": 0.0}),
    Bug("weight Jacobian without the Kronecker delta (x in every slice)", "weight_jacobian",
        "def weight_jacobian(x, m):\n"
        "    return x.expand(m, m, x.shape[0]).clone()\n", {"q3": 0.5}),
    # ---- layer_gradient_norms (q4)
    Bug("layer norms listed last layer first", "layer_gradient_norms",
        "def layer_gradient_norms(x, y, weights, biases, activation='sigmoid'):\n"
        "    act = {'sigmoid': torch.sigmoid, 'relu': torch.relu, 'tanh': torch.tanh}[activation]\n"
        "    Ws = [W.detach().clone().requires_grad_(True) for W in weights]\n"
        "    h = x\n"
        "    for W, b in zip(Ws, biases):\n"
        "        h = act(h @ W.T + b)\n"
        "    ((h - y) ** 2).mean().backward()\n"
        "    return torch.stack([W.grad.norm() for W in reversed(Ws)])\n", {"q4": 0.5}),
    Bug("norms of the bias gradients instead of the weight gradients", "layer_gradient_norms",
        "def layer_gradient_norms(x, y, weights, biases, activation='sigmoid'):\n"
        "    act = {'sigmoid': torch.sigmoid, 'relu': torch.relu, 'tanh': torch.tanh}[activation]\n"
        "    bs = [b.detach().clone().requires_grad_(True) for b in biases]\n"
        "    h = x\n"
        "    for W, b in zip(weights, bs):\n"
        "        h = act(h @ W.T + b)\n"
        "    ((h - y) ** 2).mean().backward()\n"
        "    return torch.stack([b.grad.norm() for b in bs])\n", {"q4": 0.0}),
    # ---- clip_grad_norm (q5)
    Bug("each tensor clipped by its own norm", "clip_grad_norm",
        "def clip_grad_norm(grads, max_norm):\n"
        "    if not grads:\n"
        "        return [], 0.0\n"
        "    total = torch.sqrt(sum((g ** 2).sum() for g in grads))\n"
        "    clipped = [g * min(1.0, max_norm / (g.norm().item() + 1e-6)) for g in grads]\n"
        "    return clipped, total.item()\n", {"q5": 2.5}),
    Bug("always scaled to max_norm (no min(1, ...))", "clip_grad_norm",
        "def clip_grad_norm(grads, max_norm):\n"
        "    if not grads:\n"
        "        return [], 0.0\n"
        "    total = torch.sqrt(sum((g ** 2).sum() for g in grads))\n"
        "    return [g * (max_norm / (total + 1e-6)) for g in grads], total.item()\n", {"q5": 5.0}),
    Bug("clipping factor max_norm / total (without the 1e-6)", "clip_grad_norm",
        "def clip_grad_norm(grads, max_norm):\n"
        "    if not grads:\n"
        "        return [], 0.0\n"
        "    total = torch.sqrt(sum((g ** 2).sum() for g in grads))\n"
        "    factor = torch.clamp(max_norm / total, max=1.0)\n"
        "    return [g * factor for g in grads], total.item()\n", {"q5": 2.5}),
    Bug("clipping the input gradients in place", "clip_grad_norm",
        "def clip_grad_norm(grads, max_norm):\n"
        "    if not grads:\n"
        "        return [], 0.0\n"
        "    total = torch.sqrt(sum((g ** 2).sum() for g in grads))\n"
        "    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)\n"
        "    for g in grads:\n"
        "        g.mul_(factor)\n"
        "    return grads, total.item()\n", {"q5": 2.0}),
    # ---- cg_newton_step (q6)
    Bug("steepest descent with exact line search instead of conjugate gradient", "cg_newton_step",
        "def cg_newton_step(f, x, iters=100, tol=1e-10):\n"
        "    x = x.detach().requires_grad_(True)\n"
        "    (g,) = torch.autograd.grad(f(x), x, create_graph=True)\n"
        "    g0 = g.detach()\n"
        "    p = torch.zeros_like(g0)\n"
        "    r = g0.clone()\n"
        "    if r.norm() <= tol * g0.norm():\n"
        "        return p\n"
        "    for j in range(iters):\n"
        "        d = -r\n"
        "        (Hd,) = torch.autograd.grad(g, x, grad_outputs=d, retain_graph=True)\n"
        "        curvature = d @ Hd\n"
        "        if curvature <= 0:\n"
        "            return -g0 if j == 0 else p\n"
        "        alpha = (r @ r) / curvature\n"
        "        p = p + alpha * d\n"
        "        r = r + alpha * Hd\n"
        "        if r.norm() <= tol * g0.norm():\n"
        "            break\n"
        "    return p\n", {"q6": 5.0}),
    Bug("conjugate gradient on the Hessian built by torch.func.hessian", "cg_newton_step",
        "def cg_newton_step(f, x, iters=100, tol=1e-10):\n"
        "    H = torch.func.hessian(f)(x)\n"
        "    xx = x.detach().requires_grad_(True)\n"
        "    (g,) = torch.autograd.grad(f(xx), xx)\n"
        "    p = torch.zeros_like(g)\n"
        "    r = g.clone()\n"
        "    d = -r\n"
        "    if r.norm() <= tol * g.norm():\n"
        "        return p\n"
        "    for j in range(iters):\n"
        "        Hd = H @ d\n"
        "        if d @ Hd <= 0:\n"
        "            return -g if j == 0 else p\n"
        "        alpha = (r @ r) / (d @ Hd)\n"
        "        p = p + alpha * d\n"
        "        r_new = r + alpha * Hd\n"
        "        if r_new.norm() <= tol * g.norm():\n"
        "            break\n"
        "        d = -r_new + (r_new @ r_new) / (r @ r) * d\n"
        "        r = r_new\n"
        "    return p\n", {"q6": 0.0}),
    Bug("conjugate gradient that ignores negative curvature", "cg_newton_step",
        "def cg_newton_step(f, x, iters=100, tol=1e-10):\n"
        "    x = x.detach().requires_grad_(True)\n"
        "    (g,) = torch.autograd.grad(f(x), x, create_graph=True)\n"
        "    g0 = g.detach()\n"
        "    p = torch.zeros_like(g0)\n"
        "    r = g0.clone()\n"
        "    d = -r\n"
        "    if r.norm() <= tol * g0.norm():\n"
        "        return p\n"
        "    for j in range(iters):\n"
        "        (Hd,) = torch.autograd.grad(g, x, grad_outputs=d, retain_graph=True)\n"
        "        alpha = (r @ r) / (d @ Hd)\n"
        "        p = p + alpha * d\n"
        "        r_new = r + alpha * Hd\n"
        "        if r_new.norm() <= tol * g0.norm():\n"
        "            break\n"
        "        d = -r_new + (r_new @ r_new) / (r @ r) * d\n"
        "        r = r_new\n"
        "    return p\n", {"q6": 8.0}),
]

ALTERNATIVES = [
    Bug("mlp_backward with einsum and a float mask", "mlp_backward",
        "def mlp_backward(X, y, W1, b1, W2, b2):\n"
        "    Z = torch.einsum('nd,hd->nh', X, W1) + b1\n"
        "    H = Z.clamp(min=0)\n"
        "    Y_hat = torch.einsum('nh,kh->nk', H, W2) + b2\n"
        "    dY = 2.0 / Y_hat.numel() * (Y_hat - y)\n"
        "    dH = torch.einsum('nk,kh->nh', dY, W2)\n"
        "    dZ = dH * (Z > 0).to(dH.dtype)\n"
        "    return (torch.einsum('nh,nd->hd', dZ, X), dZ.sum(dim=0),\n"
        "            torch.einsum('nk,nh->kh', dY, H), dY.sum(dim=0))\n"),
    Bug("mlp_backward through the loss as a mean over the batch of per-sample means", "mlp_backward",
        "def mlp_backward(X, y, W1, b1, W2, b2):\n"
        "    N, k = y.shape\n"
        "    Z = torch.addmm(b1, X, W1.t())\n"
        "    H = torch.nn.functional.relu(Z)\n"
        "    dY = (H @ W2.t() + b2 - y) * (2 / k) / N\n"
        "    dZ = torch.where(Z > 0, dY @ W2, 0.0)\n"
        "    return dZ.t() @ X, dZ.sum(0), dY.t() @ H, dY.sum(0)\n"),
    Bug("dead_relu_fraction by counting columns", "dead_relu_fraction",
        "def dead_relu_fraction(pre_activations):\n"
        "    N, h = pre_activations.shape\n"
        "    dead = 0\n"
        "    for j in range(h):\n"
        "        if pre_activations[:, j].max() <= 0:\n"
        "            dead += 1\n"
        "    return dead / h\n"),
    Bug("weight_jacobian from the identity by einsum", "weight_jacobian",
        "def weight_jacobian(x, m):\n"
        "    return torch.einsum('ik,l->ikl', torch.eye(m, dtype=x.dtype, device=x.device), x)\n"),
    Bug("weight_jacobian filled slice by slice", "weight_jacobian",
        "def weight_jacobian(x, m):\n"
        "    J = x.new_zeros((m, m, x.numel()))\n"
        "    for i in range(m):\n"
        "        J[i, i, :] = x\n"
        "    return J\n"),
    Bug("layer_gradient_norms with .backward() and torch.nn.functional", "layer_gradient_norms",
        "def layer_gradient_norms(x, y, weights, biases, activation='sigmoid'):\n"
        "    F = torch.nn.functional\n"
        "    act = {'sigmoid': torch.sigmoid, 'relu': F.relu, 'tanh': torch.tanh}[activation]\n"
        "    Ws = [W.clone().detach().requires_grad_() for W in weights]\n"
        "    h = x\n"
        "    for W, b in zip(Ws, biases):\n"
        "        h = act(F.linear(h, W, b))\n"
        "    F.mse_loss(h, y).backward()\n"
        "    return torch.stack([torch.linalg.matrix_norm(W.grad) for W in Ws])\n"),
    Bug("clip_grad_norm through torch.cat of the flattened gradients", "clip_grad_norm",
        "def clip_grad_norm(grads, max_norm):\n"
        "    if len(grads) == 0:\n"
        "        return [], 0.0\n"
        "    total = torch.cat([g.reshape(-1) for g in grads]).norm()\n"
        "    factor = min(1.0, max_norm / (total.item() + 1e-6))\n"
        "    return [g.clone() * factor for g in grads], total.item()\n"),
    Bug("clip_grad_norm with Python floats", "clip_grad_norm",
        "def clip_grad_norm(grads, max_norm):\n"
        "    total = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))\n"
        "    factor = max_norm / (total + 1e-6)\n"
        "    if factor >= 1:\n"
        "        return [g.clone() for g in grads], total\n"
        "    return [g * factor for g in grads], total\n"),
    Bug("cg_newton_step with the residual b - A p and torch.autograd.functional.hvp", "cg_newton_step",
        "def cg_newton_step(f, x, iters=100, tol=1e-10):\n"
        "    xx = x.detach().requires_grad_(True)\n"
        "    (g,) = torch.autograd.grad(f(xx), xx)\n"
        "    p = torch.zeros_like(g)\n"
        "    r = -g\n"
        "    d = r.clone()\n"
        "    g_norm = torch.linalg.norm(g)\n"
        "    if g_norm == 0:\n"
        "        return p\n"
        "    for j in range(iters):\n"
        "        Hd = torch.autograd.functional.hvp(f, x.detach(), d)[1]\n"
        "        dHd = torch.dot(d, Hd)\n"
        "        if dHd <= 0:\n"
        "            return -g if j == 0 else p\n"
        "        alpha = torch.dot(r, r) / dHd\n"
        "        p = p + alpha * d\n"
        "        r_new = r - alpha * Hd\n"
        "        if torch.linalg.norm(r_new) <= tol * g_norm:\n"
        "            return p\n"
        "        d = r_new + torch.dot(r_new, r_new) / torch.dot(r, r) * d\n"
        "        r = r_new\n"
        "    return p\n"),
    Bug("cg_newton_step with torch.func.grad and a double-backward HVP", "cg_newton_step",
        "def cg_newton_step(f, x, iters=100, tol=1e-10):\n"
        "    x = x.detach().requires_grad_(True)\n"
        "    g = torch.func.grad(f)(x)\n"
        "    g0 = g.detach()\n"
        "    def hvp(v):\n"
        "        return torch.autograd.grad(g, x, v, retain_graph=True)[0]\n"
        "    p, r = torch.zeros_like(g0), g0\n"
        "    d, rr = -r, r.dot(r)\n"
        "    if rr == 0:\n"
        "        return p\n"
        "    for j in range(iters):\n"
        "        Hd = hvp(d)\n"
        "        kappa = d.dot(Hd)\n"
        "        if kappa <= 0:\n"
        "            return p if j > 0 else -g0\n"
        "        alpha = rr / kappa\n"
        "        p, r = p + alpha * d, r + alpha * Hd\n"
        "        rr_new = r.dot(r)\n"
        "        if rr_new.sqrt() <= tol * g0.norm():\n"
        "            break\n"
        "        d, rr = -r + rr_new / rr * d, rr_new\n"
        "    return p\n"),
]
