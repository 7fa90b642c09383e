"""hw02_gradients: realistic wrong answers (each scores exactly `expected`) and other correct answers."""

from course.build.samples import Bug

BUGS = [
    Bug("forward difference in numerical_gradient", "numerical_gradient",
        "def numerical_gradient(f, x, h=1e-5):\n"
        "    grad = torch.empty_like(x)\n"
        "    for i in range(x.numel()):\n"
        "        step = torch.zeros_like(x)\n"
        "        step[i] = h\n"
        "        grad[i] = (f(x + step) - f(x)) / h\n"
        "    return grad\n", {"q1": 0}),
    Bug("central difference divided by h instead of 2h", "numerical_gradient",
        "def numerical_gradient(f, x, h=1e-5):\n"
        "    grad = torch.empty_like(x)\n"
        "    for i in range(x.numel()):\n"
        "        step = torch.zeros_like(x)\n"
        "        step[i] = h\n"
        "        grad[i] = (f(x + step) - f(x - step)) / h\n"
        "    return grad\n", {"q1": 0.5}),
    # Nudging x in place and forgetting to put it back changes the caller's tensor (and moves
    # the point for the next coordinates): every case is lost.
    Bug("numerical gradient that nudges x in place and never restores it", "numerical_gradient",
        "def numerical_gradient(f, x, h=1e-5):\n"
        "    grad = torch.empty_like(x)\n"
        "    for i in range(x.numel()):\n"
        "        x[i] += h\n"
        "        plus = f(x)\n"
        "        x[i] -= 2 * h\n"
        "        minus = f(x)\n"
        "        grad[i] = (plus - minus) / (2 * h)\n"
        "    return grad\n", {"q1": 0}),
    # Adding h back after subtracting 2h gives x back bit for bit only for some values: the
    # cases where it does not (half of the points) are lost, with a message about the input.
    Bug("numerical gradient that nudges x in place and adds h back", "numerical_gradient",
        "def numerical_gradient(f, x, h=1e-5):\n"
        "    grad = torch.empty_like(x)\n"
        "    for i in range(x.numel()):\n"
        "        x[i] += h\n"
        "        plus = f(x)\n"
        "        x[i] -= 2 * h\n"
        "        minus = f(x)\n"
        "        x[i] += h\n"
        "        grad[i] = (plus - minus) / (2 * h)\n"
        "    return grad\n", {"q1": 2}),
    Bug("gradient by autograd (the question is finite differences)", "numerical_gradient",
        "def numerical_gradient(f, x, h=1e-5):\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    f(leaf).backward()\n"
        "    return leaf.grad\n", {"q1": 0}),
    Bug("gradient ascent instead of descent", "gradient_descent",
        "def gradient_descent(grad_f, x0, lr, steps):\n"
        "    xs = [x0.clone()]\n"
        "    for _ in range(steps):\n"
        "        xs.append(xs[-1] + lr * grad_f(xs[-1]))\n"
        "    return torch.stack(xs)\n", {"q2": 0.5}),
    Bug("steps rows: the start x0 is not recorded", "gradient_descent",
        "def gradient_descent(grad_f, x0, lr, steps):\n"
        "    x, xs = x0.clone(), []\n"
        "    for _ in range(steps):\n"
        "        x = x - lr * grad_f(x)\n"
        "        xs.append(x)\n"
        "    return torch.stack(xs)\n", {"q2": 0}),
    Bug("in-place update of a stored row: every row is the same tensor", "gradient_descent",
        "def gradient_descent(grad_f, x0, lr, steps):\n"
        "    x = x0.clone()\n"
        "    xs = [x]\n"
        "    for _ in range(steps):\n"
        "        x -= lr * grad_f(x)\n"
        "        xs.append(x)\n"
        "    return torch.stack(xs)\n", {"q2": 0.5}),
    # x -= ... on x0 itself changes the caller's tensor: every case that takes a step is lost.
    Bug("in-place update of x0 itself", "gradient_descent",
        "def gradient_descent(grad_f, x0, lr, steps):\n"
        "    x = x0\n"
        "    xs = [x.clone()]\n"
        "    for _ in range(steps):\n"
        "        x -= lr * grad_f(x)\n"
        "        xs.append(x.clone())\n"
        "    return torch.stack(xs)\n", {"q2": 0.5}),
    Bug("NaN for the zero vector", "steepest_ascent_direction",
        "def steepest_ascent_direction(g):\n    return g / torch.linalg.vector_norm(g)\n", {"q3": 2.75}),
    Bug("epsilon in the denominator shortens the direction", "steepest_ascent_direction",
        "def steepest_ascent_direction(g):\n    return g / (torch.linalg.vector_norm(g) + 1e-8)\n", {"q3": 1.75}),
    Bug("A x instead of (A + A^T) x", "quadratic_form_grad",
        "def quadratic_form_grad(A, x):\n    return A @ x\n", {"q4": 0}),
    Bug("2 A x: right only for a symmetric A", "quadratic_form_grad",
        "def quadratic_form_grad(A, x):\n    return 2 * A @ x\n", {"q4": 2}),
    Bug("quadratic form gradient by autograd (the question is to derive it)", "quadratic_form_grad",
        "def quadratic_form_grad(A, x):\n"
        "    leaf = x.detach().clone().requires_grad_(True)\n"
        "    (g,) = torch.autograd.grad(leaf @ A @ leaf, leaf)\n"
        "    return g\n", {"q4": 0}),
    Bug("least-squares gradient without the factor 2", "least_squares_grad",
        "def least_squares_grad(Phi, y, theta):\n    return -Phi.T @ (y - Phi @ theta)\n", {"q5": 2}),
    Bug("least-squares gradient with the wrong sign", "least_squares_grad",
        "def least_squares_grad(Phi, y, theta):\n    return 2 * Phi.T @ (y - Phi @ theta)\n", {"q5": 2}),
]

# Correct answers written differently from the reference: they keep full marks.
ALTERNATIVES = [
    Bug("numerical gradient on two copies of x", "numerical_gradient",
        "def numerical_gradient(f, x, h=1e-5):\n"
        "    grad = torch.zeros_like(x)\n"
        "    for i in range(len(x)):\n"
        "        plus, minus = x.clone(), x.clone()\n"
        "        plus[i] += h\n"
        "        minus[i] -= h\n"
        "        grad[i] = (f(plus) - f(minus)) / (2 * h)\n"
        "    return grad\n"),
    Bug("numerical gradient with the rows of h times the identity", "numerical_gradient",
        "def numerical_gradient(f, x, h=1e-5):\n"
        "    steps = h * torch.eye(len(x), dtype=x.dtype)\n"
        "    return torch.stack([(f(x + e) - f(x - e)) / (2 * h) for e in steps]).to(x.dtype)\n"),
    Bug("gradient descent into a preallocated tensor", "gradient_descent",
        "def gradient_descent(grad_f, x0, lr, steps):\n"
        "    path = torch.empty(steps + 1, x0.numel(), dtype=x0.dtype)\n"
        "    path[0] = x0\n"
        "    for t in range(steps):\n"
        "        path[t + 1] = path[t].sub(grad_f(path[t].clone()), alpha=lr)\n"
        "    return path\n"),
    Bug("steepest ascent testing for zero with any()", "steepest_ascent_direction",
        "def steepest_ascent_direction(g):\n"
        "    if not g.any():\n"
        "        return g.clone()\n"
        "    return g / g.pow(2).sum().sqrt()\n"),
    Bug("quadratic form gradient as A x + x A", "quadratic_form_grad",
        "def quadratic_form_grad(A, x):\n    return A @ x + x @ A\n"),
    Bug("least-squares gradient from the normal equations", "least_squares_grad",
        "def least_squares_grad(Phi, y, theta):\n"
        "    return 2 * (Phi.T @ Phi @ theta - Phi.T @ y)\n"),
]
