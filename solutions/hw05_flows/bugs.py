"""hw05_flows: realistic wrong answers (each scores exactly `expected`) and other correct answers."""

from course.build.samples import Bug

BUGS = [
    Bug("polar determinant as r^2", "polar_jacobian_det",
        "def polar_jacobian_det(r, theta):\n    return float(r ** 2)\n", {"q1": 0.5}),
    Bug("polar determinant forgets the radius", "polar_jacobian_det",
        "def polar_jacobian_det(r, theta):\n    return 1.0\n", {"q1": 0}),
    Bug("polar determinant as abs(r)", "polar_jacobian_det",
        "def polar_jacobian_det(r, theta):\n    return float(abs(r))\n", {"q1": 2.25}),
    Bug("polar determinant through autograd (the question is to write J down)", "polar_jacobian_det",
        "def polar_jacobian_det(r, theta):\n"
        "    def polar(p):\n"
        "        return torch.stack([p[0] * torch.cos(p[1]), p[0] * torch.sin(p[1])])\n"
        "    J = torch.autograd.functional.jacobian(polar, torch.tensor([r, theta], dtype=torch.float64))\n"
        "    return float(torch.linalg.det(J))\n", {"q1": 0}),
    Bug("log(det J) without the absolute value", "log_abs_det_jacobian",
        "def log_abs_det_jacobian(f, x):\n"
        "    J = torch.autograd.functional.jacobian(f, x)\n"
        "    return float(torch.log(torch.linalg.det(J)))\n", {"q2": 1.5}),
    Bug("log(abs(det J)) instead of slogdet", "log_abs_det_jacobian",
        "def log_abs_det_jacobian(f, x):\n"
        "    J = torch.autograd.functional.jacobian(f, x)\n"
        "    return float(torch.log(torch.linalg.det(J).abs()))\n", {"q2": 2.75}),
    Bug("affine log-det without abs", "affine_flow_log_det",
        "def affine_flow_log_det(scale):\n    return float(torch.log(scale).sum())\n", {"q3": 1}),
    Bug("affine log-det as the log of a product", "affine_flow_log_det",
        "def affine_flow_log_det(scale):\n    return float(torch.log(scale.prod().abs()))\n", {"q3": 2}),
    Bug("affine log-prob adds the log-det", "affine_flow_log_prob",
        "def affine_flow_log_prob(x, scale, shift):\n"
        "    z = (x - shift) / scale\n"
        "    log_base = -0.5 * (z ** 2).sum(dim=-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)\n"
        "    return log_base + torch.log(scale.abs()).sum()\n", {"q4": 0.75}),
    Bug("affine log-prob through the product of the scales", "affine_flow_log_prob",
        "def affine_flow_log_prob(x, scale, shift):\n"
        "    z = (x - shift) / scale\n"
        "    log_base = -0.5 * (z ** 2).sum(dim=-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)\n"
        "    return log_base - torch.log(scale.prod().abs())\n", {"q4": 5.25}),
    # The flow's distribution is N(shift, diag(scale^2)), and torch.distributions squares the
    # scale: right everywhere except at the scale 1e200, whose square overflows (NaN).
    Bug("affine log-prob with torch.distributions.Normal(shift, |scale|)", "affine_flow_log_prob",
        "def affine_flow_log_prob(x, scale, shift):\n"
        "    return torch.distributions.Normal(shift, scale.abs()).log_prob(x).sum(dim=-1)\n", {"q4": 5.25}),
    Bug("coupling layer without the exp", "coupling_forward",
        "def coupling_forward(x, s, t):\n"
        "    k = x.shape[-1] // 2\n"
        "    x1, x2 = x[..., :k], x[..., k:]\n"
        "    return torch.cat([x1, x2 * s(x1) + t(x1)], dim=-1), s(x1).sum(dim=-1)\n", {"q5": 1.5}),
    Bug("coupling log_det as sum(exp(s))", "coupling_forward",
        "def coupling_forward(x, s, t):\n"
        "    k = x.shape[-1] // 2\n"
        "    x1, x2 = x[..., :k], x[..., k:]\n"
        "    scale = torch.exp(s(x1))\n"
        "    return torch.cat([x1, x2 * scale + t(x1)], dim=-1), scale.sum(dim=-1)\n", {"q5": 0}),
    Bug("coupling split with chunk (first half larger for odd d)", "coupling_forward",
        "def coupling_forward(x, s, t):\n"
        "    x1, x2 = x.chunk(2, dim=-1)\n"
        "    return torch.cat([x1, x2 * torch.exp(s(x1)) + t(x1)], dim=-1), s(x1).sum(dim=-1)\n", {"q5": 5.5}),
    # Writing y2 into x's own columns (to save memory) changes the caller's x: every case is lost.
    Bug("coupling layer that writes y2 into x in place", "coupling_forward",
        "def coupling_forward(x, s, t):\n"
        "    k = x.shape[-1] // 2\n"
        "    x1 = x[..., :k]\n"
        "    log_scale = s(x1)\n"
        "    x[..., k:] = x[..., k:] * torch.exp(log_scale) + t(x1)\n"
        "    return x, log_scale.sum(dim=-1)\n", {"q5": 0}),
    Bug("planar log-det without abs", "planar_flow_log_det",
        "def planar_flow_log_det(z, u, w, b):\n"
        "    psi = (1 - torch.tanh(z @ w + b) ** 2)[:, None] * w\n"
        "    return torch.log(1 + psi @ u)\n", {"q6": 4.5}),
    Bug("planar psi without the (1 - tanh^2) factor", "planar_flow_log_det",
        "def planar_flow_log_det(z, u, w, b):\n"
        "    psi = torch.ones_like(z[:, :1]) * w\n"
        "    return torch.log(torch.abs(1 + psi @ u))\n", {"q6": 0}),
    Bug("planar log-det through autograd Jacobians (the question is the O(d) lemma)", "planar_flow_log_det",
        "def planar_flow_log_det(z, u, w, b):\n"
        "    def planar(row):\n"
        "        return row + u * torch.tanh(row @ w + b)\n"
        "    return torch.stack([torch.linalg.slogdet(torch.autograd.functional.jacobian(planar, row)).logabsdet\n"
        "                        for row in z])\n", {"q6": 0}),
]

# Correct answers written differently from the reference: they keep full marks.
ALTERNATIVES = [
    Bug("polar determinant from cos^2 + sin^2", "polar_jacobian_det",
        "def polar_jacobian_det(r, theta):\n"
        "    return r * math.cos(theta) ** 2 + r * math.sin(theta) ** 2\n"),
    Bug("log-det from an LU factorisation", "log_abs_det_jacobian",
        "def log_abs_det_jacobian(f, x):\n"
        "    J = torch.autograd.functional.jacobian(f, x)\n"
        "    LU, pivots = torch.linalg.lu_factor(J)\n"
        "    return torch.log(torch.diagonal(LU).abs()).sum().item()\n"),
    Bug("log-det with torch.func.jacrev and slogdet", "log_abs_det_jacobian",
        "def log_abs_det_jacobian(f, x):\n"
        "    sign, logabsdet = torch.linalg.slogdet(torch.func.jacrev(f)(x))\n"
        "    return logabsdet.item()\n"),
    Bug("affine log-det with abs then log, summed", "affine_flow_log_det",
        "def affine_flow_log_det(scale):\n    return torch.abs(scale).log().sum().item()\n"),
    Bug("affine log-prob with a standard normal of z", "affine_flow_log_prob",
        "def affine_flow_log_prob(x, scale, shift):\n"
        "    z = (x - shift) / scale\n"
        "    base = torch.distributions.Normal(torch.zeros_like(z), torch.ones_like(z))\n"
        "    return base.log_prob(z).sum(dim=-1) - scale.abs().log().sum()\n"),
    Bug("coupling layer with torch.split", "coupling_forward",
        "def coupling_forward(x, s, t):\n"
        "    k = x.shape[1] // 2\n"
        "    x1, x2 = torch.split(x, [k, x.shape[1] - k], dim=1)\n"
        "    log_scale = s(x1)\n"
        "    return torch.cat([x1, torch.exp(log_scale) * x2 + t(x1)], dim=1), log_scale.sum(dim=1)\n"),
    Bug("planar log-det with the derivative of tanh written out", "planar_flow_log_det",
        "def planar_flow_log_det(z, u, w, b):\n"
        "    a = z @ w + b\n"
        "    slope = 1 / torch.cosh(a) ** 2\n"
        "    return torch.log(torch.abs(1 + slope * (u @ w)))\n"),
]
