"""hw04_hessians: realistic wrong answers (each scores exactly `expected`) and other correct answers."""

from course.build.samples import Bug

BUGS = [
    Bug("numerical Hessian not symmetrised", "numerical_hessian",
        "def numerical_hessian(f, x, h=1e-4):\n"
        "    x = x.detach()\n"
        "    def gradient(p):\n"
        "        p = p.clone().requires_grad_(True)\n"
        "        return torch.autograd.grad(f(p), p)[0]\n"
        "    columns = []\n"
        "    for j in range(x.numel()):\n"
        "        e = torch.zeros_like(x)\n"
        "        e[j] = h\n"
        "        columns.append((gradient(x + e) - gradient(x - e)) / (2 * h))\n"
        "    return torch.stack(columns, dim=1)\n", {"q1": 1}),
    Bug("numerical Hessian by forward differences", "numerical_hessian",
        "def numerical_hessian(f, x, h=1e-4):\n"
        "    x = x.detach()\n"
        "    def gradient(p):\n"
        "        p = p.clone().requires_grad_(True)\n"
        "        return torch.autograd.grad(f(p), p)[0]\n"
        "    g0 = gradient(x)\n"
        "    columns = []\n"
        "    for j in range(x.numel()):\n"
        "        e = torch.zeros_like(x)\n"
        "        e[j] = h\n"
        "        columns.append((gradient(x + e) - g0) / h)\n"
        "    a = torch.stack(columns, dim=1)\n"
        "    return (a + a.T) / 2\n", {"q1": 0.5}),
    # The exact Hessian agrees with the finite differences only where they are accurate: it keeps
    # the quadratic and the gentle default-h case, and loses every case at a large h or high frequency.
    Bug("numerical Hessian that returns autograd's exact Hessian", "numerical_hessian",
        "def numerical_hessian(f, x, h=1e-4):\n"
        "    return torch.autograd.functional.hessian(f, x)\n", {"q1": 1}),
    Bug("Taylor model without the factor one half", "taylor_second_order",
        "def taylor_second_order(f, x0, dx):\n"
        "    H = torch.autograd.functional.hessian(f, x0)\n"
        "    x = x0.clone().requires_grad_(True)\n"
        "    value = f(x)\n"
        "    (g,) = torch.autograd.grad(value, x)\n"
        "    return float(value + g @ dx + dx @ H @ dx)\n", {"q2": 0.75}),
    Bug("classification by the signs of the diagonal", "classify_critical_point",
        "def classify_critical_point(H, tol=1e-8):\n"
        "    d = torch.diagonal(H)\n"
        "    if (d > tol).any() and (d < -tol).any():\n"
        "        return 'saddle'\n"
        "    if (d.abs() <= tol).any():\n"
        "        return 'degenerate'\n"
        "    return 'minimum' if (d > tol).all() else 'maximum'\n", {"q3": 3.25}),
    Bug("classification without the degenerate case", "classify_critical_point",
        "def classify_critical_point(H, tol=1e-8):\n"
        "    e = torch.linalg.eigvalsh(H)\n"
        "    if (e > 0).all():\n"
        "        return 'minimum'\n"
        "    if (e < 0).all():\n"
        "        return 'maximum'\n"
        "    return 'saddle'\n", {"q3": 3.25}),
    Bug("condition number as a signed ratio", "hessian_condition",
        "def hessian_condition(H):\n"
        "    e = torch.linalg.eigvalsh(H)\n"
        "    return float(e.max() / e.min())\n", {"q4": 1.25}),
    # The reference of the previous version: an eigenvalue computed as 1.8e-16 instead of 0 is
    # not "exactly 0", so a singular matrix gets a condition number of about 1e16.
    Bug("singular only when the smallest eigenvalue is exactly 0", "hessian_condition",
        "def hessian_condition(H):\n"
        "    e = torch.linalg.eigvalsh(H).abs()\n"
        "    if e.min() == 0:\n"
        "        return math.inf\n"
        "    return float(e.max() / e.min())\n", {"q4": 3}),
    Bug("Newton step through the inverse", "newton_step",
        "def newton_step(g, H):\n"
        "    return -torch.linalg.inv(H) @ g\n", {"q5": 0}),
    Bug("Newton step with the wrong sign", "newton_step",
        "def newton_step(g, H):\n"
        "    return torch.linalg.solve(H, g)\n", {"q5": 1}),
    # Cholesky needs a positive definite H: it fails on the notes' saddle and the indefinite case.
    Bug("Newton step with Cholesky, for every H", "newton_step",
        "def newton_step(g, H):\n"
        "    L = torch.linalg.cholesky(H)\n"
        "    return -torch.cholesky_solve(g.unsqueeze(1), L).squeeze(1)\n", {"q5": 2}),
    Bug("HVP by finite differences of the gradient", "hvp",
        "def hvp(f, x, v, eps=1e-3):\n"
        "    def gradient(p):\n"
        "        p = p.detach().requires_grad_(True)\n"
        "        return torch.autograd.grad(f(p), p)[0]\n"
        "    return (gradient(x + eps * v) - gradient(x - eps * v)) / (2 * eps)\n", {"q6": 1}),
    # The question forbids building the Hessian: every case is lost (at n = 300,000 it could not
    # be built anyway).
    Bug("HVP through torch.autograd.functional.hessian", "hvp",
        "def hvp(f, x, v):\n    return torch.autograd.functional.hessian(f, x) @ v\n", {"q6": 0}),
    Bug("HVP through torch.func.hessian", "hvp",
        "def hvp(f, x, v):\n    return torch.func.hessian(f)(x) @ v\n", {"q6": 0}),
    Bug("Adam without bias correction", "adam_step",
        "def adam_step(theta, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
        "    m = betas[0] * m + (1 - betas[0]) * grad\n"
        "    v = betas[1] * v + (1 - betas[1]) * grad ** 2\n"
        "    return theta - lr * m / (torch.sqrt(v) + eps), m, v\n", {"q7": 0}),
    Bug("Adam with eps inside the square root", "adam_step",
        "def adam_step(theta, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
        "    m = betas[0] * m + (1 - betas[0]) * grad\n"
        "    v = betas[1] * v + (1 - betas[1]) * grad ** 2\n"
        "    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)\n"
        "    return theta - lr * m_hat / torch.sqrt(v_hat + eps), m, v\n", {"q7": 3}),
    # Updating the moments in place, as torch.optim.Adam does to its own state, changes the
    # caller's m and v: every case is lost.
    Bug("Adam updating m and v in place", "adam_step",
        "def adam_step(theta, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
        "    m.mul_(betas[0]).add_(grad, alpha=1 - betas[0])\n"
        "    v.mul_(betas[1]).addcmul_(grad, grad, value=1 - betas[1])\n"
        "    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)\n"
        "    return theta - lr * m_hat / (v_hat.sqrt() + eps), m, v\n", {"q7": 0}),
    # The textbook's exponential average (Andrew Ng's course): v = beta v + (1 - beta) g. A valid
    # method, but not torch.optim.SGD's, whose lr then means something else (steps 1 - beta smaller).
    Bug("momentum as an average, v = beta v + (1 - beta) g", "momentum_step",
        "def momentum_step(x, g, v, lr, beta, nesterov=False):\n"
        "    v = beta * v + (1 - beta) * g\n"
        "    return x - lr * (g + beta * v if nesterov else v), v\n", {"q8": 0}),
    Bug("Nesterov looking ahead with the old velocity", "momentum_step",
        "def momentum_step(x, g, v, lr, beta, nesterov=False):\n"
        "    v_new = beta * v + g\n"
        "    return x - lr * (g + beta * v if nesterov else v_new), v_new\n", {"q8": 2.5}),
    Bug("Nesterov flag ignored", "momentum_step",
        "def momentum_step(x, g, v, lr, beta, nesterov=False):\n"
        "    v = beta * v + g\n"
        "    return x - lr * v, v\n", {"q8": 2.5}),
    # As torch.optim.SGD updates its momentum buffer: here the buffer is the caller's v.
    Bug("momentum updating v in place", "momentum_step",
        "def momentum_step(x, g, v, lr, beta, nesterov=False):\n"
        "    v.mul_(beta).add_(g)\n"
        "    return x - lr * (g + beta * v if nesterov else v), v\n", {"q8": 0}),
    Bug("RMSProp with eps inside the square root", "rmsprop_step",
        "def rmsprop_step(x, g, s, lr, alpha=0.99, eps=1e-8):\n"
        "    s = alpha * s + (1 - alpha) * g ** 2\n"
        "    return x - lr * g / torch.sqrt(s + eps), s\n", {"q9": 0.5}),
    Bug("RMSProp without the factor 1 - alpha", "rmsprop_step",
        "def rmsprop_step(x, g, s, lr, alpha=0.99, eps=1e-8):\n"
        "    s = alpha * s + g ** 2\n"
        "    return x - lr * g / (torch.sqrt(s) + eps), s\n", {"q9": 0}),
    Bug("RMSProp updating x in place", "rmsprop_step",
        "def rmsprop_step(x, g, s, lr, alpha=0.99, eps=1e-8):\n"
        "    s = alpha * s + (1 - alpha) * g ** 2\n"
        "    x -= lr * g / (s.sqrt() + eps)\n"
        "    return x, s\n", {"q9": 0}),
    # Decaying the sum turns AdaGrad into RMSProp: right on the first step from s = 0, wrong after.
    Bug("AdaGrad that decays its sum", "adagrad_step",
        "def adagrad_step(x, g, s, lr, eps=1e-10):\n"
        "    s = 0.9 * s + g ** 2\n"
        "    return x - lr * g / (torch.sqrt(s) + eps), s\n", {"q10": 0.5}),
    Bug("AdaGrad adding to the caller's sum with +=", "adagrad_step",
        "def adagrad_step(x, g, s, lr, eps=1e-10):\n"
        "    s += g * g\n"
        "    return x - lr * g / (torch.sqrt(s) + eps), s\n", {"q10": 0}),
]

# Correct answers written differently from the reference: they keep full marks.
ALTERNATIVES = [
    Bug("Taylor model with the full Hessian", "taylor_second_order",
        "def taylor_second_order(f, x0, dx):\n"
        "    H = torch.autograd.functional.hessian(f, x0)\n"
        "    x = x0.detach().clone().requires_grad_(True)\n"
        "    value = f(x)\n"
        "    (g,) = torch.autograd.grad(value, x)\n"
        "    return (value + g @ dx + 0.5 * dx @ H @ dx).item()\n"),
    Bug("classification with the general eigensolver's real parts", "classify_critical_point",
        "def classify_critical_point(H, tol=1e-8):\n"
        "    e = torch.linalg.eigvals(H).real\n"
        "    pos, neg = bool((e > tol).any()), bool((e < -tol).any())\n"
        "    if pos and neg:\n"
        "        return 'saddle'\n"
        "    if bool((e.abs() <= tol).any()):\n"
        "        return 'degenerate'\n"
        "    return 'minimum' if pos else 'maximum'\n"),
    Bug("condition number from the singular values", "hessian_condition",
        "def hessian_condition(H):\n"
        "    s = torch.linalg.svdvals(H)\n"
        "    if s.min() <= H.shape[0] * torch.finfo(H.dtype).eps * s.max():\n"
        "        return math.inf\n"
        "    return (s.max() / s.min()).item()\n"),
    Bug("condition number from torch.linalg.cond", "hessian_condition",
        "def hessian_condition(H):\n"
        "    kappa = torch.linalg.cond(H).item()\n"
        "    if not kappa < 1 / (H.shape[0] * torch.finfo(H.dtype).eps):\n"
        "        return math.inf\n"
        "    return kappa\n"),
    Bug("Newton step with an LU factorisation", "newton_step",
        "def newton_step(g, H):\n"
        "    LU, pivots = torch.linalg.lu_factor(H)\n"
        "    return -torch.linalg.lu_solve(LU, pivots, g.unsqueeze(1)).squeeze(1)\n"),
    Bug("Newton step with torch.linalg.solve on a column", "newton_step",
        "def newton_step(g, H):\n"
        "    return torch.linalg.solve(H, -g.reshape(-1, 1)).reshape(g.shape)\n"),
    Bug("HVP with torch.autograd.functional.hvp", "hvp",
        "def hvp(f, x, v):\n"
        "    return torch.autograd.functional.hvp(f, x, v)[1]\n"),
    Bug("HVP forward-over-reverse with torch.func", "hvp",
        "def hvp(f, x, v):\n"
        "    return torch.func.jvp(torch.func.grad(f), (x,), (v,))[1]\n"),
    Bug("Adam with torch's own arrangement of the bias corrections", "adam_step",
        "def adam_step(theta, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):\n"
        "    b1, b2 = betas\n"
        "    m = m * b1 + grad * (1 - b1)\n"
        "    v = v * b2 + grad * grad * (1 - b2)\n"
        "    step = lr / (1 - b1 ** t)\n"
        "    denominator = v.sqrt() / math.sqrt(1 - b2 ** t) + eps\n"
        "    return theta - step * m / denominator, m, v\n"),
    Bug("momentum with torch's in-place arithmetic on copies", "momentum_step",
        "def momentum_step(x, g, v, lr, beta, nesterov=False):\n"
        "    buf = v.clone().mul_(beta).add_(g)\n"
        "    direction = g.add(buf, alpha=beta) if nesterov else buf\n"
        "    return x.clone().add_(direction, alpha=-lr), buf\n"),
    Bug("RMSProp as torch.optim.RMSprop arranges it", "rmsprop_step",
        "def rmsprop_step(x, g, s, lr, alpha=0.99, eps=1e-8):\n"
        "    s = s.clone().mul_(alpha).addcmul_(g, g, value=1 - alpha)\n"
        "    return x.addcdiv(g, s.sqrt().add_(eps), value=-lr), s\n"),
    Bug("AdaGrad with the step size divided first", "adagrad_step",
        "def adagrad_step(x, g, s, lr, eps=1e-10):\n"
        "    s = s + g.square()\n"
        "    return x - (lr / (s.sqrt() + eps)) * g, s\n"),
]
