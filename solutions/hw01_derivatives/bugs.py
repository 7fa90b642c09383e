"""hw01_derivatives: realistic wrong answers (each scores exactly `expected`) and other correct answers."""

from course.build.samples import Bug

BUGS = [
    Bug("central difference in numerical_derivative", "numerical_derivative",
        "def numerical_derivative(f, x, h=1e-5):\n    return float((f(x + h) - f(x - h)) / (2 * h))\n", {"q1": 0}),
    Bug("step h ignored", "numerical_derivative",
        "def numerical_derivative(f, x, h=1e-5):\n    return float((f(x + 1e-5) - f(x)) / 1e-5)\n", {"q1": 1.5}),
    Bug("forward difference in central_difference", "central_difference",
        "def central_difference(f, x, h=1e-5):\n    return float((f(x + h) - f(x)) / h)\n", {"q2": 0}),
    Bug("central difference divided by h instead of 2h", "central_difference",
        "def central_difference(f, x, h=1e-5):\n    return float((f(x + h) - f(x - h)) / h)\n", {"q2": 0}),
    Bug("ReLU' of 1 at zero", "relu_grad",
        "def relu_grad(x):\n    return (x >= 0).to(x.dtype)\n", {"q3": 0.5}),
    Bug("ReLU' by autograd (the question is to derive it)", "relu_grad",
        "def relu_grad(x):\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    torch.relu(leaf).sum().backward()\n"
        "    return leaf.grad\n", {"q3": 0}),
    Bug("sigmoid' as s * (1 - s)", "sigmoid_grad",
        "def sigmoid_grad(x):\n    s = torch.sigmoid(x)\n    return s * (1 - s)\n", {"q4": 3}),
    Bug("MSE gradient without the mean", "mse_grad",
        "def mse_grad(y_pred, y_true):\n    return 2 * (y_pred - y_true)\n", {"q5": 1}),
    Bug("MSE gradient divided by the number of rows, not of entries", "mse_grad",
        "def mse_grad(y_pred, y_true):\n    return 2 * (y_pred - y_true) / len(y_pred)\n", {"q5": 2}),
    Bug("chain rule without the factor 2", "linear_model_grads",
        "def linear_model_grads(w, b, x, y):\n    r = w * x + b - y\n    return float(r * x), float(r)\n", {"q6": 0}),
    Bug("cross-entropy gradient not divided by the batch", "softmax_cross_entropy_grad",
        "def softmax_cross_entropy_grad(logits, target):\n"
        "    onehot = torch.nn.functional.one_hot(target, logits.shape[1]).to(logits.dtype)\n"
        "    return torch.softmax(logits, dim=1) - onehot\n", {"q7": 3}),
    Bug("cross-entropy gradient from a naive softmax that overflows", "softmax_cross_entropy_grad",
        "def softmax_cross_entropy_grad(logits, target):\n"
        "    e = torch.exp(logits)\n"
        "    p = e / e.sum(dim=1, keepdim=True)\n"
        "    onehot = torch.nn.functional.one_hot(target, logits.shape[1]).to(logits.dtype)\n"
        "    return (p - onehot) / logits.shape[0]\n", {"q7": 4.5}),
    Bug("gradient check that always answers 0", "gradient_check",
        "def gradient_check(f, x, h=1e-6):\n    return 0.0\n", {"q8": 0}),
    Bug("absolute instead of relative error", "gradient_check",
        "def gradient_check(f, x, h=1e-6):\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    (a,) = torch.autograd.grad(f(leaf), leaf)\n"
        "    n = torch.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in torch.eye(len(x), dtype=x.dtype)])\n"
        "    return float((a - n).abs().max())\n", {"q8": 0}),
    Bug("relative error divided by the numerical gradient only", "gradient_check",
        "def gradient_check(f, x, h=1e-6):\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    (a,) = torch.autograd.grad(f(leaf), leaf)\n"
        "    n = torch.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in torch.eye(len(x), dtype=x.dtype)])\n"
        "    return float(((a - n).abs() / n.abs().clamp_min(1e-12)).max())\n", {"q8": 1.5}),
    # Perturbing x in place and adding h back does not give x back bit for bit: the caller's
    # tensor is changed, and every case of the question is lost.
    Bug("gradient check that nudges x in place and restores it by adding h back", "gradient_check",
        "def gradient_check(f, x, h=1e-6):\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    (a,) = torch.autograd.grad(f(leaf), leaf)\n"
        "    n = torch.zeros_like(x)\n"
        "    for i in range(len(x)):\n"
        "        x[i] += h\n"
        "        plus = f(x)\n"
        "        x[i] -= 2 * h\n"
        "        minus = f(x)\n"
        "        x[i] += h\n"
        "        n[i] = (plus - minus) / (2 * h)\n"
        "    return float(((a - n).abs() / torch.maximum(a.abs(), n.abs()).clamp_min(1e-12)).max())\n",
        {"q8": 0}),
]

# Correct answers written differently from the reference: they keep full marks.
ALTERNATIVES = [
    Bug("forward difference of the values as floats", "numerical_derivative",
        "def numerical_derivative(f, x, h=1e-5):\n"
        "    here, ahead = float(f(x)), float(f(x + h))\n"
        "    return (ahead - here) / h\n"),
    Bug("sigmoid' from exp(-|x|)", "sigmoid_grad",
        "def sigmoid_grad(x):\n    e = torch.exp(-x.abs())\n    return e / (1 + e) ** 2\n"),
    Bug("softmax cross-entropy gradient through log_softmax", "softmax_cross_entropy_grad",
        "def softmax_cross_entropy_grad(logits, target):\n"
        "    p = torch.log_softmax(logits, dim=1).exp()\n"
        "    p[torch.arange(len(target)), target] -= 1\n"
        "    return p / len(target)\n"),
    Bug("gradient check with copies of x and a stacked floor", "gradient_check",
        "def gradient_check(f, x, h=1e-6):\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    f(leaf).backward()\n"
        "    a = leaf.grad\n"
        "    n = torch.empty_like(x)\n"
        "    for i in range(x.numel()):\n"
        "        plus, minus = x.clone(), x.clone()\n"
        "        plus[i] += h\n"
        "        minus[i] -= h\n"
        "        n[i] = (f(plus) - f(minus)) / (2 * h)\n"
        "    scale = torch.stack([a.abs(), n.abs(), torch.full_like(a, 1e-12)]).max(dim=0).values\n"
        "    return ((a - n).abs() / scale).max().item()\n"),
]
