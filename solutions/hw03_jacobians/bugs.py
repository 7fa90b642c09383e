"""hw03_jacobians: realistic wrong answers (each scores exactly `expected`) and other correct answers."""

from course.build.samples import Bug

BUGS = [
    Bug("numerical Jacobian stacked as rows (the transpose)", "numerical_jacobian",
        "def numerical_jacobian(f, x, h=1e-5):\n"
        "    rows = []\n"
        "    for j in range(x.numel()):\n"
        "        step = torch.zeros_like(x)\n"
        "        step[j] = h\n"
        "        rows.append((f(x + step) - f(x - step)) / (2 * h))\n"
        "    return torch.stack(rows)\n", {"q1": 0.5}),
    Bug("numerical Jacobian by forward differences", "numerical_jacobian",
        "def numerical_jacobian(f, x, h=1e-5):\n"
        "    columns = []\n"
        "    for j in range(x.numel()):\n"
        "        step = torch.zeros_like(x)\n"
        "        step[j] = h\n"
        "        columns.append((f(x + step) - f(x)) / h)\n"
        "    return torch.stack(columns, dim=1)\n", {"q1": 1}),
    # Nudging x in place and forgetting to put it back changes the caller's tensor: every case
    # is lost, with a message that says so.
    Bug("numerical Jacobian that nudges x in place and never restores it", "numerical_jacobian",
        "def numerical_jacobian(f, x, h=1e-5):\n"
        "    columns = []\n"
        "    for j in range(x.numel()):\n"
        "        x[j] += h\n"
        "        plus = f(x)\n"
        "        x[j] -= 2 * h\n"
        "        columns.append((plus - f(x)) / (2 * h))\n"
        "    return torch.stack(columns, dim=1)\n", {"q1": 0}),
    Bug("numerical Jacobian row by row with autograd (the maps are black boxes)", "numerical_jacobian",
        "def numerical_jacobian(f, x, h=1e-5):\n"
        "    x = x.detach().requires_grad_(True)\n"
        "    y = f(x)\n"
        "    rows = [torch.autograd.grad(y[i], x, retain_graph=True)[0] for i in range(len(y))]\n"
        "    return torch.stack(rows)\n", {"q1": 0}),
    Bug("numerical Jacobian through torch.autograd.functional.jacobian", "numerical_jacobian",
        "def numerical_jacobian(f, x, h=1e-5):\n"
        "    return torch.autograd.functional.jacobian(f, x)\n", {"q1": 0}),
    Bug("softmax Jacobian as diag(p) only", "softmax_jacobian",
        "def softmax_jacobian(z):\n    return torch.diag(torch.softmax(z, dim=0))\n", {"q2": 0}),
    Bug("softmax Jacobian from a naive exp that overflows", "softmax_jacobian",
        "def softmax_jacobian(z):\n"
        "    p = torch.exp(z) / torch.exp(z).sum()\n"
        "    return torch.diag(p) - torch.outer(p, p)\n", {"q2": 5}),
    Bug("softmax Jacobian by autograd (the question is to derive it)", "softmax_jacobian",
        "def softmax_jacobian(z):\n"
        "    z = z.detach().requires_grad_(True)\n"
        "    p = torch.softmax(z, dim=0)\n"
        "    return torch.stack([torch.autograd.grad(p[i], z, retain_graph=True)[0] for i in range(len(p))])\n",
        {"q2": 0}),
    Bug("chain rule multiplied in the wrong order", "composed_jacobian",
        "def composed_jacobian(f, g, x):\n"
        "    y, J_f = f(x)\n"
        "    _, J_g = g(y)\n"
        "    return J_f @ J_g\n", {"q3": 0}),
    Bug("chain rule with J_g evaluated at x instead of f(x)", "composed_jacobian",
        "def composed_jacobian(f, g, x):\n"
        "    _, J_f = f(x)\n"
        "    _, J_g = g(x)\n"
        "    return J_g @ J_f\n", {"q3": 0}),
    # The ways around the chain rule: the layers' values carry no graph, so autograd through the
    # composition sees constants (zeros); central differences of the composed values are off by
    # far more than rounding on the hidden layers' high frequencies (they pass only the notes'
    # polynomial example).
    Bug("composition differentiated as one by autograd", "composed_jacobian",
        "def composed_jacobian(f, g, x):\n"
        "    return torch.autograd.functional.jacobian(lambda z: g(f(z)[0])[0], x)\n", {"q3": 0}),
    Bug("composition differentiated as one by central differences", "composed_jacobian",
        "def composed_jacobian(f, g, x, h=1e-5):\n"
        "    steps = torch.eye(x.numel(), dtype=x.dtype) * h\n"
        "    return torch.stack([(g(f(x + s)[0])[0] - g(f(x - s)[0])[0]) / (2 * h) for s in steps], dim=1)\n",
        {"q3": 1}),
    # The question forbids building the Jacobian (and the n = 300,000 cases could not): the whole
    # question is lost.
    Bug("vjp through torch.autograd.functional.jacobian", "vjp",
        "def vjp(f, x, v):\n"
        "    return v @ torch.autograd.functional.jacobian(f, x)\n", {"q4": 0}),
    Bug("vjp that builds the full Jacobian", "vjp",
        "def vjp(f, x, v):\n"
        "    J = torch.autograd.functional.jacobian(f, x, vectorize=True)\n"
        "    return v @ J\n", {"q4": 0}),
    Bug("vjp that ignores v (backward of the sum)", "vjp",
        "def vjp(f, x, v):\n"
        "    x = x.detach().requires_grad_(True)\n"
        "    (g,) = torch.autograd.grad(f(x).sum(), x)\n"
        "    return g\n", {"q4": 0.5}),
    Bug("jvp computing J^T u", "jvp",
        "def jvp(f, x, u):\n"
        "    x = x.detach().requires_grad_(True)\n"
        "    (g,) = torch.autograd.grad(f(x), x, grad_outputs=u)\n"
        "    return g\n", {"q5": 0}),
    Bug("jvp that builds the full Jacobian", "jvp",
        "def jvp(f, x, u):\n"
        "    return torch.func.jacfwd(f)(x) @ u\n", {"q5": 0}),
    Bug("linear layer with grad_W = outer(x, grad_y)", "linear_layer_backward",
        "def linear_layer_backward(W, x, grad_y):\n"
        "    return torch.outer(x, grad_y), W.T @ grad_y\n", {"q6": 1}),
    Bug("linear layer with grad_x = W grad_y", "linear_layer_backward",
        "def linear_layer_backward(W, x, grad_y):\n"
        "    return torch.outer(grad_y, x), W @ grad_y\n", {"q6": 0}),
    Bug("linear layer backward by autograd (the question is to write it)", "linear_layer_backward",
        "def linear_layer_backward(W, x, grad_y):\n"
        "    W, x = W.detach().requires_grad_(True), x.detach().requires_grad_(True)\n"
        "    (W @ x).backward(grad_y)\n"
        "    return W.grad, x.grad\n", {"q6": 0}),
]

# Correct answers written differently from the reference: they keep full marks.
ALTERNATIVES = [
    Bug("numerical Jacobian from the rows of h times the identity", "numerical_jacobian",
        "def numerical_jacobian(f, x, h=1e-5):\n"
        "    steps = torch.eye(x.numel(), dtype=x.dtype) * h\n"
        "    rows = [f(x + s) / (2 * h) - f(x - s) / (2 * h) for s in steps]\n"
        "    return torch.stack(rows).T\n"),
    Bug("softmax Jacobian by hand from a shifted exp", "softmax_jacobian",
        "def softmax_jacobian(z):\n"
        "    e = torch.exp(z - z.max())\n"
        "    p = e / e.sum()\n"
        "    return -p[:, None] * p[None, :] + torch.diag(p)\n"),
    Bug("chain rule with einsum", "composed_jacobian",
        "def composed_jacobian(f, g, x):\n"
        "    y, J_f = f(x)\n"
        "    return torch.einsum('km,mn->kn', g(y)[1], J_f)\n"),
    Bug("vjp with torch.func.vjp", "vjp",
        "def vjp(f, x, v):\n"
        "    return torch.func.vjp(f, x)[1](v)[0]\n"),
    Bug("vjp with backward() on a fresh leaf", "vjp",
        "def vjp(f, x, v):\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    f(leaf).backward(v)\n"
        "    return leaf.grad\n"),
    Bug("jvp with torch.func.jvp", "jvp",
        "def jvp(f, x, u):\n"
        "    return torch.func.jvp(f, (x,), (u,))[1]\n"),
    Bug("jvp with forward-mode dual numbers", "jvp",
        "def jvp(f, x, u):\n"
        "    import torch.autograd.forward_ad as fwAD\n"
        "    with fwAD.dual_level():\n"
        "        return fwAD.unpack_dual(f(fwAD.make_dual(x, u))).tangent\n"),
    Bug("linear layer backward by broadcasting", "linear_layer_backward",
        "def linear_layer_backward(W, x, grad_y):\n"
        "    return grad_y[:, None] * x[None, :], grad_y @ W\n"),
]
